package infra

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	apigw "github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// API throttling: the stage and the usage plan allow this many requests per
// second, with bursts up to Config.APIBurstLimit.
const (
	apiRateLimit    = 1000
	apiMonthlyQuota = 50_000_000
	apiStage        = "v1"
)

// PaymentsAPIProps configures PaymentsAPI.
type PaymentsAPIProps struct {
	Config     Config
	Network    *Network
	Keys       *Keys
	Edge       *Edge
	SourceRoot string
}

// PaymentsAPI is the REST API clients use: reachable only through its
// mutual-TLS custom domain, every method behind an API key, throttled, and
// forwarding to the ALB with the origin header.
type PaymentsAPI struct {
	constructs.Construct
	RestAPI      apigw.RestApi
	Domain       apigw.DomainName
	UsagePlan    apigw.UsagePlan
	APIKeySecret awssecretsmanager.ISecret
	AccessLogs   awslogs.LogGroup
	Truststore   awss3.Bucket
}

// accessLogFormat is one JSON line per request: who (API key, client
// certificate), what, and how it went.
const accessLogFormat = `{"requestId":"$context.requestId","time":"$context.requestTime","ip":"$context.identity.sourceIp",` +
	`"apiKeyId":"$context.identity.apiKeyId","clientCertSerial":"$context.identity.clientCert.serialNumber",` +
	`"clientCertSubject":"$context.identity.clientCert.subjectDN","method":"$context.httpMethod","path":"$context.path",` +
	`"status":"$context.status","latencyMs":"$context.responseLatency","integrationStatus":"$context.integration.status",` +
	`"integrationLatencyMs":"$context.integration.latency","error":"$context.error.message"}`

// NewPaymentsAPI creates the API, its domain and truststore, the usage plan
// and the rotated API key.
func NewPaymentsAPI(scope constructs.Construct, id string, props *PaymentsAPIProps) *PaymentsAPI {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	a := &PaymentsAPI{Construct: this}

	a.AccessLogs = newAuditLogGroup(this, "AccessLogs", cfg, jsii.String(cfg.LogGroupName("apigateway-access")), props.Keys.Logs)
	a.RestAPI = apigw.NewRestApi(this, jsii.String("RestApi"), &apigw.RestApiProps{
		RestApiName:               jsii.String(cfg.Name("api")),
		Description:               jsii.String("Payments API: reachable only through the mutual-TLS custom domain"),
		EndpointTypes:             &[]apigw.EndpointType{apigw.EndpointType_REGIONAL},
		DisableExecuteApiEndpoint: jsii.Bool(true),
		CloudWatchRole:            jsii.Bool(false), // the account-level role is created below, without managed policies
		ApiKeySourceType:          apigw.ApiKeySourceType_HEADER,
		DeployOptions: &apigw.StageOptions{
			StageName:            jsii.String(apiStage),
			ThrottlingRateLimit:  jsii.Number(apiRateLimit),
			ThrottlingBurstLimit: jsii.Number(cfg.APIBurstLimit),
			TracingEnabled:       jsii.Bool(true),
			MetricsEnabled:       jsii.Bool(true),
			LoggingLevel:         apigw.MethodLoggingLevel_ERROR,
			DataTraceEnabled:     jsii.Bool(false), // never log request or response bodies
			AccessLogDestination: apigw.NewLogGroupLogDestination(a.AccessLogs),
			AccessLogFormat:      apigw.AccessLogFormat_Custom(jsii.String(accessLogFormat)),
		},
	})
	// RestApi always outputs the execute-api URL; that endpoint is disabled,
	// so no output may advertise it.
	a.RestAPI.Node().TryRemoveChild(jsii.String("Endpoint"))
	cloudWatchRole(this, cfg, a.RestAPI)
	// API Gateway would create its execution-log group itself, unencrypted
	// and kept forever; created here it is like every other log group.
	newAuditLogGroup(this, "ExecutionLogs", cfg, awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("API-Gateway-Execution-Logs_"), a.RestAPI.RestApiId(), jsii.String("/" + apiStage)}), props.Keys.Logs)

	addRoutes(this, cfg, a.RestAPI, props.Edge)
	a.UsagePlan, a.APIKeySecret = usagePlanAndKey(this, cfg, props, a.RestAPI)
	a.Truststore, a.Domain = mtlsDomain(this, cfg, props, a.RestAPI)

	awscdk.NewCfnOutput(scope, jsii.String("ApiEndpoint"), &awscdk.CfnOutputProps{
		Value:       jsii.String("https://" + cfg.HostName("api") + "/"),
		Description: jsii.String("The payments API (mutual TLS and an API key required); the execute-api endpoint is disabled"),
	})
	suppressAPIFindings(a)
	return a
}

