package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
)

// AuditRetentionDays is how long audit records are kept, and locked where
// they are objects: seven years (PCI DSS asks for one, our mission for
// seven), the same 2557 days as AuditLogRetention.
const AuditRetentionDays = 2557

// Audit schedules: anchoring every hour bounds what an administrator could
// rewrite unnoticed to the last hour's events (and the settle time);
// verifying every day reads the whole history, which anchoring does not.
const (
	anchorSchedule = "rate(1 hour)"
	verifySchedule = "rate(1 day)"
)

// auditObjectLock is the default retention of the Object Lock buckets
// (audit anchors, the account's CloudTrail logs): compliance mode in
// production, which nobody can shorten or bypass, the root user included;
// governance mode elsewhere, which only a principal allowed
// s3:BypassGovernanceRetention can bypass, so that a PR environment can
// still be destroyed (its bucket cleaner has that permission).
func auditObjectLock(compliance bool) awss3.ObjectLockRetention {
	days := awscdk.Duration_Days(jsii.Number(AuditRetentionDays))
	if compliance {
		return awss3.ObjectLockRetention_Compliance(days)
	}
	return awss3.ObjectLockRetention_Governance(days)
}

// lockedBucketProps are those of a bucket of audit records (the anchors,
// the account's trail): a private bucket encrypted with key (with an S3
// Bucket Key), access-logged into logs under prefix, each object version
// locked as it is written (auditObjectLock).
func lockedBucketProps(cfg environment.Config, name string, key awskms.IKey, logs awss3.IBucket, prefix string) *awss3.BucketProps {
	props := privateBucketProps(cfg, name)
	props.Encryption = awss3.BucketEncryption_KMS
	props.EncryptionKey = key
	props.BucketKeyEnabled = jsii.Bool(true)
	props.ServerAccessLogsBucket = logs
	props.ServerAccessLogsPrefix = jsii.String(prefix)
	props.ObjectLockEnabled = jsii.Bool(true)
	props.ObjectLockDefaultRetention = auditObjectLock(cfg.Posture().ComplianceLock)
	return props
}

// newAnchorBucket creates the bucket the audit function writes the signed
// anchors of payments' histories to: S3 Object Lock locks each anchor for
// AuditRetentionDays as it is written, so the database's administrators,
// who could rewrite the history and recompute its hashes, cannot rewrite the
// anchors too. Encrypted with the logs key (anchors are audit records),
// access-logged like every bucket.
func newAnchorBucket(scope constructs.Construct, cfg environment.Config, key awskms.IKey, logs awss3.IBucket) awss3.Bucket {
	props := lockedBucketProps(cfg, cfg.BucketName("audit", cfg.Region), key, logs, "s3/audit/")
	// Anchors are never overwritten (the function writes with
	// If-None-Match) and are small: nothing to tier or expire within the
	// retention.
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:                                  jsii.String("abort-incomplete-uploads"),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
	}}
	b := awss3.NewBucket(scope, jsii.String("Anchors"), props)
	// Object Lock keeps an overwritten anchor's first version, but a
	// verification reads the current one: nobody, the audit function
	// included, may write an anchor over an existing one. S3 evaluates
	// s3:if-none-match on PutObject and CompleteMultipartUpload only
	// (s3:ObjectCreationOperation), so multipart parts are not refused.
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AnchorsAreNeverReplaced"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(*b.BucketArn() + "/" + audit.ObjectPrefix + "*"),
		Conditions: &map[string]any{
			"Null": map[string]any{"s3:if-none-match": "true"},
			"Bool": map[string]any{"s3:ObjectCreationOperation": "true"},
		},
	}))
	// Nor may anyone hide an anchor behind a delete marker (which Object
	// Lock allows) to write another in its place; the bucket cleaner of a
	// non-production environment deletes versions, s3:DeleteObjectVersion.
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AnchorsAreNeverHidden"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("s3:DeleteObject"),
		Resources:  jsii.Strings(*b.BucketArn() + "/" + audit.ObjectPrefix + "*"),
	}))
	suppress(b, true, because("The anchor bucket holds signed digests of the payment history, a few hundred bytes an hour: their integrity comes from "+
		"the KMS signature and Object Lock, and the history they prove is in Aurora (backed up and replicated across AZs). A replica would need a "+
		"second Object Lock bucket and key in the replica region for evidence that verifies anywhere with the signing key's public half.",
		"PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")...)
	return b
}

