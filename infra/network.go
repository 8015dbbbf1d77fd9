package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Subnet group names, used by other constructs to select subnets.
const (
	SubnetPublic   = "public"
	SubnetPrivate  = "private"
	SubnetDatabase = "database"
)

// Subnet sizes. The private subnets carry the workloads and are sized for
// 10,000+ concurrent transactions with room to spare (the README explains the
// arithmetic); the public ones hold only ALB nodes and a NAT instance; the
// database ones only Aurora instances.
const (
	publicSubnetMask   = 24
	privateSubnetMask  = 20
	databaseSubnetMask = 24
)

// AvailabilityZones are the three zones of PrimaryRegion the VPC spans, named
// so that the subnet layout never depends on a lookup.
var AvailabilityZones = []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"}

// AuditLogRetention is how long every audit log group keeps its events:
// RetentionDays_SEVEN_YEARS is exactly 2557 days.
const AuditLogRetention = awslogs.RetentionDays_SEVEN_YEARS

// interfaceEndpoint is an AWS service reached through PrivateLink, with the
// reason it is needed, so that every endpoint (each costs money in three
// AZs) is accounted for.
type interfaceEndpoint struct {
	id       string
	service  awsec2.InterfaceVpcEndpointAwsService
	calledBy string
}

func interfaceEndpoints() []interfaceEndpoint {
	return []interfaceEndpoint{
		{"EcrApi", awsec2.InterfaceVpcEndpointAwsService_ECR(), "Fargate pulling the API image (authentication, manifests)"},
		{"EcrDocker", awsec2.InterfaceVpcEndpointAwsService_ECR_DOCKER(), "Fargate pulling the API image (layers come from S3 through the gateway endpoint)"},
		{"SecretsManager", awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(), "rotation Lambdas, Fargate secret injection"},
		{"Logs", awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_LOGS(), "awslogs driver of the tasks, Lambda-free log shipping, EMF records"},
		{"Monitoring", awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_MONITORING(), "metrics published by the services and the NAT instances' agent"},
		{"Sqs", awsec2.InterfaceVpcEndpointAwsService_SQS(), "the API's outbox relay"},
		{"Kms", awsec2.InterfaceVpcEndpointAwsService_KMS(), "envelope encryption by the workloads (SQS, Secrets Manager data keys)"},
		{"Sts", awsec2.InterfaceVpcEndpointAwsService_STS(), "SDK credential and identity calls from the workloads"},
		{"Ssm", awsec2.InterfaceVpcEndpointAwsService_SSM(), "Systems Manager management of the NAT instances (no SSH)"},
		{"SsmMessages", awsec2.InterfaceVpcEndpointAwsService_SSM_MESSAGES(), "Session Manager shells on the NAT instances"},
		{"Ec2Messages", awsec2.InterfaceVpcEndpointAwsService_EC2_MESSAGES(), "Systems Manager agent command channel"},
		{"Lambda", awsec2.InterfaceVpcEndpointAwsService_LAMBDA(), "the custom-resource framework invoking dbinit"},
	}
}

// NetworkProps configures Network.
type NetworkProps struct {
	Config Config
	// LogsKey encrypts the flow-log group.
	LogsKey awskms.IKey
	// ComputeKey encrypts the NAT instances' root volumes.
	ComputeKey awskms.IKey
	// NatInstanceType is the Graviton type of the NAT instances.
	// Default: t4g.nano, or c7g.medium in production.
	NatInstanceType awsec2.InstanceType
}

// Network is the VPC, its NAT instances, its endpoints and its flow logs.
type Network struct {
	constructs.Construct
	Vpc awsec2.Vpc
	// NatInstances are the per-AZ egress instances (the only route from the
	// private subnets to the internet; AWS services go through endpoints).
	NatInstances []awsec2.Instance
	// EndpointSecurityGroup guards every interface endpoint: HTTPS from the
	// VPC only.
	EndpointSecurityGroup awsec2.SecurityGroup
	// FlowLogGroup is the audit log of all VPC traffic.
	FlowLogGroup awslogs.LogGroup
	// Endpoints are the interface endpoints by id (e.g. "SecretsManager").
	Endpoints map[string]awsec2.InterfaceVpcEndpoint
}