// cloudWatchRole is the account-and-region-wide role API Gateway uses to
// write execution logs (AWS::ApiGateway::Account): a customer-managed
// policy instead of AmazonAPIGatewayPushToCloudWatchLogs.
func cloudWatchRole(scope constructs.Construct, cfg Config, api apigw.RestApi) {
	role := NewServiceRole(scope, "CloudWatchRole", &ServiceRoleProps{
		Name: cfg.Name("apigateway-logs"), Service: "apigateway.amazonaws.com", Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
				"logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"),
			Resources: jsii.Strings(fmt.Sprintf("arn:aws:logs:%s:%s:log-group:API-Gateway-Execution-Logs_*", cfg.Region, cfg.Account)),
		})},
	})
	suppress(scope.Node().FindChild(jsii.String("CloudWatchRolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{fmt.Sprintf("Resource::arn:aws:logs:%s:%s:log-group:API-Gateway-Execution-Logs_*", cfg.Region, cfg.Account)},
		reason: "API Gateway writes execution logs into groups it names API-Gateway-Execution-Logs_<api id>/<stage>, with this one account-wide role; " +
			"the grant is limited to those groups.",
	})
	account := apigw.NewCfnAccount(scope, jsii.String("Account"), &apigw.CfnAccountProps{CloudWatchRoleArn: role.RoleArn()})
	api.Node().AddDependency(account)
}

// addRoutes mirrors the service's routes as HTTPS proxies to the ALB, adding
// the origin header and the caller's API key id, and validates the payment
// body before it leaves API Gateway.
func addRoutes(scope constructs.Construct, cfg Config, api apigw.RestApi, edge *Edge) {
	target := "https://" + cfg.HostName("alb")
	parameters := func(extra map[string]*string) *map[string]*string {
		p := map[string]*string{
			"integration.request.header." + OriginHeader: jsii.String("'" + *edge.OriginSecret.SecretValue().UnsafeUnwrap() + "'"),
			"integration.request.header.X-Api-Key-Id":    jsii.String("context.identity.apiKeyId"),
			"integration.request.header.X-Request-Id":    jsii.String("context.requestId"),
		}
		for k, v := range extra {
			p[k] = v
		}
		return &p
	}
	model := api.AddModel(jsii.String("NewPayment"), &apigw.ModelOptions{
		ContentType: jsii.String("application/json"),
		ModelName:   jsii.String("NewPayment"),
		Schema: &apigw.JsonSchema{
			Schema:               apigw.JsonSchemaVersion_DRAFT4,
			Title:                jsii.String("NewPayment"),
			Type:                 apigw.JsonSchemaType_OBJECT,
			AdditionalProperties: jsii.Bool(false),
			Required:             jsii.Strings("merchantId", "amount", "currency", "paymentMethodToken", "reference"),
			Properties: &map[string]*apigw.JsonSchema{
				"merchantId":         {Type: apigw.JsonSchemaType_STRING, Pattern: jsii.String("^[A-Za-z0-9_-]{1,64}$")},
				"amount":             {Type: apigw.JsonSchemaType_INTEGER, Minimum: jsii.Number(1), Maximum: jsii.Number(1e15)},
				"currency":           {Type: apigw.JsonSchemaType_STRING, Pattern: jsii.String("^[A-Z]{3}$")},
				"paymentMethodToken": {Type: apigw.JsonSchemaType_STRING, Pattern: jsii.String("^[A-Za-z0-9_-]{8,128}$")},
				"reference":          {Type: apigw.JsonSchemaType_STRING, MinLength: jsii.Number(1), MaxLength: jsii.Number(140)},
			},
		},
	})
	validator := api.AddRequestValidator(jsii.String("Validator"), &apigw.RequestValidatorOptions{
		RequestValidatorName: jsii.String(cfg.Name("validator")), ValidateRequestBody: jsii.Bool(true), ValidateRequestParameters: jsii.Bool(true),
	})

	// proxy is an HTTPS proxy method to the same path on the ALB, behind an
	// API key and the validator; extra maps method parameters through.
	proxy := func(resource apigw.IResource, method, path string, extra map[string]*string, options *apigw.MethodOptions) {
		options.ApiKeyRequired = jsii.Bool(true)
		options.RequestValidator = validator
		resource.AddMethod(jsii.String(method), apigw.NewHttpIntegration(jsii.String(target+path), &apigw.HttpIntegrationProps{
			HttpMethod: jsii.String(method), Proxy: jsii.Bool(true),
			Options: &apigw.IntegrationOptions{RequestParameters: parameters(extra), Timeout: awscdk.Duration_Seconds(jsii.Number(29))},
		}), options)
	}
	paymentsResource := api.Root().AddResource(jsii.String("v1"), nil).AddResource(jsii.String("payments"), nil)
	proxy(paymentsResource, "POST", "/v1/payments",
		map[string]*string{"integration.request.header.Idempotency-Key": jsii.String("method.request.header.Idempotency-Key")},
		&apigw.MethodOptions{
			RequestModels:     &map[string]apigw.IModel{"application/json": model},
			RequestParameters: &map[string]*bool{"method.request.header.Idempotency-Key": jsii.Bool(true)},
		})
	proxy(paymentsResource.AddResource(jsii.String("{id}"), nil), "GET", "/v1/payments/{id}",
		map[string]*string{"integration.request.path.id": jsii.String("method.request.path.id")},
		&apigw.MethodOptions{RequestParameters: &map[string]*bool{"method.request.path.id": jsii.Bool(true)}})
}

