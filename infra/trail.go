package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	cw "github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	cwactions "github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsconfig"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsguardduty"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecurityhub"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// The account's audit resources: one per account and region like the
// account setup, so their names carry no environment suffix (and start with
// "payments-account", which no environment's names do).
const (
	AccountTrailName         = "payments-account-trail"
	accountTrailLogGroupName = "payments-account-cloudtrail"
	accountAlarmNamespace    = "PaymentsAccount"
)

// accountBucketName is "payments-account-<component>-<account>-<region>".
func accountBucketName(cfg environment.Config, component string) string {
	return fmt.Sprintf("payments-account-%s-%s-%s", component, cfg.Account, cfg.Region)
}

// TrailedBucketPrefixes are the buckets whose object-level changes the trail
// records (S3 data events), in every environment of the account and in the
// replica region: the documents and the audit anchors.
var TrailedBucketPrefixes = []string{"payments-docs-", "payments-audit-"}

// AccountAudit is the account's CloudTrail trail and what watches it
// (NewAccountAudit).
type AccountAudit struct {
	constructs.Construct
	Key      awskms.Key
	Bucket   awss3.Bucket
	LogGroup awslogs.LogGroup
	Trail    awscloudtrail.CfnTrail
	Topic    awssns.Topic
	Alarms   []cw.Alarm
}

// accountWatch is one metric filter on the trail and its alarm: what PCI DSS
// 10.4 and 10.7 ask to be reviewed at once (CIS AWS Foundations
// Benchmark's patterns).
type accountWatch struct {
	id, meaning, pattern string
}

// accountWatches are the account's watches. Changes that `make deploy`
// and `make destroy` make (reviewed code) through the CDK bootstrap's
// CloudFormation execution role are left out of the IAM and KMS filters,
// which would otherwise fire on every deployment; they stay in the trail.
// Only that role is left out: a stack deployed with any other role, or a
// change by hand, alarms.
func accountWatches(account string) []accountWatch {
	notByCDK := fmt.Sprintf(`(($.userIdentity.sessionContext.sessionIssuer.arn NOT EXISTS) || ($.userIdentity.sessionContext.sessionIssuer.arn != "%s"))`,
		cdkExecutionRolePattern(account))
	return []accountWatch{
		{"root-use", "The account's root user made a call (PCI DSS 8.2.2, 10.2.1.2): nobody should use it.",
			`{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`},
		{"iam-policy-changed", "An IAM policy was created, changed, attached or detached outside a CDK deployment (PCI DSS 10.2.1.5, 7.2).",
			`{ ($.eventSource = "iam.amazonaws.com") && ` + notByCDK + ` && (($.eventName = "PutGroupPolicy") || ($.eventName = "PutRolePolicy") || ($.eventName = "PutUserPolicy") || ($.eventName = "DeleteGroupPolicy") || ($.eventName = "DeleteRolePolicy") || ($.eventName = "DeleteUserPolicy") || ($.eventName = "CreatePolicy") || ($.eventName = "DeletePolicy") || ($.eventName = "CreatePolicyVersion") || ($.eventName = "DeletePolicyVersion") || ($.eventName = "SetDefaultPolicyVersion") || ($.eventName = "AttachRolePolicy") || ($.eventName = "DetachRolePolicy") || ($.eventName = "AttachUserPolicy") || ($.eventName = "DetachUserPolicy") || ($.eventName = "AttachGroupPolicy") || ($.eventName = "DetachGroupPolicy") || ($.eventName = "UpdateAssumeRolePolicy")) }`},
		// Grants are not watched: services create and retire them all day
		// for the principals the key policies allow.
		{"kms-key-changed", "A KMS key's policy was changed, or a key disabled or scheduled for deletion, outside a CDK deployment (PCI DSS 3.6, 10.2.1.5): data it encrypts may become unreadable or readable by others, anchors signable by others.",
			`{ ($.eventSource = "kms.amazonaws.com") && ` + notByCDK + ` && (($.eventName = "PutKeyPolicy") || ($.eventName = "DisableKey") || ($.eventName = "ScheduleKeyDeletion")) }`},
		// The audit function signs the history's anchors with its role:
		// its code and configuration change only through deployments.
		{"lambda-changed", "A Lambda function was created, or its code or configuration changed, outside a CDK deployment (PCI DSS 10.2.1.5, 11.5.2): code that runs with a workload's role, the audit function's included, changed outside reviewed code.",
			`{ ($.eventSource = "lambda.amazonaws.com") && ` + notByCDK + ` && (($.eventName = "CreateFunction*") || ($.eventName = "UpdateFunctionCode*") || ($.eventName = "UpdateFunctionConfiguration*")) }`},
		{"trail-changed", "A trail was stopped, deleted or changed (PCI DSS 10.2.1.6, 10.7): audit logging may have stopped.",
			`{ ($.eventSource = "cloudtrail.amazonaws.com") && (($.eventName = "StopLogging") || ($.eventName = "DeleteTrail") || ($.eventName = "UpdateTrail") || ($.eventName = "PutEventSelectors") || ($.eventName = "CreateTrail") || ($.eventName = "StartLogging")) }`},
	}
}