// NewNetwork creates the VPC across AvailabilityZones.
func NewNetwork(scope constructs.Construct, id string, props *NetworkProps) *Network {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	n := &Network{Construct: this}
	vpcCidr := cfg.VpcCidr.String()

	// Outbound-only, then narrowed below: the v2 provider's default admits
	// all traffic from 0.0.0.0/0.
	nat := awsec2.NatProvider_InstanceV2(&awsec2.NatInstanceProps{
		InstanceType:          natInstanceType(props),
		MachineImage:          awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{CpuType: awsec2.AmazonLinuxCpuType_ARM_64}),
		DefaultAllowedTraffic: awsec2.NatTrafficDirection_NONE,
	})

	n.Vpc = awsec2.NewVpc(this, jsii.String("Vpc"), &awsec2.VpcProps{
		VpcName:                      jsii.String(cfg.Name("vpc")),
		IpAddresses:                  awsec2.IpAddresses_Cidr(&vpcCidr),
		AvailabilityZones:            jsii.Strings(AvailabilityZones...),
		NatGatewayProvider:           nat,
		NatGateways:                  jsii.Number(len(AvailabilityZones)),
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		EnableDnsHostnames:           jsii.Bool(true),
		EnableDnsSupport:             jsii.Bool(true),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String(SubnetPublic), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(publicSubnetMask), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String(SubnetPrivate), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(privateSubnetMask)},
			{Name: jsii.String(SubnetDatabase), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(databaseSubnetMask)},
		},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3(), Subnets: workloadSubnets()},
			"DynamoDb": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB(), Subnets: workloadSubnets()},
		},
	})

	// NAT instances forward HTTPS from inside the VPC to external payment
	// networks and nothing else.
	nat.Connections().AllowFrom(awsec2.Peer_Ipv4(&vpcCidr), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from the VPC to be forwarded to the internet"))
	nat.Connections().AllowTo(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to external payment networks"))
	n.NatInstances = *nat.GatewayInstances()
	hardenNatInstances(this, cfg, n.NatInstances, props.ComputeKey)

	n.EndpointSecurityGroup = awsec2.NewSecurityGroup(this, jsii.String("EndpointSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               n.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("endpoints")),
		Description:       jsii.String("Interface VPC endpoints: HTTPS from inside the VPC only"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	n.EndpointSecurityGroup.AddIngressRule(awsec2.Peer_Ipv4(&vpcCidr), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from the VPC"), nil)
	n.Endpoints = map[string]awsec2.InterfaceVpcEndpoint{}
	for _, e := range interfaceEndpoints() {
		n.Endpoints[e.id] = n.Vpc.AddInterfaceEndpoint(jsii.String(e.id), &awsec2.InterfaceVpcEndpointOptions{
			Service:           e.service,
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(false),
			SecurityGroups:    &[]awsec2.ISecurityGroup{n.EndpointSecurityGroup},
			Subnets:           &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetPrivate)},
		})
	}

	n.FlowLogGroup = newAuditLogGroup(this, "FlowLogGroup", cfg, jsii.String(cfg.LogGroupName("vpc-flow-logs")), props.LogsKey)
	flowLogRole := NewServiceRole(this, "FlowLogRole", &ServiceRoleProps{
		Name:    cfg.Name("flow-logs"),
		Service: "vpc-flow-logs.amazonaws.com",
		Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
			Resources: jsii.Strings(*n.FlowLogGroup.LogGroupArn()),
		})},
	})
	n.Vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination:            awsec2.FlowLogDestination_ToCloudWatchLogs(n.FlowLogGroup, flowLogRole),
		TrafficType:            awsec2.FlowLogTrafficType_ALL,
		MaxAggregationInterval: awsec2.FlowLogMaxAggregationInterval_ONE_MINUTE,
	})

	routeRestrictDefaultSGLogs(this, cfg, props.LogsKey)
	suppressNetworkFindings(n)
	return n
}

// routeRestrictDefaultSGLogs sends the logs of CDK's function that strips
// the default security group into an audit log group of this environment.
// Left alone, Lambda would create /aws/lambda/<generated name> on the first
// run: unencrypted, kept forever, and left behind by `make destroy`.
func routeRestrictDefaultSGLogs(scope constructs.Construct, cfg Config, logsKey awskms.IKey) {
	stack := awscdk.Stack_Of(scope)
	handler, ok := stack.Node().TryFindChild(jsii.String("Custom::VpcRestrictDefaultSGCustomResourceProvider")).(constructs.Construct)
	if !ok {
		awscdk.Annotations_Of(scope).AddError(jsii.String("CDK no longer creates Custom::VpcRestrictDefaultSGCustomResourceProvider: revisit routeRestrictDefaultSGLogs"))
		return
	}
	function := handler.Node().FindChild(jsii.String("Handler")).(awscdk.CfnResource)
	logs := newAuditLogGroup(scope, "RestrictDefaultSGLogs", cfg, jsii.String(cfg.LogGroupName("lambda/restrict-default-sg")), logsKey)
	function.AddPropertyOverride(jsii.String("LoggingConfig"), map[string]any{"LogGroup": logs.LogGroupName(), "LogFormat": "Text"})
}