// usagePlanAndKey creates the usage plan (1000 req/s and a monthly quota),
// the API-key secret (imported from apiKeySecretArn when configured) with
// its 30-day rotation, and the first key.
func usagePlanAndKey(scope constructs.Construct, cfg Config, props *PaymentsAPIProps, api apigw.RestApi) (apigw.UsagePlan, awssecretsmanager.ISecret) {
	plan := api.AddUsagePlan(jsii.String("UsagePlan"), &apigw.UsagePlanProps{
		Name:      jsii.String(cfg.Name("usage")),
		Throttle:  &apigw.ThrottleSettings{RateLimit: jsii.Number(apiRateLimit), BurstLimit: jsii.Number(cfg.APIBurstLimit)},
		Quota:     &apigw.QuotaSettings{Limit: jsii.Number(apiMonthlyQuota), Period: apigw.Period_MONTH},
		ApiStages: &[]*apigw.UsagePlanPerApiStage{{Api: api, Stage: api.DeploymentStage()}},
	})
	keyPrefix := cfg.Name("key") + "-"
	var secret awssecretsmanager.ISecret
	if cfg.APIKeySecretArn != "" {
		secret = awssecretsmanager.Secret_FromSecretCompleteArn(scope, jsii.String("ApiKeySecret"), jsii.String(cfg.APIKeySecretArn))
	} else {
		secret = awssecretsmanager.NewSecret(scope, jsii.String("ApiKeySecret"), &awssecretsmanager.SecretProps{
			SecretName:    jsii.String(fmt.Sprintf("payments/%s/api-key", cfg.EnvironmentSuffix)),
			Description:   jsii.String("The payments API key: {name, value}; rotated every 30 days by " + cfg.Name("apikey-rotator")),
			EncryptionKey: props.Keys.Secrets,
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				SecretStringTemplate: jsii.String(fmt.Sprintf(`{"name":"%sinitial"}`, keyPrefix)),
				GenerateStringKey:    jsii.String("value"), PasswordLength: jsii.Number(40), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
			},
			RemovalPolicy: cfg.RemovalPolicy(),
		})
	}
	// The first key carries the secret's value; the rotator creates the
	// following ones and retires this one two rotations later.
	first := apigw.NewApiKey(scope, jsii.String("InitialApiKey"), &apigw.ApiKeyProps{
		ApiKeyName: jsii.String(keyPrefix + "initial"),
		Value:      secret.SecretValueFromJson(jsii.String("value")).UnsafeUnwrap(),
		Enabled:    jsii.Bool(true),
	})
	plan.AddApiKey(first, nil)

	planArn := fmt.Sprintf("arn:aws:apigateway:%s::/usageplans/%s", cfg.Region, *plan.UsagePlanId())
	rotator := NewGoFunction(scope, "ApiKeyRotator", &GoFunctionProps{
		Config: cfg, SourceRoot: props.SourceRoot, Package: "./cmd/rotator", Name: "apikey-rotator",
		Description: "Rotates the payments API key (Secrets Manager rotation: createSecret, setSecret, testSecret, finishSecret)",
		Timeout:     awscdk.Duration_Minutes(jsii.Number(1)), ReservedConcurrency: 1,
		Vpc: props.Network.Vpc, Subnets: props.Network.PrivateSubnets(), LogsKey: props.Keys.Logs, EnvironmentKey: props.Keys.Secrets,
		Environment: map[string]string{"USAGE_PLAN_ID": *plan.UsagePlanId(), "API_KEY_NAME_PREFIX": keyPrefix},
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("RotateTheApiKeySecret"),
				Actions:   jsii.Strings("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"),
				Resources: jsii.Strings(*secret.SecretArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("UseTheSecretsKeyThroughSecretsManager"),
				Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
				Resources:  jsii.Strings(*props.Keys.Secrets.KeyArn()),
				Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager." + cfg.Region + ".amazonaws.com"}},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("ManageApiKeysOfThePlan"),
				Actions: jsii.Strings("apigateway:GET", "apigateway:POST", "apigateway:DELETE"),
				Resources: jsii.Strings(
					fmt.Sprintf("arn:aws:apigateway:%s::/apikeys", cfg.Region),
					fmt.Sprintf("arn:aws:apigateway:%s::/apikeys/*", cfg.Region),
					planArn+"/keys", planArn+"/keys/*"),
			}),
		},
	})
	// Secrets Manager reaches through the endpoint; API Gateway's management
	// API leaves through the NAT instances (HTTPS only).
	rotator.SecurityGroup.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("API Gateway management API via NAT"), nil)
	schedule := secret.AddRotationSchedule(jsii.String("Rotation"), &awssecretsmanager.RotationScheduleOptions{
		RotationLambda:     rotator.Function,
		AutomaticallyAfter: awscdk.Duration_Days(jsii.Number(30)),
	})
	schedule.Node().AddDependency(first)
	suppress(rotator.Node().FindChild(jsii.String("RolePolicy")), true, finding{
		rule:           "AwsSolutions-IAM5",
		appliesTo:      []string{"Resource::*", fmt.Sprintf("Resource::arn:aws:apigateway:%s::/apikeys/*", cfg.Region)},
		appliesToRegex: []string{fmt.Sprintf(`/^Resource::arn:aws:apigateway:%s::\/usageplans\/<[A-Za-z0-9]+>\/keys\/\*$/`, cfg.Region)},
		reason: "API keys are created by the rotator with ids unknown at deploy time, so the grant covers API keys and this usage plan's keys; " +
			"the VPC network-interface and X-Ray actions have no resource-level permissions.",
	})
	suppress(rotator.Function, true, finding{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: "Secrets Manager invokes rotation synchronously and retries failed steps itself, marking the rotation failed; there is no asynchronous event to keep.",
	})
	return plan, secret
}

