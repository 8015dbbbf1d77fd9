package infra_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/openapi"
)

// The execute-api endpoint is disabled and nothing advertises it: the
// mutual-TLS custom domain is the only way in.
func TestApiHasNoPathAroundMutualTLS(t *testing.T) {
	api := one(t, appResources("AWS::ApiGateway::RestApi"), "REST APIs").Properties
	if api["DisableExecuteApiEndpoint"] != true || jsonOf(api["EndpointConfiguration"]) != `{"Types":["REGIONAL"]}` {
		t.Errorf("rest API %v", api)
	}
	for _, tmpl := range templates {
		for name, output := range asMap(tmpl["Outputs"]) {
			if strings.Contains(jsonOf(asMap(output)["Value"]), "execute-api") {
				t.Errorf("output %s advertises the execute-api endpoint", name)
			}
		}
	}
	domain := one(t, appResources("AWS::ApiGateway::DomainName"), "custom domains").Properties
	if domain["DomainName"] != "api.pr123.payments.example.com" || domain["SecurityPolicy"] != "TLS_1_2" ||
		jsonOf(domain["EndpointConfiguration"]) != `{"Types":["REGIONAL"]}` || domain["RegionalCertificateArn"] == nil {
		t.Errorf("domain %v", domain)
	}
	mtls := jsonOf(domain["MutualTlsAuthentication"])
	if !strings.Contains(mtls, `"/truststore.pem"`) || !strings.Contains(mtls, `"TruststoreVersion":{"Fn::GetAtt":["GatewayTruststoreObject`) {
		t.Errorf("mutual TLS %s", mtls)
	}
	one(t, appResources("AWS::ApiGateway::BasePathMapping"), "base path mappings")
	outputs := asMap(templates[*stacks.App.StackName()]["Outputs"])
	if got := jsonOf(asMap(outputs["ApiEndpoint"])["Value"]); got != `"https://api.pr123.payments.example.com/"` {
		t.Errorf("ApiEndpoint %s", got)
	}

	// The truststore: written by the stack into a versioned, private,
	// TLS-only bucket; certificates only (the placeholder by default).
	object := one(t, appResources("Custom::MtlsTruststore"), "truststore objects").Properties
	if pem, _ := object["Pem"].(string); !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE-----") || strings.Contains(pem, "PRIVATE KEY") {
		t.Errorf("truststore content %.60q", pem)
	}
	for _, b := range appResources("AWS::S3::Bucket") {
		if b.Properties["BucketName"] == "payments-mtls-pr123-123456789012-ap-southeast-1" {
			if jsonOf(b.Properties["VersioningConfiguration"]) != `{"Status":"Enabled"}` ||
				!strings.Contains(jsonOf(b.Properties["PublicAccessBlockConfiguration"]), `"RestrictPublicBuckets":true`) ||
				jsonOf(b.Properties["LoggingConfiguration"]) != `{"DestinationBucketName":"payments-logs-pr123-123456789012-ap-southeast-1","LogFilePrefix":"s3/mtls/"}` {
				t.Errorf("truststore bucket %v", b.Properties)
			}
			// The log bucket (data stack) admits exactly this bucket's logs.
			var policy string
			for _, p := range dataResources("AWS::S3::BucketPolicy") {
				if strings.HasPrefix(refOf(p.Properties["Bucket"]), "StorageLogBucket") {
					policy = jsonOf(p.Properties)
				}
			}
			if !strings.Contains(policy, `"Resource":"arn:aws:s3:::payments-logs-pr123-123456789012-ap-southeast-1/s3/mtls/*"`) ||
				!strings.Contains(policy, `"aws:SourceArn":"arn:aws:s3:::payments-mtls-pr123-123456789012-ap-southeast-1"`) {
				t.Errorf("the log bucket does not admit the truststore bucket's access logs: %s", policy)
			}
			return
		}
	}
	t.Error("no truststore bucket")
}

