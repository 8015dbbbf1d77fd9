package infra_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func dataResources(types ...string) []resource { return stackResources(stacks.Data, types...) }

func one(t *testing.T, rs []resource, what string) resource {
	t.Helper()
	if len(rs) != 1 {
		t.Fatalf("got %d %s, want 1", len(rs), what)
	}
	return rs[0]
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// GIVEN the non-production defaults WHEN synthesized THEN Aurora PostgreSQL
// 17 runs one writer and two readers of a burstable Graviton class in the
// isolated subnets, encrypted with the database key, with IAM authentication.
func TestAuroraCluster(t *testing.T) {
	// Aurora refuses a parameter group naming a parameter it does not have
	// at create time: the pgaudit ones are those Aurora documents
	// ("Reference for the pgAudit extension").
	documented := []string{"pgaudit.log", "pgaudit.log_catalog", "pgaudit.log_level", "pgaudit.log_parameter",
		"pgaudit.log_relation", "pgaudit.log_statement_once", "pgaudit.role"}
	for name := range asMap(one(t, resources("AWS::RDS::DBClusterParameterGroup"), "cluster parameter groups").Properties["Parameters"]) {
		if strings.HasPrefix(name, "pgaudit.") && !slices.Contains(documented, name) {
			t.Errorf("Aurora PostgreSQL has no parameter %s", name)
		}
	}
	cluster := one(t, dataResources("AWS::RDS::DBCluster"), "clusters")
	p := cluster.Properties
	for key, want := range map[string]any{
		"Engine":                          "aurora-postgresql",
		"EngineVersion":                   "17.9",
		"DBClusterIdentifier":             "payments-db-" + testSuffix,
		"EnableIAMDatabaseAuthentication": true,
		"StorageEncrypted":                true,
		"Port":                            float64(5432),
		"DatabaseName":                    "payments",
		"BackupRetentionPeriod":           float64(7),
		"DeletionProtection":              false,
		"CopyTagsToSnapshot":              true,
	} {
		if p[key] != want {
			t.Errorf("cluster %s = %v, want %v", key, p[key], want)
		}
	}
	if p["KmsKeyId"] == nil {
		t.Error("cluster storage not encrypted with the database key")
	}
	if got := jsonOf(p["EnableCloudwatchLogsExports"]); got != `["postgresql"]` {
		t.Errorf("log exports %s", got)
	}
	if cluster.DeletionPolicy != "Delete" {
		t.Errorf("non-production cluster DeletionPolicy %q, want Delete", cluster.DeletionPolicy)
	}

	instances := dataResources("AWS::RDS::DBInstance")
	var ids []string
	for _, i := range instances {
		ids = append(ids, i.Properties["DBInstanceIdentifier"].(string))
		for key, want := range map[string]any{
			"DBInstanceClass":           "db.t4g.medium",
			"EnablePerformanceInsights": true,
			"MonitoringInterval":        float64(60),
			"PubliclyAccessible":        false,
			"CACertificateIdentifier":   "rds-ca-rsa2048-g1",
		} {
			if i.Properties[key] != want {
				t.Errorf("%s %s = %v, want %v", i, key, i.Properties[key], want)
			}
		}
		if i.Properties["PerformanceInsightsKMSKeyId"] == nil {
			t.Errorf("%s: Performance Insights not encrypted with our key", i)
		}
	}
	slices.Sort(ids)
	if want := []string{"payments-db-pr123-reader1", "payments-db-pr123-reader2", "payments-db-pr123-writer"}; !slices.Equal(ids, want) {
		t.Errorf("instances %v, want %v (1 writer + 2 readers)", ids, want)
	}

	subnets := jsonOf(one(t, dataResources("AWS::RDS::DBSubnetGroup"), "subnet groups").Properties["SubnetIds"])
	if strings.Count(subnets, "databaseSubnet") != 3 || strings.Contains(subnets, "privateSubnet") || strings.Contains(subnets, "publicSubnet") {
		t.Errorf("cluster not in the three isolated database subnets: %s", subnets)
	}

	params := one(t, dataResources("AWS::RDS::DBClusterParameterGroup"), "parameter groups").Properties["Parameters"].(map[string]any)
	for key, want := range map[string]string{"rds.force_ssl": "1", "ssl_min_protocol_version": "TLSv1.2", "log_connections": "1"} {
		if params[key] != want {
			t.Errorf("parameter %s = %v, want %s", key, params[key], want)
		}
	}

	must(t, "PostgreSQL log group", func() {
		stackTemplate(stacks.Data).HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), assertions.Match_ObjectLike(&map[string]any{
			"LogGroupName":    "/aws/rds/cluster/payments-db-" + testSuffix + "/postgresql",
			"RetentionInDays": 2557,
			"KmsKeyId":        assertions.Match_AnyValue(),
		}))
	})
}

