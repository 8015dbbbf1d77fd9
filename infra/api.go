package infra

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	apigw "github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/openapi"
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
	Config   environment.Config
	Network  *Network
	Keys     *Keys
	Edge     *Edge
	Names    *Names
	Database *Database
	// CardDataFindings receives what the data-protection policies of the
	// logs carrying client input find (NewCardDataFindings).
	CardDataFindings awslogs.ILogGroup
	SourceRoot       string
}

// PaymentsAPI is the REST API clients use: reachable only through its
// mutual-TLS custom domain, every method behind an API key, throttled, and
// forwarding to the internal ALB through the VPC link. Merchants' API keys
// belong to its usage plan; MerchantKeys onboards, rotates and offboards
// them.
type PaymentsAPI struct {
	constructs.Construct
	RestAPI      apigw.RestApi
	UsagePlan    apigw.UsagePlan
	MerchantKeys *GoFunction
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

// NewPaymentsAPI creates the API, its domain and truststore, its gateway
// responses, the usage plan and the merchant-key manager.
func NewPaymentsAPI(scope constructs.Construct, id string, props *PaymentsAPIProps) *PaymentsAPI {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	a := &PaymentsAPI{Construct: this}

	a.AccessLogs = newCardDataLogGroup(this, "AccessLogs", cfg, jsii.String(cfg.LogGroupName("apigateway-access")), props.Keys.Logs, props.CardDataFindings)
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

	authorizer := NewClientCertificateAuthorizer(this, "ClientCertificate", cfg, props.Network, props.Keys, props.SourceRoot)
	documentMethod := addRoutes(this, cfg, a.RestAPI, props.Edge, authorizer)
	addProblemResponses(a.RestAPI)
	a.UsagePlan = newUsagePlan(cfg, a.RestAPI)
	a.MerchantKeys = NewMerchantKeys(this, "MerchantKeys", &MerchantKeysProps{
		Config: cfg, Network: props.Network, Keys: props.Keys, Database: props.Database, UsagePlan: a.UsagePlan, SourceRoot: props.SourceRoot,
	})
	a.Truststore = mtlsDomain(this, cfg, props, a.RestAPI)
	keepVpcLinkActive(this, cfg, a.RestAPI, documentMethod)

	awscdk.NewCfnOutput(scope, jsii.String("ApiEndpoint"), &awscdk.CfnOutputProps{
		Value:       jsii.String("https://" + cfg.HostName("api") + "/"),
		Description: jsii.String("The payments API (mutual TLS and an API key required); the execute-api endpoint is disabled"),
	})
	suppressAPIFindings(a)
	return a
}

// addRoutes mirrors the service's routes as private HTTPS proxy
// integrations to the ALB through the VPC link. Every method needs an API
// key; the payment methods also run the client-certificate authorizer and
// pass the caller's credentials on as gateway's headers (a mapped header
// replaces one a client sent under that name, so the service can trust
// them), and the create method validates its body against the contract's
// schema before it leaves API Gateway. It returns the method that serves
// the OpenAPI document.
func addRoutes(scope constructs.Construct, cfg environment.Config, api apigw.RestApi, edge *Edge, authorizer apigw.IAuthorizer) apigw.Method {
	document, err := openapi.DraftFourSchema("NewPayment")
	schema := &apigw.JsonSchema{}
	if err == nil {
		schema, err = jsonSchemaOf(document)
	}
	if err != nil {
		// An error annotation fails the synth, naming this construct.
		awscdk.Annotations_Of(scope).AddError(jsii.String("the contract's NewPayment schema cannot be API Gateway's model: " + err.Error()))
	}
	model := api.AddModel(jsii.String("NewPayment"), &apigw.ModelOptions{
		ContentType: jsii.String("application/json"),
		ModelName:   jsii.String("NewPayment"),
		Description: jsii.String("components/schemas/NewPayment of openapi/openapi.json"),
		Schema:      schema,
	})
	validator := api.AddRequestValidator(jsii.String("Validator"), &apigw.RequestValidatorOptions{
		RequestValidatorName: jsii.String(cfg.Name("validator")), ValidateRequestBody: jsii.Bool(true), ValidateRequestParameters: jsii.Bool(true),
	})
	identity := map[string]*string{
		"integration.request.header." + gateway.HeaderAPIKeyID:          jsii.String("context.identity.apiKeyId"),
		"integration.request.header." + gateway.HeaderClientCertSubject: jsii.String("context.authorizer." + gateway.ContextClientCertSubject),
		"integration.request.header." + gateway.HeaderClientCertIssuer:  jsii.String("context.authorizer." + gateway.ContextClientCertIssuer),
	}

	// proxy is a private HTTPS proxy method to the same path on the ALB,
	// behind an API key and the validator; parameters are mapped through.
	proxy := func(resource apigw.IResource, method, path string, parameters map[string]*string, options *apigw.MethodOptions) apigw.Method {
		options.ApiKeyRequired = jsii.Bool(true)
		options.RequestValidator = validator
		parameters["integration.request.header."+gateway.HeaderRequestID] = jsii.String("context.requestId")
		m := resource.AddMethod(jsii.String(method), apigw.NewHttpIntegration(jsii.String("https://"+edge.Host+path), &apigw.HttpIntegrationProps{
			HttpMethod: jsii.String(method), Proxy: jsii.Bool(true),
			Options: &apigw.IntegrationOptions{RequestParameters: &parameters, Timeout: awscdk.Duration_Seconds(jsii.Number(29))},
		}), options)
		privateIntegration(m, edge)
		return m
	}
	withIdentity := func(extra map[string]*string) map[string]*string {
		p := maps.Clone(identity)
		maps.Copy(p, extra)
		return p
	}
	version := api.Root().AddResource(jsii.String(strings.TrimPrefix(apiBasePath, "/")), nil)
	paymentsResource := version.AddResource(jsii.String("payments"), nil)
	proxy(paymentsResource, "POST", apiBasePath+"/payments",
		withIdentity(map[string]*string{"integration.request.header.Idempotency-Key": jsii.String("method.request.header.Idempotency-Key")}),
		&apigw.MethodOptions{
			Authorizer:        authorizer,
			RequestModels:     &map[string]apigw.IModel{"application/json": model},
			RequestParameters: &map[string]*bool{"method.request.header.Idempotency-Key": jsii.Bool(true)},
		})
	proxy(paymentsResource, "GET", apiBasePath+"/payments",
		withIdentity(map[string]*string{
			"integration.request.querystring.limit":  jsii.String("method.request.querystring.limit"),
			"integration.request.querystring.cursor": jsii.String("method.request.querystring.cursor"),
		}),
		&apigw.MethodOptions{
			Authorizer: authorizer,
			RequestParameters: &map[string]*bool{
				"method.request.querystring.limit": jsii.Bool(false), "method.request.querystring.cursor": jsii.Bool(false),
			},
		})
	payment := paymentsResource.AddResource(jsii.String("{id}"), nil)
	for _, route := range []struct {
		resource apigw.IResource
		path     string
	}{{payment, "/payments/{id}"}, {payment.AddResource(jsii.String("events"), nil), "/payments/{id}/events"}} {
		proxy(route.resource, "GET", apiBasePath+route.path,
			withIdentity(map[string]*string{"integration.request.path.id": jsii.String("method.request.path.id")}),
			&apigw.MethodOptions{Authorizer: authorizer, RequestParameters: &map[string]*bool{"method.request.path.id": jsii.Bool(true)}})
	}
	// The contract names no merchant: an API key (and mutual TLS) suffice.
	return proxy(version.AddResource(jsii.String(path.Base(openapi.Path)), nil), "GET", openapi.Path, map[string]*string{}, &apigw.MethodOptions{})
}

// jsonSchemaOf is a draft-4 schema document (openapi.DraftFourSchema) as
// aws-cdk-lib's JsonSchema, keyword by keyword; a keyword or type it does
// not carry over is an error (TestModelIsTheContractsSchema compares the
// result with the document).
func jsonSchemaOf(m map[string]any) (*apigw.JsonSchema, error) {
	s := &apigw.JsonSchema{}
	var errs []error
	str := func(v any) *string { return jsii.String(v.(string)) }
	num := func(v any) *float64 { return jsii.Number(v.(float64)) }
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		switch key {
		case "$schema":
			s.Schema = apigw.JsonSchemaVersion_DRAFT4
		case "title":
			s.Title = str(v)
		case "description":
			s.Description = str(v)
		case "type":
			t, ok := map[string]apigw.JsonSchemaType{
				"object": apigw.JsonSchemaType_OBJECT, "array": apigw.JsonSchemaType_ARRAY, "string": apigw.JsonSchemaType_STRING,
				"integer": apigw.JsonSchemaType_INTEGER, "number": apigw.JsonSchemaType_NUMBER, "boolean": apigw.JsonSchemaType_BOOLEAN,
			}[v.(string)]
			if !ok {
				errs = append(errs, fmt.Errorf("type %v is not one of JSON Schema's", v))
			}
			s.Type = t
		case "format":
			s.Format = str(v)
		case "pattern":
			s.Pattern = str(v)
		case "minimum":
			s.Minimum = num(v)
		case "maximum":
			s.Maximum = num(v)
		case "minLength":
			s.MinLength = num(v)
		case "maxLength":
			s.MaxLength = num(v)
		case "additionalProperties":
			s.AdditionalProperties = jsii.Bool(v.(bool))
		case "enum":
			values := slices.Clone(v.([]any))
			s.Enum = &values
		case "required":
			var names []*string
			for _, n := range v.([]any) {
				names = append(names, str(n))
			}
			s.Required = &names
		case "properties":
			properties := map[string]*apigw.JsonSchema{}
			for name, property := range v.(map[string]any) {
				schema, err := jsonSchemaOf(property.(map[string]any))
				properties[name] = schema
				errs = append(errs, err)
			}
			s.Properties = &properties
		default:
			errs = append(errs, fmt.Errorf("keyword %q is not carried into API Gateway's model", key))
		}
	}
	return s, errors.Join(errs...)
}

