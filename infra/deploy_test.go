package infra_test

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/infra"
)

// Deploy semantics: what CloudFormation and the services need at create
// time, which no linter checks. Each test reads the synthesized templates
// of every configuration (default, production, and every non-default axis
// at once) and names the class of defect it catches.

// every synthesis the package made, by what it covers.
func syntheses() map[string]map[string]map[string]any {
	return map[string]map[string]map[string]any{"default": templates, "production": prod.templates, "matrix": matrix.templates}
}

// graph is one template's resources and what each depends on: DependsOn,
// Ref and Fn::GetAtt (CloudFormation orders a resource after everything it
// names).
type graph struct {
	resources map[string]resource
	edges     map[string][]string
}

func newGraph(stack string, tmpl map[string]any) graph {
	g := graph{resources: map[string]resource{}, edges: map[string][]string{}}
	for _, r := range resourcesOf(map[string]map[string]any{stack: tmpl}) {
		g.resources[r.logicalID] = r
		g.edges[r.logicalID] = append(g.edges[r.logicalID], r.DependsOn...)
		walk(r.Properties, "", func(_ string, v any) {
			if id := refOf(v); id != "" {
				g.edges[r.logicalID] = append(g.edges[r.logicalID], id)
			}
		})
	}
	return g
}

// dependsOn reports whether from is created after to.
func (g graph) dependsOn(from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, next := range g.edges[id] {
			if next == to {
				return true
			}
			if !seen[next] {
				seen[next] = true
				stack = append(stack, next)
			}
		}
	}
	return false
}

// refers reports whether r names id directly (Ref or Fn::GetAtt).
func refers(r resource, id string) bool {
	found := false
	walk(r.Properties, "", func(_ string, v any) { found = found || refOf(v) == id })
	return found
}

