package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	waf "github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// Two regional web ACLs guard the front door, each where its rules can see
// what they need:
//   - on the API stage (the edge: WAF sees the client's own address there),
//     a per-address rate limit and AWS's IP reputation list;
//   - on the ALB (every request, after API Gateway), our SQL injection and
//     XSS rule group and the AWS managed OWASP-oriented groups.
//
// Refusals are RFC 9457 problems like the service's own, so a client (and
// the integration tests) can tell who refused and why: the injection rules
// answer "request-blocked", the rate limit "rate-limited".
const (
	requestBlockedProblem = `{"type":"/problems/request-blocked","title":"Forbidden","status":403,"detail":"the request matched a web application firewall rule","code":"request-blocked"}`
	rateLimitedProblem    = `{"type":"/problems/rate-limited","title":"Too Many Requests","status":429,"detail":"too many requests from this client; retry after a few minutes","code":"rate-limited"}`
)

// WAF capacity units (WCU) of the statements. Above 1,500 WCU a web ACL
// costs an extra $0.20 per million requests per 500 WCU, which at 1,000
// req/s would be about $520 a month: each ACL stays within 1,500.
const (
	wcuSqli            = 20
	wcuXss             = 40
	wcuTransform       = 10
	wcuCommonRuleSet   = 700
	wcuKnownBad        = 200
	wcuSQLiRuleSet     = 200
	wcuIPReputation    = 25
	wcuRateBased       = 2
	webACLIncludedWCU  = 1500
	rateLimitPerClient = 30_000 // requests per client address per 5 minutes
)

// WebACLs are the two web ACLs and the log group both write to.
type WebACLs struct {
	constructs.Construct
	// LoadBalancer inspects what API Gateway forwards to the ALB.
	LoadBalancer waf.CfnWebACL
	// Stage inspects requests at the API stage, where the client's address
	// is the request's source.
	Stage waf.CfnWebACL
	// LogGroup holds both ACLs' logs (credentials redacted).
	LogGroup awslogs.LogGroup
}

// WebACLsProps configures NewWebACLs.
type WebACLsProps struct {
	Config environment.Config
	Keys   *Keys
	// CardDataFindings receives what the data-protection policies of the
	// logs carrying client input find (NewCardDataFindings).
	CardDataFindings awslogs.ILogGroup
	// LoadBalancerArn and StageArn are the resources the ACLs protect.
	LoadBalancerArn, StageArn *string
}

