package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/environment"

	"github.com/fintech/payments-platform/infra"
)

// testSuffix is distinctive so that "every name carries the suffix" cannot
// pass by accident on a common word such as "dev".
const testSuffix = "pr123"

// The app is synthesized once per configuration for the whole package (each
// synth costs seconds): the non-production app most tests read (these
// globals), a production one for what only production turns on (and the
// cost model), and one that combines every non-default axis of the
// configuration (matrixContext).
var (
	cfg       environment.Config
	stacks    infra.Stacks
	templates map[string]map[string]any // stack name -> template JSON
	outdir    string
	// validationReport is validation-report.json as the one real synthesis
	// wrote it: assertions re-synthesize and rewrite it.
	validationReport []byte

	prod   *synthesis
	matrix *synthesis
)

// matrixContext turns on every non-default axis of the configuration at
// once: production, a real domain with its hosted zone, an imported ALB
// certificate next to a DNS-validated API one, the longest suffix and
// replica region names allow, a truststore file, the account's trail and
// security services. The default synthesis covers the placeholders.
var matrixContext = map[string]any{
	environment.KeyProduction:        true,
	environment.KeyEnvironmentSuffix: longestSuffix,
	environment.KeyReplicaRegion:     "ap-southeast-4",
	environment.KeyDomainName:        "payments.example.org",
	environment.KeyHostedZoneID:      "Z0123456789ABCDEFGHIJ",
	environment.KeyHostedZoneName:    "example.org",
	environment.KeyALBCertificateArn: "arn:aws:acm:ap-southeast-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
	environment.KeyMtlsTruststore:    "../environment/testdata/ca.pem",
	environment.KeyAlarmEmails:       "oncall@example.org,payments-team@example.org",
	environment.KeyPagerEndpoint:     "https://events.pagerduty.com/integration/0123456789abcdef/enqueue",
	environment.KeyAuditTrail:        true,
	environment.KeyGuardDuty:         true,
	environment.KeySecurityHub:       true,
	environment.KeyAWSConfig:         true,
}

// longestSuffix is as long as environment.MaxSuffixLength allows.
const longestSuffix = "pr-longest-12345"

// synthesis is one synthesized app.
type synthesis struct {
	cfg              environment.Config
	stacks           infra.Stacks
	templates        map[string]map[string]any
	outdir           string
	validationReport []byte
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		// Run jsii on the pinned Node 22 (package.json) also when the tests
		// are started with plain `go test`, as make does.
		if bin, err := filepath.Abs("../node_modules/.bin"); err == nil {
			if _, err := os.Stat(filepath.Join(bin, "node")); err == nil {
				os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			}
		}
		defer jsii.Close()
		dev, err := synthesize(map[string]any{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "synthesize:", err)
			return 1
		}
		defer os.RemoveAll(dev.outdir)
		cfg, stacks, templates, outdir, validationReport = dev.cfg, dev.stacks, dev.templates, dev.outdir, dev.validationReport
		if prod, err = synthesize(map[string]any{environment.KeyProduction: true}); err != nil {
			fmt.Fprintln(os.Stderr, "synthesize production:", err)
			return 1
		}
		defer os.RemoveAll(prod.outdir)
		if len(longestSuffix) != environment.MaxSuffixLength {
			fmt.Fprintf(os.Stderr, "longestSuffix has %d characters, environment.MaxSuffixLength is %d\n", len(longestSuffix), environment.MaxSuffixLength)
			return 1
		}
		if matrix, err = synthesize(matrixContext); err != nil {
			fmt.Fprintln(os.Stderr, "synthesize every non-default axis:", err)
			return 1
		}
		defer os.RemoveAll(matrix.outdir)
		return m.Run()
	}())
}

