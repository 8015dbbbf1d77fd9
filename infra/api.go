package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	apigw "github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// API throttling: the stage and the usage plan allow this many requests per
// second, with bursts up to Config.APIBurstLimit.
const (
	apiRateLimit    = 1000
	apiMonthlyQuota = 50_000_000
	// apiStage is the stage's name; apiBasePath the prefix of every route
	// (the service's and the REST API's).
	apiStage    = "v1"
	apiBasePath = "/v1"
)

// PaymentsAPIProps configures PaymentsAPI.
type PaymentsAPIProps struct {
	Config     environment.Config
	Network    *Network
	Keys       *Keys
	Edge       *Edge
	Names      *Names
	SourceRoot string
}

// PaymentsAPI is the REST API clients use: reachable only through its
// mutual-TLS custom domain, every method behind an API key, throttled, and
// forwarding to the internal ALB through the VPC link.
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
		CloudWatchRole:            jsii.Bool(false), // an account-wide setting: the account setup stack owns it
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
	// API Gateway writes both logs with the account's CloudWatch role,
	// which the account setup stack sets (make account-setup; make preflight
	// checks it is there). API Gateway would create its execution-log group itself, unencrypted
	// and kept forever; created here it is like every other log group.
	newAuditLogGroup(this, "ExecutionLogs", cfg, awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("API-Gateway-Execution-Logs_"), a.RestAPI.RestApiId(), jsii.String("/" + apiStage)}), props.Keys.Logs)

	readMethod := addRoutes(this, cfg, a.RestAPI, props.Edge)
	a.UsagePlan, a.APIKeySecret = usagePlanAndKey(this, cfg, props, a.RestAPI)
	a.Truststore, a.Domain = mtlsDomain(this, cfg, props, a.RestAPI)
	keepVpcLinkActive(this, cfg, a.RestAPI, readMethod)

	awscdk.NewCfnOutput(scope, jsii.String("ApiEndpoint"), &awscdk.CfnOutputProps{
		Value:       jsii.String("https://" + cfg.HostName("api") + "/"),
		Description: jsii.String("The payments API (mutual TLS and an API key required); the execute-api endpoint is disabled"),
	})
	suppressAPIFindings(a)
	return a
}