// NewWebACLs creates both ACLs, their associations and their logging.
func NewWebACLs(scope constructs.Construct, id string, props *WebACLsProps) *WebACLs {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	w := &WebACLs{Construct: this}
	w.LogGroup = newCardDataLogGroup(this, "LogGroup", cfg, jsii.String(cfg.WafLogGroupName()), props.Keys.Logs, props.CardDataFindings)

	injection, injectionWCU := injectionRuleGroup(this, cfg)
	w.LoadBalancer = newWebACL(this, "LoadBalancer", cfg.Name("edge"), injectionWCU+wcuCommonRuleSet+wcuKnownBad+wcuSQLiRuleSet, nil,
		// Our injection rules run before the managed groups that overlap them
		// (SQLi, the XSS rules of the common set), so that a blocked
		// injection gets our problem body rather than WAF's bare 403.
		&waf.CfnWebACL_RuleProperty{
			Name: jsii.String("InjectionRules"), Priority: jsii.Number(0),
			Statement: &waf.CfnWebACL_StatementProperty{RuleGroupReferenceStatement: &waf.CfnWebACL_RuleGroupReferenceStatementProperty{
				Arn: injection.AttrArn(),
			}},
			OverrideAction:   &waf.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			VisibilityConfig: visibility("InjectionRules"),
		},
		managedRuleGroup(1, "AWSManagedRulesCommonRuleSet"),
		managedRuleGroup(2, "AWSManagedRulesKnownBadInputsRuleSet"),
		managedRuleGroup(3, "AWSManagedRulesSQLiRuleSet"),
	)
	w.Stage = newWebACL(this, "Stage", cfg.Name("api-edge"), wcuRateBased+wcuIPReputation,
		map[string]string{"rate-limited": rateLimitedProblem},
		// Keyed on the address the request came from: at the stage that is
		// the client's own connection, which it cannot forge (a header such
		// as X-Forwarded-For it can).
		&waf.CfnWebACL_RuleProperty{
			Name: jsii.String("RateLimitPerClient"), Priority: jsii.Number(0),
			Statement: &waf.CfnWebACL_StatementProperty{RateBasedStatement: &waf.CfnWebACL_RateBasedStatementProperty{
				Limit: jsii.Number(rateLimitPerClient), AggregateKeyType: jsii.String("IP"), EvaluationWindowSec: jsii.Number(300),
			}},
			Action:           block(429, "rate-limited"),
			VisibilityConfig: visibility("RateLimitPerClient"),
		},
		// Addresses Amazon's threat intelligence has seen attacking: only
		// the stage sees a client's address.
		managedRuleGroup(1, "AWSManagedRulesAmazonIpReputationList"),
	)

	for _, acl := range []struct {
		id       string
		acl      waf.CfnWebACL
		resource *string
	}{{"LoadBalancer", w.LoadBalancer, props.LoadBalancerArn}, {"Stage", w.Stage, props.StageArn}} {
		waf.NewCfnWebACLAssociation(this, jsii.String(acl.id+"Association"), &waf.CfnWebACLAssociationProps{
			ResourceArn: acl.resource, WebAclArn: acl.acl.AttrArn(),
		})
		logging := waf.NewCfnLoggingConfiguration(this, jsii.String(acl.id+"Logging"), &waf.CfnLoggingConfigurationProps{
			ResourceArn: acl.acl.AttrArn(),
			// WAF wants the group's ARN without the ":*" of LogGroupArn.
			LogDestinationConfigs: &[]any{fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", cfg.Region, cfg.Account, cfg.WafLogGroupName())},
			// Credentials never reach the logs.
			RedactedFields: &[]any{redactHeader("authorization"), redactHeader("x-api-key")},
		})
		logging.Node().AddDependency(w.LogGroup)
	}
	return w
}

// newWebACL creates a regional web ACL that allows what its rules do not
// block, answering with the given problem bodies. Synth fails when its
// capacity (wcu) exceeds what the web ACL's price includes.
func newWebACL(scope constructs.Construct, id, name string, wcu int, bodies map[string]string, rules ...*waf.CfnWebACL_RuleProperty) waf.CfnWebACL {
	var customBodies map[string]any
	for key, content := range bodies {
		if customBodies == nil {
			customBodies = map[string]any{}
		}
		customBodies[key] = &waf.CfnWebACL_CustomResponseBodyProperty{ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(content)}
	}
	anyRules := make([]any, len(rules))
	for i, r := range rules {
		anyRules[i] = r
	}
	acl := waf.NewCfnWebACL(scope, &id, &waf.CfnWebACLProps{
		Name:                 jsii.String(name),
		Scope:                jsii.String("REGIONAL"),
		DefaultAction:        &waf.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		Rules:                &anyRules,
		VisibilityConfig:     visibility(name),
		CustomResponseBodies: customBodies,
	})
	if wcu > webACLIncludedWCU {
		awscdk.Annotations_Of(acl).AddError(jsii.String(fmt.Sprintf("the web ACL %s needs %d WCU, more than the %d included in its price", name, wcu, webACLIncludedWCU)))
	}
	return acl
}

// managedRuleGroup runs an AWS managed rule group with its own actions (a
// block is WAF's plain 403).
func managedRuleGroup(priority int, name string) *waf.CfnWebACL_RuleProperty {
	return &waf.CfnWebACL_RuleProperty{
		Name: jsii.String(name), Priority: jsii.Number(priority),
		Statement: &waf.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: &waf.CfnWebACL_ManagedRuleGroupStatementProperty{
			VendorName: jsii.String("AWS"), Name: jsii.String(name),
		}},
		OverrideAction:   &waf.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
		VisibilityConfig: visibility(name),
	}
}

func redactHeader(name string) any {
	return &waf.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]any{"Name": name}}
}

// block is a web ACL block action answering with one of the web ACL's
// problem bodies.
func block(status int, body string) *waf.CfnWebACL_RuleActionProperty {
	return &waf.CfnWebACL_RuleActionProperty{Block: &waf.CfnWebACL_BlockActionProperty{
		CustomResponse: &waf.CfnWebACL_CustomResponseProperty{ResponseCode: jsii.Number(status), CustomResponseBodyKey: jsii.String(body)},
	}}
}