// AuditorProps configures NewAuditor.
type AuditorProps struct {
	Config     environment.Config
	Network    *Network
	Database   *Database
	Keys       *Keys
	SourceRoot string
}

// NewAuditor deploys cmd/audit: EventBridge Scheduler invokes it every hour
// to anchor the history and every day to verify it; operators invoke it
// (`make audit-verify`, `make payment-history`). It reads the database as
// the auditor role, which may only read the history, signs with the
// signing key, and may write anchors but never delete one.
func NewAuditor(scope constructs.Construct, id string, props *AuditorProps) *GoFunction {
	cfg := props.Config
	bucketArn := "arn:aws:s3:::" + cfg.BucketName("audit", cfg.Region)
	// The function's and the scheduler's policies name the function, not
	// its ARN attribute, so that they do not wait for it.
	functionArn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, cfg.Account, cfg.AuditFunctionName())
	fn := NewGoFunction(scope, id, &GoFunctionProps{
		Config: cfg, SourceRoot: props.SourceRoot, Package: "./cmd/audit", Name: "audit",
		Description: "Anchors payments' histories hourly (KMS-signed digests in the Object Lock bucket), verifies them daily, prints a payment's history",
		// Verification reads the whole history.
		Timeout: awscdk.Duration_Minutes(jsii.Number(15)), MemorySize: 512,
		ConcurrencyBound: "EventBridge Scheduler invokes it once an hour and once a day; operators invoke it by hand.",
		Vpc:              props.Network.Vpc, Subnets: props.Network.PrivateSubnets(), LogsKey: props.Keys.Logs, EnvironmentKey: props.Keys.Secrets,
		Environment: props.Database.Environment(database.AuditorRole, map[string]string{
			"ENVIRONMENT_SUFFIX": cfg.EnvironmentSuffix,
			"ANCHOR_BUCKET":      cfg.BucketName("audit", cfg.Region), "SIGNING_KEY_ARN": *props.Keys.Signing.KeyArn(),
		}),
		Statements: []awsiam.PolicyStatement{
			statement("ConnectAsAuditor", []string{"rds-db:connect"}, []string{*props.Database.ConnectArnOf(database.AuditorRole)}, nil),
			// Unconditional: without s3:ListBucket on the bucket, S3 answers
			// a read of a missing key (the hint, before the first anchor)
			// with 403 rather than 404, and anchoring would never start.
			statement("ListAnchors", []string{"s3:ListBucket"}, []string{bucketArn}, nil),
			// An anchor is never replaced (the bucket policy refuses a write
			// without If-None-Match), and Object Lock keeps every version:
			// no delete, no retention or legal-hold change. The hint is
			// replaced at every anchor; it is a pointer, not evidence.
			statement("ReadAndAddAnchors", []string{"s3:GetObject", "s3:PutObject"},
				[]string{bucketArn + "/" + audit.ObjectPrefix + "*", bucketArn + "/" + audit.HintKey}, nil),
			statement("UseTheLogsKeyThroughS3", []string{"kms:Decrypt", "kms:GenerateDataKey"}, []string{*props.Keys.Logs.KeyArn()},
				map[string]any{
					"StringEquals": map[string]any{"kms:ViaService": "s3." + cfg.Region + ".amazonaws.com"},
					// With an S3 Bucket Key the context is the bucket's ARN.
					"StringLike": map[string]any{"kms:EncryptionContext:aws:s3:arn": []string{bucketArn, bucketArn + "/*"}},
				}),
			// Only the function's code signs with the role's credentials
			// (Lambda adds lambda:SourceFunctionArn to the requests made
			// from its execution environment), not whoever else might
			// assume or pass the role.
			statement("SignAnchors", []string{"kms:Sign"}, []string{*props.Keys.Signing.KeyArn()},
				map[string]any{
					"StringEquals": map[string]any{"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"},
					"ArnEquals":    map[string]any{"lambda:SourceFunctionArn": functionArn},
				}),
			// Anchors are verified with the public half, locally.
			statement("ReadThePublicKey", []string{"kms:GetPublicKey"}, []string{*props.Keys.Signing.KeyArn()}, nil),
		},
	})
	props.Database.AllowFrom(fn.SecurityGroup, "audit reads payments' histories")
	props.Network.AllowHTTPSToS3(fn.SecurityGroup)

	// The scheduler's role may invoke this function and nothing else.
	role := NewServiceRole(scope, id+"SchedulerRole", &ServiceRoleProps{
		Name: cfg.Name("audit-scheduler"), Service: "scheduler.amazonaws.com", Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{statement("InvokeTheAuditFunction", []string{"lambda:InvokeFunction"}, []string{functionArn}, nil)},
	})
	for _, s := range []struct{ id, action, expression string }{
		{"AnchorSchedule", "anchor", anchorSchedule},
		{"VerifySchedule", "verify", verifySchedule},
	} {
		schedule := awsscheduler.NewCfnSchedule(scope, jsii.String(id+s.id), &awsscheduler.CfnScheduleProps{
			Name:               jsii.String(cfg.Name("audit-" + s.action)),
			Description:        jsii.String(fmt.Sprintf("Invokes %s to %s payments' histories", cfg.AuditFunctionName(), s.action)),
			ScheduleExpression: jsii.String(s.expression),
			FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			State:              jsii.String("ENABLED"),
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn: fn.Function.FunctionArn(), RoleArn: role.Role.RoleArn(),
				Input: jsii.String(fmt.Sprintf(`{"action":%q}`, s.action)),
				// A run the scheduler could not start is worth one more
				// try within the hour; the next run covers it anyway.
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{MaximumRetryAttempts: jsii.Number(2), MaximumEventAgeInSeconds: jsii.Number(3600)},
			},
		})
		role.UsedBy(schedule)
	}

	suppress(fn.Function, true, finding{
		rule: "NIST.800.53.R5-LambdaDLQ",
		reason: "The scheduler's invocations carry no data: a failed anchor run is caught up by the next one (anchoring continues from the last anchor), " +
			"a failed verification is repeated the next day, and the audit-failing alarm reports either; operators invoke it synchronously.",
	})
	suppress(fn.Node().FindChild(jsii.String("RolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::" + bucketArn + "/" + audit.ObjectPrefix + "*"},
		reason:    "Anchors are named after the first event id of their range, unknown at deploy time: read and add objects under anchors/ of this environment's anchor bucket only.",
	})
	return fn
}