// A policy attached to a role by a resource of its own is not a dependency of
// what uses the role: CloudFormation may create a VPC function before its
// network-interface permissions exist, an Aurora instance before its
// monitoring role may write, API Gateway's account setting before its role
// may log. Every resource that names a role (or an instance profile of it)
// must be created after every policy attached to that role.
func TestPoliciesExistBeforeTheirUsers(t *testing.T) {
	checked := 0
	for name, syn := range syntheses() {
		for stack, tmpl := range syn {
			g := newGraph(stack, tmpl)
			profiles := map[string][]string{} // role -> its instance profiles
			for id, r := range g.resources {
				if r.Type == "AWS::IAM::InstanceProfile" {
					for _, role := range asList(r.Properties["Roles"]) {
						profiles[refOf(role)] = append(profiles[refOf(role)], id)
					}
				}
			}
			for policyID, policy := range g.resources {
				if policy.Type != "AWS::IAM::ManagedPolicy" && policy.Type != "AWS::IAM::Policy" {
					continue
				}
				for _, roleRef := range asList(policy.Properties["Roles"]) {
					role := refOf(roleRef)
					if role == "" {
						continue // a role of another stack, created before this one
					}
					for userID, user := range g.resources {
						switch user.Type {
						case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::InstanceProfile":
							continue
						}
						uses := refers(user, role)
						for _, profile := range profiles[role] {
							uses = uses || refers(user, profile)
						}
						if !uses {
							continue
						}
						checked++
						if !g.dependsOn(userID, policyID) {
							t.Errorf("%s: %s/%s (%s) uses role %s but may be created before its policy %s", name, stack, userID, user.Type, role, policyID)
						}
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d role users checked: the scan is not looking at the templates", checked)
	}
}

// Every NAT instance can route out: it has a public address of its own, sits
// in a subnet whose default route is the internet gateway, does not check
// source and destination, and is the default route of a private subnet.
func TestEveryNatInstanceRoutesOut(t *testing.T) {
	for name, syn := range syntheses() {
		network := syn["PaymentsNetwork-"+suffixOf(name)]
		g := newGraph("network", network)
		routeTableOf := map[string]string{} // subnet -> route table
		for _, r := range g.resources {
			if r.Type == "AWS::EC2::SubnetRouteTableAssociation" {
				routeTableOf[refOf(r.Properties["SubnetId"])] = refOf(r.Properties["RouteTableId"])
			}
		}
		defaultRoute := func(table string) resource {
			for _, r := range g.resources {
				if r.Type == "AWS::EC2::Route" && refOf(r.Properties["RouteTableId"]) == table && r.Properties["DestinationCidrBlock"] == "0.0.0.0/0" {
					return r
				}
			}
			return resource{}
		}
		instances := 0
		for id, r := range g.resources {
			if r.Type != "AWS::EC2::Instance" {
				continue
			}
			instances++
			// With an associated public address the subnet is on the
			// network interface; without one, on the instance.
			nic := map[string]any{"SubnetId": r.Properties["SubnetId"]}
			if nics := asList(r.Properties["NetworkInterfaces"]); len(nics) > 0 {
				nic, _ = nics[0].(map[string]any)
			}
			publicAddress := nic["AssociatePublicIpAddress"] == true
			for _, other := range g.resources {
				publicAddress = publicAddress || ((other.Type == "AWS::EC2::EIP" || other.Type == "AWS::EC2::EIPAssociation") && refers(other, id))
			}
			if !publicAddress {
				t.Errorf("%s: NAT instance %s has no public address: nothing it forwards can leave", name, id)
			}
			if r.Properties["SourceDestCheck"] != false {
				t.Errorf("%s: NAT instance %s checks source and destination: it would drop what it forwards", name, id)
			}
			out := defaultRoute(routeTableOf[refOf(nic["SubnetId"])])
			if gw := g.resources[refOf(out.Properties["GatewayId"])]; gw.Type != "AWS::EC2::InternetGateway" {
				t.Errorf("%s: NAT instance %s is in subnet %v, whose default route %v is not the internet gateway", name, id, nic["SubnetId"], out.Properties)
			}
			routedThrough := 0
			for _, route := range g.resources {
				if route.Type == "AWS::EC2::Route" && refOf(route.Properties["InstanceId"]) == id && route.Properties["DestinationCidrBlock"] == "0.0.0.0/0" {
					routedThrough++
				}
			}
			if routedThrough != 1 {
				t.Errorf("%s: NAT instance %s is the default route of %d private subnets, want its AZ's one", name, id, routedThrough)
			}
		}
		if instances != len(infra.AvailabilityZones) {
			t.Errorf("%s: %d NAT instances", name, instances)
		}
	}
}

// suffixOf is the environment suffix of a synthesis.
func suffixOf(synthesis string) string {
	if synthesis == "matrix" {
		return longestSuffix
	}
	return testSuffix
}

// Lambda refuses a reservation that leaves fewer than 100 executions
// unreserved, and new accounts often have a limit of 10 or 50: outside
// production nothing is reserved. A reservation of 0 throttles a function
// completely, so "nothing" is an absent property. Production reserves what
// its posture says (environment.PostureOf).
func TestReservedConcurrencyFitsANewAccount(t *testing.T) {
	reserved := map[string]float64{}
	for name, syn := range syntheses() {
		for _, r := range resourcesOf(syn, "AWS::Lambda::Function") {
			v, ok := r.Properties["ReservedConcurrentExecutions"]
			switch {
			case ok && v == float64(0):
				t.Errorf("%s: %s reserves 0 executions, which throttles it completely", name, r)
			case ok && name == "default":
				t.Errorf("%s: %s reserves %v executions outside production", name, r, v)
			case ok:
				reserved[name] += v.(float64)
			}
		}
	}
	if reserved["production"] != productionReservedConcurrency || reserved["matrix"] != productionReservedConcurrency {
		t.Errorf("production reserves %v (and %v with every axis), the posture says %v", reserved["production"], reserved["matrix"], productionReservedConcurrency)
	}
}

// productionReservedConcurrency is what a production deployment reserves
// (the posture's, in the README's table); its account needs a concurrency
// quota of at least this plus 100 (docs/OPERATIONS.md, quotas).
var productionReservedConcurrency = float64(environment.PostureOf(true).ProcessorReservedConcurrency)

// The first master-secret rotation runs as soon as its schedule exists and
// needs the writer up, not only the cluster resource.
func TestRotationWaitsForTheDatabaseInstances(t *testing.T) {
	waitsForTheDatabaseInstances(t, "AWS::SecretsManager::RotationSchedule", "the rotation schedule")
}

// dbinit connects to the writer as soon as the schema resource exists
// (CloudFormation calls it at once): the instances, not only the cluster
// resource, must be up.
func TestSchemaWaitsForTheDatabaseInstances(t *testing.T) {
	waitsForTheDatabaseInstances(t, "Custom::PaymentsSchema", "the schema resource")
}

// waitsForTheDatabaseInstances checks that the one resource of type in
// each synthesis's data stack is created after all three instances.
func waitsForTheDatabaseInstances(t *testing.T, resourceType, what string) {
	t.Helper()
	for name, syn := range syntheses() {
		stack := "PaymentsData-" + suffixOf(name)
		g := newGraph(stack, syn[stack])
		var users, instances []string
		for id, r := range g.resources {
			switch r.Type {
			case resourceType:
				users = append(users, id)
			case "AWS::RDS::DBInstance":
				instances = append(instances, id)
			}
		}
		if len(users) != 1 || len(instances) != 3 {
			t.Fatalf("%s: %d of %s and %d instances", name, len(users), resourceType, len(instances))
		}
		for _, instance := range instances {
			if !g.dependsOn(users[0], instance) {
				t.Errorf("%s: %s may run before %s exists", name, what, instance)
			}
		}
	}
}

// Every host name an integration calls is either AWS's or the one the
// integration target's certificate is for: a private integration's URI "is
// not used for routing" (the VPC link carries the request), its host is the
// TLS server name API Gateway verifies. Where a hosted zone is configured,
// the client-facing name has a record and every certificate validates
// through the zone (an unvalidated certificate holds the stack in
// CREATE_IN_PROGRESS).
func TestHostNamesResolveOrAreCertified(t *testing.T) {
	for name, syn := range syntheses() {
		app := "PaymentsApp-" + suffixOf(name)
		g := newGraph(app, syn[app])
		certificateHost := map[string]string{} // load balancer -> host its HTTPS listener certifies
		for _, r := range g.resources {
			if r.Type != "AWS::ElasticLoadBalancingV2::Listener" {
				continue
			}
			cert := asList(r.Properties["Certificates"])[0].(map[string]any)["CertificateArn"]
			host := g.resources[refOf(cert)].Properties["DomainName"]
			if literal, ok := cert.(string); ok && literal == matrixContext[environment.KeyALBCertificateArn] {
				host = "alb." + matrixContext[environment.KeyDomainName].(string) // imported: issued for the configured host
			}
			certificateHost[refOf(r.Properties["LoadBalancerArn"])], _ = host.(string)
		}
		methods := 0
		for id, r := range g.resources {
			if r.Type != "AWS::ApiGateway::Method" {
				continue
			}
			methods++
			integration := asMap(r.Properties["Integration"])
			u, err := url.Parse(strings.ReplaceAll(integration["Uri"].(string), "{id}", "x"))
			if err != nil || u.Scheme != "https" {
				t.Errorf("%s: %s calls %v, not HTTPS", name, id, integration["Uri"])
				continue
			}
			if strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
				continue
			}
			target := refOf(integration["IntegrationTarget"])
			if integration["ConnectionType"] != "VPC_LINK" || certificateHost[target] != u.Hostname() {
				t.Errorf("%s: %s calls %s, which is neither AWS's nor the name the integration target's certificate is for (%q)", name, id, u.Hostname(), certificateHost[target])
			}
		}
		if methods == 0 {
			t.Fatalf("%s: no methods", name)
		}
		if name != "matrix" {
			continue
		}
		domain := one(t, resourcesOf(map[string]map[string]any{app: syn[app]}, "AWS::ApiGateway::DomainName"), "custom domains")
		records := 0
		for _, r := range g.resources {
			if r.Type == "AWS::Route53::RecordSet" && r.Properties["Name"] == domain.Properties["DomainName"].(string)+"." && refers(r, domain.logicalID) {
				records++
			}
		}
		if records != 1 {
			t.Errorf("matrix: %d alias records for %v, want 1", records, domain.Properties["DomainName"])
		}
		for _, r := range resourcesOf(map[string]map[string]any{app: syn[app]}, "AWS::CertificateManager::Certificate") {
			options := jsonOf(r.Properties["DomainValidationOptions"])
			if r.Properties["ValidationMethod"] != "DNS" || !strings.Contains(options, `"HostedZoneId":"`+matrixContext[environment.KeyHostedZoneID].(string)+`"`) {
				t.Errorf("matrix: certificate %v does not validate through the hosted zone: %s", r.Properties["DomainName"], options)
			}
		}
	}
	if problems := cfg.DeployProblems(); len(problems) == 0 {
		t.Error("the default configuration (placeholder domain, no hosted zone) must not be deployable")
	}
	// The matrix keeps the offline account (its lookups are committed for
	// that account only); nothing else stands in its way.
	if problems := matrix.cfg.DeployProblems(); len(problems) != 1 || !strings.HasPrefix(problems[0], environment.KeyAccount+":") {
		t.Errorf("the matrix configuration should be deployable but for the offline account, yet: %v", problems)
	}
}

// Every permission that lets an AWS service invoke a function names the
// source, so that no other account's or resource's event can use it (the
// confused deputy; checkov CKV_AWS_364).
func TestServicePermissionsNameTheirSource(t *testing.T) {
	checked := 0
	for name, syn := range syntheses() {
		for _, r := range resourcesOf(syn, "AWS::Lambda::Permission") {
			principal, _ := r.Properties["Principal"].(string)
			if !strings.HasSuffix(principal, ".amazonaws.com") {
				continue
			}
			checked++
			if r.Properties["SourceArn"] == nil && r.Properties["SourceAccount"] == nil {
				t.Errorf("%s: %s lets %s invoke it from any account", name, r, principal)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no service permissions found")
	}
}

// `make destroy` is deterministic: every bucket of a non-production
// environment is emptied and deleted by a cleaner that runs before the
// bucket's own deletion, and may delete exactly the buckets it cleans.
func TestEveryBucketIsRemovedByItsCleaner(t *testing.T) {
	for stack, tmpl := range templates {
		g := newGraph(stack, tmpl)
		cleaned := map[string]string{} // bucket -> its cleaner
		for id, r := range g.resources {
			if r.Type == "Custom::EmptyBucketOnDelete" {
				for _, d := range r.DependsOn {
					if g.resources[d].Type == "AWS::S3::Bucket" && refers(r, d) {
						cleaned[d] = id
					}
				}
				if !slices.ContainsFunc(r.DependsOn, func(d string) bool { return g.resources[d].Type == "AWS::S3::Bucket" }) {
					t.Errorf("%s/%s does not wait for (and so may outlive) its bucket", stack, id)
				}
			}
		}
		var deletable []string
		for _, r := range g.resources {
			if r.Type != "AWS::IAM::ManagedPolicy" || !strings.Contains(jsonOf(r.Properties), "s3:DeleteBucket") {
				continue
			}
			for _, s := range asList(asMap(r.Properties["PolicyDocument"])["Statement"]) {
				if slices.Contains(stringsOf(s.(map[string]any)["Action"]), "s3:DeleteBucket") {
					deletable = append(deletable, stringsOf(s.(map[string]any)["Resource"])...)
				}
			}
		}
		for id, r := range g.resources {
			if r.Type != "AWS::S3::Bucket" {
				continue
			}
			if cleaned[id] == "" {
				t.Errorf("%s/%s (%v) has no cleaner: a non-empty bucket fails the stack's deletion", stack, id, r.Properties["BucketName"])
			}
			if arn := fmt.Sprint("arn:aws:s3:::", r.Properties["BucketName"]); !slices.Contains(deletable, arn) {
				t.Errorf("%s: no cleaner may delete %s (late log deliveries refill an emptied bucket)", stack, arn)
			}
		}
		// A bucket's policy goes before its cleaner deletes the bucket, so
		// nothing is ever deleted from a bucket that is gone.
		for id, r := range g.resources {
			if bucket := refOf(r.Properties["Bucket"]); r.Type == "AWS::S3::BucketPolicy" && cleaned[bucket] != "" && !g.dependsOn(id, cleaned[bucket]) {
				t.Errorf("%s/%s: the policy of %s may outlive the bucket (its cleaner deletes the bucket)", stack, id, bucket)
			}
		}
	}
}

// nameLimits are the length limits of the physical names this app sets, by
// resource type and property (each service's documented maximum).
var nameLimits = map[string]map[string]int{
	"AWS::S3::Bucket": {"BucketName": 63},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"Name": 32},
	"AWS::ElasticLoadBalancingV2::TargetGroup":  {"Name": 32},
	"AWS::Lambda::Function":                     {"FunctionName": 64},
	"AWS::IAM::Role":                            {"RoleName": 64},
	"AWS::IAM::ManagedPolicy":                   {"ManagedPolicyName": 128},
	"AWS::RDS::DBCluster":                       {"DBClusterIdentifier": 63},
	"AWS::RDS::DBInstance":                      {"DBInstanceIdentifier": 63},
	"AWS::SQS::Queue":                           {"QueueName": 80},
	"AWS::SNS::Topic":                           {"TopicName": 256},
	"AWS::EC2::SecurityGroup":                   {"GroupName": 255},
	"AWS::Logs::LogGroup":                       {"LogGroupName": 512},
	"AWS::KMS::Alias":                           {"AliasName": 256},
	"AWS::SecretsManager::Secret":               {"Name": 512},
	"AWS::Scheduler::Schedule":                  {"Name": 64},
	"AWS::WAFv2::WebACL":                        {"Name": 128},
	"AWS::WAFv2::RuleGroup":                     {"Name": 128},
	"AWS::ECS::Cluster":                         {"ClusterName": 255},
	"AWS::ECS::Service":                         {"ServiceName": 255},
	"AWS::ApiGatewayV2::VpcLink":                {"Name": 128},
	"AWS::ApiGateway::RestApi":                  {"Name": 1024},
	"AWS::ApiGateway::UsagePlan":                {"UsagePlanName": 1024},
	"AWS::CloudWatch::Dashboard":                {"DashboardName": 255},
	"AWS::CloudWatch::Alarm":                    {"AlarmName": 255},
}

// The longest suffix the configuration accepts (and the longest replica
// region) keeps every name within its service's limit: the validator and
// the names agree. A DNS label is at most 63 characters.
func TestNamesFitTheirLimits(t *testing.T) {
	checked := 0
	for _, r := range resourcesOf(matrix.templates) {
		for prop, limit := range nameLimits[r.Type] {
			name, ok := r.Properties[prop].(string)
			if !ok {
				continue
			}
			checked++
			if len(name) > limit {
				t.Errorf("%s: %s %q has %d characters, more than %d", r, prop, name, len(name), limit)
			}
		}
		if r.Type == "AWS::ApiGateway::DomainName" || r.Type == "AWS::CertificateManager::Certificate" {
			for _, label := range strings.Split(fmt.Sprint(r.Properties["DomainName"]), ".") {
				if len(label) > 63 {
					t.Errorf("%s: DNS label %q is longer than 63", r, label)
				}
			}
		}
	}
	if checked < 40 || !strings.Contains(jsonOf(matrix.templates), longestSuffix) {
		t.Fatalf("only %d names checked, or the matrix does not carry the longest suffix", checked)
	}
}

// ourCustomResources are the custom resources this app defines, each served
// by one of its Go functions (GoFunction.CustomResource).
var ourCustomResources = []string{"Custom::PaymentsSchema", "Custom::EmptyBucketOnDelete", "Custom::MerchantKeys", "Custom::MtlsTruststore"}

// CloudFormation waits an hour for a custom resource whose handler died
// without answering (a timeout, out of memory) unless ServiceTimeout says
// otherwise: every one of ours is served by its function directly and gives
// up a minute after the function's own timeout, is created after the
// function's policy, so the first call is not refused, and a function in
// the VPC can reach the answer's pre-signed S3 URL (through the gateway
// endpoint's prefix list) for as long as the resource exists: the resource
// depends on that rule, so a stack deletion removes the rule only after the
// resource's Delete has answered. CloudFormation invokes the function
// asynchronously; Lambda must not retry it.
func TestCustomResourcesAnswerOrFailFast(t *testing.T) {
	seen := map[string]bool{}
	for name, syn := range syntheses() {
		for stack, tmpl := range syn {
			g := newGraph(stack, tmpl)
			for id, cr := range g.resources {
				if !contains(ourCustomResources, cr.Type) {
					continue
				}
				seen[cr.Type] = true
				fn, ok := g.resources[refOf(cr.Properties["ServiceToken"])]
				if !ok || fn.Type != "AWS::Lambda::Function" {
					t.Errorf("%s: %s/%s is not served by a function of its stack: %v", name, stack, id, cr.Properties["ServiceToken"])
					continue
				}
				timeout, _ := fn.Properties["Timeout"].(float64)
				serviceTimeout, _ := strconv.ParseFloat(fmt.Sprint(cr.Properties["ServiceTimeout"]), 64)
				if serviceTimeout != timeout+60 || serviceTimeout > 3600 {
					t.Errorf("%s: %s/%s gives up after %v s; its function %s runs for up to %v s", name, stack, id, cr.Properties["ServiceTimeout"], fn.logicalID, timeout)
				}
				if vpc, ok := fn.Properties["VpcConfig"].(map[string]any); ok {
					reachesS3 := false
					for _, group := range asList(vpc["SecurityGroupIds"]) {
						// Inline in the group, or a rule of its own that
						// names it.
						rules := asList(g.resources[refOf(group)].Properties["SecurityGroupEgress"])
						for _, rule := range g.resources {
							names := refOf(rule.Properties["GroupId"]) == refOf(group) || refOf(rule.Properties["SourceSecurityGroupId"]) == refOf(group)
							if rule.Type != "AWS::EC2::SecurityGroupEgress" && rule.Type != "AWS::EC2::SecurityGroupIngress" || !names {
								continue
							}
							if rule.Type == "AWS::EC2::SecurityGroupEgress" {
								rules = append(rules, rule.Properties)
							}
							// Created before the resource (its first call
							// needs the path), deleted after it.
							if !g.dependsOn(id, rule.logicalID) {
								t.Errorf("%s: %s/%s does not depend on %s, a network rule of its function: it may be called before the rule exists, or the rule removed first", name, stack, id, rule.logicalID)
							}
						}
						for _, rule := range rules {
							r, _ := rule.(map[string]any)
							reachesS3 = reachesS3 || r["DestinationPrefixListId"] != nil && r["FromPort"] == float64(443)
						}
					}
					if !reachesS3 {
						t.Errorf("%s: %s/%s: its function %s cannot reach S3 to answer CloudFormation", name, stack, id, fn.logicalID)
					}
				}
				retriesOff := false
				for _, c := range g.resources {
					retriesOff = retriesOff || c.Type == "AWS::Lambda::EventInvokeConfig" && refOf(c.Properties["FunctionName"]) == fn.logicalID &&
						c.Properties["MaximumRetryAttempts"] == float64(0)
				}
				if !retriesOff {
					t.Errorf("%s: %s/%s: Lambda may retry its function %s after a crash", name, stack, id, fn.logicalID)
				}
				for _, policy := range g.resources {
					if policy.Type == "AWS::IAM::ManagedPolicy" && refers(policy, refOf(fn.Properties["Role"])) && !g.dependsOn(id, policy.logicalID) {
						t.Errorf("%s: %s/%s may be created before %s, its function's policy", name, stack, id, policy.logicalID)
					}
				}
			}
		}
	}
	if len(seen) != len(ourCustomResources) {
		t.Errorf("found custom resources of the types %v, want all of %v", seen, ourCustomResources)
	}
}