// cdkExecutionRolePattern matches the CloudFormation execution role of the
// CDK bootstrap (default qualifier) in every region of the account: the
// trail is multi-region.
func cdkExecutionRolePattern(account string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/cdk-hnb659fds-cfn-exec-role-%s-*", account, account)
}

// NewAccountAudit creates the account's multi-region trail (make
// account-setup with -c auditTrail=true): management events and the
// object-level changes to the document and anchor buckets of every
// environment, with log-file validation, encrypted with a key of its own,
// into an Object Lock bucket (governance mode outside production accounts,
// compliance mode in production, AuditRetentionDays) and a log group kept as
// long, whose metric filters alarm on what PCI DSS 10.4 and 10.7 watch.
// Everything is retained when the stack goes: audit logs outlive it.
func NewAccountAudit(scope constructs.Construct, id string, cfg environment.Config, accessLogs awss3.IBucket) *AccountAudit {
	this := constructs.NewConstruct(scope, &id)
	a := &AccountAudit{Construct: this}
	trailArn := fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", cfg.Region, cfg.Account, AccountTrailName)
	bucketName := accountBucketName(cfg, "trail")
	bucketArn := "arn:aws:s3:::" + bucketName
	logGroupArn := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", cfg.Region, cfg.Account, accountTrailLogGroupName)
	cloudTrail := awsiam.NewServicePrincipal(jsii.String("cloudtrail.amazonaws.com"), nil)
	fromTheTrail := map[string]any{"aws:SourceArn": trailArn}

	// The key's policy as CloudTrail's documentation writes it ("Configure
	// AWS KMS key policies for CloudTrail"), with GenerateDataKey named
	// instead of GenerateDataKey*; CloudWatch Logs for the trail's group
	// only; CloudWatch alarms to the encrypted topic.
	a.Key = awskms.NewKey(this, jsii.String("Key"), &awskms.KeyProps{
		Alias:             jsii.String("alias/payments-account/trail"),
		Description:       jsii.String("payments account: the CloudTrail trail's log files, log group and alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		Policy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			accountStatement(keyAccountActions),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("CloudTrailEncryptsLogFiles"), Principals: &[]awsiam.IPrincipal{cloudTrail},
				Actions: jsii.Strings("kms:GenerateDataKey"), Resources: jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringEquals": fromTheTrail,
					"StringLike":   map[string]any{"kms:EncryptionContext:aws:cloudtrail:arn": fmt.Sprintf("arn:aws:cloudtrail:*:%s:trail/*", cfg.Account)},
				},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("CloudTrailDescribesTheKey"), Principals: &[]awsiam.IPrincipal{cloudTrail},
				Actions: jsii.Strings("kms:DescribeKey"), Resources: jsii.Strings("*"),
				Conditions: &map[string]any{"StringEquals": fromTheTrail},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("CloudWatchLogsForTheTrailGroup"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(fmt.Sprintf("logs.%s.amazonaws.com", cfg.Region)), nil)},
				Actions:    jsii.Strings(logsServiceActions...), Resources: jsii.Strings("*"),
				Conditions: &map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": logGroupArn}},
			}),
			cloudWatchAlarmsStatement(cfg),
		}}),
	})

	props := lockedBucketProps(cfg, bucketName, a.Key, accessLogs, "s3/trail/")
	props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:                                  jsii.String("archive-then-expire-after-retention"),
		Transitions:                         &[]*awss3.Transition{{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: awscdk.Duration_Days(jsii.Number(90))}},
		Expiration:                          awscdk.Duration_Days(jsii.Number(AuditRetentionDays)),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(1)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
	}}
	a.Bucket = awss3.NewBucket(this, jsii.String("Bucket"), props)
	// CloudTrail's bucket policy ("Amazon S3 bucket policy for
	// CloudTrail"), for this trail only.
	a.Bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CloudTrailAclCheck"), Principals: &[]awsiam.IPrincipal{cloudTrail},
		Actions: jsii.Strings("s3:GetBucketAcl"), Resources: jsii.Strings(bucketArn),
		Conditions: &map[string]any{"StringEquals": fromTheTrail},
	}))
	a.Bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CloudTrailWrite"), Principals: &[]awsiam.IPrincipal{cloudTrail},
		Actions: jsii.Strings("s3:PutObject"), Resources: jsii.Strings(fmt.Sprintf("%s/AWSLogs/%s/*", bucketArn, cfg.Account)),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceArn": trailArn, "s3:x-amz-acl": "bucket-owner-full-control"}},
	}))
	suppress(a.Bucket, true, because("The trail's log files are evidence: CloudTrail signs a digest of them every hour (log-file validation) and Object Lock keeps them "+
		"unchanged for seven years. A copy in another region would need a second Object Lock bucket and key; the trail records every region already.",
		"PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")...)

	a.LogGroup = awslogs.NewLogGroup(this, jsii.String("LogGroup"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String(accountTrailLogGroupName), Retention: AuditLogRetention, EncryptionKey: a.Key, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// CloudTrail writes one stream per region it records
	// (<account>_CloudTrail_<region>), with this role.
	delivery := NewServiceRole(this, "DeliveryRole", &ServiceRoleProps{
		Name: "payments-account-cloudtrail-logs-" + cfg.Region, Service: "cloudtrail.amazonaws.com", Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WriteTheTrailsStreams"), Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(fmt.Sprintf("%s:log-stream:%s_CloudTrail_*", logGroupArn, cfg.Account)),
		})},
	})
	suppress(this.Node().FindChild(jsii.String("DeliveryRolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{fmt.Sprintf("Resource::%s:log-stream:%s_CloudTrail_*", logGroupArn, cfg.Account)},
		reason:    "A multi-region trail writes one stream per region, named <account>_CloudTrail_<region> (CloudTrail User Guide): the trail's group only.",
	})

	dataEvents := make([]string, len(TrailedBucketPrefixes))
	for i, p := range TrailedBucketPrefixes {
		dataEvents[i] = "arn:aws:s3:::" + p
	}
	a.Trail = awscloudtrail.NewCfnTrail(this, jsii.String("Trail"), &awscloudtrail.CfnTrailProps{
		TrailName:                  jsii.String(AccountTrailName),
		IsLogging:                  jsii.Bool(true),
		IsMultiRegionTrail:         jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(true),
		EnableLogFileValidation:    jsii.Bool(true),
		S3BucketName:               a.Bucket.BucketName(),
		KmsKeyId:                   a.Key.KeyArn(),
		CloudWatchLogsLogGroupArn:  a.LogGroup.LogGroupArn(),
		CloudWatchLogsRoleArn:      delivery.Role.RoleArn(),
		AdvancedEventSelectors: &[]*awscloudtrail.CfnTrail_AdvancedEventSelectorProperty{
			{Name: jsii.String("Management events"), FieldSelectors: &[]*awscloudtrail.CfnTrail_AdvancedFieldSelectorProperty{
				{Field: jsii.String("eventCategory"), EqualTo: jsii.Strings("Management")},
			}},
			{Name: jsii.String("Document and audit-anchor objects"), FieldSelectors: &[]*awscloudtrail.CfnTrail_AdvancedFieldSelectorProperty{
				{Field: jsii.String("eventCategory"), EqualTo: jsii.Strings("Data")},
				{Field: jsii.String("resources.type"), EqualTo: jsii.Strings("AWS::S3::Object")},
				{Field: jsii.String("resources.ARN"), StartsWith: jsii.Strings(dataEvents...)},
			}},
		},
	})
	// CloudTrail checks the bucket policy and the role when the trail is
	// created.
	a.Trail.Node().AddDependency(a.Bucket.Policy(), a.LogGroup)
	delivery.UsedBy(a.Trail)

	a.Topic = awssns.NewTopic(this, jsii.String("Topic"), &awssns.TopicProps{
		TopicName: jsii.String("payments-account-security"), MasterKey: a.Key, EnforceSSL: jsii.Bool(true),
	})
	for _, address := range cfg.AlarmEmails {
		a.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(address), nil))
	}
	var alarmArns []string
	for _, w := range accountWatches(cfg.Account) {
		name := "payments-account-" + w.id
		filter := awslogs.NewMetricFilter(this, jsii.String(w.id+"Filter"), &awslogs.MetricFilterProps{
			LogGroup: a.LogGroup, FilterPattern: awslogs.FilterPattern_Literal(jsii.String(w.pattern)),
			MetricNamespace: jsii.String(accountAlarmNamespace), MetricName: jsii.String(w.id), MetricValue: jsii.String("1"),
		})
		alarm := cw.NewAlarm(this, jsii.String(w.id+"Alarm"), &cw.AlarmProps{
			AlarmName:        jsii.String(name),
			AlarmDescription: jsii.String(fmt.Sprintf("%s Runbook: %s#%s", w.meaning, RunbookPath, "account-"+w.id)),
			Metric:           filter.Metric(&cw.MetricOptions{Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(5))}),
			Threshold:        jsii.Number(1), ComparisonOperator: cw.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			EvaluationPeriods: jsii.Number(1), TreatMissingData: cw.TreatMissingData_NOT_BREACHING,
		})
		alarm.AddAlarmAction(cwactions.NewSnsAction(a.Topic))
		a.Alarms = append(a.Alarms, alarm)
		alarmArns = append(alarmArns, fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", cfg.Region, cfg.Account, name))
	}
	a.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ItsAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"), Resources: jsii.Strings(*a.Topic.TopicArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": cfg.Account}, "ArnEquals": map[string]any{"aws:SourceArn": alarmArns}},
	}))

	// "Who changed this object", "who changed IAM or a key", over every
	// environment's buckets and the whole account.
	for _, q := range []struct{ id, name, query string }{
		{"ObjectChanges", "who-changed-documents-or-anchors",
			"fields eventTime, eventName, userIdentity.arn, requestParameters.bucketName, requestParameters.key, sourceIPAddress, errorCode\n" +
				"| filter eventSource = 's3.amazonaws.com' and (requestParameters.bucketName like /^payments-docs-/ or requestParameters.bucketName like /^payments-audit-/)\n" +
				"| filter eventName not like /^(Get|Head|List)/\n| sort eventTime desc"},
		{"IamAndKmsChanges", "who-changed-iam-or-keys",
			"fields eventTime, eventSource, eventName, userIdentity.arn, sourceIPAddress, errorCode, requestParameters.keyId, requestParameters.roleName, requestParameters.policyArn, requestParameters.functionName\n" +
				"| filter eventSource in ['iam.amazonaws.com', 'kms.amazonaws.com', 'lambda.amazonaws.com']\n" +
				"| filter eventName not like /^(Get|List|Describe|Decrypt|Encrypt|GenerateDataKey|ReEncrypt|Sign|Verify|GenerateMac|VerifyMac|GenerateRandom)/\n| sort eventTime desc"},
		{"RootAndConsole", "root-and-console-sign-ins",
			"fields eventTime, eventName, userIdentity.type, userIdentity.arn, sourceIPAddress, responseElements.ConsoleLogin, additionalEventData.MFAUsed\n" +
				"| filter userIdentity.type = 'Root' or eventName = 'ConsoleLogin'\n| sort eventTime desc"},
	} {
		awslogs.NewCfnQueryDefinition(this, jsii.String(q.id+"Query"), &awslogs.CfnQueryDefinitionProps{
			Name: jsii.String("payments/account/" + q.name), LogGroupNames: &[]any{a.LogGroup.LogGroupName()}, QueryString: jsii.String(q.query),
		})
	}
	awscdk.NewCfnOutput(scope, jsii.String("TrailBucketName"), &awscdk.CfnOutputProps{
		Value: a.Bucket.BucketName(), Description: jsii.String("The account trail's Object Lock bucket (log files and their signed digests)"),
	})
	return a
}