// mtlsDomain creates the truststore bucket and object, the regional custom
// domain with mutual TLS, the base path mapping and the DNS alias.
func mtlsDomain(scope constructs.Construct, cfg Config, props *PaymentsAPIProps, api apigw.RestApi) (awss3.Bucket, apigw.DomainName) {
	bucketName := cfg.BucketName("truststore", cfg.Region)
	bucketProps := privateBucketProps(cfg, bucketName)
	bucketProps.Encryption = awss3.BucketEncryption_S3_MANAGED
	bucketProps.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id: jsii.String("expire-old-truststores"), NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(365)),
	}}
	bucket := awss3.NewBucket(scope, jsii.String("Truststore"), bucketProps)
	pem, err := cfg.TruststorePEM()
	if err != nil {
		panic(fmt.Sprintf("mtlsTruststore: %v", err)) // LoadConfig checked the file; it vanished since
	}
	const key = "truststore.pem"
	writer := NewGoFunction(scope, "TruststoreWriter", &GoFunctionProps{
		Config: cfg, SourceRoot: props.SourceRoot, Package: "./cmd/truststore", Name: "truststore",
		Description: "Writes the mutual-TLS truststore to its bucket", Timeout: awscdk.Duration_Minutes(jsii.Number(1)),
		ReservedConcurrency: 1, Vpc: props.Network.Vpc, Subnets: props.Network.PrivateSubnets(), LogsKey: props.Keys.Logs,
		Statements: []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WriteTheTruststore"), Actions: jsii.Strings("s3:PutObject"),
			Resources: jsii.Strings("arn:aws:s3:::" + bucketName + "/" + key),
		})},
	})
	// S3 through the gateway endpoint (outside the VPC CIDR), and the
	// pre-signed CloudFormation response URL.
	writer.SecurityGroup.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to S3 (gateway endpoint)"), nil)
	object := awscdk.NewCustomResource(scope, jsii.String("TruststoreObject"), &awscdk.CustomResourceProps{
		ServiceToken: writer.Function.FunctionArn(),
		ResourceType: jsii.String("Custom::MtlsTruststore"),
		Properties:   &map[string]any{"Bucket": bucketName, "Key": key, "Pem": pem},
	})
	object.Node().AddDependency(bucket)
	suppress(writer.Function, true, finding{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: "A synchronous CloudFormation custom resource: a failure fails the deployment; there is no asynchronous event to keep.",
	})

	domain := apigw.NewDomainName(scope, jsii.String("Domain"), &apigw.DomainNameProps{
		DomainName:     jsii.String(cfg.HostName("api")),
		Certificate:    certificate(scope, "ApiCertificate", cfg, cfg.HostName("api")),
		EndpointType:   apigw.EndpointType_REGIONAL,
		SecurityPolicy: apigw.SecurityPolicy_TLS_1_2, // mutual TLS cannot use the TLS 1.3 policies
		Mtls:           &apigw.MTLSConfig{Bucket: bucket, Key: jsii.String(key), Version: object.GetAttString(jsii.String("VersionId"))},
		Mapping:        api,
	})
	if zone := cfg.HostedZone(scope); zone != nil {
		awsroute53.NewARecord(scope, jsii.String("ApiAlias"), &awsroute53.ARecordProps{
			Zone: zone, RecordName: jsii.String(cfg.HostName("api")),
			Target: awsroute53.RecordTarget_FromAlias(awsroute53targets.NewApiGatewayDomain(domain)),
		})
	}
	return bucket, domain
}

