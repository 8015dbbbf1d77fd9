package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	waf "github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// OriginHeader carries the secret that proves a request came through API
// Gateway: API Gateway adds it to every integration request, the ALB
// forwards only requests that carry it, and WAF blocks the rest as well.
const OriginHeader = "x-origin-verify"

// Refusals at the edge are RFC 9457 problems like the service's own, so a
// client (and the integration tests) can tell who refused and why: the ALB
// and WAF's origin rule say "forbidden", WAF's injection rules
// "request-blocked", its rate limit "rate-limited".
const (
	forbiddenProblem      = `{"type":"/problems/forbidden","title":"Forbidden","status":403,"detail":"use the API endpoint","code":"forbidden"}`
	requestBlockedProblem = `{"type":"/problems/request-blocked","title":"Forbidden","status":403,"detail":"the request matched a web application firewall rule","code":"request-blocked"}`
	rateLimitedProblem    = `{"type":"/problems/rate-limited","title":"Too Many Requests","status":429,"detail":"too many requests from this client; retry after a few minutes","code":"rate-limited"}`
)

// albAccessLogPrefix is where the ALB writes access logs in the log bucket.
const albAccessLogPrefix = "alb"

// EdgeProps configures Edge.
type EdgeProps struct {
	Config  Config
	Network *Network
	Service *PaymentService
	Keys    *Keys
	// LogBucketName receives the access logs (its policy admits the ELB
	// log-delivery account; see Storage).
	LogBucketName string
}

// Edge is the internet-facing ALB in the public subnets and the WAF web ACL
// in front of it.
type Edge struct {
	constructs.Construct
	LoadBalancer elb.ApplicationLoadBalancer
	Listener     elb.ApplicationListener
	// OriginSecret is the value of OriginHeader.
	OriginSecret awssecretsmanager.Secret
	WebACL       waf.CfnWebACL
	WafLogGroup  awslogs.LogGroup
	// Certificate is the ALB's, for HostName("alb").
	Certificate awscertificatemanager.Certificate
}

// HostedZone returns the configured Route 53 zone, or nil.
func (c Config) HostedZone(scope constructs.Construct) awsroute53.IHostedZone {
	if c.HostedZoneID == "" {
		return nil
	}
	return awsroute53.HostedZone_FromHostedZoneAttributes(scope, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(c.HostedZoneID), ZoneName: jsii.String(c.HostedZoneName),
	})
}

// certificate is a DNS-validated ACM certificate: validated automatically
// when a hosted zone is configured, else pending until the CNAME that ACM
// shows is added by hand.
func certificate(scope constructs.Construct, id string, cfg Config, name string) awscertificatemanager.Certificate {
	validation := awscertificatemanager.CertificateValidation_FromDns(nil)
	if zone := cfg.HostedZone(scope); zone != nil {
		validation = awscertificatemanager.CertificateValidation_FromDns(zone)
	}
	return awscertificatemanager.NewCertificate(scope, &id, &awscertificatemanager.CertificateProps{
		DomainName: jsii.String(name), Validation: validation,
	})
}