// addRoutes mirrors the service's routes as private HTTPS proxy
// integrations to the ALB through the VPC link, passing the caller's API key
// id and the request id, and validates the payment body before it leaves
// API Gateway. It returns the read method (GET /v1/payments/{id}).
func addRoutes(scope constructs.Construct, cfg environment.Config, api apigw.RestApi, edge *Edge) apigw.Method {
	parameters := func(extra map[string]*string) *map[string]*string {
		// A mapped header replaces one the client sent under that name, so
		// X-Api-Key-Id is always API Gateway's.
		p := map[string]*string{
			"integration.request.header.X-Api-Key-Id": jsii.String("context.identity.apiKeyId"),
			"integration.request.header.X-Request-Id": jsii.String("context.requestId"),
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

	// proxy is a private HTTPS proxy method to the same path on the ALB,
	// behind an API key and the validator; extra maps method parameters
	// through.
	proxy := func(resource apigw.IResource, method, path string, extra map[string]*string, options *apigw.MethodOptions) apigw.Method {
		options.ApiKeyRequired = jsii.Bool(true)
		options.RequestValidator = validator
		m := resource.AddMethod(jsii.String(method), apigw.NewHttpIntegration(jsii.String("https://"+edge.Host+path), &apigw.HttpIntegrationProps{
			HttpMethod: jsii.String(method), Proxy: jsii.Bool(true),
			Options: &apigw.IntegrationOptions{RequestParameters: parameters(extra), Timeout: awscdk.Duration_Seconds(jsii.Number(29))},
		}), options)
		privateIntegration(m, edge)
		return m
	}
	paymentsResource := api.Root().AddResource(jsii.String(strings.TrimPrefix(apiBasePath, "/")), nil).AddResource(jsii.String("payments"), nil)
	proxy(paymentsResource, "POST", apiBasePath+"/payments",
		map[string]*string{"integration.request.header.Idempotency-Key": jsii.String("method.request.header.Idempotency-Key")},
		&apigw.MethodOptions{
			RequestModels:     &map[string]apigw.IModel{"application/json": model},
			RequestParameters: &map[string]*bool{"method.request.header.Idempotency-Key": jsii.Bool(true)},
		})
	return proxy(paymentsResource.AddResource(jsii.String("{id}"), nil), "GET", apiBasePath+"/payments/{id}",
		map[string]*string{"integration.request.path.id": jsii.String("method.request.path.id")},
		&apigw.MethodOptions{RequestParameters: &map[string]*bool{"method.request.path.id": jsii.Bool(true)}})
}

// keepVpcLinkActive sends one request a day through the VPC link. "If no
// traffic is sent over the VPC link for 60 days, it becomes INACTIVE ... This
// causes API requests that depend on the VPC link to fail" until API Gateway
// has provisioned its network interfaces again, which "can take a few
// minutes" (developer guide, VPC links V2): an idle PR environment, or a
// quiet production one, would fail its next requests. EventBridge Scheduler
// calls API Gateway's TestInvokeMethod on the read method, which runs the
// real integration through the link without the custom domain, a client
// certificate or an API key; the service answers 404 for the nil id, which
// is all the link needs.
func keepVpcLinkActive(scope constructs.Construct, cfg environment.Config, api apigw.RestApi, method apigw.Method) {
	methodArn := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:aws:apigateway:" + cfg.Region + "::/restapis/"), api.RestApiId(),
		jsii.String("/resources/"), method.Resource().ResourceId(), jsii.String("/methods/" + *method.HttpMethod()),
	})
	testInvoke := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("TestInvokeTheReadMethod"), Actions: jsii.Strings("apigateway:POST"), Resources: &[]*string{methodArn},
	})
	role := NewServiceRole(scope, "KeepAliveRole", &ServiceRoleProps{
		Name: cfg.Name("vpclink-keepalive"), Service: "scheduler.amazonaws.com", Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{testInvoke},
	})
	schedule := awsscheduler.NewSchedule(scope, jsii.String("KeepAlive"), &awsscheduler.ScheduleProps{
		ScheduleName: jsii.String(cfg.Name("vpclink-keepalive")),
		Description:  jsii.String("Keeps the API's VPC link active: one test invocation of GET " + apiBasePath + "/payments/{id} a day"),
		Schedule:     awsscheduler.ScheduleExpression_Rate(awscdk.Duration_Days(jsii.Number(1))),
		Target: awsschedulertargets.NewUniversal(&awsschedulertargets.UniversalTargetProps{
			Service: jsii.String("apigateway"), Action: jsii.String("testInvokeMethod"), Role: role.Role,
			// The role's policy already grants exactly this; stated so the
			// target does not ask for a wildcard one.
			PolicyStatements: &[]awsiam.PolicyStatement{testInvoke},
			RetryAttempts:    jsii.Number(2),
			Input: awsscheduler.ScheduleTargetInput_FromObject(map[string]any{
				"RestApiId": api.RestApiId(), "ResourceId": method.Resource().ResourceId(), "HttpMethod": method.HttpMethod(),
				"PathWithQueryString": apiBasePath + "/payments/00000000-0000-0000-0000-000000000000",
			}),
		}),
	})
	role.UsedBy(schedule)
}

// privateIntegration sends a method's integration through the VPC link (V2)
// to the ALB. aws-cdk-lib 2.276 has no L2 for a REST API's VPC link V2
// integration, so the three properties are set on the method's
// CloudFormation resource. The integration target is the load balancer's
// ARN, as in the developer guide's example ("provide the ARN of an Network
// Load Balancer or an Application Load Balancer"); the CloudFormation
// reference's wording ("the ALB or NLB listener") is the one point to
// confirm on the first deployment.
func privateIntegration(method apigw.Method, edge *Edge) {
	cfn := method.Node().DefaultChild().(apigw.CfnMethod)
	cfn.AddPropertyOverride(jsii.String("Integration.ConnectionType"), "VPC_LINK")
	cfn.AddPropertyOverride(jsii.String("Integration.ConnectionId"), edge.VpcLink.VpcLinkId())
	cfn.AddPropertyOverride(jsii.String("Integration.IntegrationTarget"), edge.LoadBalancer.LoadBalancerArn())
}

