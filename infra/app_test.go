package infra_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/cost"
	"github.com/fintech/payments-platform/diagram"
	"github.com/fintech/payments-platform/test/integration"
)

func appResources(types ...string) []resource { return stackResources(stacks.App, types...) }

// The API runs on Fargate (arm64) with a read-only root filesystem as a
// non-root user, logs to an encrypted audit group, and may only connect to
// Aurora as the application role.
func TestApiTaskDefinition(t *testing.T) {
	task := one(t, appResources("AWS::ECS::TaskDefinition"), "task definitions")
	p := task.Properties
	if jsonOf(p["RuntimePlatform"]) != `{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}` ||
		p["Cpu"] != "512" || p["Memory"] != "1024" || jsonOf(p["RequiresCompatibilities"]) != `["FARGATE"]` {
		t.Errorf("task: platform %s cpu %v memory %v", jsonOf(p["RuntimePlatform"]), p["Cpu"], p["Memory"])
	}
	containers := p["ContainerDefinitions"].([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	c := containers[0].(map[string]any)
	if c["ReadonlyRootFilesystem"] != true || c["User"] != "65532:65532" || c["Privileged"] != false {
		t.Errorf("container hardening: readonly=%v user=%v privileged=%v", c["ReadonlyRootFilesystem"], c["User"], c["Privileged"])
	}
	logging := jsonOf(c["LogConfiguration"])
	if !strings.Contains(logging, `"awslogs-group":{"Ref":"ApiLogGroup`) || !strings.Contains(logging, `"mode":"non-blocking"`) {
		t.Errorf("logging %s", logging)
	}
	env := jsonOf(c["Environment"])
	for _, want := range []string{`"API_TLS","Value":"true"`, `"DATABASE_USER","Value":"payments_app"`, "DATABASE_WRITER_HOST", "DATABASE_READER_HOST"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s: %s", want, env)
		}
	}

	var taskActions []string
	for _, r := range appResources("AWS::IAM::ManagedPolicy") {
		if r.Properties["ManagedPolicyName"] != "payments-api-task-"+testSuffix+"-policy" {
			continue
		}
		policy := jsonOf(r.Properties["PolicyDocument"])
		if !strings.Contains(policy, ":dbuser:") || !strings.Contains(policy, "/payments_app") {
			t.Errorf("rds-db:connect is not limited to the application role: %s", policy)
		}
		for _, s := range r.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			taskActions = append(taskActions, stringsOf(s.(map[string]any)["Action"])...)
		}
	}
	slices.Sort(taskActions)
	if want := []string{"kms:Decrypt", "kms:GenerateDataKey", "rds-db:connect", "sqs:GetQueueAttributes", "sqs:SendMessage"}; !slices.Equal(taskActions, want) {
		t.Errorf("task role actions %v, want %v", taskActions, want)
	}
}