// suppressAPIFindings holds the accepted cdk-nag findings of the API.
func suppressAPIFindings(a *PaymentsAPI) {
	stage := a.RestAPI.DeploymentStage()
	suppress(stage, true, slices.Concat(
		because("WAF protects the ALB every request passes through (origin header, managed and injection rules, per-client rate limit); a second web ACL on the stage would inspect the same requests again.",
			"AwsSolutions-APIG3", "NIST.800.53.R5-APIGWAssociatedWithWAF", "PCI.DSS.321-APIGWAssociatedWithWAF"),
		because("Payment responses must never be cached: a cached GET would serve a stale payment status, and POSTs are not cacheable.",
			"NIST.800.53.R5-APIGWCacheEnabledAndEncrypted", "PCI.DSS.321-APIGWCacheEnabledAndEncrypted"),
		because("Integration TLS is to the ALB's ACM certificate (public trust), which API Gateway verifies; a client certificate for the backend would add nothing the origin header and WAF do not.",
			"NIST.800.53.R5-APIGWSSLEnabled", "PCI.DSS.321-APIGWSSLEnabled"),
	)...)
	suppress(a.RestAPI, true, finding{
		rule:   "AwsSolutions-APIG4",
		reason: "Clients are authenticated by mutual TLS on the custom domain (the only entry point) and by an API key on every method; there are no end users to authorize per request.",
	}, finding{
		rule:   "AwsSolutions-COG4",
		reason: "Clients are systems authenticated by mutual TLS and API keys, not Cognito users.",
	})
	suppress(a.Truststore, true, slices.Concat(
		because("The truststore bucket holds one public object (CA certificates), written only by the truststore Lambda and read only by API Gateway; its changes are visible in its versions and in CloudTrail.",
			"AwsSolutions-S1"),
		because("The truststore bucket holds one public object (CA certificates); its changes are visible in its versions and in CloudTrail.",
			"NIST.800.53.R5-S3BucketLoggingEnabled", "PCI.DSS.321-S3BucketLoggingEnabled"),
		because("The truststore is rebuilt from the repository's configuration by every deployment; a replica would hold nothing that cannot be recreated.",
			"NIST.800.53.R5-S3BucketReplicationEnabled", "PCI.DSS.321-S3BucketReplicationEnabled"),
		because("The truststore holds only public CA certificates; SSE-S3 keeps API Gateway's read of it independent of key policies (see the README on truststore encryption).",
			"NIST.800.53.R5-S3DefaultEncryptionKMS", "PCI.DSS.321-S3DefaultEncryptionKMS"),
	)...)
}