// usagePlanAndKey creates the usage plan (1000 req/s and a monthly quota),
// the API-key secret (imported from apiKeySecretArn when configured) with
// its 30-day rotation, and the first key.
func usagePlanAndKey(scope constructs.Construct, cfg environment.Config, props *PaymentsAPIProps, api apigw.RestApi) (apigw.UsagePlan, awssecretsmanager.ISecret) {
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
			RemovalPolicy: removalPolicy(cfg),
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
		Description:      "Rotates the payments API key (Secrets Manager rotation: createSecret, setSecret, testSecret, finishSecret)",
		Timeout:          awscdk.Duration_Minutes(jsii.Number(1)),
		ConcurrencyBound: "Secrets Manager invokes it for one rotation step of one secret at a time, every 30 days.",
		Vpc:              props.Network.Vpc, Subnets: props.Network.PrivateSubnets(), LogsKey: props.Keys.Logs, EnvironmentKey: props.Keys.Secrets,
		Environment: map[string]string{
			"USAGE_PLAN_ID": *plan.UsagePlanId(), "API_KEY_NAME_PREFIX": keyPrefix,
			"API_KEY_TAG_KEY": environmentTag, "API_KEY_TAG_VALUE": cfg.EnvironmentSuffix,
		},
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
			// Keys are found by name (a list), created only tagged as this
			// environment's and deleted only when so tagged: other
			// environments' keys are out of reach.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("FindApiKeys"), Actions: jsii.Strings("apigateway:GET"),
				Resources: jsii.Strings(fmt.Sprintf("arn:aws:apigateway:%s::/apikeys", cfg.Region)),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("CreateThisEnvironmentsApiKeys"), Actions: jsii.Strings("apigateway:POST"),
				Resources:  jsii.Strings(fmt.Sprintf("arn:aws:apigateway:%s::/apikeys", cfg.Region)),
				Conditions: &map[string]any{"StringEquals": map[string]any{"aws:RequestTag/" + environmentTag: cfg.EnvironmentSuffix}},
			}),
			// Tagging on create is a TagResource call too (CreateApiKey
			// needs apigateway:PUT, Service Authorization Reference): only
			// this environment's tag, and never on a key that already
			// carries another environment's.
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("TagNewApiKeysAsThisEnvironments"), Actions: jsii.Strings("apigateway:PUT"),
				Resources: jsii.Strings(fmt.Sprintf("arn:aws:apigateway:%s::/tags/*", cfg.Region)),
				Conditions: &map[string]any{
					"StringEquals":              map[string]any{"aws:RequestTag/" + environmentTag: cfg.EnvironmentSuffix},
					"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{environmentTag}},
					"StringEqualsIfExists":      map[string]any{"aws:ResourceTag/" + environmentTag: cfg.EnvironmentSuffix},
				},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("DeleteThisEnvironmentsApiKeys"), Actions: jsii.Strings("apigateway:DELETE"),
				Resources:  jsii.Strings(fmt.Sprintf("arn:aws:apigateway:%s::/apikeys/*", cfg.Region)),
				Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + environmentTag: cfg.EnvironmentSuffix}},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("AttachApiKeysToThePlan"), Actions: jsii.Strings("apigateway:GET", "apigateway:POST"),
				Resources: jsii.Strings(planArn+"/keys", planArn+"/keys/*"),
			}),
		},
	})
	// Secrets Manager and API Gateway's management API are both reached
	// through their interface endpoints (the function's egress to the VPC).
	schedule := secret.AddRotationSchedule(jsii.String("Rotation"), &awssecretsmanager.RotationScheduleOptions{
		RotationLambda:     rotator.Function,
		AutomaticallyAfter: awscdk.Duration_Days(jsii.Number(30)),
	})
	schedule.Node().AddDependency(first)
	restrictRotationInvoke(rotator, secret)
	suppress(rotator.Node().FindChild(jsii.String("RolePolicy")), true, finding{
		rule: "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::*", fmt.Sprintf("Resource::arn:aws:apigateway:%s::/apikeys/*", cfg.Region),
			fmt.Sprintf("Resource::arn:aws:apigateway:%s::/tags/*", cfg.Region)},
		appliesToRegex: []string{fmt.Sprintf(`/^Resource::arn:aws:apigateway:%s::\/usageplans\/<[A-Za-z0-9]+>\/keys\/\*$/`, cfg.Region)},
		reason: "The rotator creates API keys whose ids are unknown at deploy time: it may delete only keys tagged as this environment's (aws:ResourceTag), " +
			"create and tag only keys so tagged (aws:RequestTag, aws:TagKeys, and never a key tagged for another environment), and attach keys to this usage plan only; " +
			"the VPC network-interface and X-Ray actions have no resource-level permissions.",
	})
	suppress(rotator.Function, true, finding{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: "Secrets Manager invokes rotation synchronously and retries failed steps itself, marking the rotation failed; there is no asynchronous event to keep.",
	})
	return plan, secret
}