// synthesize builds the app exactly as cmd/cdkapp does, with the context the
// CDK CLI would pass from cdk.json (feature flags, AZ context), the test
// suffix and overrides.
func synthesize(overrides map[string]any) (syn *synthesis, err error) {
	// jsii reports a failed synth (e.g. a CloudFormation Validate finding,
	// which fails synth by feature flag) as a panic.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth failed: %v", r)
		}
	}()
	context, err := cdkJSONContext()
	if err != nil {
		return nil, err
	}
	context[environment.KeyEnvironmentSuffix] = testSuffix
	// As the CLI does: resources carry their construct path (cmd/diagram
	// reads it).
	context["aws:cdk:enable-path-metadata"] = true
	for k, v := range overrides {
		context[k] = v
	}
	syn = &synthesis{}
	if syn.outdir, err = os.MkdirTemp("", "cdk-test-"); err != nil {
		return nil, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &context, Outdir: &syn.outdir})
	if syn.cfg, err = environment.Load(func(key string) any { return context[key] }, func(string) string { return "" }); err != nil {
		return nil, err
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	syn.stacks = infra.NewStacks(app, syn.cfg, root)
	infra.ApplyCompliance(app)
	app.Synth(nil)

	if syn.validationReport, err = os.ReadFile(filepath.Join(syn.outdir, "validation-report.json")); err != nil {
		return nil, fmt.Errorf("validation report not written: %w", err)
	}
	if syn.templates, err = assembly.Templates(syn.outdir); err != nil {
		return nil, err
	}
	return syn, nil
}

func cdkJSONContext() (map[string]any, error) {
	data, err := os.ReadFile("../cdk.json")
	if err != nil {
		return nil, err
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cdkJSON); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	return cdkJSON.Context, nil
}

// resource is one CloudFormation resource of a synthesized template.
type resource struct {
	stack, logicalID string
	Type             string
	Properties       map[string]any
	DeletionPolicy   string
	UpdateReplace    string
	DependsOn        []string
}

// resources lists the resources of every stack, or of the named types.
func resources(types ...string) []resource {
	return resourcesOf(templates, types...)
}

// stackResources lists the resources of one stack, or of the named types.
func stackResources(stack awscdk.Stack, types ...string) []resource {
	return resourcesOf(map[string]map[string]any{*stack.StackName(): templates[*stack.StackName()]}, types...)
}

func resourcesOf(templates map[string]map[string]any, types ...string) []resource {
	var out []resource
	for stack, t := range templates {
		for id, raw := range t["Resources"].(map[string]any) {
			r := raw.(map[string]any)
			res := resource{stack: stack, logicalID: id, Type: r["Type"].(string)}
			res.Properties, _ = r["Properties"].(map[string]any)
			res.DeletionPolicy, _ = r["DeletionPolicy"].(string)
			res.UpdateReplace, _ = r["UpdateReplacePolicy"].(string)
			switch d := r["DependsOn"].(type) {
			case string:
				res.DependsOn = []string{d}
			case []any:
				for _, x := range d {
					res.DependsOn = append(res.DependsOn, x.(string))
				}
			}
			if len(types) == 0 || contains(types, res.Type) {
				out = append(out, res)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].stack+out[i].logicalID < out[j].stack+out[j].logicalID })
	return out
}

func (r resource) String() string { return r.stack + "/" + r.logicalID }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stackTemplate is the assertions view of one stack.
func stackTemplate(s awscdk.Stack) assertions.Template {
	return assertions.Template_FromStack(s, nil)
}

// must turns an assertions failure (a jsii exception, which Go sees as a
// panic) into a test error naming what was expected.
func must(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// walk calls visit for every value nested in v, with its map key ("" in lists).
func walk(v any, key string, visit func(key string, v any)) {
	visit(key, v)
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			walk(child, k, visit)
		}
	case []any:
		for _, child := range x {
			walk(child, "", visit)
		}
	}
}