// NewEdge creates the ALB, its listener and target group, and the WAF.
func NewEdge(scope constructs.Construct, id string, props *EdgeProps) *Edge {
	this := constructs.NewConstruct(scope, &id)
	cfg, network, svc := props.Config, props.Network, props.Service
	e := &Edge{Construct: this}

	e.OriginSecret = awssecretsmanager.NewSecret(this, jsii.String("OriginSecret"), &awssecretsmanager.SecretProps{
		SecretName:    jsii.String(fmt.Sprintf("payments/%s/origin-verify", cfg.EnvironmentSuffix)),
		Description:   jsii.String("Value of the " + OriginHeader + " header that API Gateway adds and the ALB and WAF require"),
		EncryptionKey: props.Keys.Secrets,
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(48), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
		},
		RemovalPolicy: cfg.RemovalPolicy(),
	})
	// A CloudFormation dynamic reference: resolved at deploy, never in the
	// template.
	originValue := e.OriginSecret.SecretValue().UnsafeUnwrap()

	albSG := awsec2.NewSecurityGroup(this, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               network.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("alb")),
		Description:       jsii.String("Internet-facing ALB: HTTPS in (WAF and the origin header filter it), HTTPS to the API tasks"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	albSG.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from API Gateway (any address: its egress has no fixed range)"), nil)
	svc.SecurityGroup.Connections().AllowFrom(albSG, awsec2.Port_Tcp(jsii.Number(APIPort)), jsii.String("HTTPS from the ALB"))

	e.LoadBalancer = elb.NewApplicationLoadBalancer(this, jsii.String("LoadBalancer"), &elb.ApplicationLoadBalancerProps{
		Vpc:                     network.Vpc,
		InternetFacing:          jsii.Bool(true),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetPublic)},
		SecurityGroup:           albSG,
		LoadBalancerName:        jsii.String(cfg.Name("alb")),
		DropInvalidHeaderFields: jsii.Bool(true),
		DeletionProtection:      jsii.Bool(cfg.Production),
		IdleTimeout:             awscdk.Duration_Seconds(jsii.Number(60)),
	})
	// Set as attributes (not logAccessLogs) so that the log bucket's policy
	// stays the one Storage wrote, with s3:PutObject only.
	// A slice, not a map: map order is random, and a reordered attribute
	// list would show as a change in every `cdk diff`.
	for _, kv := range [][2]string{
		{"access_logs.s3.enabled", "true"},
		{"access_logs.s3.bucket", props.LogBucketName},
		{"access_logs.s3.prefix", albAccessLogPrefix},
	} {
		e.LoadBalancer.SetAttribute(jsii.String(kv[0]), jsii.String(kv[1]))
	}

	e.Certificate = certificate(this, "Certificate", cfg, cfg.HostName("alb"))
	target := elb.NewApplicationTargetGroup(this, jsii.String("Api"), &elb.ApplicationTargetGroupProps{
		Vpc:                 network.Vpc,
		TargetGroupName:     jsii.String(cfg.Name("api")),
		TargetType:          elb.TargetType_IP,
		Port:                jsii.Number(APIPort),
		Protocol:            elb.ApplicationProtocol_HTTPS,
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
		HealthCheck: &elb.HealthCheck{
			Path: jsii.String("/healthz"), Protocol: elb.Protocol_HTTPS, HealthyHttpCodes: jsii.String("200"),
			Interval: awscdk.Duration_Seconds(jsii.Number(15)), HealthyThresholdCount: jsii.Number(2), UnhealthyThresholdCount: jsii.Number(3),
		},
	})
	svc.Service.AttachToApplicationTargetGroup(target)

	// Nothing reaches the tasks without the origin header: the default is a
	// 403 problem, and only the rule below forwards.
	e.Listener = e.LoadBalancer.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
		Port:         jsii.Number(443),
		Protocol:     elb.ApplicationProtocol_HTTPS,
		SslPolicy:    elb.SslPolicy_TLS13_RES,
		Certificates: &[]elb.IListenerCertificate{elb.ListenerCertificate_FromCertificateManager(e.Certificate)},
		Open:         jsii.Bool(false),
		DefaultAction: elb.ListenerAction_FixedResponse(jsii.Number(403), &elb.FixedResponseOptions{
			ContentType: jsii.String("application/problem+json"),
			MessageBody: jsii.String(forbiddenProblem),
		}),
	})
	e.Listener.AddAction(jsii.String("FromApiGateway"), &elb.AddApplicationActionProps{
		Priority:   jsii.Number(1),
		Conditions: &[]elb.ListenerCondition{elb.ListenerCondition_HttpHeader(jsii.String(OriginHeader), jsii.Strings(*originValue))},
		Action:     elb.ListenerAction_Forward(&[]elb.IApplicationTargetGroup{target}, nil),
	})

	e.WafLogGroup, e.WebACL = newWebACL(this, cfg, props.Keys, *originValue)
	waf.NewCfnWebACLAssociation(this, jsii.String("WebAclAssociation"), &waf.CfnWebACLAssociationProps{
		ResourceArn: e.LoadBalancer.LoadBalancerArn(), WebAclArn: e.WebACL.AttrArn(),
	})

	awscdk.NewCfnOutput(scope, jsii.String("AlbDnsName"), &awscdk.CfnOutputProps{
		Value: e.LoadBalancer.LoadBalancerDnsName(), Description: jsii.String("DNS name of the internet-facing ALB (refuses requests without the origin header)"),
	})
	suppressEdgeFindings(e, cfg)
	return e
}

