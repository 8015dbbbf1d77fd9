package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/infra"
)

// The anchors are locked as they are written, for seven years: in
// governance mode outside production (the environment stays destroyable),
// in compliance mode in production (nobody can shorten it). The key that
// signs them is asymmetric and may sign, verify and publish its public half,
// nothing else.
func TestAnchorsAreLockedAndSigned(t *testing.T) {
	for _, c := range []struct {
		name      string
		templates map[string]map[string]any
		mode      string
	}{{"non-production", templates, "GOVERNANCE"}, {"production", prod.templates, "COMPLIANCE"}} {
		var anchors map[string]any
		for _, b := range resourcesOf(c.templates, "AWS::S3::Bucket") {
			if name, _ := b.Properties["BucketName"].(string); strings.HasPrefix(name, "payments-audit-") {
				anchors = b.Properties
			}
		}
		if anchors == nil {
			t.Fatalf("%s: no anchor bucket", c.name)
		}
		want := `{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Days":2557,"Mode":"` + c.mode + `"}}}`
		if anchors["ObjectLockEnabled"] != true || jsonOf(anchors["ObjectLockConfiguration"]) != want {
			t.Errorf("%s: anchor bucket lock %v %s, want %s", c.name, anchors["ObjectLockEnabled"], jsonOf(anchors["ObjectLockConfiguration"]), want)
		}
		if !strings.Contains(jsonOf(anchors["BucketEncryption"]), `"SSEAlgorithm":"aws:kms"`) || anchors["LoggingConfiguration"] == nil {
			t.Errorf("%s: anchor bucket encryption %s, logging %v", c.name, jsonOf(anchors["BucketEncryption"]), anchors["LoggingConfiguration"])
		}
		// Object Lock keeps an overwritten anchor's first version, but the
		// current version is what a verification reads: no write to
		// anchors/ without If-None-Match, by anyone.
		refused := 0
		for _, p := range resourcesOf(c.templates, "AWS::S3::BucketPolicy") {
			if !strings.Contains(jsonOf(p.Properties["Bucket"]), "Anchors") {
				continue
			}
			for _, st := range asList(asMap(p.Properties["PolicyDocument"])["Statement"]) {
				st := asMap(st)
				if st["Effect"] != "Deny" || jsonOf(st["Principal"]) != `{"AWS":"*"}` || !strings.Contains(jsonOf(st["Resource"]), `/anchors/*`) {
					continue
				}
				switch jsonOf(st["Action"]) {
				case `"s3:PutObject"`:
					if jsonOf(st["Condition"]) == `{"Bool":{"s3:ObjectCreationOperation":"true"},"Null":{"s3:if-none-match":"true"}}` {
						refused++
					}
				case `"s3:DeleteObject"`: // a delete marker; versions stay deletable by the cleaner
					if st["Condition"] == nil {
						refused++
					}
				}
			}
		}
		if refused != 2 {
			t.Errorf("%s: the anchor bucket's policy does not refuse writes without If-None-Match and delete markers", c.name)
		}
	}

	var signing []resource
	for _, k := range resources("AWS::KMS::Key") {
		if k.Properties["KeyUsage"] == "SIGN_VERIFY" {
			signing = append(signing, k)
		}
	}
	key := one(t, signing, "signing keys").Properties
	if key["KeySpec"] != "ECC_NIST_P256" || key["EnableKeyRotation"] == true {
		t.Errorf("signing key %v", key)
	}
	// Only the audit function's role may sign: IAM policies elsewhere in
	// the account cannot grant kms:Sign. The keys stack is created before
	// the role: KMS refuses a key policy whose Principal does not exist
	// (MalformedPolicyDocumentException), so the role may only be named in
	// a condition, the principal being the account.
	auditRole := cfg.RoleArn(cfg.AuditFunctionName())
	var actions []string
	for _, s := range asList(asMap(key["KeyPolicy"])["Statement"]) {
		s := asMap(s)
		actions = append(actions, stringsOf(s["Action"])...)
		if slices.Contains(stringsOf(s["Action"]), "kms:Sign") &&
			jsonOf(asMap(asMap(s["Condition"])["ArnEquals"])["aws:PrincipalArn"]) != `"`+auditRole+`"` {
			t.Errorf("the signing key lets %s sign: %s", jsonOf(s["Principal"]), jsonOf(s["Condition"]))
		}
		if strings.Contains(jsonOf(s["Principal"]), ":role/") {
			t.Errorf("the signing key's policy names a role as a principal, which must exist before the key: %s", jsonOf(s["Principal"]))
		}
	}
	if !slices.ContainsFunc(appResources("AWS::IAM::Role"), func(r resource) bool { return cfg.RoleArn(fmt.Sprint(r.Properties["RoleName"])) == auditRole }) {
		t.Errorf("no role is %s, the only one the signing key lets sign", auditRole)
	}
	for _, want := range []string{"kms:Sign", "kms:Verify", "kms:GetPublicKey"} {
		if !slices.Contains(actions, want) {
			t.Errorf("the signing key's policy does not delegate %s", want)
		}
	}
	for _, never := range []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"} {
		if slices.Contains(actions, never) {
			t.Errorf("the signing key's policy delegates %s (an encryption operation, or a grant that would bypass the signing condition)", never)
		}
	}
}