// restrictRotationInvoke limits the permission that lets Secrets Manager
// invoke the rotator (which CDK's rotation schedule grants to the service
// principal alone) to rotations of this secret in this account: no other
// account's or secret's rotation can use the function (the confused-deputy
// protection AWS recommends; checkov CKV_AWS_364).
func restrictRotationInvoke(rotator *GoFunction, secret awssecretsmanager.ISecret) {
	restricted := 0
	for _, child := range *rotator.Function.Node().Children() {
		permission, ok := child.(awslambda.CfnPermission)
		if !ok || *permission.Principal() != "secretsmanager.amazonaws.com" {
			continue
		}
		permission.SetSourceArn(secret.SecretArn())
		permission.SetSourceAccount(awscdk.Stack_Of(rotator.Function).Account())
		restricted++
	}
	if restricted != 1 {
		awscdk.Annotations_Of(rotator.Function).AddError(jsii.String(fmt.Sprintf(
			"expected CDK's rotation schedule to grant Secrets Manager one invoke permission on the rotator, found %d: revisit restrictRotationInvoke", restricted)))
	}
}

// mtlsDomain creates the truststore bucket and object, the regional custom
// domain with mutual TLS, the base path mapping and the DNS alias.
func mtlsDomain(scope constructs.Construct, cfg environment.Config, props *PaymentsAPIProps, api apigw.RestApi) (awss3.Bucket, apigw.DomainName) {
	bucketName := cfg.BucketName("mtls", cfg.Region)
	bucketProps := privateBucketProps(cfg, bucketName)
	bucketProps.Encryption = awss3.BucketEncryption_S3_MANAGED
	bucketProps.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id: jsii.String("expire-old-truststores"), NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(365)),
	}}
	bucket := awss3.NewBucket(scope, jsii.String("Truststore"), bucketProps)
	// Access logs go to the region's log bucket (in the data stack, whose
	// policy admits this bucket's logs: see Storage).
	bucket.Node().DefaultChild().(awss3.CfnBucket).SetLoggingConfiguration(&awss3.CfnBucket_LoggingConfigurationProperty{
		DestinationBucketName: jsii.String(cfg.BucketName("logs", cfg.Region)), LogFilePrefix: jsii.String(truststoreAccessLogPrefix),
	})
	const key = "truststore.pem"
	writer := NewGoFunction(scope, "TruststoreWriter", &GoFunctionProps{
		Config: cfg, SourceRoot: props.SourceRoot, Package: "./cmd/truststore", Name: "truststore",
		Description: "Writes the mutual-TLS truststore to its bucket", Timeout: awscdk.Duration_Minutes(jsii.Number(1)),
		ConcurrencyBound: "CloudFormation invokes it once per deployment that changes the truststore.",
		Vpc:              props.Network.Vpc, Subnets: props.Network.PrivateSubnets(), LogsKey: props.Keys.Logs,
		Statements: []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WriteTheTruststore"), Actions: jsii.Strings("s3:PutObject"),
			Resources: jsii.Strings("arn:aws:s3:::" + bucketName + "/" + key),
		})},
	})
	// S3 through the gateway endpoint, also for the pre-signed
	// CloudFormation response URL.
	props.Network.AllowHTTPSToS3(writer.SecurityGroup)
	object := awscdk.NewCustomResource(scope, jsii.String("TruststoreObject"), &awscdk.CustomResourceProps{
		ServiceToken: writer.Function.FunctionArn(),
		ResourceType: jsii.String("Custom::MtlsTruststore"),
		Properties:   &map[string]any{"Bucket": bucketName, "Key": key, "Pem": cfg.TruststorePEM},
	})
	object.Node().AddDependency(bucket)
	suppress(writer.Function, true, finding{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: "A synchronous CloudFormation custom resource: a failure fails the deployment; there is no asynchronous event to keep.",
	})

	domain := apigw.NewDomainName(scope, jsii.String("Domain"), &apigw.DomainNameProps{
		DomainName:     jsii.String(cfg.HostName("api")),
		Certificate:    props.Names.Certificate(scope, "ApiCertificate", cfg.HostName("api"), cfg.APICertificateArn),
		EndpointType:   apigw.EndpointType_REGIONAL,
		SecurityPolicy: apigw.SecurityPolicy_TLS_1_2, // mutual TLS cannot use the TLS 1.3 policies
		Mtls:           &apigw.MTLSConfig{Bucket: bucket, Key: jsii.String(key), Version: object.GetAttString(jsii.String("VersionId"))},
		Mapping:        api,
	})
	if zone := props.Names.Zone; zone != nil {
		awsroute53.NewARecord(scope, jsii.String("ApiAlias"), &awsroute53.ARecordProps{
			Zone: zone, RecordName: jsii.String(cfg.HostName("api")),
			Target: awsroute53.RecordTarget_FromAlias(awsroute53targets.NewApiGatewayDomain(domain)),
		})
	}
	awscdk.NewCfnOutput(awscdk.Stack_Of(scope), jsii.String("ApiDomainTarget"), &awscdk.CfnOutputProps{
		Value:       domain.DomainNameAliasDomainName(),
		Description: jsii.String("The regional name " + cfg.HostName("api") + " must point at (the stack creates the alias record when a hosted zone is configured)"),
	})
	return bucket, domain
}

