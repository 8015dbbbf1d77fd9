package infra_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// WAF: on the ALB, our SQLi/XSS rule group over query string, URI and
// headers (URL and HTML-entity decoding) and the JSON body
// (JavaScript-escape decoding), answering with a problem body and declaring
// exactly the capacity it uses, then three managed groups; on the API
// stage, a rate limit keyed on the client's own address (not a header it
// controls) answering 429, and the IP reputation list. Both log, with
// credentials redacted, and stay within the WCU their price includes.
func TestWebAcls(t *testing.T) {
	group := one(t, appResources("AWS::WAFv2::RuleGroup"), "rule groups").Properties
	var names []string
	for _, r := range group["Rules"].([]any) {
		rule := r.(map[string]any)
		name := rule["Name"].(string)
		names = append(names, name)
		transforms := `[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]`
		if strings.HasSuffix(name, "Body") {
			transforms = `[{"Priority":0,"Type":"JS_DECODE"}]`
		}
		if !strings.Contains(jsonOf(rule), `"TextTransformations":`+transforms) {
			t.Errorf("%s: transformations are not %s: %s", name, transforms, jsonOf(rule))
		}
		if jsonOf(rule["Action"]) != `{"Block":{"CustomResponse":{"CustomResponseBodyKey":"request-blocked","ResponseCode":403}}}` {
			t.Errorf("%s does not block with the request-blocked problem: %s", name, jsonOf(rule["Action"]))
		}
	}
	slices.Sort(names)
	want := []string{"SqliBody", "SqliHeaders", "SqliQueryString", "SqliUriPath", "XssBody", "XssHeaders", "XssQueryString", "XssUriPath"}
	if !slices.Equal(names, want) {
		t.Errorf("rules %v, want %v", names, want)
	}
	// 3 fields x (SQLi 20 + XSS 40 + 2 x 2 transformations x 10) + the body (20 + 40 + 2 x 10).
	if got := group["Capacity"]; got != float64(3*100+80) {
		t.Errorf("rule group capacity %v, want 380", got)
	}
	if !strings.Contains(jsonOf(group["CustomResponseBodies"]), `"code\":\"request-blocked\"`) {
		t.Errorf("rule group lacks the request-blocked body: %s", jsonOf(group["CustomResponseBodies"]))
	}

	acls := map[string]map[string]any{}
	for _, r := range appResources("AWS::WAFv2::WebACL") {
		acls[r.Properties["Name"].(string)] = r.Properties
	}
	priorities := func(acl map[string]any) map[string]float64 {
		p := map[string]float64{}
		for _, r := range asList(acl["Rules"]) {
			rule := r.(map[string]any)
			p[rule["Name"].(string)] = rule["Priority"].(float64)
		}
		return p
	}
	alb, stage := acls["payments-edge-pr123"], acls["payments-api-edge-pr123"]
	if alb == nil || stage == nil || len(acls) != 2 {
		t.Fatalf("web ACLs %v, want payments-edge-pr123 (ALB) and payments-api-edge-pr123 (stage)", slices.Sorted(maps.Keys(acls)))
	}
	if got, want := priorities(alb), map[string]float64{
		"InjectionRules": 0, "AWSManagedRulesCommonRuleSet": 1, "AWSManagedRulesKnownBadInputsRuleSet": 2, "AWSManagedRulesSQLiRuleSet": 3,
	}; !maps.Equal(got, want) {
		t.Errorf("ALB web ACL rules %v, want %v", got, want)
	}
	if got, want := priorities(stage), map[string]float64{"RateLimitPerClient": 0, "AWSManagedRulesAmazonIpReputationList": 1}; !maps.Equal(got, want) {
		t.Errorf("stage web ACL rules %v, want %v", got, want)
	}
	for _, want := range []string{
		`"RateBasedStatement":{"AggregateKeyType":"IP","EvaluationWindowSec":300,"Limit":30000}`,
		`{"Block":{"CustomResponse":{"CustomResponseBodyKey":"rate-limited","ResponseCode":429}}}`,
	} {
		if !strings.Contains(jsonOf(stage), want) {
			t.Errorf("stage web ACL lacks %s", want)
		}
	}
	if strings.Contains(jsonOf(alb), "RateBasedStatement") || strings.Contains(jsonOf(acls), "FORWARDED_IP") {
		t.Error("a rate limit keyed on a forwarded header (which the client controls) or behind API Gateway (where every request comes from the VPC link)")
	}

	associations := map[string]string{}
	for _, a := range appResources("AWS::WAFv2::WebACLAssociation") {
		associations[refOf(a.Properties["WebACLArn"])] = jsonOf(a.Properties["ResourceArn"])
	}
	for id, target := range associations {
		switch {
		case strings.HasPrefix(id, "WafLoadBalancer") && strings.Contains(target, `"Ref":"EdgeLoadBalancer`):
		case strings.HasPrefix(id, "WafStage") && strings.Contains(target, "/restapis/") && strings.Contains(target, "/stages/"):
		default:
			t.Errorf("web ACL %s protects %s", id, target)
		}
	}
	if len(associations) != 2 {
		t.Errorf("%d web ACL associations, want the ALB's and the stage's", len(associations))
	}
	loggings := appResources("AWS::WAFv2::LoggingConfiguration")
	if len(loggings) != 2 {
		t.Fatalf("%d logging configurations, want one per web ACL", len(loggings))
	}
	for _, l := range loggings {
		logging := jsonOf(l.Properties)
		for _, want := range []string{`:log-group:aws-waf-logs-payments-edge-pr123"`, `{"SingleHeader":{"Name":"authorization"}}`, `{"SingleHeader":{"Name":"x-api-key"}}`} {
			if !strings.Contains(logging, want) {
				t.Errorf("%s lacks %s: %s", l, want, logging)
			}
		}
	}
}
