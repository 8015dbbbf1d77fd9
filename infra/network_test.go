package infra_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/infra"
)

func networkResources(types ...string) []resource { return stackResources(stacks.Network, types...) }

// GIVEN the default configuration WHEN synthesized THEN each of the three
// named AZs has a public, a private and a database subnet, each with its own
// route table.
func TestNetworkHasThreeTiersInEachOfThreeAZs(t *testing.T) {
	subnets := networkResources("AWS::EC2::Subnet")
	if len(subnets) != 9 {
		t.Fatalf("got %d subnets, want 9", len(subnets))
	}
	tiers := map[string][]string{} // tier -> AZs
	for _, s := range subnets {
		var tier string
		for _, tag := range s.Properties["Tags"].([]any) {
			tag := tag.(map[string]any)
			if tag["Key"] == "aws-cdk:subnet-name" {
				tier = tag["Value"].(string)
			}
		}
		tiers[tier] = append(tiers[tier], s.Properties["AvailabilityZone"].(string))
	}
	for _, tier := range []string{infra.SubnetPublic, infra.SubnetPrivate, infra.SubnetDatabase} {
		azs := tiers[tier]
		sort.Strings(azs)
		if strings.Join(azs, ",") != strings.Join(infra.AvailabilityZones, ",") {
			t.Errorf("%s subnets in %v, want one in each of %v", tier, azs, infra.AvailabilityZones)
		}
	}

	tables := networkResources("AWS::EC2::RouteTable")
	associations := networkResources("AWS::EC2::SubnetRouteTableAssociation")
	if len(tables) != 9 || len(associations) != 9 {
		t.Fatalf("got %d route tables and %d associations, want 9 and 9", len(tables), len(associations))
	}
	seen := map[string]bool{}
	for _, a := range associations {
		table := a.Properties["RouteTableId"].(map[string]any)["Ref"].(string)
		if seen[table] {
			t.Errorf("route table %s is shared by two subnets", table)
		}
		seen[table] = true
	}
}

// NAT instances, not NAT gateways: one per AZ, Graviton, no SSH key, IMDSv2
// only, an encrypted root volume, managed through SSM.
func TestNatInstancesReplaceNatGateways(t *testing.T) {
	if n := len(networkResources("AWS::EC2::NatGateway")); n != 0 {
		t.Errorf("got %d NAT gateways, want 0", n)
	}
	instances := networkResources("AWS::EC2::Instance")
	if len(instances) != 3 {
		t.Fatalf("got %d NAT instances, want 3", len(instances))
	}
	for _, i := range instances {
		p := i.Properties
		if typ, _ := p["InstanceType"].(string); !strings.HasPrefix(typ, "t4g.") && !strings.HasPrefix(typ, "c7g.") {
			t.Errorf("%s: instance type %q is not Graviton", i, typ)
		}
		if p["SourceDestCheck"] != false {
			t.Errorf("%s: SourceDestCheck must be false for NAT", i)
		}
		if p["KeyName"] != nil {
			t.Errorf("%s: has an SSH key pair", i)
		}
		if p["Monitoring"] != true {
			t.Errorf("%s: detailed monitoring off", i)
		}
		if p["LaunchTemplate"] == nil {
			t.Errorf("%s: no launch template (IMDSv2 is enforced through it)", i)
		}
		mappings, _ := p["BlockDeviceMappings"].([]any)
		if len(mappings) != 1 || mappings[0].(map[string]any)["Ebs"].(map[string]any)["Encrypted"] != true ||
			mappings[0].(map[string]any)["Ebs"].(map[string]any)["KmsKeyId"] == nil {
			t.Errorf("%s: root volume not encrypted with the compute key: %v", i, mappings)
		}
	}
	tmpl := stackTemplate(stacks.Network)
	must(t, "IMDSv2 required", func() {
		tmpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::LaunchTemplate"), assertions.Match_ObjectLike(&map[string]any{
			"LaunchTemplateData": map[string]any{"MetadataOptions": map[string]any{"HttpTokens": "required"}},
		}), jsii.Number(3))
	})
	must(t, "SSM management policy", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::ManagedPolicy"), assertions.Match_ObjectLike(&map[string]any{
			"ManagedPolicyName": "payments-nat-ssm-" + testSuffix,
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Action": assertions.Match_ArrayWith(&[]any{"ssm:UpdateInstanceInformation", "ssmmessages:OpenDataChannel"}),
			})})},
			"Roles": assertions.Match_AnyValue(),
		}))
	})

	// Private subnets leave through their own AZ's NAT instance.
	natRoutes := 0
	for _, r := range networkResources("AWS::EC2::Route") {
		if r.Properties["InstanceId"] != nil {
			natRoutes++
			if r.Properties["DestinationCidrBlock"] != "0.0.0.0/0" {
				t.Errorf("%s: NAT route to %v", r, r.Properties["DestinationCidrBlock"])
			}
		}
	}
	if natRoutes != 3 {
		t.Errorf("got %d routes through NAT instances, want 3", natRoutes)
	}
}

