package infra_test

import (
	"strings"
	"testing"
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

// Every method requires an API key; the payment body is validated against
// a JSON schema and the Idempotency-Key header is required before the
// request leaves API Gateway; every integration is private, through the VPC
// link to the ALB, and passes API Gateway's own key id.
func TestApiMethods(t *testing.T) {
	methods := appResources("AWS::ApiGateway::Method")
	if len(methods) != 2 {
		t.Fatalf("%d methods, want POST /v1/payments and GET /v1/payments/{id}", len(methods))
	}
	for _, m := range methods {
		p := m.Properties
		if p["ApiKeyRequired"] != true {
			t.Errorf("%s %v: no API key required", m, p["HttpMethod"])
		}
		integration := jsonOf(p["Integration"])
		for _, want := range []string{`"Type":"HTTP_PROXY"`, `"Uri":"https://alb.pr123.payments.example.com/v1/payments`,
			`"ConnectionType":"VPC_LINK"`, `"ConnectionId":{"Ref":"EdgeVpcLink`, `"IntegrationTarget":{"Ref":"EdgeLoadBalancer`,
			`"integration.request.header.X-Api-Key-Id":"context.identity.apiKeyId"`} {
			if !strings.Contains(integration, want) {
				t.Errorf("%s %v integration lacks %s: %s", m, p["HttpMethod"], want, integration)
			}
		}
		if p["RequestValidatorId"] == nil {
			t.Errorf("%s %v: no request validator", m, p["HttpMethod"])
		}
		if p["HttpMethod"] == "POST" {
			if !strings.Contains(jsonOf(p["RequestParameters"]), `"method.request.header.Idempotency-Key":true`) || p["RequestModels"] == nil {
				t.Errorf("POST: parameters %s models %s", jsonOf(p["RequestParameters"]), jsonOf(p["RequestModels"]))
			}
		}
	}
	schema := jsonOf(one(t, appResources("AWS::ApiGateway::Model"), "models").Properties["Schema"])
	for _, want := range []string{`"additionalProperties":false`, `"required":["merchantId","amount","currency","paymentMethodToken","reference"]`,
		`"amount":{"maximum":1000000000000000,"minimum":1,"type":"integer"}`, `"currency":{"pattern":"^[A-Z]{3}$","type":"string"}`} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema lacks %s: %s", want, schema)
		}
	}
	validator := one(t, appResources("AWS::ApiGateway::RequestValidator"), "validators").Properties
	if validator["ValidateRequestBody"] != true || validator["ValidateRequestParameters"] != true {
		t.Errorf("validator %v", validator)
	}
}

// Stage and usage plan throttle at 1000 req/s; access logs are JSON with the
// API key and client certificate; execution logs never carry bodies.
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
	one(t, appResources("AWS::ApiGateway::UsagePlanKey"), "usage plan keys")
}

// The API key lives in Secrets Manager and is rotated every 30 days by the
// Go rotator, which knows the usage plan and the key-name prefix.
func TestApiKeyRotation(t *testing.T) {
	secretNames := map[string]bool{}
	for _, s := range appResources("AWS::SecretsManager::Secret") {
		secretNames[s.Properties["Name"].(string)] = true
	}
	if !secretNames["payments/pr123/api-key"] {
		t.Errorf("no API key secret among %v", secretNames)
	}
	schedule := one(t, appResources("AWS::SecretsManager::RotationSchedule"), "rotation schedules").Properties
	if jsonOf(schedule["RotationRules"]) != `{"ScheduleExpression":"rate(30 days)"}` || !strings.Contains(jsonOf(schedule["RotationLambdaARN"]), "GatewayApiKeyRotator") {
		t.Errorf("rotation %s", jsonOf(schedule))
	}
	// The rotator may create, tag and delete only this environment's keys.
	var policy string
	for _, p := range appResources("AWS::IAM::ManagedPolicy") {
		if p.Properties["ManagedPolicyName"] == "payments-apikey-rotator-pr123-policy" {
			policy = jsonOf(p.Properties["PolicyDocument"])
		}
	}
	for _, want := range []string{
		`{"Action":"apigateway:POST","Condition":{"StringEquals":{"aws:RequestTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:apigateway:ap-southeast-1::/apikeys","Sid":"CreateThisEnvironmentsApiKeys"}`,
		`{"Action":"apigateway:PUT","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Environment"]},"StringEquals":{"aws:RequestTag/Environment":"pr123"},"StringEqualsIfExists":{"aws:ResourceTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:apigateway:ap-southeast-1::/tags/*","Sid":"TagNewApiKeysAsThisEnvironments"}`,
		`{"Action":"apigateway:DELETE","Condition":{"StringEquals":{"aws:ResourceTag/Environment":"pr123"}},"Effect":"Allow","Resource":"arn:aws:apigateway:ap-southeast-1::/apikeys/*","Sid":"DeleteThisEnvironmentsApiKeys"}`,
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("rotator policy lacks %s: %s", want, policy)
		}
	}
	for _, f := range appResources("AWS::Lambda::Function") {
		if f.Properties["FunctionName"] == "payments-apikey-rotator-pr123" {
			env := jsonOf(f.Properties["Environment"])
			if !strings.Contains(env, `"API_KEY_NAME_PREFIX":"payments-key-pr123-"`) || !strings.Contains(env, "USAGE_PLAN_ID") {
				t.Errorf("rotator environment %s", env)
			}
			return
		}
	}
	t.Error("no rotator function")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
