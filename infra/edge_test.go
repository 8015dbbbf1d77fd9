package infra_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The ALB: internal (no public address) in the public subnets, HTTPS only
// with TLS 1.2+, invalid headers dropped, access-logged; its security group
// admits HTTPS from the VPC link's group and nothing else, and the VPC
// link's group may only reach the ALB. No shared secret is involved
// anywhere: no origin header.
func TestAlbIsReachableOnlyThroughTheVpcLink(t *testing.T) {
	lb := one(t, appResources("AWS::ElasticLoadBalancingV2::LoadBalancer"), "load balancers")
	if lb.Properties["Scheme"] != "internal" || strings.Count(jsonOf(lb.Properties["Subnets"]), "publicSubnet") != 3 {
		t.Errorf("scheme %v subnets %s, want internal in the three public subnets", lb.Properties["Scheme"], jsonOf(lb.Properties["Subnets"]))
	}
	attrs := jsonOf(lb.Properties["LoadBalancerAttributes"])
	for _, want := range []string{
		`{"Key":"routing.http.drop_invalid_header_fields.enabled","Value":"true"}`,
		`{"Key":"access_logs.s3.enabled","Value":"true"}`,
		`{"Key":"access_logs.s3.bucket","Value":"payments-logs-pr123-123456789012-ap-southeast-1"}`,
	} {
		if !strings.Contains(attrs, want) {
			t.Errorf("attributes lack %s: %s", want, attrs)
		}
	}

	groups := map[string]resource{}
	for _, g := range appResources("AWS::EC2::SecurityGroup") {
		groups[g.logicalID] = g
	}
	albGroup := refOf(asList(lb.Properties["SecurityGroups"])[0])
	link := one(t, appResources("AWS::ApiGatewayV2::VpcLink"), "VPC links")
	linkGroup := refOf(asList(link.Properties["SecurityGroupIds"])[0])
	if strings.Count(jsonOf(link.Properties["SubnetIds"]), "privateSubnet") != 3 {
		t.Errorf("VPC link subnets %s, want the three private subnets", jsonOf(link.Properties["SubnetIds"]))
	}
	// Inline rules of the ALB's group admit nothing; the only ingress rule
	// naming it comes from the VPC link's group, on 443.
	if in := groups[albGroup].Properties["SecurityGroupIngress"]; in != nil {
		t.Errorf("the ALB's group has inline ingress %s", jsonOf(in))
	}
	var ingress []string
	for _, r := range appResources("AWS::EC2::SecurityGroupIngress") {
		if refOf(r.Properties["GroupId"]) == albGroup {
			ingress = append(ingress, fmt.Sprintf("%s:%v", refOf(r.Properties["SourceSecurityGroupId"]), r.Properties["FromPort"]))
		}
	}
	if want := []string{linkGroup + ":443"}; !slices.Equal(ingress, want) {
		t.Errorf("ALB ingress %v, want only HTTPS from the VPC link's group %v", ingress, want)
	}
	var linkEgress []string
	for _, r := range appResources("AWS::EC2::SecurityGroupEgress") {
		if refOf(r.Properties["GroupId"]) == linkGroup {
			linkEgress = append(linkEgress, fmt.Sprintf("%s:%v", refOf(r.Properties["DestinationSecurityGroupId"]), r.Properties["FromPort"]))
		}
	}
	if want := []string{albGroup + ":443"}; !slices.Equal(linkEgress, want) || groups[linkGroup].Properties["SecurityGroupIngress"] != nil {
		t.Errorf("VPC link egress %v (want %v) and ingress %s (want none)", linkEgress, want, jsonOf(groups[linkGroup].Properties["SecurityGroupIngress"]))
	}

	listener := one(t, appResources("AWS::ElasticLoadBalancingV2::Listener"), "listeners (HTTPS only, no port 80)").Properties
	if listener["Port"] != float64(443) || listener["Protocol"] != "HTTPS" || listener["SslPolicy"] != "ELBSecurityPolicy-TLS13-1-2-Res-2021-06" {
		t.Errorf("listener %v %v %v", listener["Port"], listener["Protocol"], listener["SslPolicy"])
	}
	// The stage name API Gateway may prepend is stripped before the
	// service sees the path; every other path passes unchanged.
	rule := one(t, appResources("AWS::ElasticLoadBalancingV2::ListenerRule"), "listener rules").Properties
	if got := jsonOf(rule["Conditions"]); got != `[{"Field":"path-pattern","PathPatternConfig":{"Values":["/v1/v1/*"]}}]` {
		t.Errorf("stage rule conditions %s", got)
	}
	if got := jsonOf(rule["Transforms"]); got != `[{"Type":"url-rewrite","UrlRewriteConfig":{"Rewrites":[{"Regex":"^/v1(/v1/.*)$","Replace":"$1"}]}}]` {
		t.Errorf("stage rule transforms %s", got)
	}
	for _, template := range []map[string]map[string]any{templates, prod.templates, matrix.templates} {
		for name, tmpl := range template {
			if body := strings.ToLower(jsonOf(tmpl)); strings.Contains(body, "origin-verify") || strings.Contains(body, "x-origin") {
				t.Errorf("%s carries an origin header: a shared secret guarding the ALB", name)
			}
		}
	}

	tg := one(t, appResources("AWS::ElasticLoadBalancingV2::TargetGroup"), "target groups").Properties
	if tg["Protocol"] != "HTTPS" || tg["Port"] != float64(8443) || tg["HealthCheckPath"] != "/healthz" || tg["HealthCheckProtocol"] != "HTTPS" || tg["TargetType"] != "ip" {
		t.Errorf("target group %v", tg)
	}
	if _, ok := templates[*stacks.App.StackName()]["Outputs"].(map[string]any)["AlbDnsName"]; !ok {
		t.Error("no AlbDnsName output")
	}
}

// Tasks accept only the ALB; Aurora accepts the tasks, the processor, the
// merchant-key manager and the audit function through rules in this stack.
func TestApiNetworkPaths(t *testing.T) {
	rules := appResources("AWS::EC2::SecurityGroupIngress")
	var ports []float64
	for _, r := range rules {
		if r.Properties["SourceSecurityGroupId"] == nil || r.Properties["CidrIp"] != nil {
			t.Errorf("%s: not from a security group", r)
		}
		ports = append(ports, r.Properties["FromPort"].(float64))
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []float64{443, 5432, 5432, 5432, 5432, 8443}) {
		t.Errorf("ingress ports %v, want the ALB from the VPC link, the database from the tasks, the processor, merchant-keys and audit, and the tasks from the ALB", ports)
	}
}