// suppressAPIFindings holds the accepted cdk-nag findings of the API.
func suppressAPIFindings(a *PaymentsAPI) {
	stage := a.RestAPI.DeploymentStage()
	suppress(stage, true, slices.Concat(
		because("Payment responses must never be cached: a cached GET would serve a stale payment status, and POSTs are not cacheable.",
			"NIST.800.53.R5-APIGWCacheEnabledAndEncrypted", "PCI.DSS.321-APIGWCacheEnabledAndEncrypted"),
		because("The integration is private: API Gateway reaches the internal ALB only through its VPC link, whose security group is the only one the ALB admits, "+
			"over HTTPS to the ALB's ACM certificate, which API Gateway verifies. A backend client certificate would authenticate a path nothing else can use.",
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
		because("The truststore is rebuilt from the repository's configuration by every deployment; a replica would hold nothing that cannot be recreated.",
			"NIST.800.53.R5-S3BucketReplicationEnabled", "PCI.DSS.321-S3BucketReplicationEnabled"),
		because("The truststore holds only public CA certificates; SSE-S3 keeps API Gateway's read of it independent of key policies (see the README on truststore encryption).",
			"NIST.800.53.R5-S3DefaultEncryptionKMS", "PCI.DSS.321-S3DefaultEncryptionKMS"),
	)...)
}