// The audit function connects as the auditor, may read and add anchors but
// never delete or unlock one, and signs only digests with ECDSA; the
// scheduler invokes it hourly to anchor and daily to verify, and may invoke
// nothing else.
func TestAuditFunctionMayOnlyReadSignAndAdd(t *testing.T) {
	var fn resource
	for _, f := range appResources("AWS::Lambda::Function") {
		if f.Properties["FunctionName"] == "payments-audit-"+testSuffix {
			fn = f
		}
	}
	env := asMap(asMap(fn.Properties["Environment"])["Variables"])
	if env["DATABASE_USER"] != database.AuditorRole || env["ANCHOR_BUCKET"] != cfg.BucketName("audit", cfg.Region) ||
		env["SIGNING_KEY_ARN"] == nil || env["DATABASE_WRITER_HOST"] == nil || fn.Properties["VpcConfig"] == nil {
		t.Fatalf("audit function %s: %v", fn, fn.Properties)
	}
	allowed := map[string]bool{
		"logs:CreateLogStream": true, "logs:PutLogEvents": true, "ec2:CreateNetworkInterface": true, "ec2:DescribeNetworkInterfaces": true,
		"ec2:DeleteNetworkInterface": true, "ec2:AssignPrivateIpAddresses": true, "ec2:UnassignPrivateIpAddresses": true,
		"xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true,
		"rds-db:connect": true, "s3:ListBucket": true, "s3:GetObject": true, "s3:PutObject": true,
		"kms:Decrypt": true, "kms:GenerateDataKey": true, "kms:Sign": true, "kms:GetPublicKey": true,
	}
	sids := map[string]bool{}
	for _, s := range policyOf(t, appResources("AWS::IAM::ManagedPolicy"), "payments-audit-"+testSuffix+"-policy") {
		sids[s["Sid"].(string)] = true
		for _, action := range stringsOf(s["Action"]) {
			if !allowed[action] {
				t.Errorf("the audit function may %s", action)
			}
		}
		resources := jsonOf(s["Resource"])
		switch s["Sid"] {
		case "ConnectAsAuditor":
			if !strings.Contains(resources, "/"+database.AuditorRole) {
				t.Errorf("connects as %s", resources)
			}
		case "ListAnchors":
			// S3 answers a read of a missing key with 403, not 404, to a
			// caller that may not list the bucket: a condition here would
			// make the first anchor run fail on the missing hint.
			if s["Condition"] != nil {
				t.Errorf("s3:ListBucket is conditional: %s", jsonOf(s["Condition"]))
			}
		case "ReadAndAddAnchors":
			bucket := "arn:aws:s3:::" + cfg.BucketName("audit", cfg.Region)
			if resources != `["`+bucket+`/anchors/*","`+bucket+`/hints/latest"]` {
				t.Errorf("anchors %s", resources)
			}
		case "SignAnchors":
			if jsonOf(s["Condition"]) != `{"ArnEquals":{"lambda:SourceFunctionArn":"arn:aws:lambda:`+cfg.Region+`:`+cfg.Account+`:function:payments-audit-`+testSuffix+`"},"StringEquals":{"kms:MessageType":"DIGEST","kms:SigningAlgorithm":"ECDSA_SHA_256"}}` {
				t.Errorf("signs under %s", jsonOf(s["Condition"]))
			}
		}
	}

	for _, sid := range []string{"ConnectAsAuditor", "ListAnchors", "ReadAndAddAnchors", "SignAnchors"} {
		if !sids[sid] {
			t.Errorf("the audit policy has no %s statement", sid)
		}
	}

	schedules := map[string]map[string]any{}
	for _, s := range appResources("AWS::Scheduler::Schedule") {
		if !strings.HasPrefix(s.Properties["Name"].(string), "payments-audit-") {
			continue
		}
		schedules[s.Properties["Name"].(string)] = s.Properties
		if !slices.ContainsFunc(s.DependsOn, func(id string) bool { return strings.HasPrefix(id, "AuditSchedulerRolePolicy") }) {
			t.Errorf("%s does not wait for its role's policy: %v", s, s.DependsOn)
		}
	}
	for name, want := range map[string][2]string{
		"payments-audit-anchor-" + testSuffix: {"rate(1 hour)", "anchor"},
		"payments-audit-verify-" + testSuffix: {"rate(1 day)", "verify"},
	} {
		s := schedules[name]
		var input struct{ Action string }
		if s == nil || s["ScheduleExpression"] != want[0] || json.Unmarshal([]byte(asMap(s["Target"])["Input"].(string)), &input) != nil || input.Action != want[1] {
			t.Errorf("schedule %s: %v, want %v", name, s, want)
		}
	}
	if len(schedules) != 2 {
		t.Errorf("schedules %v", schedules)
	}
	invoke := policyOf(t, appResources("AWS::IAM::ManagedPolicy"), "payments-audit-scheduler-"+testSuffix+"-policy")
	if len(invoke) != 1 || jsonOf(invoke[0]["Action"]) != `"lambda:InvokeFunction"` ||
		jsonOf(invoke[0]["Resource"]) != `"arn:aws:lambda:`+cfg.Region+`:`+cfg.Account+`:function:payments-audit-`+testSuffix+`"` {
		t.Errorf("the scheduler may %v", invoke)
	}
}

