package infra

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	apigw "github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
)

// MerchantKeysProps configures NewMerchantKeys.
type MerchantKeysProps struct {
	Config     environment.Config
	Network    *Network
	Keys       *Keys
	Database   *Database
	UsagePlan  apigw.UsagePlan
	SourceRoot string
}

// NewMerchantKeys creates the function that onboards, rotates and offboards
// merchants' API keys (cmd/merchantkeys): operators invoke it, Secrets
// Manager invokes it to rotate every merchant's secret every 30 days, and
// CloudFormation invokes it when a non-production stack is deleted, so that
// the keys and secrets it created at run time go with the environment. It
// alone writes the merchant registry (as the registrar role).
func NewMerchantKeys(scope constructs.Construct, id string, props *MerchantKeysProps) *GoFunction {
	cfg := props.Config
	name := cfg.MerchantKeysFunctionName()
	secrets := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s*", cfg.Region, cfg.Account, cfg.MerchantSecretPrefix())
	apiKeys := fmt.Sprintf("arn:aws:apigateway:%s::/apikeys", cfg.Region)
	plan := fmt.Sprintf("arn:aws:apigateway:%s::/usageplans/%s", cfg.Region, *props.UsagePlan.UsagePlanId())
	tagKeys := []string{environment.TagEnvironment, environment.TagMerchant}
	ourTag := map[string]any{"aws:RequestTag/" + environment.TagEnvironment: cfg.EnvironmentSuffix}
	secretsKey := *props.Keys.Secrets.KeyArn()
	fn := NewGoFunction(scope, id, &GoFunctionProps{
		Config: cfg, SourceRoot: props.SourceRoot, Package: "./cmd/merchantkeys", Name: "merchant-keys",
		Description:      "Onboards, rotates (Secrets Manager, every 30 days) and offboards merchants' API keys; the only writer of the merchant registry",
		Timeout:          awscdk.Duration_Minutes(jsii.Number(2)),
		ConcurrencyBound: "Operators onboard merchants one at a time, Secrets Manager rotates each merchant's secret once in 30 days, CloudFormation calls it once per stack deletion.",
		Vpc:              props.Network.Vpc, Subnets: props.Network.PrivateSubnets(), LogsKey: props.Keys.Logs, EnvironmentKey: props.Keys.Secrets,
		Environment: props.Database.Environment(database.RegistrarRole, map[string]string{
			"ENVIRONMENT_SUFFIX": cfg.EnvironmentSuffix, "PRODUCTION": strconv.FormatBool(cfg.Production),
			"USAGE_PLAN_ID": *props.UsagePlan.UsagePlanId(), "SECRETS_KEY_ARN": secretsKey,
		}),
		Statements: []awsiam.PolicyStatement{
			// Secrets: only under the environment's prefix, created only
			// tagged as the environment's and the merchant's.
			statement("CreateThisEnvironmentsMerchantSecrets", []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"}, []string{secrets},
				map[string]any{"StringEquals": ourTag, "ForAllValues:StringEquals": map[string]any{"aws:TagKeys": tagKeys}}),
			statement("RotateAndRetireMerchantSecrets", []string{
				"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
				"secretsmanager:RotateSecret", "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteSecret",
			}, []string{secrets}, nil),
			statement("FindMerchantSecrets", []string{"secretsmanager:ListSecrets"}, []string{"*"}, nil),
			// RotateSecret needs the caller to be allowed to invoke the
			// rotation function: this function, by its name (its ARN
			// attribute would make the policy wait for the function).
			statement("StartRotationsWithItself", []string{"lambda:InvokeFunction"},
				[]string{fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, cfg.Account, name)}, nil),
			statement("UseTheSecretsKeyThroughSecretsManager", []string{"kms:Decrypt", "kms:GenerateDataKey"}, []string{secretsKey},
				map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager." + cfg.Region + ".amazonaws.com"}}),
			// A merchant's principal may decrypt its own secret only: the
			// grant allows Decrypt alone, constrained to an encryption
			// context (the secret's ARN).
			statement("GrantReadersTheirSecret", []string{"kms:CreateGrant"}, []string{secretsKey}, map[string]any{
				"ForAllValues:StringEquals": map[string]any{"kms:GrantOperations": []string{"Decrypt"}},
				"StringEquals":              map[string]any{"kms:GrantConstraintType": "EncryptionContextSubset"},
				// The same key encrypts the database's master secret: a
				// grant may only name a merchant secret's context.
				"StringLike": map[string]any{"kms:EncryptionContext:SecretARN": secrets},
			}),
			statement("RevokeReaderGrants", []string{"kms:ListGrants", "kms:RevokeGrant"}, []string{secretsKey}, nil),
			// API keys: ids are unknown at deploy time; created and tagged
			// only as this environment's, deleted only when so tagged.
			statement("FindApiKeys", []string{"apigateway:GET"}, []string{apiKeys}, nil),
			statement("CreateThisEnvironmentsApiKeys", []string{"apigateway:POST"}, []string{apiKeys}, map[string]any{"StringEquals": ourTag}),
			// Tagging on create is a TagResource call too (CreateApiKey
			// needs apigateway:PUT, Service Authorization Reference): only
			// the environment's and the merchant's tags, never on a key
			// tagged for another environment.
			statement("TagNewApiKeysAsThisEnvironments", []string{"apigateway:PUT"}, []string{fmt.Sprintf("arn:aws:apigateway:%s::/tags/*", cfg.Region)},
				map[string]any{
					"StringEquals":              ourTag,
					"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": tagKeys},
					"StringEqualsIfExists":      map[string]any{"aws:ResourceTag/" + environment.TagEnvironment: cfg.EnvironmentSuffix},
				}),
			statement("DeleteThisEnvironmentsApiKeys", []string{"apigateway:DELETE"}, []string{apiKeys + "/*"},
				map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + environment.TagEnvironment: cfg.EnvironmentSuffix}}),
			statement("AttachApiKeysToThePlan", []string{"apigateway:GET", "apigateway:POST"}, []string{plan + "/keys", plan + "/keys/*"}, nil),
			statement("ConnectAsRegistrar", []string{"rds-db:connect"}, []string{*props.Database.ConnectArnOf(database.RegistrarRole)}, nil),
		},
	})
	props.Database.AllowFrom(fn.SecurityGroup, "merchant-keys writes the merchant registry")
	// S3 through the gateway endpoint: the pre-signed CloudFormation
	// response URL.
	props.Network.AllowHTTPSToS3(fn.SecurityGroup)

	// Secrets Manager rotates this environment's merchant secrets, and no
	// other account's or secret's (the confused-deputy protection AWS
	// recommends; Lambda compares SourceArn with StringLike).
	fn.Function.AddPermission(jsii.String("SecretsManagerRotatesMerchantSecrets"), &awslambda.Permission{
		Principal:     awsiam.NewServicePrincipal(jsii.String("secretsmanager.amazonaws.com"), nil),
		SourceAccount: jsii.String(cfg.Account),
		SourceArn:     jsii.String(secrets),
	})

	// Deleted before the usage plan (its keys are attached) and while the
	// function, its role, its network rules and the registry still exist.
	cleanup := fn.CustomResource(scope, "MerchantCredentials", "Custom::MerchantKeys",
		map[string]any{"Environment": cfg.EnvironmentSuffix})
	cleanup.Node().AddDependency(props.UsagePlan)

	suppress(fn.Node().FindChild(jsii.String("RolePolicy")), true, finding{
		rule: "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::*", "Resource::" + secrets, fmt.Sprintf("Resource::arn:aws:apigateway:%s::/apikeys/*", cfg.Region),
			fmt.Sprintf("Resource::arn:aws:apigateway:%s::/tags/*", cfg.Region)},
		appliesToRegex: []string{fmt.Sprintf(`/^Resource::arn:aws:apigateway:%s::\/usageplans\/<[A-Za-z0-9]+>\/keys\/\*$/`, cfg.Region)},
		reason: "Merchants' secrets and API keys are created at run time, their names and ids unknown at deploy time: secrets only under this environment's prefix " +
			"payments/<sfx>/merchants/ and created only tagged as this environment's; API keys created and tagged only as this environment's " +
			"(aws:RequestTag, aws:TagKeys, never a key tagged for another environment), deleted only when so tagged, attached to this usage plan only; " +
			"secretsmanager:ListSecrets, the VPC network-interface and X-Ray actions have no resource-level permissions.",
	})
	suppress(fn.Function, true, finding{
		rule: "NIST.800.53.R5-LambdaDLQ",
		reason: "Operators and Secrets Manager's rotation steps invoke it synchronously (Secrets Manager retries a failed step and marks the rotation failed); " +
			"for its custom resource, " + customResourceDLQReason,
	})
	return fn
}

