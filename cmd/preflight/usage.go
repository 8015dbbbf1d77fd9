package main

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/environment"
)

// usage is what the deployment consumes in one region, counted in the
// synthesized templates rather than restated here, so the quota checks
// follow the infrastructure code as it changes.
type usage struct {
	VPCs, InternetGateways, ElasticIPs int
	// InterfaceEndpoints is the most interface endpoints in any one VPC:
	// their quota is per VPC.
	InterfaceEndpoints int
	Reservations       []reservation
	WAFLoggingConfigs  int
	// WAFLogGroups are the distinct CloudWatch Logs ARNs WAF logs to.
	WAFLogGroups []string
	VpcLinks     int
	VpcLinkNames []string
}

// reservation is a function's reserved concurrency. Function is empty when
// the name is not a literal (CloudFormation generates it).
type reservation struct {
	Function string
	N        int
}

// ReservedConcurrency is the sum of the reservations.
func (u usage) ReservedConcurrency() int {
	n := 0
	for _, r := range u.Reservations {
		n += r.N
	}
	return n
}

// deployment is the part of the assembly one environment deploys.
type deployment struct {
	// Stacks names the environment's stacks and the account stack. The
	// resources they already own are updated, not created, by a redeploy,
	// so the quota checks leave them out of what exists.
	Stacks  map[string]bool
	Regions map[string]usage
}

// readDeployment keeps the stacks of the environment with this suffix and
// the account stack: an assembly synthesized for several environments (or a
// stale one) must not count another environment's resources.
func readDeployment(stacks []*assembly.Stack, suffix string) deployment {
	d := deployment{Stacks: map[string]bool{}, Regions: map[string]usage{}}
	for _, s := range stacks {
		if !strings.HasSuffix(s.Name, "-"+suffix) && s.Name != environment.AccountStackName {
			continue
		}
		d.Stacks[s.Name] = true
		u := d.Regions[s.Region]
		endpoints := map[string]int{}
		logGroups := map[string]bool{}
		for _, l := range u.WAFLogGroups {
			logGroups[l] = true
		}
		for _, r := range sortedResources(s.Template.Resources) {
			switch r.Type {
			case "AWS::EC2::VPC":
				u.VPCs++
			case "AWS::EC2::InternetGateway":
				u.InternetGateways++
			case "AWS::EC2::EIP":
				u.ElasticIPs++
			case "AWS::EC2::VPCEndpoint":
				if r.Properties["VpcEndpointType"] == "Interface" {
					endpoints[key(r.Properties["VpcId"])]++
				}
			case "AWS::Lambda::Function":
				if n := assembly.Int(r.Properties["ReservedConcurrentExecutions"]); n > 0 {
					name, _ := r.Properties["FunctionName"].(string)
					u.Reservations = append(u.Reservations, reservation{Function: name, N: n})
				}
			case "AWS::WAFv2::LoggingConfiguration":
				u.WAFLoggingConfigs++
				destinations, _ := r.Properties["LogDestinationConfigs"].([]any)
				for _, dest := range destinations {
					// Only CloudWatch Logs destinations touch the logs
					// resource policy; S3 and Firehose do not. A
					// destination that is not a literal is kept as its
					// JSON, which is about as long as the ARN it becomes.
					arn := key(dest)
					if strings.Contains(arn, ":logs:") && !logGroups[arn] {
						logGroups[arn] = true
						u.WAFLogGroups = append(u.WAFLogGroups, arn)
					}
				}
			case "AWS::ApiGatewayV2::VpcLink":
				u.VpcLinks++
				if name, ok := r.Properties["Name"].(string); ok {
					u.VpcLinkNames = append(u.VpcLinkNames, name)
				}
			}
		}
		for _, n := range endpoints {
			u.InterfaceEndpoints = max(u.InterfaceEndpoints, n)
		}
		d.Regions[s.Region] = u
	}
	return d
}

// sortedResources orders resources by logical id so that the lists in a
// usage (and the messages built from them) do not depend on map order.
func sortedResources(resources map[string]assembly.Resource) []assembly.Resource {
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]assembly.Resource, len(ids))
	for i, id := range ids {
		out[i] = resources[id]
	}
	return out
}

// key is a literal string as is, and any other template value (a Ref, a
// Fn::Join) as its JSON, so equal values compare equal.
func key(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