// gatewayProblems are API Gateway's own refusals, each answered as an RFC
// 9457 problem like the service's, with a stable code: what clients meet
// first (an unknown path, a missing or throttled key, an invalid body, a
// timeout) speaks the same language as everything behind it. Every type
// API Gateway documents for REST APIs is listed; the two defaults catch
// types it may add later.
var gatewayProblems = []struct {
	responseType apigw.ResponseType
	status       int
	code         string
}{
	{apigw.ResponseType_ACCESS_DENIED(), 403, "access_denied"},
	{apigw.ResponseType_API_CONFIGURATION_ERROR(), 500, "gateway_configuration_error"},
	{apigw.ResponseType_AUTHORIZER_CONFIGURATION_ERROR(), 500, "authorizer_unavailable"},
	{apigw.ResponseType_AUTHORIZER_FAILURE(), 500, "authorizer_unavailable"},
	{apigw.ResponseType_BAD_REQUEST_PARAMETERS(), 400, "request_parameters_invalid"},
	{apigw.ResponseType_BAD_REQUEST_BODY(), 400, "request_body_invalid"},
	{apigw.ResponseType_EXPIRED_TOKEN(), 403, "expired_token"},
	{apigw.ResponseType_INTEGRATION_FAILURE(), 504, "integration_failure"},
	{apigw.ResponseType_INTEGRATION_TIMEOUT(), 504, "integration_timeout"},
	{apigw.ResponseType_INVALID_API_KEY(), 403, "invalid_api_key"},
	{apigw.ResponseType_INVALID_SIGNATURE(), 403, "invalid_signature"},
	// What a REST API answers for a path or method it does not route.
	{apigw.ResponseType_MISSING_AUTHENTICATION_TOKEN(), 404, "not_found"},
	{apigw.ResponseType_QUOTA_EXCEEDED(), 429, "quota_exceeded"},
	{apigw.ResponseType_REQUEST_TOO_LARGE(), 413, "body_too_large"},
	{apigw.ResponseType_RESOURCE_NOT_FOUND(), 404, "not_found"},
	{apigw.ResponseType_THROTTLED(), 429, "throttled"},
	{apigw.ResponseType_UNAUTHORIZED(), 401, "unauthorized"},
	{apigw.ResponseType_UNSUPPORTED_MEDIA_TYPE(), 415, "unsupported_media_type"},
	{apigw.ResponseType_WAF_FILTERED(), 403, "request-blocked"},
	{apigw.ResponseType_DEFAULT_4XX(), 400, "request_refused"},
	{apigw.ResponseType_DEFAULT_5XX(), 500, "gateway_error"},
}