// Only the anchor bucket's cleaner bypasses governance retention, and only
// for that bucket's objects; the cleaner is told to for that bucket alone.
func TestOnlyTheAnchorBucketIsEmptiedPastItsLock(t *testing.T) {
	bypass := 0
	for _, r := range resources("AWS::IAM::ManagedPolicy") {
		for _, s := range asList(asMap(r.Properties["PolicyDocument"])["Statement"]) {
			if slices.Contains(stringsOf(asMap(s)["Action"]), "s3:BypassGovernanceRetention") {
				bypass++
				if r.Properties["ManagedPolicyName"] != "payments-bucketcleaner-data-"+testSuffix+"-policy" ||
					jsonOf(asMap(s)["Resource"]) != `"arn:aws:s3:::`+cfg.BucketName("audit", cfg.Region)+`/*"` {
					t.Errorf("%s may bypass governance retention on %s", r, jsonOf(asMap(s)["Resource"]))
				}
			}
		}
	}
	if bypass != 1 {
		t.Errorf("%d statements allow s3:BypassGovernanceRetention, want the data cleaner's", bypass)
	}
	told := 0
	for _, r := range resources("Custom::EmptyBucketOnDelete") {
		anchors := strings.HasPrefix(jsonOf(r.Properties["BucketName"]), `{"Ref":"StorageAnchors`)
		if got := r.Properties["BypassGovernanceRetention"]; got != map[bool]string{true: "true", false: "false"}[anchors] {
			t.Errorf("%s (%s): BypassGovernanceRetention %v", r, jsonOf(r.Properties["BucketName"]), got)
		}
		if anchors {
			told++
		}
	}
	if told != 1 {
		t.Errorf("%d cleaners empty the anchor bucket, want 1", told)
	}
}

