package infra

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// KeysProps configures Keys.
type KeysProps struct {
	Config environment.Config
}

// Keys holds one customer-managed KMS key per data domain, so that access to
// one kind of data never implies access to another and each key's policy
// names only the services of its domain. Every key rotates automatically.
type Keys struct {
	constructs.Construct
	// Database encrypts Aurora storage, snapshots and Performance Insights.
	Database awskms.IKey
	// Documents encrypts the document bucket (and the mTLS truststore bucket).
	Documents awskms.IKey
	// Logs encrypts every CloudWatch Logs group of this environment.
	Logs awskms.IKey
	// Messaging encrypts the SQS queues and SNS topics.
	Messaging awskms.IKey
	// Secrets encrypts Secrets Manager secrets.
	Secrets awskms.IKey
	// Compute encrypts EBS volumes (the NAT instances' root volumes).
	Compute awskms.IKey
	// Signing is the asymmetric key (ECC NIST P-256) that signs the anchors
	// of payments' histories: it encrypts nothing, so it is the one key
	// that does not rotate (KMS rotates only symmetric keys; a new key
	// would be a new alias target, and old anchors name the key that
	// signed them).
	Signing awskms.IKey
}

// keyAdministrationActions are what the account itself may do to a key:
// every administrative action CloudFormation needs to manage it. Listed one
// by one instead of "kms:*": actions KMS adds later are not granted until
// they are reviewed.
var keyAdministrationActions = []string{
	"kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias",
	"kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
	"kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
	"kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListKeyRotations",
	"kms:ListResourceTags", "kms:ListRetirableGrants", "kms:PutKeyPolicy", "kms:RetireGrant",
	"kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource",
	"kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
}

// keyAccountActions are the administration and the symmetric cryptographic
// operations that IAM policies in the account may then grant (CDK grants
// add to the principal's policy, never to the key policy).
var keyAccountActions = append(slices.Clone(keyAdministrationActions),
	"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
	"kms:ReEncryptFrom", "kms:ReEncryptTo",
)

// signingKeyAccountActions are the administration and the operations of a
// signing key that IAM policies may grant to anyone in the account: verify,
// and read the public half (anyone verifying outside AWS). Signing is
// signingStatement's, and no grant may be created: a grant for Sign would
// bypass signingStatement's condition, and nothing uses grants on this key.
var signingKeyAccountActions = append(slices.DeleteFunc(slices.Clone(keyAdministrationActions),
	func(action string) bool { return action == "kms:CreateGrant" }), "kms:Verify", "kms:GetPublicKey")

// signingStatement lets IAM policies grant kms:Sign to the audit function's
// role and to no other principal of the account: an administrator who can
// rewrite the history and attach policies still cannot sign anchors for it
// without changing this key policy, which CloudTrail records and the
// account's kms-key-changed alarm reports. The role's policy in turn lets
// only the function's code sign (lambda:SourceFunctionArn), and changing
// the function outside a deployment raises lambda-changed. The role is
// named, not referenced, as the keys stack is deployed before it exists.
func signingStatement(cfg environment.Config) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("SignAsTheAuditFunctionOnly"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("kms:Sign"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnEquals":    map[string]any{"aws:PrincipalArn": cfg.RoleArn(cfg.AuditFunctionName())},
			"StringEquals": map[string]any{"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"},
		},
	})
}

// logsServiceActions are what CloudWatch Logs needs to encrypt a log group
// (AWS documentation: "Encrypt log data in CloudWatch Logs using AWS KMS").
var logsServiceActions = []string{
	"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
	"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
}

// NewKeys creates the keys. Outside production they are scheduled for
// deletion (after the 7-day minimum) when the stack is destroyed.
func NewKeys(scope constructs.Construct, id string, props *KeysProps) *Keys {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	k := &Keys{Construct: this}
	k.Database = newDomainKey(this, cfg, "database", "Aurora PostgreSQL storage, snapshots and Performance Insights")
	k.Documents = newDomainKey(this, cfg, "documents", "payment documents in S3")
	k.Logs = newDomainKey(this, cfg, "logs", "CloudWatch Logs groups, including audit logs", logsServiceStatement(cfg, cfg.Region))
	k.Messaging = newDomainKey(this, cfg, "messaging", "SQS payment queues and SNS alarm topics", cloudWatchAlarmsStatement(cfg))
	k.Secrets = newDomainKey(this, cfg, "secrets", "Secrets Manager database credentials and API keys")
	k.Compute = newDomainKey(this, cfg, "compute", "EBS volumes of the NAT instances")
	k.Signing = awskms.NewKey(this, jsii.String("signing"), &awskms.KeyProps{
		Alias:         jsii.String(cfg.KeyAlias("signing")),
		Description:   jsii.String(fmt.Sprintf("payments %s: signs the anchors of payments' histories (ECDSA P-256)", cfg.EnvironmentSuffix)),
		KeySpec:       awskms.KeySpec_ECC_NIST_P256,
		KeyUsage:      awskms.KeyUsage_SIGN_VERIFY,
		PendingWindow: pendingWindow(cfg),
		Policy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			accountStatement(signingKeyAccountActions), signingStatement(cfg),
		}}),
		RemovalPolicy: removalPolicy(cfg),
	})
	return k
}

