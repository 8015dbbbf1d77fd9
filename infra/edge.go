package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	apigwv2 "github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// Where access logs land in the region's log bucket: the ALB's, and the
// truststore bucket's S3 server access logs.
const (
	albAccessLogPrefix        = "alb"
	truststoreAccessLogPrefix = "s3/mtls/"
)

// EdgeProps configures Edge.
type EdgeProps struct {
	Config  environment.Config
	Network *Network
	Service *PaymentService
	Names   *Names
	// LogBucketName receives the access logs (its policy admits the ELB
	// log-delivery account; see Storage).
	LogBucketName string
}

// Edge is the ALB in the public subnets and the VPC link through which API
// Gateway, and nothing else, reaches it. The ALB is internal: it has no
// public address, and its security group admits only the VPC link's, so
// every request it serves has passed the mutual-TLS custom domain, an API
// key and the stage's web ACL. No shared secret is involved.
type Edge struct {
	constructs.Construct
	LoadBalancer elb.ApplicationLoadBalancer
	Listener     elb.ApplicationListener
	// TargetGroup holds the API tasks.
	TargetGroup elb.ApplicationTargetGroup
	// VpcLink (V2) carries API Gateway's private integrations to the ALB.
	VpcLink apigwv2.VpcLink
	// Host is the name API Gateway calls the ALB by. For a private
	// integration the integration URI "is not used for routing" (API
	// Gateway reference, PutIntegration): the VPC link and the integration
	// target carry the request, so the name needs no DNS record. It is the
	// TLS server name, which API Gateway verifies against the ALB's
	// certificate (issued for exactly this name).
	Host        string
	Certificate awscertificatemanager.ICertificate
}