// The saved Logs Insights queries read Aurora's pgaudit lines (Aurora's
// fixed log_line_prefix "%t:%r:%u@%d:[%p]:"): who wrote to the payment
// tables, who changed roles or the schema.
func TestAuditQueriesParsePgAuditLines(t *testing.T) {
	queries := map[string]resource{}
	for _, q := range dataResources("AWS::Logs::QueryDefinition") {
		queries[q.Properties["Name"].(string)] = q
		if !strings.Contains(jsonOf(q.Properties["LogGroupNames"]), `"Ref":"DatabasePostgresLog`) {
			t.Errorf("%s reads %s, not the database's log", q, jsonOf(q.Properties["LogGroupNames"]))
		}
	}
	writes, roles := queries["payments/"+testSuffix+"/who-wrote-payment-tables"], queries["payments/"+testSuffix+"/who-changed-roles-or-schema"]
	if writes.Properties == nil || roles.Properties == nil || len(queries) != 2 {
		t.Fatalf("queries %v", queries)
	}
	// Logs Insights' regular expressions name groups as (?<name>...), which
	// Go's regexp accepts too.
	query := writes.Properties["QueryString"].(string)
	m := regexp.MustCompile(`parse @message /(.*)/\n`).FindStringSubmatch(query)
	if m == nil || roles.Properties["QueryString"].(string) == query || !strings.Contains(roles.Properties["QueryString"].(string), m[0]) {
		t.Fatalf("no shared parse in %q", query)
	}
	parse := regexp.MustCompile(m[1])
	for line, want := range map[string]map[string]string{
		`2026-11-29 05:00:00 UTC:10.0.12.7(51234):payments_app@payments:[4242]:LOG:  AUDIT: OBJECT,3,1,WRITE,UPDATE,TABLE,payments.payments,"UPDATE payments.payments SET status = $1 WHERE id = $2",<not logged>`: {
			"user": "payments_app", "class": "WRITE", "command": "UPDATE", "object": "payments.payments"},
		`2026-11-29 05:01:00 UTC:10.0.3.9(40000):dbadmin@payments:[77]:LOG:  AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,"ALTER ROLE payments_app SET statement_timeout = 0",<not logged>`: {
			"user": "dbadmin", "class": "ROLE", "command": "ALTER ROLE", "object": ""},
	} {
		got := parse.FindStringSubmatch(line)
		if got == nil {
			t.Errorf("the query does not parse %q", line)
			continue
		}
		for name, value := range want {
			if g := got[parse.SubexpIndex(name)]; g != value {
				t.Errorf("%s = %q in %q, want %q", name, g, line, value)
			}
		}
	}
}