// gatewayProblemTemplate is a gateway response body: API Gateway substitutes
// the variables without running VTL; $context.error.messageString is the
// message already quoted as a JSON string.
func gatewayProblemTemplate(status int, code string) string {
	return fmt.Sprintf(`{"type":"/problems/%s","title":"%s","status":%d,"detail":$context.error.messageString,"code":"%s","requestId":"$context.requestId"}`,
		code, http.StatusText(status), status, code)
}

// addProblemResponses sets API Gateway's refusals to gatewayProblems; a
// throttled client is told when to retry.
func addProblemResponses(api apigw.RestApi) {
	for _, p := range gatewayProblems {
		headers := map[string]*string{"Content-Type": jsii.String("'application/problem+json'"), "Cache-Control": jsii.String("'no-store'")}
		if *p.responseType.ResponseType() == *apigw.ResponseType_THROTTLED().ResponseType() {
			headers["Retry-After"] = jsii.String("'1'")
		}
		api.AddGatewayResponse(jsii.String(*p.responseType.ResponseType()), &apigw.GatewayResponseOptions{
			Type:            p.responseType,
			StatusCode:      jsii.String(strconv.Itoa(p.status)),
			ResponseHeaders: &headers,
			Templates:       &map[string]*string{"application/json": jsii.String(gatewayProblemTemplate(p.status, p.code))},
		})
	}
}