// The NAT security group admits HTTPS from the VPC CIDR only (the v2
// provider's default admits everything from 0.0.0.0/0) and forwards only
// HTTPS.
func TestNatSecurityGroupAdmitsTheVpcOnly(t *testing.T) {
	must(t, "NAT security group", func() {
		stackTemplate(stacks.Network).HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), assertions.Match_ObjectLike(&map[string]any{
			"GroupDescription": "Security Group for NAT instances",
			"SecurityGroupIngress": assertions.Match_ArrayEquals(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"CidrIp": cfg.VpcCidr.String(), "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
			})}),
			"SecurityGroupEgress": assertions.Match_ArrayEquals(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
			})}),
		}))
	})
}

func TestDefaultSecurityGroupIsStripped(t *testing.T) {
	if n := len(networkResources("Custom::VpcRestrictDefaultSG")); n != 1 {
		t.Errorf("got %d default-SG restrictions, want 1", n)
	}
}

// Gateway endpoints for S3 and DynamoDB; an interface endpoint with private
// DNS for every AWS service the workloads call, guarded by a security group
// that admits HTTPS from the VPC only.
func TestVpcEndpoints(t *testing.T) {
	gateway := map[string]bool{}
	interfaces := map[string]bool{}
	for _, e := range networkResources("AWS::EC2::VPCEndpoint") {
		name := serviceName(e.Properties["ServiceName"])
		switch e.Properties["VpcEndpointType"] {
		case "Interface":
			interfaces[name] = true
			if e.Properties["PrivateDnsEnabled"] != true {
				t.Errorf("%s (%s): private DNS off", e, name)
			}
			if groups, _ := e.Properties["SecurityGroupIds"].([]any); len(groups) != 1 {
				t.Errorf("%s (%s): %d security groups, want the endpoint group only", e, name, len(groups))
			}
		default:
			gateway[name] = true
			if tables, _ := e.Properties["RouteTableIds"].([]any); len(tables) != 6 {
				t.Errorf("%s (%s): routed in %d tables, want the 6 private and database ones", e, name, len(tables))
			}
		}
	}
	for _, want := range []string{"s3", "dynamodb"} {
		if !gateway[want] {
			t.Errorf("no gateway endpoint for %s", want)
		}
	}
	for _, want := range []string{"ecr.api", "ecr.dkr", "secretsmanager", "logs", "monitoring", "sqs", "kms", "sts", "ssm", "ssmmessages", "ec2messages"} {
		if !interfaces[want] {
			t.Errorf("no interface endpoint for %s", want)
		}
	}
	must(t, "endpoint security group", func() {
		stackTemplate(stacks.Network).HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), assertions.Match_ObjectLike(&map[string]any{
			"GroupName": "payments-endpoints-" + testSuffix,
			"SecurityGroupIngress": assertions.Match_ArrayEquals(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"CidrIp": cfg.VpcCidr.String(), "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
			})}),
		}))
	})
}

// serviceName extracts "ecr.api" from "com.amazonaws.ap-southeast-1.ecr.api",
// or "s3" from the {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
// CDK writes for gateway endpoints.
func serviceName(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimPrefix(x, "com.amazonaws."+environment.PrimaryRegion+".")
	case map[string]any:
		parts := x["Fn::Join"].([]any)[1].([]any)
		last, _ := parts[len(parts)-1].(string)
		return strings.TrimPrefix(last, ".")
	}
	return ""
}

func TestFlowLogsCaptureAllTrafficIntoAnAuditLogGroup(t *testing.T) {
	tmpl := stackTemplate(stacks.Network)
	must(t, "flow log", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), assertions.Match_ObjectLike(&map[string]any{
			"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs",
		}))
	})
	must(t, "flow log group", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), assertions.Match_ObjectLike(&map[string]any{
			"LogGroupName":    "/payments/" + testSuffix + "/vpc-flow-logs",
			"RetentionInDays": 2557,
			"KmsKeyId":        assertions.Match_AnyValue(),
		}))
	})
	must(t, "flow log role trusts only this account's flow logs", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), assertions.Match_ObjectLike(&map[string]any{
			"RoleName": "payments-flow-logs-" + testSuffix,
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow",
				"Principal": map[string]any{"Service": "vpc-flow-logs.amazonaws.com"},
				"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": cfg.Account}},
			}}},
		}))
	})
}

// The subnet layout depends on the literal CIDR from the config, never on a
// token, so that cdk-nag can evaluate every rule built from it.
func TestSubnetsAreCarvedFromTheConfiguredCidr(t *testing.T) {
	prefix := cfg.VpcCidr.String()[:strings.LastIndex(cfg.VpcCidr.String(), ".0.0/")]
	for _, s := range networkResources("AWS::EC2::Subnet") {
		block, _ := s.Properties["CidrBlock"].(string)
		if !strings.HasPrefix(block, prefix+".") {
			t.Errorf("%s: CIDR %q not inside %s", s, block, cfg.VpcCidr)
		}
	}
}