// Every method requires an API key and is a private integration through
// the VPC link to the ALB. The payment methods run the client-certificate
// authorizer and forward the caller's credentials as gateway's headers,
// which API Gateway sets (a client's own are replaced); the OpenAPI
// document's method needs no merchant. The payment body is validated
// against the contract's schema and the Idempotency-Key header is required
// before the request leaves API Gateway.
func TestApiMethods(t *testing.T) {
	methods := map[string]map[string]any{}
	for _, m := range appResources("AWS::ApiGateway::Method") {
		uri := asMap(m.Properties["Integration"])["Uri"].(string)
		methods[m.Properties["HttpMethod"].(string)+" "+strings.TrimPrefix(uri, "https://alb.pr123.payments.example.com")] = m.Properties
	}
	// Every operation of the contract is routed, and nothing else (the
	// load balancer's health check is not the API's).
	contract, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for path, item := range contract.Paths.Map() {
		for method := range item.Operations() {
			if path != "/healthz" {
				want = append(want, method+" "+path)
			}
		}
	}
	if got := slices.Sorted(maps.Keys(methods)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("methods %v, want the contract's %v", got, want)
	}
	authorizer := one(t, appResources("AWS::ApiGateway::Authorizer"), "authorizers")
	if p := authorizer.Properties; p["Type"] != "REQUEST" || p["AuthorizerResultTtlInSeconds"] != float64(0) {
		t.Errorf("authorizer %s: want REQUEST, never cached (the certificate is no identity source)", jsonOf(p))
	}
	for name, p := range methods {
		if p["ApiKeyRequired"] != true || p["RequestValidatorId"] == nil {
			t.Errorf("%s: API key required %v, validator %v", name, p["ApiKeyRequired"], p["RequestValidatorId"])
		}
		integration := jsonOf(p["Integration"])
		for _, want := range []string{`"Type":"HTTP_PROXY"`, `"ConnectionType":"VPC_LINK"`, `"ConnectionId":{"Ref":"EdgeVpcLink`,
			`"IntegrationTarget":{"Ref":"EdgeLoadBalancer`, `"integration.request.header.X-Request-Id":"context.requestId"`} {
			if !strings.Contains(integration, want) {
				t.Errorf("%s integration lacks %s: %s", name, want, integration)
			}
		}
		identity := map[string]string{
			gateway.HeaderAPIKeyID:          "context.identity.apiKeyId",
			gateway.HeaderClientCertSubject: "context.authorizer." + gateway.ContextClientCertSubject,
			gateway.HeaderClientCertIssuer:  "context.authorizer." + gateway.ContextClientCertIssuer,
		}
		parameters := asMap(asMap(p["Integration"])["RequestParameters"])
		forMerchant := name != "GET "+openapi.Path
		for header, source := range identity {
			if got := parameters["integration.request.header."+header]; forMerchant && got != source || !forMerchant && got != nil {
				t.Errorf("%s maps %s from %v", name, header, got)
			}
		}
		if forMerchant != (p["AuthorizationType"] == "CUSTOM" && refOf(p["AuthorizerId"]) == authorizer.logicalID) {
			t.Errorf("%s: authorization %v %v", name, p["AuthorizationType"], p["AuthorizerId"])
		}
	}
	if post := methods["POST /v1/payments"]; !strings.Contains(jsonOf(post["RequestParameters"]), `"method.request.header.Idempotency-Key":true`) || post["RequestModels"] == nil {
		t.Errorf("POST: parameters %s models %s", jsonOf(post["RequestParameters"]), jsonOf(post["RequestModels"]))
	}
	validator := one(t, appResources("AWS::ApiGateway::RequestValidator"), "validators").Properties
	if validator["ValidateRequestBody"] != true || validator["ValidateRequestParameters"] != true {
		t.Errorf("validator %v", validator)
	}
}