// keepVpcLinkActive sends one request a day through the VPC link. "If no
// traffic is sent over the VPC link for 60 days, it becomes INACTIVE ... This
// causes API requests that depend on the VPC link to fail" until API Gateway
// has provisioned its network interfaces again, which "can take a few
// minutes" (developer guide, VPC links V2): an idle PR environment, or a
// quiet production one, would fail its next requests. EventBridge Scheduler
// calls API Gateway's TestInvokeMethod on GET /v1/openapi.json, which runs
// the real integration through the link without the custom domain, a
// client certificate or an API key, and without an authorizer whose context
// a test invocation would lack; the service answers with its contract.
func keepVpcLinkActive(scope constructs.Construct, cfg environment.Config, api apigw.RestApi, method apigw.Method) {
	methodArn := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:aws:apigateway:" + cfg.Region + "::/restapis/"), api.RestApiId(),
		jsii.String("/resources/"), method.Resource().ResourceId(), jsii.String("/methods/" + *method.HttpMethod()),
	})
	testInvoke := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("TestInvokeTheDocumentMethod"), Actions: jsii.Strings("apigateway:POST"), Resources: &[]*string{methodArn},
	})
	role := NewServiceRole(scope, "KeepAliveRole", &ServiceRoleProps{
		Name: cfg.Name("vpclink-keepalive"), Service: "scheduler.amazonaws.com", Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{testInvoke},
	})
	schedule := awsscheduler.NewSchedule(scope, jsii.String("KeepAlive"), &awsscheduler.ScheduleProps{
		ScheduleName: jsii.String(cfg.Name("vpclink-keepalive")),
		Description:  jsii.String("Keeps the API's VPC link active: one test invocation of GET " + openapi.Path + " a day"),
		Schedule:     awsscheduler.ScheduleExpression_Rate(awscdk.Duration_Days(jsii.Number(1))),
		Target: awsschedulertargets.NewUniversal(&awsschedulertargets.UniversalTargetProps{
			Service: jsii.String("apigateway"), Action: jsii.String("testInvokeMethod"), Role: role.Role,
			// The role's policy already grants exactly this; stated so the
			// target does not ask for a wildcard one.
			PolicyStatements: &[]awsiam.PolicyStatement{testInvoke},
			RetryAttempts:    jsii.Number(2),
			Input: awsscheduler.ScheduleTargetInput_FromObject(map[string]any{
				"RestApiId": api.RestApiId(), "ResourceId": method.Resource().ResourceId(), "HttpMethod": method.HttpMethod(),
				"PathWithQueryString": openapi.Path,
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

// newUsagePlan creates the usage plan every merchant's API keys belong to:
// 1000 req/s and a monthly quota.
func newUsagePlan(cfg environment.Config, api apigw.RestApi) apigw.UsagePlan {
	return api.AddUsagePlan(jsii.String("UsagePlan"), &apigw.UsagePlanProps{
		Name:      jsii.String(cfg.Name("usage")),
		Throttle:  &apigw.ThrottleSettings{RateLimit: jsii.Number(apiRateLimit), BurstLimit: jsii.Number(cfg.APIBurstLimit)},
		Quota:     &apigw.QuotaSettings{Limit: jsii.Number(apiMonthlyQuota), Period: apigw.Period_MONTH},
		ApiStages: &[]*apigw.UsagePlanPerApiStage{{Api: api, Stage: api.DeploymentStage()}},
	})
}

// mtlsDomain creates the truststore bucket and object, the regional custom
// domain with mutual TLS, the base path mapping and the DNS alias.
func mtlsDomain(scope constructs.Construct, cfg environment.Config, props *PaymentsAPIProps, api apigw.RestApi) awss3.Bucket {
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
			// GetObject: HeadObject, the current version of an unchanged bundle.
			Sid: jsii.String("WriteTheTruststore"), Actions: jsii.Strings("s3:PutObject", "s3:GetObject"),
			Resources: jsii.Strings("arn:aws:s3:::" + bucketName + "/" + key),
		})},
	})
	// S3 through the gateway endpoint, also for the pre-signed
	// CloudFormation response URL.
	props.Network.AllowHTTPSToS3(writer.SecurityGroup)
	object := writer.CustomResource(scope, "TruststoreObject", "Custom::MtlsTruststore",
		map[string]any{"Bucket": bucketName, "Key": key, "Pem": cfg.TruststorePEM})
	object.Node().AddDependency(bucket)
	suppress(writer.Function, true, finding{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: customResourceDLQReason,
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
	return bucket
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
		because("The truststore holds only public CA certificates; SSE-S3 keeps API Gateway's read of it independent of key policies (docs/FRONT-DOOR.md, truststore encryption).",
			"NIST.800.53.R5-S3DefaultEncryptionKMS", "PCI.DSS.321-S3DefaultEncryptionKMS"),
	)...)
}