// The service keeps a task in every AZ, has no public IPs, rolls back a
// failed deployment, and scales on CPU 70 % and memory 80 %.
func TestApiServiceAndAutoscaling(t *testing.T) {
	svc := one(t, appResources("AWS::ECS::Service"), "services").Properties
	network := jsonOf(svc["NetworkConfiguration"])
	if !strings.Contains(network, `"AssignPublicIp":"DISABLED"`) || strings.Count(network, "privateSubnet") != 3 {
		t.Errorf("network %s", network)
	}
	if svc["DesiredCount"] != float64(3) || svc["LaunchType"] != "FARGATE" {
		t.Errorf("desired %v launch %v", svc["DesiredCount"], svc["LaunchType"])
	}
	if got := jsonOf(svc["DeploymentConfiguration"]); got != `{"DeploymentCircuitBreaker":{"Enable":true,"Rollback":true},"MaximumPercent":200,"MinimumHealthyPercent":100}` {
		t.Errorf("deployment %s", got)
	}
	cluster := one(t, appResources("AWS::ECS::Cluster"), "clusters").Properties
	if got := jsonOf(cluster["ClusterSettings"]); got != `[{"Name":"containerInsights","Value":"enhanced"}]` {
		t.Errorf("container insights %s", got)
	}

	target := one(t, appResources("AWS::ApplicationAutoScaling::ScalableTarget"), "scalable targets").Properties
	if target["MinCapacity"] != float64(3) || target["MaxCapacity"] != float64(12) {
		t.Errorf("capacity %v-%v", target["MinCapacity"], target["MaxCapacity"])
	}
	targets := map[string]float64{}
	for _, p := range appResources("AWS::ApplicationAutoScaling::ScalingPolicy") {
		cfg := p.Properties["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
		metric := cfg["PredefinedMetricSpecification"].(map[string]any)["PredefinedMetricType"].(string)
		targets[metric] = cfg["TargetValue"].(float64)
	}
	if targets["ECSServiceAverageCPUUtilization"] != 70 || targets["ECSServiceAverageMemoryUtilization"] != 80 || len(targets) != 2 {
		t.Errorf("target tracking %v, want CPU 70 and memory 80", targets)
	}
}

// The ALB: internal (no public address) in the public subnets, HTTPS only
// with TLS 1.2+, invalid headers dropped, access-logged; its security group
// admits HTTPS from the VPC link's group and nothing else, and the VPC
// link's group may only reach the ALB. No shared secret is involved
// anywhere: no origin header.
func TestAlbIsReachableOnlyThroughTheVpcLink(t *testing.T) {
	lb := one(t, appResources("AWS::ElasticLoadBalancingV2::LoadBalancer"), "load balancers")
	if lb.Properties["Scheme"] != "internal" || strings.Count(jsonOf(lb.Properties["Subnets"]), "publicSubnet") != 3 {
		t.Errorf("scheme %v subnets %s, want internal in the three public subnets", lb.Properties["Scheme"], jsonOf(lb.Properties["Subnets"]))
	}
	attrs := jsonOf(lb.Properties["LoadBalancerAttributes"])
	for _, want := range []string{
		`{"Key":"routing.http.drop_invalid_header_fields.enabled","Value":"true"}`,
		`{"Key":"access_logs.s3.enabled","Value":"true"}`,
		`{"Key":"access_logs.s3.bucket","Value":"payments-logs-pr123-123456789012-ap-southeast-1"}`,
	} {
		if !strings.Contains(attrs, want) {
			t.Errorf("attributes lack %s: %s", want, attrs)
		}
	}

	groups := map[string]resource{}
	for _, g := range appResources("AWS::EC2::SecurityGroup") {
		groups[g.logicalID] = g
	}
	albGroup := refOf(asList(lb.Properties["SecurityGroups"])[0])
	link := one(t, appResources("AWS::ApiGatewayV2::VpcLink"), "VPC links")
	linkGroup := refOf(asList(link.Properties["SecurityGroupIds"])[0])
	if strings.Count(jsonOf(link.Properties["SubnetIds"]), "privateSubnet") != 3 {
		t.Errorf("VPC link subnets %s, want the three private subnets", jsonOf(link.Properties["SubnetIds"]))
	}
	// Inline rules of the ALB's group admit nothing; the only ingress rule
	// naming it comes from the VPC link's group, on 443.
	if in := groups[albGroup].Properties["SecurityGroupIngress"]; in != nil {
		t.Errorf("the ALB's group has inline ingress %s", jsonOf(in))
	}
	var ingress []string
	for _, r := range appResources("AWS::EC2::SecurityGroupIngress") {
		if refOf(r.Properties["GroupId"]) == albGroup {
			ingress = append(ingress, fmt.Sprintf("%s:%v", refOf(r.Properties["SourceSecurityGroupId"]), r.Properties["FromPort"]))
		}
	}
	if want := []string{linkGroup + ":443"}; !slices.Equal(ingress, want) {
		t.Errorf("ALB ingress %v, want only HTTPS from the VPC link's group %v", ingress, want)
	}
	var linkEgress []string
	for _, r := range appResources("AWS::EC2::SecurityGroupEgress") {
		if refOf(r.Properties["GroupId"]) == linkGroup {
			linkEgress = append(linkEgress, fmt.Sprintf("%s:%v", refOf(r.Properties["DestinationSecurityGroupId"]), r.Properties["FromPort"]))
		}
	}
	if want := []string{albGroup + ":443"}; !slices.Equal(linkEgress, want) || groups[linkGroup].Properties["SecurityGroupIngress"] != nil {
		t.Errorf("VPC link egress %v (want %v) and ingress %s (want none)", linkEgress, want, jsonOf(groups[linkGroup].Properties["SecurityGroupIngress"]))
	}

	listener := one(t, appResources("AWS::ElasticLoadBalancingV2::Listener"), "listeners (HTTPS only, no port 80)").Properties
	if listener["Port"] != float64(443) || listener["Protocol"] != "HTTPS" || listener["SslPolicy"] != "ELBSecurityPolicy-TLS13-1-2-Res-2021-06" {
		t.Errorf("listener %v %v %v", listener["Port"], listener["Protocol"], listener["SslPolicy"])
	}
	// The stage name API Gateway may prepend is stripped before the
	// service sees the path; every other path passes unchanged.
	rule := one(t, appResources("AWS::ElasticLoadBalancingV2::ListenerRule"), "listener rules").Properties
	if got := jsonOf(rule["Conditions"]); got != `[{"Field":"path-pattern","PathPatternConfig":{"Values":["/v1/v1/*"]}}]` {
		t.Errorf("stage rule conditions %s", got)
	}
	if got := jsonOf(rule["Transforms"]); got != `[{"Type":"url-rewrite","UrlRewriteConfig":{"Rewrites":[{"Regex":"^/v1(/v1/.*)$","Replace":"$1"}]}}]` {
		t.Errorf("stage rule transforms %s", got)
	}
	for _, template := range []map[string]map[string]any{templates, prod.templates, matrix.templates} {
		for name, tmpl := range template {
			if body := strings.ToLower(jsonOf(tmpl)); strings.Contains(body, "origin-verify") || strings.Contains(body, "x-origin") {
				t.Errorf("%s carries an origin header: a shared secret guarding the ALB", name)
			}
		}
	}

	tg := one(t, appResources("AWS::ElasticLoadBalancingV2::TargetGroup"), "target groups").Properties
	if tg["Protocol"] != "HTTPS" || tg["Port"] != float64(8443) || tg["HealthCheckPath"] != "/healthz" || tg["HealthCheckProtocol"] != "HTTPS" || tg["TargetType"] != "ip" {
		t.Errorf("target group %v", tg)
	}
	if _, ok := templates[*stacks.App.StackName()]["Outputs"].(map[string]any)["AlbDnsName"]; !ok {
		t.Error("no AlbDnsName output")
	}
}

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

// Tasks accept only the ALB; Aurora accepts the tasks, the processor, the
// merchant-key manager and the audit function through rules in this stack.
func TestApiNetworkPaths(t *testing.T) {
	rules := appResources("AWS::EC2::SecurityGroupIngress")
	var ports []float64
	for _, r := range rules {
		if r.Properties["SourceSecurityGroupId"] == nil || r.Properties["CidrIp"] != nil {
			t.Errorf("%s: not from a security group", r)
		}
		ports = append(ports, r.Properties["FromPort"].(float64))
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []float64{443, 5432, 5432, 5432, 5432, 8443}) {
		t.Errorf("ingress ports %v, want the ALB from the VPC link, the database from the tasks, the processor, merchant-keys and audit, and the tasks from the ALB", ports)
	}
}

// WAF: on the ALB, our SQLi/XSS rule group over query string, URI and
// headers (URL and HTML-entity decoding) and the JSON body
// (JavaScript-escape decoding), answering with a problem body and declaring
// exactly the capacity it uses, then three managed groups; on the API
// stage, a rate limit keyed on the client's own address (not a header it
// controls) answering 429, and the IP reputation list. Both log, with
// credentials redacted, and stay within the WCU their price includes.
func TestWebAcls(t *testing.T) {
	group := one(t, appResources("AWS::WAFv2::RuleGroup"), "rule groups").Properties
	var names []string
	for _, r := range group["Rules"].([]any) {
		rule := r.(map[string]any)
		name := rule["Name"].(string)
		names = append(names, name)
		transforms := `[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]`
		if strings.HasSuffix(name, "Body") {
			transforms = `[{"Priority":0,"Type":"JS_DECODE"}]`
		}
		if !strings.Contains(jsonOf(rule), `"TextTransformations":`+transforms) {
			t.Errorf("%s: transformations are not %s: %s", name, transforms, jsonOf(rule))
		}
		if jsonOf(rule["Action"]) != `{"Block":{"CustomResponse":{"CustomResponseBodyKey":"request-blocked","ResponseCode":403}}}` {
			t.Errorf("%s does not block with the request-blocked problem: %s", name, jsonOf(rule["Action"]))
		}
	}
	slices.Sort(names)
	want := []string{"SqliBody", "SqliHeaders", "SqliQueryString", "SqliUriPath", "XssBody", "XssHeaders", "XssQueryString", "XssUriPath"}
	if !slices.Equal(names, want) {
		t.Errorf("rules %v, want %v", names, want)
	}
	// 3 fields x (SQLi 20 + XSS 40 + 2 x 2 transformations x 10) + the body (20 + 40 + 2 x 10).
	if got := group["Capacity"]; got != float64(3*100+80) {
		t.Errorf("rule group capacity %v, want 380", got)
	}
	if !strings.Contains(jsonOf(group["CustomResponseBodies"]), `"code\":\"request-blocked\"`) {
		t.Errorf("rule group lacks the request-blocked body: %s", jsonOf(group["CustomResponseBodies"]))
	}

	acls := map[string]map[string]any{}
	for _, r := range appResources("AWS::WAFv2::WebACL") {
		acls[r.Properties["Name"].(string)] = r.Properties
	}
	priorities := func(acl map[string]any) map[string]float64 {
		p := map[string]float64{}
		for _, r := range asList(acl["Rules"]) {
			rule := r.(map[string]any)
			p[rule["Name"].(string)] = rule["Priority"].(float64)
		}
		return p
	}
	alb, stage := acls["payments-edge-pr123"], acls["payments-api-edge-pr123"]
	if alb == nil || stage == nil || len(acls) != 2 {
		t.Fatalf("web ACLs %v, want payments-edge-pr123 (ALB) and payments-api-edge-pr123 (stage)", slices.Sorted(maps.Keys(acls)))
	}
	if got, want := priorities(alb), map[string]float64{
		"InjectionRules": 0, "AWSManagedRulesCommonRuleSet": 1, "AWSManagedRulesKnownBadInputsRuleSet": 2, "AWSManagedRulesSQLiRuleSet": 3,
	}; !maps.Equal(got, want) {
		t.Errorf("ALB web ACL rules %v, want %v", got, want)
	}
	if got, want := priorities(stage), map[string]float64{"RateLimitPerClient": 0, "AWSManagedRulesAmazonIpReputationList": 1}; !maps.Equal(got, want) {
		t.Errorf("stage web ACL rules %v, want %v", got, want)
	}
	for _, want := range []string{
		`"RateBasedStatement":{"AggregateKeyType":"IP","EvaluationWindowSec":300,"Limit":30000}`,
		`{"Block":{"CustomResponse":{"CustomResponseBodyKey":"rate-limited","ResponseCode":429}}}`,
	} {
		if !strings.Contains(jsonOf(stage), want) {
			t.Errorf("stage web ACL lacks %s", want)
		}
	}
	if strings.Contains(jsonOf(alb), "RateBasedStatement") || strings.Contains(jsonOf(acls), "FORWARDED_IP") {
		t.Error("a rate limit keyed on a forwarded header (which the client controls) or behind API Gateway (where every request comes from the VPC link)")
	}

	associations := map[string]string{}
	for _, a := range appResources("AWS::WAFv2::WebACLAssociation") {
		associations[refOf(a.Properties["WebACLArn"])] = jsonOf(a.Properties["ResourceArn"])
	}
	for id, target := range associations {
		switch {
		case strings.HasPrefix(id, "WafLoadBalancer") && strings.Contains(target, `"Ref":"EdgeLoadBalancer`):
		case strings.HasPrefix(id, "WafStage") && strings.Contains(target, "/restapis/") && strings.Contains(target, "/stages/"):
		default:
			t.Errorf("web ACL %s protects %s", id, target)
		}
	}
	if len(associations) != 2 {
		t.Errorf("%d web ACL associations, want the ALB's and the stage's", len(associations))
	}
	loggings := appResources("AWS::WAFv2::LoggingConfiguration")
	if len(loggings) != 2 {
		t.Fatalf("%d logging configurations, want one per web ACL", len(loggings))
	}
	for _, l := range loggings {
		logging := jsonOf(l.Properties)
		for _, want := range []string{`:log-group:aws-waf-logs-payments-edge-pr123"`, `{"SingleHeader":{"Name":"authorization"}}`, `{"SingleHeader":{"Name":"x-api-key"}}`} {
			if !strings.Contains(logging, want) {
				t.Errorf("%s lacks %s: %s", l, want, logging)
			}
		}
	}
}

// The staged Docker build context holds only what the image compiles from,
// and cmd/api compiles from it alone for linux/arm64 (what the Dockerfile's
// build stage runs; no Docker engine is needed for this check).
func TestDockerContextBuildsTheApi(t *testing.T) {
	dockerfiles, _ := filepath.Glob(filepath.Join(outdir, "asset.*", "Dockerfile"))
	if len(dockerfiles) != 1 {
		t.Fatalf("got %d staged Docker contexts, want 1", len(dockerfiles))
	}
	dir := filepath.Dir(dockerfiles[0])
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		if strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "infra") || strings.HasPrefix(rel, "node_modules") || strings.HasPrefix(rel, "cdk.out") {
			t.Errorf("the image context holds %s", rel)
		}
		return nil
	})
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), "api"), "./cmd/api")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cmd/api does not build from the image context: %v\n%s", err, out)
	}
}