// newAccessLogBucket creates a bucket that receives S3 server access logs:
// SSE-S3 (the only encryption log delivery supports) and no Object Lock (S3
// cannot deliver access logs into a locked bucket), kept seven years.
func newAccessLogBucket(scope constructs.Construct, id string, cfg environment.Config, name string) awss3.Bucket {
	props := privateBucketProps(cfg, name)
	props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	props.Encryption = awss3.BucketEncryption_S3_MANAGED
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:                                  jsii.String("archive-then-expire-after-seven-years"),
		Transitions:                         &[]*awss3.Transition{{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: awscdk.Duration_Days(jsii.Number(90))}},
		Expiration:                          awscdk.Duration_Days(jsii.Number(AuditRetentionDays)),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}
	b := awss3.NewBucket(scope, &id, props)
	suppressLogBucketFindings(b)
	return b
}

// NewAccountSecurityServices turns on the account-wide services the context
// asks for: GuardDuty, Security Hub with the PCI DSS v4.0.1 standard (its
// controls are AWS Config rules, so AWS Config must record, here or by the
// organization), and AWS Config recording every resource type into a
// bucket of its own (Config cannot deliver into an Object Lock bucket).
func NewAccountSecurityServices(scope constructs.Construct, id string, cfg environment.Config, audit *AccountAudit, accessLogs awss3.IBucket) {
	this := constructs.NewConstruct(scope, &id)
	if cfg.GuardDuty {
		awsguardduty.NewCfnDetector(this, jsii.String("GuardDuty"), &awsguardduty.CfnDetectorProps{
			Enable: jsii.Bool(true), FindingPublishingFrequency: jsii.String("FIFTEEN_MINUTES"),
		})
	}
	if cfg.SecurityHub {
		hub := awssecurityhub.NewCfnHub(this, jsii.String("SecurityHub"), &awssecurityhub.CfnHubProps{
			EnableDefaultStandards: jsii.Bool(false), AutoEnableControls: jsii.Bool(true), ControlFindingGenerator: jsii.String("SECURITY_CONTROL"),
		})
		standard := awssecurityhub.NewCfnStandard(this, jsii.String("PciDss"), &awssecurityhub.CfnStandardProps{
			StandardsArn: jsii.String(fmt.Sprintf("arn:aws:securityhub:%s::standards/pci-dss/v/4.0.1", cfg.Region)),
		})
		standard.Node().AddDependency(hub)
	}
	if cfg.AWSConfig {
		newConfigRecorder(this, cfg, audit, accessLogs)
	}
}