// newAuditQueries saves the CloudWatch Logs Insights queries that answer
// "who changed what" in the database from its pgaudit log (Aurora's
// log_line_prefix "%t:%r:%u@%d:[%p]:" names the user): writes to the
// payment tables by anyone, and changes to roles and the schema.
func newAuditQueries(scope constructs.Construct, cfg environment.Config, postgresLog awslogs.ILogGroup) {
	const parse = `parse @message /:(?<user>[^:@]*)@(?<database>[^:]*):\[\d+\]:LOG:\s+AUDIT: (?<audit>SESSION|OBJECT),\d+,\d+,(?<class>[A-Z ]+),(?<command>[^,]*),(?<objectType>[^,]*),(?<object>[^,]*),(?<statement>.*)/`
	for _, q := range []struct{ id, name, query string }{
		{"PaymentWrites", "who-wrote-payment-tables",
			"fields @timestamp, @message\n| " + parse + "\n| filter class = 'WRITE' and object like /^payments\\./\n| sort @timestamp desc\n| display @timestamp, user, command, object, statement"},
		{"RoleAndSchemaChanges", "who-changed-roles-or-schema",
			"fields @timestamp, @message\n| " + parse + "\n| filter class in ['ROLE', 'DDL']\n| sort @timestamp desc\n| display @timestamp, user, command, objectType, object, statement"},
	} {
		awslogs.NewCfnQueryDefinition(scope, jsii.String(q.id+"Query"), &awslogs.CfnQueryDefinitionProps{
			Name:          jsii.String(queryName(cfg, q.name)),
			LogGroupNames: &[]any{postgresLog.LogGroupName()},
			QueryString:   jsii.String(q.query),
		})
	}
}

// queryName files an environment's saved queries in one console folder.
func queryName(cfg environment.Config, name string) string {
	return "payments/" + cfg.EnvironmentSuffix + "/" + name
}