// stringsOf returns a property that may be a string or a list of strings.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func TestEveryStackTargetsItsRegionAndCarriesTheSuffix(t *testing.T) {
	for _, s := range stacks.Environment() {
		if !strings.HasSuffix(*s.StackName(), "-"+testSuffix) {
			t.Errorf("stack %s: name lacks -%s", *s.StackName(), testSuffix)
		}
		want := environment.PrimaryRegion
		if s == stacks.Replica {
			want = cfg.ReplicaRegion
		}
		if got := *s.Region(); got != want {
			t.Errorf("stack %s: region %s, want %s", *s.StackName(), got, want)
		}
	}
}

// The account setup is the documented exception: one per account and
// region (no suffix), protected from deletion, tagged with no environment,
// and no environment's stack depends on it (deploying or destroying an
// environment never touches it).
func TestAccountSetupBelongsToNoEnvironment(t *testing.T) {
	account := stacks.Account
	if *account.StackName() != environment.AccountStackName || *account.Region() != environment.PrimaryRegion || !*account.TerminationProtection() {
		t.Errorf("account stack %s in %s, termination protection %v", *account.StackName(), *account.Region(), *account.TerminationProtection())
	}
	for _, s := range stacks.Environment() {
		for _, d := range *s.Dependencies() {
			if d == account {
				t.Errorf("%s depends on the account setup", *s.StackName())
			}
		}
	}
	for _, r := range stackResources(account) {
		if strings.Contains(jsonOf(r.Properties), testSuffix) {
			t.Errorf("%s names or tags the environment: %s", r, jsonOf(r.Properties))
		}
	}
	for _, r := range resources("AWS::ApiGateway::Account") {
		if r.stack != environment.AccountStackName {
			t.Errorf("%s: the API Gateway account setting belongs to the account setup only", r)
		}
	}
	role := one(t, stackResources(account, "AWS::IAM::ManagedPolicy"), "account setup policies")
	statement := asList(asMap(role.Properties["PolicyDocument"])["Statement"])[0].(map[string]any)
	actions := stringsOf(statement["Action"])
	slices.Sort(actions)
	// AmazonAPIGatewayPushToCloudWatchLogs' actions, on this account's and
	// region's log groups (the managed policy says "*").
	if want := []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
		"logs:FilterLogEvents", "logs:GetLogEvents", "logs:PutLogEvents"}; !slices.Equal(actions, want) {
		t.Errorf("API Gateway's CloudWatch role may %v, want %v", actions, want)
	}
	if got := jsonOf(statement["Resource"]); got != `["arn:aws:logs:ap-southeast-1:123456789012:log-group:*","arn:aws:logs:ap-southeast-1:123456789012:log-group:*:log-stream:*"]` {
		t.Errorf("API Gateway's CloudWatch role may write %s", got)
	}
}