// PrivateSubnets selects the workload subnets (tasks, Lambdas).
func (n *Network) PrivateSubnets() *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetPrivate)}
}

// DatabaseSubnets selects the isolated subnets (no route out of the VPC).
func (n *Network) DatabaseSubnets() *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{SubnetGroupName: jsii.String(SubnetDatabase)}
}

// workloadSubnets are where gateway endpoints are routed: the private and
// database subnets. The public subnets (ALB, NAT) have no business with S3 or
// DynamoDB.
func workloadSubnets() *[]*awsec2.SubnetSelection {
	return &[]*awsec2.SubnetSelection{
		{SubnetGroupName: jsii.String(SubnetPrivate)},
		{SubnetGroupName: jsii.String(SubnetDatabase)},
	}
}

func natInstanceType(props *NetworkProps) awsec2.InstanceType {
	switch {
	case props.NatInstanceType != nil:
		return props.NatInstanceType
	case props.Config.Production:
		return awsec2.InstanceType_Of(awsec2.InstanceClass_C7G, awsec2.InstanceSize_MEDIUM)
	default:
		return awsec2.InstanceType_Of(awsec2.InstanceClass_T4G, awsec2.InstanceSize_NANO)
	}
}

// natSsmActions are what the SSM agent on a NAT instance calls so that the
// instance is managed (patching, Session Manager) without SSH or a key pair.
// The list is AmazonSSMManagedInstanceCore without its wildcards.
var natSsmActions = []string{
	"ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
	"ssm:DescribeDocument", "ssm:GetManifest", "ssm:ListAssociations", "ssm:ListInstanceAssociations",
	"ssm:PutInventory", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult",
	"ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation",
	"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
	"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
	"ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
	"ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
}

// hardenNatInstances gives each NAT instance what the v2 provider does not
// expose as props: SSM management, IMDSv2 only, detailed monitoring and an
// encrypted root volume.
func hardenNatInstances(scope constructs.Construct, cfg Config, instances []awsec2.Instance, key awskms.IKey) {
	ssm := awsiam.NewManagedPolicy(scope, jsii.String("NatSsmPolicy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(cfg.Name("nat-ssm")),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(natSsmActions...),
			Resources: jsii.Strings("*"),
		})},
	})
	for i, instance := range instances {
		ssm.AttachToRole(instance.Role())
		cfn := instance.Instance()
		cfn.SetMonitoring(jsii.Bool(true))
		// Set on the L1 resource (not as an override) so cdk-nag sees it.
		cfn.SetBlockDeviceMappings(&[]any{&awsec2.CfnInstance_BlockDeviceMappingProperty{
			DeviceName: jsii.String("/dev/xvda"),
			Ebs: &awsec2.CfnInstance_EbsProperty{
				Encrypted:           jsii.Bool(true),
				KmsKeyId:            key.KeyArn(),
				VolumeType:          jsii.String("gp3"),
				DeleteOnTermination: jsii.Bool(true),
			},
		}})
		awscdk.Tags_Of(instance).Add(jsii.String("Name"), jsii.String(fmt.Sprintf("%s-%d", cfg.Name("nat"), i+1)), nil)
	}
	awscdk.Aspects_Of(scope).Add(awsec2.NewInstanceRequireImdsv2Aspect(&awsec2.InstanceRequireImdsv2AspectProps{}),
		&awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
}

// suppressNetworkFindings holds every accepted cdk-nag finding of the network.
func suppressNetworkFindings(n *Network) {
	for _, subnet := range *n.Vpc.PublicSubnets() {
		// The default route of each public subnet; private and database
		// subnets have no route to the internet gateway.
		route := subnet.Node().FindChild(jsii.String("DefaultRoute"))
		reason := "Public subnets hold only the internet-facing ALB (behind WAF) and the NAT instances, which need a route to the internet gateway by definition. " +
			"Workloads run in private subnets whose default route is a NAT instance that forwards HTTPS only; the database subnets have no route out of the VPC."
		suppress(route, false, because(reason, "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW", "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW")...)
	}
	for _, instance := range n.NatInstances {
		suppress(instance.Instance(), false, finding{
			rule: "AwsSolutions-EC29",
			reason: "NAT instances are stateless and fully described by this stack: a lost instance is replaced by redeploying. " +
				"Termination protection would make `cdk destroy` of non-production environments fail, and protects no data.",
		})
	}
	suppress(n.Node().FindChild(jsii.String("NatSsmPolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::*"},
		reason: "The Systems Manager agent APIs (ssm:UpdateInstanceInformation, ssmmessages:*Channel, ec2messages:*) do not support resource-level permissions " +
			"(Service Authorization Reference); the actions are listed one by one, none is a wildcard.",
	})
}