// NewClientCertificateAuthorizer creates the API's Lambda REQUEST
// authorizer (cmd/authorizer), which hands the mutual-TLS client
// certificate's names on to the service. Its answers are never cached: the
// certificate is no identity source API Gateway could key a cache on.
func NewClientCertificateAuthorizer(scope constructs.Construct, id string, cfg environment.Config, network *Network, keys *Keys, sourceRoot string) apigw.RequestAuthorizer {
	fn := NewGoFunction(scope, id+"Function", &GoFunctionProps{
		Config: cfg, SourceRoot: sourceRoot, Package: "./cmd/authorizer", Name: "authorizer",
		Description: "API Gateway authorizer: passes the mutual-TLS client certificate's subject and issuer to the payment API",
		Timeout:     awscdk.Duration_Seconds(jsii.Number(5)), MemorySize: 256,
		ConcurrencyBound: fmt.Sprintf("API Gateway invokes it once per payment request, at most the stage's %d req/s (and bursts), "+
			"for a few milliseconds each.", apiRateLimit),
		Vpc: network.Vpc, Subnets: network.PrivateSubnets(), LogsKey: keys.Logs,
	})
	suppress(fn.Function, true, finding{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: "API Gateway invokes the authorizer synchronously for each request; a failure is the request's 500, there is no event to keep.",
	})
	authorizer := apigw.NewRequestAuthorizer(scope, jsii.String(id), &apigw.RequestAuthorizerProps{
		Handler:         fn.Function,
		AuthorizerName:  jsii.String(cfg.Name("client-certificate")),
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(0)),
		IdentitySources: &[]*string{},
	})
	fn.Role.UsedBy(authorizer)
	return authorizer
}