// The cluster admits PostgreSQL from security groups only, never a CIDR, and
// every rule names the literal port.
func TestDatabaseAdmitsSecurityGroupsOnly(t *testing.T) {
	rules := dataResources("AWS::EC2::SecurityGroupIngress")
	if len(rules) < 2 {
		t.Fatalf("got %d ingress rules, want at least the rotation Lambda's and dbinit's", len(rules))
	}
	for _, r := range rules {
		p := r.Properties
		if p["CidrIp"] != nil || p["CidrIpv6"] != nil || p["SourceSecurityGroupId"] == nil {
			t.Errorf("%s: not from a security group: %v", r, p)
		}
		if p["FromPort"] != float64(5432) || p["ToPort"] != float64(5432) {
			t.Errorf("%s: ports %v-%v, want the literal 5432", r, p["FromPort"], p["ToPort"])
		}
	}
}

// The master credential is generated into Secrets Manager, encrypted with the
// secrets key, and rotated every 30 days by a Lambda in the private subnets
// that reaches Secrets Manager through the interface endpoint.
func TestMasterSecretRotatesEvery30Days(t *testing.T) {
	secret := one(t, dataResources("AWS::SecretsManager::Secret"), "secrets")
	if secret.Properties["Name"] != "payments/"+testSuffix+"/db-master" || secret.Properties["KmsKeyId"] == nil {
		t.Errorf("secret: %v", secret.Properties)
	}
	schedule := one(t, dataResources("AWS::SecretsManager::RotationSchedule"), "rotation schedules")
	if got := jsonOf(schedule.Properties["RotationRules"]); got != `{"ScheduleExpression":"rate(30 days)"}` {
		t.Errorf("rotation rules %s", got)
	}
	app := one(t, dataResources("AWS::Serverless::Application"), "rotation applications")
	params := jsonOf(app.Properties["Parameters"])
	for _, want := range []string{`"endpoint"`, "SecretsManager", `"vpcSubnetIds"`, "privateSubnet", `"vpcSecurityGroupIds"`} {
		if !strings.Contains(params, want) {
			t.Errorf("rotation Lambda parameters lack %s: %s", want, params)
		}
	}
	if transform := jsonOf(templates[*stacks.Data.StackName()]["Transform"]); !strings.Contains(transform, "AWS::Serverless-2016-10-31") {
		t.Errorf("the data stack needs the SAM transform for the rotation app; got %s", transform)
	}
}

// dbinit serves its custom resource directly, inside the VPC, built
// from cmd/dbinit for provided.al2023 on arm64, and re-runs when a migration
// changes.
func TestDatabaseBootstrap(t *testing.T) {
	schema := one(t, dataResources("Custom::PaymentsSchema"), "schema resources")
	if schema.Properties["AppRole"] != "payments_app" || schema.Properties["SecretArn"] == nil {
		t.Errorf("schema resource: %v", schema.Properties)
	}
	if digest, _ := schema.Properties["MigrationsDigest"].(string); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(digest) {
		t.Errorf("MigrationsDigest %q", digest)
	}
	var dbinit *resource
	for _, f := range dataResources("AWS::Lambda::Function") {
		if f.Properties["FunctionName"] == "payments-dbinit-"+testSuffix {
			dbinit = &f
		}
	}
	if dbinit == nil {
		t.Fatal("no dbinit function")
	}
	p := dbinit.Properties
	if p["Runtime"] != "provided.al2023" || jsonOf(p["Architectures"]) != `["arm64"]` || p["VpcConfig"] == nil ||
		p["ReservedConcurrentExecutions"] != nil || jsonOf(p["TracingConfig"]) != `{"Mode":"Active"}` {
		t.Errorf("dbinit function: %v", p)
	}
	binaries, _ := filepath.Glob(filepath.Join(outdir, "asset.*", "bootstrap"))
	if len(binaries) < 2 {
		t.Errorf("got %d Go Lambda binaries in the assembly, want dbinit and bucketcleaner", len(binaries))
	}
}