// Every output the integration tests read is produced, by exactly one
// stack (cmd/flatoutputs refuses a key two stacks share), and no output
// carries a secret value.
func TestIntegrationOutputs(t *testing.T) {
	owner := map[string]string{}
	for stack, tmpl := range templates {
		for name, output := range asMap(tmpl["Outputs"]) {
			if other, ok := owner[name]; ok {
				t.Errorf("output %s in both %s and %s", name, other, stack)
			}
			owner[name] = stack
			if value := jsonOf(asMap(output)["Value"]); strings.Contains(value, "resolve:secretsmanager") || strings.Contains(value, "SecretString") {
				t.Errorf("output %s carries a secret value: %s", name, value)
			}
		}
	}
	for _, key := range integration.Required {
		if _, ok := owner[key]; !ok {
			t.Errorf("no stack outputs %s, which the integration tests read", key)
		}
	}
}

// docs/architecture.dot is what cmd/diagram draws from this app. The tests
// synthesize the suffix pr123; the committed diagram is of dev.
func TestArchitectureDiagramIsCurrent(t *testing.T) {
	stacks, err := assembly.Load(outdir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	diagram.Build(stacks).WriteDOT(&out)
	got := strings.ReplaceAll(out.String(), "pr123", "dev")
	want, err := os.ReadFile(filepath.Join("..", "docs", "architecture.dot"))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("docs/architecture.dot no longer matches the app: run `make diagram` and commit docs/architecture.{dot,svg}")
	}
}

// The tables of docs/COST.md are what cmd/costmodel computes from this app
// (non-production and production).
func TestCostModelIsCurrent(t *testing.T) {
	nonProduction, err := assembly.Load(outdir)
	if err != nil {
		t.Fatal(err)
	}
	production, err := assembly.Load(prod.outdir)
	if err != nil {
		t.Fatal(err)
	}
	section, err := cost.Section(nonProduction, production)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "COST.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := cost.ReplaceSection(string(doc), section); want != string(doc) {
		t.Errorf("docs/COST.md no longer matches the app: run `make cost` and commit docs/COST.md")
	}
}