// block is a web ACL block action answering with one of the web ACL's
// problem bodies.
func block(status int, body string) *waf.CfnWebACL_RuleActionProperty {
	return &waf.CfnWebACL_RuleActionProperty{Block: &waf.CfnWebACL_BlockActionProperty{
		CustomResponse: &waf.CfnWebACL_CustomResponseProperty{ResponseCode: jsii.Number(status), CustomResponseBodyKey: jsii.String(body)},
	}}
}

func visibility(name string) *waf.CfnWebACL_VisibilityConfigProperty {
	return &waf.CfnWebACL_VisibilityConfigProperty{
		CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true),
	}
}

// WAF capacity units (WCU) of the web ACL's statements. Above 1,500 WCU a
// web ACL costs an extra $0.20 per million requests per 500 WCU, which at
// 1,000 req/s would be about $520 a month: the ACL stays within 1,500.
const (
	wcuSqli          = 20
	wcuXss           = 40
	wcuTransform     = 10
	wcuCommonRuleSet = 700
	wcuKnownBad      = 200
	wcuSQLiRuleSet   = 200
	wcuRateBased     = 2
	wcuByteMatch     = 2
	webACLFreeWCU    = 1500
)

// injectionRuleGroup blocks SQL injection and cross-site scripting in the
// query string, the URI path and every header after URL and HTML-entity
// decoding, and in the JSON body after JavaScript-escape decoding (what a
// JSON decoder undoes: \u0027 is a quote). It returns the group and the
// capacity it declares, which is exactly what its rules use.
func injectionRuleGroup(scope constructs.Construct, cfg Config) (waf.CfnRuleGroup, int) {
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

// rateLimitPer5Minutes is the per-client request limit. Clients arrive
// through API Gateway, so the client is the first X-Forwarded-For address.
const rateLimitPer5Minutes = 6000

func newWebACL(scope constructs.Construct, cfg Config, keys *Keys, originValue string) (awslogs.LogGroup, waf.CfnWebACL) {
	injection, injectionWCU := injectionRuleGroup(scope, cfg)
	managed := func(priority int, name string) *waf.CfnWebACL_RuleProperty {
		return &waf.CfnWebACL_RuleProperty{
			Name: jsii.String(name), Priority: jsii.Number(priority),
			Statement: &waf.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: &waf.CfnWebACL_ManagedRuleGroupStatementProperty{
				VendorName: jsii.String("AWS"), Name: jsii.String(name),
			}},
			OverrideAction:   &waf.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			VisibilityConfig: visibility(name),
		}
	}
	rules := []any{
		// Second layer behind the ALB rule: no origin header, no entry.
		&waf.CfnWebACL_RuleProperty{
			Name: jsii.String("RequireOriginHeader"), Priority: jsii.Number(0),
			Statement: &waf.CfnWebACL_StatementProperty{NotStatement: &waf.CfnWebACL_NotStatementProperty{
				Statement: &waf.CfnWebACL_StatementProperty{ByteMatchStatement: &waf.CfnWebACL_ByteMatchStatementProperty{
					FieldToMatch:         &waf.CfnWebACL_FieldToMatchProperty{SingleHeader: map[string]any{"Name": OriginHeader}},
					PositionalConstraint: jsii.String("EXACTLY"),
					SearchString:         jsii.String(originValue),
					TextTransformations:  &[]any{&waf.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
				}},
			}},
			Action:           block(403, "forbidden"),
			VisibilityConfig: visibility("RequireOriginHeader"),
		},
		&waf.CfnWebACL_RuleProperty{
			Name: jsii.String("RateLimitPerClient"), Priority: jsii.Number(1),
			Statement: &waf.CfnWebACL_StatementProperty{RateBasedStatement: &waf.CfnWebACL_RateBasedStatementProperty{
				Limit: jsii.Number(rateLimitPer5Minutes), AggregateKeyType: jsii.String("FORWARDED_IP"),
				ForwardedIpConfig: &waf.CfnWebACL_ForwardedIPConfigurationProperty{
					HeaderName: jsii.String("X-Forwarded-For"), FallbackBehavior: jsii.String("MATCH"),
				},
			}},
			Action:           block(429, "rate-limited"),
			VisibilityConfig: visibility("RateLimitPerClient"),
		},
		// Our injection rules run before the managed groups that overlap
		// them (SQLi, the XSS rules of the common set), so that a blocked
		// injection gets our problem body rather than WAF's bare 403. There
		// is no IP-reputation group: every request reaches the ALB from API
		// Gateway, so WAF never sees a client's address as the source.
		&waf.CfnWebACL_RuleProperty{
			Name: jsii.String("InjectionRules"), Priority: jsii.Number(2),
			Statement: &waf.CfnWebACL_StatementProperty{RuleGroupReferenceStatement: &waf.CfnWebACL_RuleGroupReferenceStatementProperty{
				Arn: injection.AttrArn(),
			}},
			OverrideAction:   &waf.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			VisibilityConfig: visibility("InjectionRules"),
		},
		managed(3, "AWSManagedRulesCommonRuleSet"),
		managed(4, "AWSManagedRulesKnownBadInputsRuleSet"),
		managed(5, "AWSManagedRulesSQLiRuleSet"),
	}
	acl := waf.NewCfnWebACL(scope, jsii.String("WebAcl"), &waf.CfnWebACLProps{
		Name:             jsii.String(cfg.Name("edge")),
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &waf.CfnWebACL_DefaultActionProperty{Allow: map[string]any{}},
		Rules:            &rules,
		VisibilityConfig: visibility(cfg.Name("edge")),
		CustomResponseBodies: map[string]any{
			"forbidden":    &waf.CfnWebACL_CustomResponseBodyProperty{ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(forbiddenProblem)},
			"rate-limited": &waf.CfnWebACL_CustomResponseBodyProperty{ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(rateLimitedProblem)},
		},
	})

	if wcu := wcuByteMatch + wcuRateBased + injectionWCU + wcuCommonRuleSet + wcuKnownBad + wcuSQLiRuleSet; wcu > webACLFreeWCU {
		awscdk.Annotations_Of(acl).AddError(jsii.String(fmt.Sprintf("the web ACL needs %d WCU, more than the %d included in its price", wcu, webACLFreeWCU)))
	}

	logs := newAuditLogGroup(scope, "WafLogGroup", cfg, jsii.String(cfg.WafLogGroupName()), keys.Logs)
	redact := func(header string) any {
		return &waf.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]any{"Name": header}}
	}
	logging := waf.NewCfnLoggingConfiguration(scope, jsii.String("WafLogging"), &waf.CfnLoggingConfigurationProps{
		ResourceArn: acl.AttrArn(),
		// WAF wants the group's ARN without the ":*" of LogGroupArn.
		LogDestinationConfigs: &[]any{fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", cfg.Region, cfg.Account, cfg.WafLogGroupName())},
		// Credentials and the origin secret never reach the logs.
		RedactedFields: &[]any{redact("authorization"), redact("x-api-key"), redact(OriginHeader)},
	})
	logging.Node().AddDependency(logs)
	return logs, acl
}