// API Gateway validates the body with the contract's own schema
// (openapi.json, as JSON Schema draft 4): the same fields, bounds, patterns
// and currencies as the service.
func TestModelIsTheContractsSchema(t *testing.T) {
	want, err := openapi.DraftFourSchema("NewPayment")
	if err != nil {
		t.Fatal(err)
	}
	model := one(t, appResources("AWS::ApiGateway::Model"), "models").Properties
	if got := jsonOf(model["Schema"]); got != jsonOf(want) {
		t.Errorf("model schema\n%s\nwant the contract's\n%s", got, jsonOf(want))
	}
}

// Every refusal of API Gateway's own is a problem: each documented response
// type has a gateway response whose status is the one its body states,
// whose body (once API Gateway substitutes its variables) is a Problem of
// the contract, served as application/problem+json.
func TestGatewayResponsesAreProblems(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		t.Fatal(err)
	}
	problem := doc.Components.Schemas["Problem"].Value
	types := map[string]bool{}
	for _, r := range appResources("AWS::ApiGateway::GatewayResponse") {
		p := r.Properties
		types[p["ResponseType"].(string)] = true
		body := asMap(p["ResponseTemplates"])["application/json"].(string)
		body = strings.NewReplacer("$context.error.messageString", `"Invalid request body"`, "$context.requestId", "c0ffee").Replace(body)
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%v: the body is not JSON: %s", p["ResponseType"], body)
			continue
		}
		if err := problem.VisitJSON(v); err != nil || fmt.Sprint(v["status"]) != p["StatusCode"] {
			t.Errorf("%v: status %v, body %s: %v", p["ResponseType"], p["StatusCode"], body, err)
		}
		if headers := asMap(p["ResponseParameters"]); headers["gatewayresponse.header.Content-Type"] != "'application/problem+json'" {
			t.Errorf("%v: headers %v", p["ResponseType"], headers)
		}
	}
	for _, want := range []string{"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN",
		"THROTTLED", "QUOTA_EXCEEDED", "REQUEST_TOO_LARGE", "INTEGRATION_TIMEOUT", "ACCESS_DENIED", "AUTHORIZER_FAILURE", "WAF_FILTERED"} {
		if !types[want] {
			t.Errorf("no gateway response for %s", want)
		}
	}
}

// Stage and usage plan throttle at 1000 req/s; access logs are JSON with the
// API key and client certificate; execution logs never carry bodies. Keys
// are the merchants', added at run time: the stack has none.
func TestApiThrottlingAndLogging(t *testing.T) {
	stage := one(t, appResources("AWS::ApiGateway::Stage"), "stages").Properties
	settings := jsonOf(stage["MethodSettings"])
	for _, want := range []string{`"ThrottlingRateLimit":1000`, `"ThrottlingBurstLimit":2000`, `"DataTraceEnabled":false`, `"LoggingLevel":"ERROR"`} {
		if !strings.Contains(settings, want) {
			t.Errorf("stage settings lack %s: %s", want, settings)
		}
	}
	if stage["TracingEnabled"] != true {
		t.Error("X-Ray tracing off")
	}
	format := jsonOf(stage["AccessLogSetting"])
	for _, want := range []string{"requestId", "identity.apiKeyId", "clientCert.serialNumber", "clientCert.subjectDN", "$context.status", "responseLatency"} {
		if !strings.Contains(format, want) {
			t.Errorf("access log format lacks %s", want)
		}
	}
	plan := one(t, appResources("AWS::ApiGateway::UsagePlan"), "usage plans").Properties
	if jsonOf(plan["Throttle"]) != `{"BurstLimit":2000,"RateLimit":1000}` || jsonOf(plan["Quota"]) != `{"Limit":50000000,"Period":"MONTH"}` {
		t.Errorf("usage plan throttle %s quota %s", jsonOf(plan["Throttle"]), jsonOf(plan["Quota"]))
	}
	if keys := appResources("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"); len(keys) != 0 {
		t.Errorf("%d API keys in the stack: every key is a merchant's", len(keys))
	}
}