// NewEdge creates the VPC link, the ALB, its listener and target group.
func NewEdge(scope constructs.Construct, id string, props *EdgeProps) *Edge {
	this := constructs.NewConstruct(scope, &id)
	cfg, network, svc := props.Config, props.Network, props.Service
	e := &Edge{Construct: this, Host: cfg.HostName("alb")}

	vpcLinkSG := awsec2.NewSecurityGroup(this, jsii.String("VpcLinkSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               network.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("vpclink")),
		Description:       jsii.String("VPC link of the payments API: no ingress, HTTPS to the ALB only"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	albSG := awsec2.NewSecurityGroup(this, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               network.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("alb")),
		Description:       jsii.String("Internal ALB: HTTPS from the VPC link of the API only, HTTPS to the API tasks"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	albSG.Connections().AllowFrom(vpcLinkSG, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from API Gateway's VPC link"))
	svc.SecurityGroup.Connections().AllowFrom(albSG, awsec2.Port_Tcp(jsii.Number(APIPort)), jsii.String("HTTPS from the ALB"))
	egressOnlyThroughItsRules(vpcLinkSG)
	egressOnlyThroughItsRules(albSG)

	// The link's network interfaces live in the private subnets, next to
	// the workloads; they carry no traffic but API Gateway's.
	e.VpcLink = apigwv2.NewVpcLink(this, jsii.String("VpcLink"), &apigwv2.VpcLinkProps{
		Vpc:            network.Vpc,
		VpcLinkName:    jsii.String(cfg.Name("vpclink")),
		Subnets:        network.PrivateSubnets(),
		SecurityGroups: &[]interfacesawsec2.ISecurityGroupRef{vpcLinkSG},
	})

	e.LoadBalancer = elb.NewApplicationLoadBalancer(this, jsii.String("LoadBalancer"), &elb.ApplicationLoadBalancerProps{
		Vpc:                     network.Vpc,
		InternetFacing:          jsii.Bool(false),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetPublic)},
		SecurityGroup:           albSG,
		LoadBalancerName:        jsii.String(cfg.Name("alb")),
		DropInvalidHeaderFields: jsii.Bool(true),
		DeletionProtection:      jsii.Bool(cfg.Posture().Protected),
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

	e.Certificate = props.Names.Certificate(this, "Certificate", e.Host, cfg.ALBCertificateArn)
	e.TargetGroup = elb.NewApplicationTargetGroup(this, jsii.String("Api"), &elb.ApplicationTargetGroupProps{
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
	svc.Service.AttachToApplicationTargetGroup(e.TargetGroup)

	e.Listener = e.LoadBalancer.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
		Port:          jsii.Number(443),
		Protocol:      elb.ApplicationProtocol_HTTPS,
		SslPolicy:     elb.SslPolicy_TLS13_RES,
		Certificates:  &[]elb.IListenerCertificate{elb.ListenerCertificate_FromCertificateManager(e.Certificate)},
		Open:          jsii.Bool(false),
		DefaultAction: elb.ListenerAction_Forward(&[]elb.IApplicationTargetGroup{e.TargetGroup}, nil),
	})
	stripStageName(this, e.Listener, e.TargetGroup)

	awscdk.NewCfnOutput(scope, jsii.String("AlbDnsName"), &awscdk.CfnOutputProps{
		Value: e.LoadBalancer.LoadBalancerDnsName(),
		Description: jsii.String("DNS name of the internal ALB: it resolves to private addresses and admits only API Gateway's VPC link " +
			"(call the API at ApiEndpoint)"),
	})
	suppressEdgeFindings(e, cfg)
	return e
}

// egressOnlyThroughItsRules keeps a group's egress to the rules written for
// it. When every egress rule of a group names another group, CDK writes them
// as separate resources and drops the group's inline placeholder rule; a
// group created with no inline egress gets EC2's default, all outbound
// traffic ("if you do not add egress rules, we add egress rules that allow
// all outbound IPv4 and IPv6 traffic", AWS::EC2::SecurityGroup). The
// placeholder (CDK's own: ICMP type 252 code 86 to 255.255.255.255/32)
// matches nothing and keeps the default away.
func egressOnlyThroughItsRules(sg awsec2.SecurityGroup) {
	sg.Node().DefaultChild().(awsec2.CfnSecurityGroup).AddPropertyOverride(jsii.String("SecurityGroupEgress"), []any{map[string]any{
		"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86,
	}})
}

// stripStageName undoes what API Gateway does to private integrations: "API
// Gateway includes the stage portion of the API endpoint in the request to
// your backend" (developer guide, private integrations), so a request for
// /v1/payments on stage v1 may arrive as /v1/v1/payments. The documented
// remedy ($context.requestOverride.path) is a mapping-template override,
// which proxy integrations cannot use, so the ALB removes the stage with a
// URL-rewrite transform instead. Paths without the stage (the service's
// own) do not match the rule and pass unchanged through the default action,
// so the platform works whichever form arrives.
func stripStageName(scope constructs.Construct, listener elb.ApplicationListener, target elb.IApplicationTargetGroup) {
	stagePrefix := "/" + apiStage
	rule := elb.NewApplicationListenerRule(scope, jsii.String("StripStageName"), &elb.ApplicationListenerRuleProps{
		Listener:   listener,
		Priority:   jsii.Number(1),
		Conditions: &[]elb.ListenerCondition{elb.ListenerCondition_PathPatterns(jsii.Strings(stagePrefix + apiBasePath + "/*"))},
		Action:     elb.ListenerAction_Forward(&[]elb.IApplicationTargetGroup{target}, nil),
	})
	rule.Node().DefaultChild().(elb.CfnListenerRule).SetTransforms([]any{&elb.CfnListenerRule_TransformProperty{
		Type: jsii.String("url-rewrite"),
		UrlRewriteConfig: &elb.CfnListenerRule_RewriteConfigObjectProperty{Rewrites: []any{&elb.CfnListenerRule_RewriteConfigProperty{
			Regex: jsii.String("^" + stagePrefix + "(" + apiBasePath + "/.*)$"), Replace: jsii.String("$1"),
		}}},
	}})
}

// suppressEdgeFindings holds every accepted cdk-nag finding of the edge.
func suppressEdgeFindings(e *Edge, cfg environment.Config) {
	if !cfg.Posture().Protected {
		reason := "Non-production environments must be destroyable by `make destroy`; production ALBs have deletion protection (production=true)."
		suppress(e.LoadBalancer, true, because(reason, "NIST.800.53.R5-ELBDeletionProtectionEnabled", "PCI.DSS.321-ELBDeletionProtectionEnabled")...)
	}
}