// Every physical name the templates set (properties named *Name, plus
// aliases) carries the suffix, so two environments coexist in one account.
func TestEveryNamedResourceCarriesTheSuffix(t *testing.T) {
	// Names that are not physical names of this environment's resources.
	notPhysical := map[string]bool{
		"DeviceName":   true, // block device names, e.g. /dev/xvda
		"ServiceName":  true, // VPC endpoint services, e.g. com.amazonaws.ap-southeast-1.sqs
		"DatabaseName": true, // the database inside this environment's own cluster
		"MetricName":   true, // metrics are selected by their dimensions, which carry the suffix
	}
	// Names scoped inside their parent resource, which carries the suffix.
	scoped := map[string]string{"AWS::ApiGateway::Stage": "StageName", "AWS::ApiGateway::Model": "Name"}
	checked := 0
	for _, r := range resources() {
		if r.stack == environment.AccountStackName {
			continue // the documented exception (TestAccountSetupBelongsToNoEnvironment)
		}
		for prop, v := range r.Properties {
			if notPhysical[prop] || scoped[r.Type] == prop || !(strings.HasSuffix(prop, "Name") || prop == "RoleName") {
				continue
			}
			name, ok := v.(string)
			if !ok {
				continue // a token: derived from a resource that is checked itself
			}
			checked++
			if !strings.Contains(name, testSuffix) {
				t.Errorf("%s %s: %s=%q does not carry the suffix %q", r, r.Type, prop, name, testSuffix)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d names checked: the scan is not looking at the templates", checked)
	}
}

// Physical names never collide within the environment: IAM names are
// account-wide, the others region-wide (two stacks creating the same name
// would fail the second deployment, which no template check of one stack
// sees).
func TestPhysicalNamesAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, r := range resources() {
		region := environment.PrimaryRegion
		if r.stack == *stacks.Replica.StackName() {
			region = cfg.ReplicaRegion
		}
		for prop, v := range r.Properties {
			name, ok := v.(string)
			if !ok || !(strings.HasSuffix(prop, "Name") || prop == "AliasName") || prop == "DeviceName" || prop == "ServiceName" || prop == "MetricName" || prop == "DatabaseName" {
				continue
			}
			scope := "@" + region
			if strings.HasPrefix(r.Type, "AWS::IAM::") || r.Type == "AWS::S3::Bucket" {
				scope = "" // account-wide (bucket names are global)
			}
			key := r.Type + "." + prop + "=" + name + scope
			if other, dup := seen[key]; dup {
				t.Errorf("%s and %s both name a %s %q", other, r, r.Type, name)
			}
			seen[key] = r.String()
		}
	}
}

// A non-production environment must be destroyable: nothing is retained.
func TestNoRetainOutsideProduction(t *testing.T) {
	if cfg.Production {
		t.Fatal("the test app must be non-production")
	}
	for _, r := range resources() {
		if r.DeletionPolicy == "Retain" || r.UpdateReplace == "Retain" || r.DeletionPolicy == "RetainExceptOnCreate" {
			t.Errorf("%s %s: DeletionPolicy=%q UpdateReplacePolicy=%q", r, r.Type, r.DeletionPolicy, r.UpdateReplace)
		}
	}
}

// Least privilege: no IAM, key or bucket policy anywhere allows a wildcard
// action. (Deny statements may: the TLS-only bucket policies deny s3:*.)
func TestNoWildcardActions(t *testing.T) {
	statements := 0
	for _, r := range resources() {
		walk(r.Properties, "", func(key string, v any) {
			statement, ok := v.(map[string]any)
			if !ok || statement["Effect"] != "Allow" {
				return
			}
			statements++
			if statement["NotAction"] != nil {
				t.Errorf("%s %s: Allow with NotAction", r, r.Type)
			}
			for _, action := range stringsOf(statement["Action"]) {
				if strings.Contains(action, "*") {
					t.Errorf("%s %s: action %q", r, r.Type, action)
				}
			}
		})
	}
	if statements == 0 {
		t.Fatal("no policy statements found: the scan is not looking at the templates")
	}
}

// Security groups admit nothing from the internet, not even on 443: the
// only thing on the internet is API Gateway's mutual-TLS custom domain. And
// nothing sends to the internet but the NAT instances (which forward for the
// workloads) and the API tasks (HTTPS to external payment networks through
// them); functions reach S3 through its prefix list and AWS APIs through
// the endpoints.
func TestNoIngressFromTheInternetAndNoEgressButThroughNAT(t *testing.T) {
	mayLeave := func(r resource) bool {
		description, _ := r.Properties["GroupDescription"].(string)
		name, _ := r.Properties["GroupName"].(string)
		return description == "Security Group for NAT instances" || name == "payments-api-"+testSuffix
	}
	rules := 0
	check := func(r resource, direction string, rule map[string]any) {
		rules++
		cidr, _ := rule["CidrIp"].(string)
		cidr6, _ := rule["CidrIpv6"].(string)
		if cidr != "0.0.0.0/0" && cidr6 != "::/0" {
			return
		}
		if direction == "ingress" || !mayLeave(r) || rule["FromPort"] != float64(443) || rule["ToPort"] != float64(443) {
			t.Errorf("%s (%v): %s to or from the internet: %v", r, r.Properties["GroupName"], direction, rule)
		}
	}
	for _, r := range resources("AWS::EC2::SecurityGroup") {
		for _, direction := range []string{"ingress", "egress"} {
			key := "SecurityGroupIngress"
			if direction == "egress" {
				key = "SecurityGroupEgress"
			}
			for _, rule := range asList(r.Properties[key]) {
				check(r, direction, rule.(map[string]any))
			}
		}
	}
	for _, r := range resources("AWS::EC2::SecurityGroupIngress") {
		check(r, "ingress", r.Properties)
	}
	if rules == 0 {
		t.Fatal("no rules found: the scan is not looking at the templates")
	}
	// A group created without inline egress gets EC2's default: all
	// outbound traffic, whatever separate egress rules name it.
	for name, syn := range syntheses() {
		for _, r := range resourcesOf(syn, "AWS::EC2::SecurityGroup") {
			if len(asList(r.Properties["SecurityGroupEgress"])) == 0 {
				t.Errorf("%s: %s (%v) has no inline egress, so EC2 lets it send anything", name, r, r.Properties["GroupDescription"])
			}
		}
	}
}

// Every audit log group keeps exactly 2557 days (seven years) and is
// encrypted with our key.
func TestLogGroupsAreEncryptedAndKeptSevenYears(t *testing.T) {
	groups := resources("AWS::Logs::LogGroup")
	if len(groups) == 0 {
		t.Fatal("no log groups")
	}
	for _, r := range groups {
		if got := r.Properties["RetentionInDays"]; got != float64(2557) {
			t.Errorf("%s (%v): RetentionInDays=%v, want 2557", r, r.Properties["LogGroupName"], got)
		}
		if r.Properties["KmsKeyId"] == nil {
			t.Errorf("%s (%v): not encrypted with a customer-managed key", r, r.Properties["LogGroupName"])
		}
	}
}

// The logs that carry what clients send mask card data and audit every
// finding into the findings group (PCI DSS requirement 3, defence in depth:
// the API refuses card numbers before anything is logged), and the
// database's audit log never records statement parameters.
func TestCardDataIsMaskedInLogs(t *testing.T) {
	want := []string{"/payments/pr123/api", "/payments/pr123/apigateway-access", "/payments/pr123/lambda/processor",
		"aws-waf-logs-payments-edge-pr123", "/aws/rds/cluster/payments-db-pr123/postgresql"}
	var protected []string
	for _, r := range resources("AWS::Logs::LogGroup") {
		policy := asMap(r.Properties["DataProtectionPolicy"])
		if policy == nil {
			continue
		}
		name, _ := r.Properties["LogGroupName"].(string)
		protected = append(protected, name)
		body := jsonOf(policy)
		for _, want := range []string{"data-identifier/CreditCardNumber", "data-identifier/CreditCardSecurityCode", `"Deidentify":{"MaskConfig":{}}`, `"BareCardNumber"`,
			`"FindingsDestination":{"CloudWatchLogs":{"LogGroup":`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: policy lacks %s: %s", name, want, body)
			}
		}
		if r.stack == "PaymentsData-"+testSuffix && !slices.ContainsFunc(r.DependsOn, func(id string) bool { return strings.HasPrefix(id, "CardDataFindings") }) {
			t.Errorf("%s: created before its findings group (%v)", name, r.DependsOn)
		}
	}
	slices.Sort(protected)
	slices.Sort(want)
	if !slices.Equal(protected, want) {
		t.Errorf("protected log groups %v, want %v", protected, want)
	}
	params := jsonOf(one(t, resources("AWS::RDS::DBClusterParameterGroup"), "cluster parameter groups").Properties["Parameters"])
	if !strings.Contains(params, `"pgaudit.log_parameter":"0"`) || !strings.Contains(params, `"log_parameter_max_length":"0"`) ||
		!strings.Contains(params, `"pgaudit.role":"rds_pgaudit"`) {
		t.Errorf("PostgreSQL may log statement parameters: %s", params)
	}
	findings := "/aws/vendedlogs/payments/pr123/card-data-findings"
	if !slices.ContainsFunc(resources("AWS::Logs::LogGroup"), func(r resource) bool { return r.Properties["LogGroupName"] == findings }) {
		t.Errorf("no findings group %s (under /aws/vendedlogs/, so the account's log-delivery policy does not grow per environment)", findings)
	}
}