// The merchant-key manager: Secrets Manager may invoke it for this
// environment's merchant secrets only; it may create only secrets and keys
// tagged as this environment's, write the registry as the registrar role,
// and it cleans up before the usage plan goes.
func TestMerchantKeys(t *testing.T) {
	var fn resource
	for _, f := range appResources("AWS::Lambda::Function") {
		if f.Properties["FunctionName"] == "payments-merchant-keys-pr123" {
			fn = f
		}
	}
	if fn.Properties == nil {
		t.Fatal("no merchant-keys function")
	}
	env := jsonOf(fn.Properties["Environment"])
	for _, want := range []string{`"DATABASE_USER":"payments_registrar"`, `"ENVIRONMENT_SUFFIX":"pr123"`, `"PRODUCTION":"false"`, "USAGE_PLAN_ID", "SECRETS_KEY_ARN"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s: %s", want, env)
		}
	}
	permission := ""
	for _, p := range appResources("AWS::Lambda::Permission") {
		if p.Properties["Principal"] == "secretsmanager.amazonaws.com" {
			permission = jsonOf(p.Properties)
		}
	}
	if !strings.Contains(permission, `"SourceArn":"arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:payments/pr123/merchants/*"`) ||
		!strings.Contains(permission, `"SourceAccount":"123456789012"`) || !strings.Contains(permission, fn.logicalID) {
		t.Errorf("Secrets Manager's permission %s", permission)
	}
	policy := jsonOf(policyOf(t, appResources("AWS::IAM::ManagedPolicy"), "payments-merchant-keys-pr123-policy"))
	for _, want := range []string{
		`"Action":["secretsmanager:CreateSecret","secretsmanager:TagResource"],"Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Environment","Merchant"]},"StringEquals":{"aws:RequestTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:payments/pr123/merchants/*"`,
		`{"Action":"apigateway:POST","Condition":{"StringEquals":{"aws:RequestTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:apigateway:ap-southeast-1::/apikeys","Sid":"CreateThisEnvironmentsApiKeys"}`,
		`{"Action":"apigateway:PUT","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Environment","Merchant"]},"StringEquals":{"aws:RequestTag/Environment":"pr123"},"StringEqualsIfExists":{"aws:ResourceTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:apigateway:ap-southeast-1::/tags/*","Sid":"TagNewApiKeysAsThisEnvironments"}`,
		`{"Action":"apigateway:DELETE","Condition":{"StringEquals":{"aws:ResourceTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:apigateway:ap-southeast-1::/apikeys/*","Sid":"DeleteThisEnvironmentsApiKeys"}`,
		`"Condition":{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt"]},"StringEquals":{"kms:GrantConstraintType":"EncryptionContextSubset"},"StringLike":{"kms:EncryptionContext:SecretARN":"arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:payments/pr123/merchants/*"}}`,
		`{"Action":"lambda:InvokeFunction","Effect":"Allow","Resource":"arn:aws:lambda:ap-southeast-1:123456789012:function:payments-merchant-keys-pr123","Sid":"StartRotationsWithItself"}`,
		`/payments_registrar"]]}`,
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("merchant-keys policy lacks %s:\n%s", want, policy)
		}
	}
	cleanup := one(t, appResources("Custom::MerchantKeys"), "merchant-key cleanups")
	plan := one(t, appResources("AWS::ApiGateway::UsagePlan"), "usage plans")
	if refOf(cleanup.Properties["ServiceToken"]) != fn.logicalID || !slices.Contains(cleanup.DependsOn, plan.logicalID) {
		t.Errorf("cleanup %s depends on %v: want the function's, deleted before the usage plan %s", jsonOf(cleanup.Properties), cleanup.DependsOn, plan.logicalID)
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