// The document bucket: versioned, SSE-KMS with Bucket Keys, private,
// TLS-only, ACLs disabled, access-logged, with the lifecycle rules and the
// cross-region replication the issue asks for.
func TestDocumentBucket(t *testing.T) {
	var docs resource
	for _, b := range dataResources("AWS::S3::Bucket") {
		if strings.HasPrefix(b.Properties["BucketName"].(string), "payments-docs-") {
			docs = b
		}
	}
	p := docs.Properties
	if p == nil {
		t.Fatal("no document bucket")
	}
	checks := map[string]string{
		"BucketName":                     `"payments-docs-pr123-123456789012-ap-southeast-1"`,
		"VersioningConfiguration":        `{"Status":"Enabled"}`,
		"PublicAccessBlockConfiguration": `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`,
		"OwnershipControls":              `{"Rules":[{"ObjectOwnership":"BucketOwnerEnforced"}]}`,
	}
	for key, want := range checks {
		if got := jsonOf(p[key]); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	enc := jsonOf(p["BucketEncryption"])
	if !strings.Contains(enc, `"SSEAlgorithm":"aws:kms"`) || !strings.Contains(enc, `"BucketKeyEnabled":true`) || !strings.Contains(enc, "KMSMasterKeyID") {
		t.Errorf("encryption %s", enc)
	}
	if logging := jsonOf(p["LoggingConfiguration"]); !strings.Contains(logging, "LogBucket") {
		t.Errorf("server access logs not sent to the log bucket: %s", logging)
	}
	lifecycle := jsonOf(p["LifecycleConfiguration"])
	for _, want := range []string{
		`"Transitions":[{"StorageClass":"STANDARD_IA","TransitionInDays":90}]`,
		`"NoncurrentVersionTransitions":[{"StorageClass":"GLACIER_IR","TransitionInDays":30}]`,
		`"NoncurrentVersionExpiration":{"NoncurrentDays":365}`,
		`"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}`,
	} {
		if !strings.Contains(lifecycle, want) {
			t.Errorf("lifecycle lacks %s: %s", want, lifecycle)
		}
	}

	replication := jsonOf(p["ReplicationConfiguration"])
	for _, want := range []string{
		`"Bucket":"arn:aws:s3:::payments-docs-pr123-123456789012-ap-southeast-2"`,
		`"ReplicaKmsKeyID":{"Fn::GetStackOutput":{"OutputName":`,
		`"StackName":"PaymentsReplica-pr123"`,
		`"DeleteMarkerReplication":{"Status":"Enabled"}`,
		`"SseKmsEncryptedObjects":{"Status":"Enabled"}`,
		`"Role":{"Fn::GetAtt":["StorageReplicationRole`,
	} {
		if !strings.Contains(replication, want) {
			t.Errorf("replication lacks %s: %s", want, replication)
		}
	}
	must(t, "TLS-only bucket policy", func() {
		stackTemplate(stacks.Data).HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), assertions.Match_ObjectLike(&map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Action": "s3:*",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		}))
	})
}

// The replication role can read the source's versions and write replicas,
// with the two keys only through S3, and nothing else.
func TestReplicationRoleCanOnlyReplicate(t *testing.T) {
	var actions []string
	for _, s := range policyOf(t, dataResources("AWS::IAM::ManagedPolicy"), "payments-docs-replication-"+testSuffix+"-policy") {
		actions = append(actions, stringsOf(s["Action"])...)
		if strings.HasPrefix(stringsOf(s["Action"])[0], "kms:") && s["Condition"] == nil {
			t.Errorf("KMS statement without a kms:ViaService condition: %v", s)
		}
	}
	slices.Sort(actions)
	want := []string{
		"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
		"s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging",
		"s3:GetReplicationConfiguration", "s3:ListBucket",
		"s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("replication actions\n got %v\nwant %v", actions, want)
	}
}

// The replica side has its own key, versioning, public access block and
// TLS-only policy, and is deployed before the data stack.
func TestReplicaStack(t *testing.T) {
	tmpl := stackTemplate(stacks.Replica)
	must(t, "replica bucket", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), assertions.Match_ObjectLike(&map[string]any{
			"BucketName":              "payments-docs-pr123-123456789012-ap-southeast-2",
			"VersioningConfiguration": map[string]any{"Status": "Enabled"},
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{assertions.Match_ObjectLike(&map[string]any{
				"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": assertions.Match_AnyValue()},
			})}},
			"PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
		}))
	})
	must(t, "replica TLS-only policy", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), assertions.Match_ObjectLike(&map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		}))
	})
	dependsOnReplica := false
	for _, d := range *stacks.Data.Dependencies() {
		dependsOnReplica = dependsOnReplica || *d.StackName() == *stacks.Replica.StackName()
	}
	if !dependsOnReplica {
		t.Error("the data stack must be deployed after the replica stack")
	}
}