// webACLMetricName is the WebACL dimension of a web ACL's CloudWatch
// metrics, which is its VisibilityConfig's MetricName: newWebACL gives the
// ACL's metrics the ACL's name (TestWebACLMetricsAreNamedAfterTheirACL).
func webACLMetricName(acl waf.CfnWebACL) *string { return acl.Name() }

func visibility(name string) *waf.CfnWebACL_VisibilityConfigProperty {
	return &waf.CfnWebACL_VisibilityConfigProperty{
		CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true),
	}
}

// injectionRuleGroup blocks SQL injection and cross-site scripting in the
// query string, the URI path and every header after URL and HTML-entity
// decoding, and in the JSON body after JavaScript-escape decoding (what a
// JSON decoder undoes: \u0027 is a quote). It returns the group and the
// capacity it declares, which is exactly what its rules use.
func injectionRuleGroup(scope constructs.Construct, cfg environment.Config) (waf.CfnRuleGroup, int) {
	type field struct {
		name       string
		match      *waf.CfnRuleGroup_FieldToMatchProperty
		transforms []string
	}
	urlAndHTML := []string{"URL_DECODE", "HTML_ENTITY_DECODE"}
	fields := []field{
		{"QueryString", &waf.CfnRuleGroup_FieldToMatchProperty{QueryString: map[string]any{}}, urlAndHTML},
		{"Body", &waf.CfnRuleGroup_FieldToMatchProperty{Body: &waf.CfnRuleGroup_BodyProperty{OversizeHandling: jsii.String("MATCH")}}, []string{"JS_DECODE"}},
		{"UriPath", &waf.CfnRuleGroup_FieldToMatchProperty{UriPath: map[string]any{}}, urlAndHTML},
		{"Headers", &waf.CfnRuleGroup_FieldToMatchProperty{Headers: &waf.CfnRuleGroup_HeadersProperty{
			MatchPattern: &waf.CfnRuleGroup_HeaderMatchPatternProperty{All: map[string]any{}},
			MatchScope:   jsii.String("ALL"), OversizeHandling: jsii.String("MATCH"),
		}}, urlAndHTML},
	}
	var rules []any
	capacity := 0
	for i, f := range fields {
		var transforms []any
		for priority, t := range f.transforms {
			transforms = append(transforms, &waf.CfnRuleGroup_TextTransformationProperty{Priority: jsii.Number(priority), Type: jsii.String(t)})
		}
		for j, kind := range []string{"Sqli", "Xss"} {
			statement := &waf.CfnRuleGroup_StatementProperty{}
			if kind == "Sqli" {
				statement.SqliMatchStatement = &waf.CfnRuleGroup_SqliMatchStatementProperty{FieldToMatch: f.match, TextTransformations: &transforms}
				capacity += wcuSqli
			} else {
				statement.XssMatchStatement = &waf.CfnRuleGroup_XssMatchStatementProperty{FieldToMatch: f.match, TextTransformations: &transforms}
				capacity += wcuXss
			}
			capacity += wcuTransform * len(transforms)
			name := kind + f.name
			rules = append(rules, &waf.CfnRuleGroup_RuleProperty{
				Name: jsii.String(name), Priority: jsii.Number(i*2 + j), Statement: statement,
				// A rule group's Block is untyped JSON to CloudFormation, so
				// the properties are spelled as CloudFormation spells them.
				Action: &waf.CfnRuleGroup_RuleActionProperty{Block: map[string]any{
					"CustomResponse": map[string]any{"ResponseCode": 403, "CustomResponseBodyKey": "request-blocked"},
				}},
				VisibilityConfig: &waf.CfnRuleGroup_VisibilityConfigProperty{CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true)},
			})
		}
	}
	group := waf.NewCfnRuleGroup(scope, jsii.String("InjectionRules"), &waf.CfnRuleGroupProps{
		Name:     jsii.String(cfg.Name("injection")),
		Scope:    jsii.String("REGIONAL"),
		Capacity: jsii.Number(capacity),
		Rules:    &rules,
		CustomResponseBodies: map[string]any{"request-blocked": &waf.CfnRuleGroup_CustomResponseBodyProperty{
			ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(requestBlockedProblem),
		}},
		VisibilityConfig: &waf.CfnRuleGroup_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(cfg.Name("injection")), SampledRequestsEnabled: jsii.Bool(true),
		},
	})
	return group, capacity
}