// Every function logs into a group the app creates (and so encrypts, keeps
// 2557 days and removes with the stack): ours and CDK's through
// LoggingConfig, the database rotation function (a Serverless Application
// Repository app, whose group Lambda names after the function) by name.
func TestEveryFunctionLogsToAnAuditGroup(t *testing.T) {
	groups := map[string]bool{}
	names := map[string]bool{}
	for _, r := range resources("AWS::Logs::LogGroup") {
		groups[r.logicalID] = true
		if name, ok := r.Properties["LogGroupName"].(string); ok {
			names[name] = true
		}
	}
	for _, r := range resources("AWS::Lambda::Function") {
		ref, _ := r.Properties["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)
		if id, _ := ref["Ref"].(string); !groups[id] {
			t.Errorf("%s logs to %v, not to a log group of this app", r, r.Properties["LoggingConfig"])
		}
	}
	apps := resources("AWS::Serverless::Application")
	if len(apps) != 1 {
		t.Fatalf("%d serverless applications, want the database rotation", len(apps))
	}
	name := apps[0].Properties["Parameters"].(map[string]any)["functionName"]
	if name != "payments-db-rotation-"+testSuffix || !names["/aws/lambda/"+name.(string)] || !slices.Contains(apps[0].DependsOn, "DatabaseRotationLogsC2CD343A") {
		t.Errorf("rotation function %v: its log group must exist before it", name)
	}
}

// Resource counts are pinned: a change that adds or removes resources must
// say so here (and in docs/ARCHITECTURE.md), and every stack stays far below
// CloudFormation's 500-resource limit.
func TestResourceCounts(t *testing.T) {
	want := map[string]int{
		environment.AccountStackName:    3,
		"PaymentsReplica-" + testSuffix: 15,
		"PaymentsKeys-" + testSuffix:    14,
		"PaymentsNetwork-" + testSuffix: 74,
		"PaymentsData-" + testSuffix:    49,
		"PaymentsApp-" + testSuffix:     158,
	}
	for stack, tmpl := range templates {
		got := 0
		for _, r := range tmpl["Resources"].(map[string]any) {
			// The CLI adds AWS::CDK::Metadata (version reporting); not a resource of ours.
			if r.(map[string]any)["Type"] != "AWS::CDK::Metadata" {
				got++
			}
		}
		if got != want[stack] {
			t.Errorf("%s: %d resources, want %d", stack, got, want[stack])
		}
		if got > 250 {
			t.Errorf("%s: %d resources, over half of CloudFormation's limit: split the stack", stack, got)
		}
	}
}

func appResources(types ...string) []resource { return stackResources(stacks.App, types...) }

// refOf is the logical id a {"Ref": id} or {"Fn::GetAtt": [id, attr]}
// names, or "".
func refOf(v any) string {
	m, _ := v.(map[string]any)
	if id, ok := m["Ref"].(string); ok {
		return id
	}
	if getAtt, ok := m["Fn::GetAtt"].([]any); ok && len(getAtt) > 0 {
		id, _ := getAtt[0].(string)
		return id
	}
	return ""
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// policyOf returns the statements of the customer-managed policy named
// name, and fails the test when there is none: a renamed policy must not
// silently skip the checks on it.
func policyOf(t *testing.T, rs []resource, name string) []map[string]any {
	t.Helper()
	for _, r := range rs {
		if r.Properties["ManagedPolicyName"] == name {
			var out []map[string]any
			for _, s := range asList(asMap(r.Properties["PolicyDocument"])["Statement"]) {
				out = append(out, asMap(s))
			}
			return out
		}
	}
	t.Fatalf("no policy %s", name)
	return nil
}