// The account's trail exists only when asked for (-c auditTrail=true, the
// matrix): multi-region, log-file validation, its own key, management
// events and the object-level events of every environment's document and
// anchor buckets, into an Object Lock bucket (compliance mode in
// production) and a log group kept 2557 days, created after what
// CloudTrail checks at creation; four alarms watch it, each with a runbook
// section. GuardDuty, Security Hub with PCI DSS v4.0.1 and AWS Config come
// with their own keys.
func TestAccountTrail(t *testing.T) {
	for _, kind := range []string{"AWS::CloudTrail::Trail", "AWS::GuardDuty::Detector", "AWS::SecurityHub::Hub", "AWS::Config::ConfigurationRecorder"} {
		if got := resources(kind); len(got) != 0 {
			t.Errorf("%s without its context key: %v", kind, got)
		}
	}
	account := map[string]map[string]any{environment.AccountStackName: matrix.templates[environment.AccountStackName]}
	trail := one(t, resourcesOf(account, "AWS::CloudTrail::Trail"), "trails")
	p := trail.Properties
	if p["TrailName"] != infra.AccountTrailName || p["IsMultiRegionTrail"] != true || p["EnableLogFileValidation"] != true || p["IncludeGlobalServiceEvents"] != true ||
		p["IsLogging"] != true || p["KMSKeyId"] == nil || p["CloudWatchLogsLogGroupArn"] == nil || p["CloudWatchLogsRoleArn"] == nil {
		t.Errorf("trail %s", jsonOf(p))
	}
	selectors := jsonOf(p["AdvancedEventSelectors"])
	for _, want := range []string{`{"Equals":["Management"],"Field":"eventCategory"}`, `{"Equals":["Data"],"Field":"eventCategory"}`,
		`{"Equals":["AWS::S3::Object"],"Field":"resources.type"}`, `{"Field":"resources.ARN","StartsWith":["arn:aws:s3:::payments-docs-","arn:aws:s3:::payments-audit-"]}`} {
		if !strings.Contains(selectors, want) {
			t.Errorf("the trail's selectors %s lack %s", selectors, want)
		}
	}
	for _, prefix := range []string{"SetupAuditBucketPolicy", "SetupAuditDeliveryRolePolicy", "SetupAuditLogGroup"} {
		if !slices.ContainsFunc(trail.DependsOn, func(id string) bool { return strings.HasPrefix(id, prefix) }) {
			t.Errorf("the trail does not wait for %s: %v", prefix, trail.DependsOn)
		}
	}
	trailArn := "arn:aws:cloudtrail:" + matrix.cfg.Region + ":" + matrix.cfg.Account + ":trail/" + infra.AccountTrailName
	for _, b := range resourcesOf(account, "AWS::S3::Bucket") {
		name := b.Properties["BucketName"].(string)
		locked := jsonOf(b.Properties["ObjectLockConfiguration"])
		switch {
		case strings.HasPrefix(name, "payments-account-trail-"):
			if locked != `{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Days":2557,"Mode":"COMPLIANCE"}}}` || b.DeletionPolicy != "Retain" {
				t.Errorf("%s: lock %s, deletion %q", name, locked, b.DeletionPolicy)
			}
		case locked != "null":
			// S3 cannot deliver access logs into a locked bucket, nor
			// AWS Config its history.
			t.Errorf("%s is locked: %s", name, locked)
		}
	}
	policies := jsonOf(resourcesOf(account, "AWS::S3::BucketPolicy"))
	for _, want := range []string{`"Action":"s3:GetBucketAcl","Condition":{"StringEquals":{"aws:SourceArn":"` + trailArn + `"}}`,
		`"Action":"s3:PutObject","Condition":{"StringEquals":{"aws:SourceArn":"` + trailArn + `","s3:x-amz-acl":"bucket-owner-full-control"}}`} {
		if !strings.Contains(policies, want) {
			t.Errorf("no bucket policy statement %s", want)
		}
	}
	key := jsonOf(one(t, resourcesOf(account, "AWS::KMS::Key"), "account keys").Properties["KeyPolicy"])
	if !strings.Contains(key, `"Action":"kms:GenerateDataKey","Condition":{"StringEquals":{"aws:SourceArn":"`+trailArn+`"}`) {
		t.Errorf("the key does not admit the trail alone: %s", key)
	}
	group := one(t, resourcesOf(account, "AWS::Logs::LogGroup"), "account log groups").Properties
	if group["RetentionInDays"] != float64(2557) || group["KmsKeyId"] == nil {
		t.Errorf("trail log group %v", group)
	}

	runbook, err := os.ReadFile("../" + infra.RunbookPath)
	if err != nil {
		t.Fatal(err)
	}
	alarmsFound := 0
	for _, a := range resourcesOf(account, "AWS::CloudWatch::Alarm") {
		alarmsFound++
		id := strings.TrimPrefix(a.Properties["AlarmName"].(string), "payments-")
		if !strings.HasSuffix(a.Properties["AlarmDescription"].(string), "Runbook: "+infra.RunbookPath+"#"+id) || !strings.Contains(string(runbook), "\n### "+id+"\n") {
			t.Errorf("%s has no runbook section %s", a, id)
		}
		if len(asList(a.Properties["AlarmActions"])) != 1 {
			t.Errorf("%s notifies %v", a, a.Properties["AlarmActions"])
		}
	}
	filters := map[string]string{}
	for _, f := range resourcesOf(account, "AWS::Logs::MetricFilter") {
		filters[asMap(asList(f.Properties["MetricTransformations"])[0])["MetricName"].(string)] = f.Properties["FilterPattern"].(string)
	}
	if alarmsFound != 5 || len(filters) != 5 {
		t.Errorf("%d alarms over %d metric filters %v, want root use, IAM, KMS and Lambda changes, trail changes", alarmsFound, len(filters), filters)
	}
	for id, pattern := range filters {
		// Only CDK's execution role is left out, not whatever comes
		// through CloudFormation (any principal may deploy a stack with
		// a role of its own).
		outsideCDK := strings.Contains(pattern, `($.userIdentity.sessionContext.sessionIssuer.arn != "arn:aws:iam::`+cfg.Account+`:role/cdk-hnb659fds-cfn-exec-role-`+cfg.Account+`-*")`)
		if outsideCDK != (id == "iam-policy-changed" || id == "kms-key-changed" || id == "lambda-changed") || strings.Contains(pattern, "sourceIPAddress") ||
			len(pattern) > 1024 { // PutMetricFilter's limit
			t.Errorf("%s: %s", id, pattern)
		}
	}
	if !strings.Contains(filters["trail-changed"], `"StopLogging"`) || !strings.Contains(filters["root-use"], `$.userIdentity.type = "Root"`) ||
		!strings.Contains(filters["kms-key-changed"], `"PutKeyPolicy"`) || !strings.Contains(filters["lambda-changed"], `"UpdateFunctionCode*"`) {
		t.Errorf("filters %v", filters)
	}

	standard := one(t, resourcesOf(account, "AWS::SecurityHub::Standard"), "Security Hub standards")
	if standard.Properties["StandardsArn"] != "arn:aws:securityhub:ap-southeast-1::standards/pci-dss/v/4.0.1" || len(standard.DependsOn) != 1 {
		t.Errorf("standard %v after %v", standard.Properties, standard.DependsOn)
	}
	if d := one(t, resourcesOf(account, "AWS::GuardDuty::Detector"), "detectors"); d.Properties["Enable"] != true {
		t.Errorf("detector %v", d.Properties)
	}
	recorder := one(t, resourcesOf(account, "AWS::Config::ConfigurationRecorder"), "recorders").Properties
	channel := one(t, resourcesOf(account, "AWS::Config::DeliveryChannel"), "delivery channels")
	if jsonOf(recorder["RecordingGroup"]) != `{"AllSupported":true,"IncludeGlobalResourceTypes":true}` || channel.Properties["S3KmsKeyArn"] == nil ||
		!slices.ContainsFunc(channel.DependsOn, func(id string) bool { return strings.HasPrefix(id, "SetupSecurityRecorder") }) {
		t.Errorf("recorder %v, channel %v after %v", recorder, channel.Properties, channel.DependsOn)
	}
}