// suppressEdgeFindings holds every accepted cdk-nag finding of the edge.
func suppressEdgeFindings(e *Edge, cfg Config) {
	suppress((*e.LoadBalancer.Connections().SecurityGroups())[0], true, finding{
		rule: "AwsSolutions-EC23",
		reason: "The ALB is internet-facing by requirement and API Gateway's egress has no fixed address range, so 443 is open to 0.0.0.0/0. " +
			"Only requests carrying the secret origin header that API Gateway adds are forwarded (403 otherwise), WAF blocks the rest too, and 443 is the only port.",
	})
	suppress(e.OriginSecret, true, finding{
		rule: "AwsSolutions-SMG4",
		reason: "The origin-verify value is not a user credential: rotating it means changing the ALB rule, the WAF rule and the API Gateway integration together. " +
			"The runbook (README) puts a new value and redeploys, which resolves it into all three at once; a rotation Lambda could not update the three atomically.",
	})
	suppress(e.OriginSecret, true, because("See AwsSolutions-SMG4 on this secret: it is rotated by putting a new value and redeploying, which updates all three places that hold it at once.",
		"NIST.800.53.R5-SecretsManagerRotationEnabled", "PCI.DSS.321-SecretsManagerRotationEnabled")...)
	if !cfg.Production {
		reason := "Non-production environments must be destroyable by `make destroy`; production ALBs have deletion protection (production=true)."
		suppress(e.LoadBalancer, true, because(reason, "NIST.800.53.R5-ELBDeletionProtectionEnabled", "PCI.DSS.321-ELBDeletionProtectionEnabled")...)
	}
}