// pendingWindow is how long a deleted key can still be recovered: KMS's
// minimum outside production, its maximum in production.
func pendingWindow(cfg environment.Config) awscdk.Duration {
	return awscdk.Duration_Days(jsii.Number(cfg.Posture().KeyPendingWindowDays))
}

// accountStatement delegates the key to the account's IAM policies.
func accountStatement(actions []string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AccountAdministrationAndIAMDelegation"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings(actions...),
		Resources:  jsii.Strings("*"),
	})
}

// ImportInto returns the same keys imported by ARN into scope (another
// stack). Constructs there can use an imported key but cannot add statements
// to its policy: CDK's L2s otherwise widen key policies of the keys stack
// from other stacks (e.g. a Secret adds kms:GenerateDataKey* for Secrets
// Manager), and the key policies here are the complete, reviewed ones.
func (k *Keys) ImportInto(scope constructs.Construct) *Keys {
	imported := &Keys{Construct: k.Construct}
	for _, pair := range []struct {
		id       string
		src      awskms.IKey
		imported *awskms.IKey
	}{
		{"DatabaseKey", k.Database, &imported.Database},
		{"DocumentsKey", k.Documents, &imported.Documents},
		{"LogsKey", k.Logs, &imported.Logs},
		{"MessagingKey", k.Messaging, &imported.Messaging},
		{"SecretsKey", k.Secrets, &imported.Secrets},
		{"ComputeKey", k.Compute, &imported.Compute},
		{"SigningKey", k.Signing, &imported.Signing},
	} {
		*pair.imported = awskms.Key_FromKeyArn(scope, jsii.String(pair.id), pair.src.KeyArn())
	}
	return imported
}

func newDomainKey(scope constructs.Construct, cfg environment.Config, domain, purpose string, services ...awsiam.PolicyStatement) awskms.Key {
	statements := append([]awsiam.PolicyStatement{accountStatement(keyAccountActions)}, services...)
	return awskms.NewKey(scope, jsii.String(domain), &awskms.KeyProps{
		Alias:             jsii.String(cfg.KeyAlias(domain)),
		Description:       jsii.String(fmt.Sprintf("payments %s: %s", cfg.EnvironmentSuffix, purpose)),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     pendingWindow(cfg),
		Policy:            awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		RemovalPolicy:     removalPolicy(cfg),
	})
}

// cloudWatchAlarmsStatement lets CloudWatch alarms publish to the
// KMS-encrypted alarm topic (Amazon SNS developer guide, "Configure KMS
// permissions for AWS services"): the two actions SNS needs, only for calls
// CloudWatch makes on behalf of this account.
func cloudWatchAlarmsStatement(cfg environment.Config) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsToEncryptedTopic"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": cfg.Account}},
	})
}

// logsServiceStatement lets CloudWatch Logs use the key only for this
// environment's log groups: the ones under LogGroupPrefix, the WAF log group
// (whose name WAF dictates), the Aurora log exports (whose name RDS
// dictates), API Gateway execution logs (named after the API id), the
// database rotation function's (whose name Lambda dictates) and Container
// Insights' (whose name ECS dictates).
func logsServiceStatement(cfg environment.Config, region string) awsiam.PolicyStatement {
	logGroupArn := func(name string) string {
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, cfg.Account, name)
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogsForThisEnvironment"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(fmt.Sprintf("logs.%s.amazonaws.com", region)), nil)},
		Actions:    jsii.Strings(logsServiceActions...),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{
				"kms:EncryptionContext:aws:logs:arn": []string{
					logGroupArn(cfg.LogGroupPrefix() + "*"),
					logGroupArn(cfg.CardDataFindingsLogGroupName()),
					logGroupArn(cfg.WafLogGroupName()),
					logGroupArn(fmt.Sprintf("/aws/rds/cluster/%s/*", cfg.Name("db"))),
					// API Gateway names its execution-log group after the API id.
					logGroupArn("API-Gateway-Execution-Logs_*"),
					// The database rotation function comes from the Serverless
					// Application Repository, which fixes its log group's name.
					logGroupArn("/aws/lambda/" + cfg.RotationFunctionName()),
					// ECS names Container Insights' group after the cluster.
					logGroupArn(cfg.ContainerInsightsLogGroupName()),
				},
			},
		},
	})
}