// The log buckets (log delivery requires SSE-S3) and the truststore bucket
// (public CA certificates, read by API Gateway) are the only buckets not
// encrypted with our keys; every other bucket uses SSE-KMS.
func TestOnlyDocumentedBucketsUseSSES3(t *testing.T) {
	buckets := resources("AWS::S3::Bucket")
	if len(buckets) != 6 {
		t.Fatalf("got %d buckets, want documents, replica, truststore, audit anchors and a log bucket in each region", len(buckets))
	}
	for _, b := range buckets {
		name := b.Properties["BucketName"].(string)
		kms := strings.Contains(jsonOf(b.Properties["BucketEncryption"]), "aws:kms")
		exception := strings.HasPrefix(name, "payments-logs-") || strings.HasPrefix(name, "payments-mtls-")
		if exception == kms {
			t.Errorf("%s: SSE-KMS=%v; only log and truststore buckets may use SSE-S3", name, kms)
		}
	}
}

// Outside production every bucket is emptied on delete by our cleaner (CDK's
// autoDeleteObjects would grant wildcard actions).
func TestBucketsAreEmptiedOnDeleteOutsideProduction(t *testing.T) {
	if got := len(resources("Custom::EmptyBucketOnDelete")); got != 6 {
		t.Errorf("got %d bucket cleaners, want one per bucket (6)", got)
	}
	if got := len(resources("Custom::S3AutoDeleteObjects")); got != 0 {
		t.Errorf("got %d CDK auto-delete resources, want 0", got)
	}
}

// Production keeps what matters: deletion protection, snapshot on delete,
// 35-day backups, memory-optimised instances, retained keys, buckets and log
// groups, termination protection; and it passes the compliance packs too.
func TestProduction(t *testing.T) {
	all := resourcesOf(prod.templates)
	cluster := one(t, resourcesOf(prod.templates, "AWS::RDS::DBCluster"), "clusters")
	if cluster.Properties["DeletionProtection"] != true || cluster.DeletionPolicy != "Snapshot" || cluster.Properties["BackupRetentionPeriod"] != float64(35) {
		t.Errorf("production cluster: protection=%v policy=%q backups=%v", cluster.Properties["DeletionProtection"], cluster.DeletionPolicy, cluster.Properties["BackupRetentionPeriod"])
	}
	for _, i := range resourcesOf(prod.templates, "AWS::RDS::DBInstance") {
		if i.Properties["DBInstanceClass"] != "db.r7g.large" {
			t.Errorf("%s: class %v, want db.r7g.large", i, i.Properties["DBInstanceClass"])
		}
	}
	retained := map[string]bool{"AWS::KMS::Key": true, "AWS::S3::Bucket": true, "AWS::Logs::LogGroup": true}
	for _, r := range all {
		if retained[r.Type] && r.DeletionPolicy != "Retain" {
			t.Errorf("%s %s: DeletionPolicy %q, want Retain in production", r, r.Type, r.DeletionPolicy)
		}
		if r.Type == "Custom::EmptyBucketOnDelete" {
			t.Errorf("%s: production buckets must never be emptied", r)
		}
	}
	for _, s := range prod.stacks.All() {
		if !*s.TerminationProtection() {
			t.Errorf("%s: no termination protection", *s.StackName())
		}
		for _, e := range errorAnnotations(s) {
			t.Errorf("production: %s", e)
		}
	}
}