// newConfigRecorder records every supported resource type (global ones
// too: the account setup lives in one region) and delivers to a bucket
// encrypted with the trail's key when there is one.
func newConfigRecorder(scope constructs.Construct, cfg environment.Config, audit *AccountAudit, accessLogs awss3.IBucket) {
	name := accountBucketName(cfg, "config")
	bucketArn := "arn:aws:s3:::" + name
	props := privateBucketProps(cfg, name)
	props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id: jsii.String("expire-after-seven-years"), Expiration: awscdk.Duration_Days(jsii.Number(AuditRetentionDays)),
		NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)), AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("CheckTheBucket"), Actions: jsii.Strings("s3:GetBucketAcl"), Resources: jsii.Strings(bucketArn),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("DeliverSnapshotsAndHistory"), Actions: jsii.Strings("s3:PutObject"),
			Resources:  jsii.Strings(fmt.Sprintf("%s/config/AWSLogs/%s/*", bucketArn, cfg.Account)),
			Conditions: &map[string]any{"StringEquals": map[string]any{"s3:x-amz-acl": "bucket-owner-full-control"}},
		}),
	}
	var keyArn *string
	if audit != nil {
		props.Encryption, props.EncryptionKey, props.BucketKeyEnabled = awss3.BucketEncryption_KMS, audit.Key, jsii.Bool(true)
		keyArn = audit.Key.KeyArn()
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("EncryptThroughS3"), Actions: jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"), Resources: jsii.Strings(*keyArn),
			Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3." + cfg.Region + ".amazonaws.com"}},
		}))
	} else {
		props.Encryption = awss3.BucketEncryption_S3_MANAGED
	}
	props.ServerAccessLogsBucket = accessLogs
	props.ServerAccessLogsPrefix = jsii.String("s3/config/")
	bucket := awss3.NewBucket(scope, jsii.String("ConfigBucket"), props)
	suppress(bucket, true, because("AWS Config's configuration history is rebuilt by Config itself in any region it records; the account keeps one copy, seven years.",
		"PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")...)
	if audit == nil {
		suppress(bucket, true, because("Without the account trail there is no account key: the configuration history is encrypted with SSE-S3.",
			"PCI.DSS.321-S3DefaultEncryptionKMS", "NIST.800.53.R5-S3DefaultEncryptionKMS")...)
	}

	// AWS_ConfigRole is the read access AWS Config needs to every resource
	// type it records, kept current by AWS as types are added; delivery is
	// our own statements.
	role := awsiam.NewRole(scope, jsii.String("ConfigRole"), &awsiam.RoleProps{
		RoleName: jsii.String("payments-account-config-" + cfg.Region),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("config.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": cfg.Account}},
		}),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWS_ConfigRole"))},
	})
	delivery := awsiam.NewManagedPolicy(scope, jsii.String("ConfigDeliveryPolicy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String("payments-account-config-delivery-" + cfg.Region), Statements: &statements, Roles: &[]awsiam.IRole{role},
	})
	suppress(role, true, finding{
		rule: "AwsSolutions-IAM4", appliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole"},
		reason: "AWS Config's documented role policy: read access to every resource type Config records, which AWS extends as it adds types; a hand-kept list would fall behind.",
	})
	suppress(delivery, true, finding{
		rule: "AwsSolutions-IAM5", appliesTo: []string{fmt.Sprintf("Resource::%s/config/AWSLogs/%s/*", bucketArn, cfg.Account)},
		reason: "Config names its snapshot and history objects by date and id: its own prefix of its own bucket only.",
	})
	recorder := awsconfig.NewCfnConfigurationRecorder(scope, jsii.String("Recorder"), &awsconfig.CfnConfigurationRecorderProps{
		Name: jsii.String("payments-account"), RoleArn: role.RoleArn(),
		RecordingGroup: &awsconfig.CfnConfigurationRecorder_RecordingGroupProperty{
			AllSupported: jsii.Bool(true), IncludeGlobalResourceTypes: jsii.Bool(true),
		},
	})
	recorder.Node().AddDependency(delivery)
	channel := awsconfig.NewCfnDeliveryChannel(scope, jsii.String("DeliveryChannel"), &awsconfig.CfnDeliveryChannelProps{
		Name: jsii.String("payments-account"), S3BucketName: bucket.BucketName(), S3KeyPrefix: jsii.String("config"), S3KmsKeyArn: keyArn,
		ConfigSnapshotDeliveryProperties: &awsconfig.CfnDeliveryChannel_ConfigSnapshotDeliveryPropertiesProperty{DeliveryFrequency: jsii.String("TwentyFour_Hours")},
	})
	// Config checks at creation that it may write (ConfigWritabilityCheckFile).
	channel.Node().AddDependency(recorder, delivery, bucket)
}
