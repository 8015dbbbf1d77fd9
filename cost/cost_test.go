package cost

import (
	"math"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/assembly"
)

// stack builds a one-stack assembly from resources given as type and
// properties.
func stack(resources map[string]assembly.Resource) []*assembly.Stack {
	return []*assembly.Stack{{Name: "S", Region: "ap-southeast-1", Template: assembly.Template{Resources: resources}}}
}

func fixture() map[string]assembly.Resource {
	endpoint := func(kind string, subnets int) assembly.Resource {
		ids := make([]any, subnets)
		return assembly.Resource{Type: "AWS::EC2::VPCEndpoint", Properties: map[string]any{"VpcEndpointType": kind, "SubnetIds": ids}}
	}
	return map[string]assembly.Resource{
		"Nat1":  {Type: "AWS::EC2::Instance", Properties: map[string]any{"InstanceType": "t4g.nano"}},
		"Nat2":  {Type: "AWS::EC2::Instance", Properties: map[string]any{"InstanceType": "t4g.nano"}},
		"Sqs":   endpoint("Interface", 2),
		"Kms":   endpoint("Interface", 2),
		"S3":    endpoint("Gateway", 0),
		"W":     {Type: "AWS::RDS::DBInstance", Properties: map[string]any{"DBInstanceClass": "db.t4g.medium"}},
		"R":     {Type: "AWS::RDS::DBInstance", Properties: map[string]any{"DBInstanceClass": "db.t4g.medium"}},
		"Task":  {Type: "AWS::ECS::TaskDefinition", Properties: map[string]any{"Cpu": "512", "Memory": "1024"}},
		"Scale": {Type: "AWS::ApplicationAutoScaling::ScalableTarget", Properties: map[string]any{"ServiceNamespace": "ecs", "MinCapacity": 2.0, "MaxCapacity": 6.0}},
		"Alb":   {Type: "AWS::ElasticLoadBalancingV2::LoadBalancer", Properties: map[string]any{"Subnets": []any{"a", "b"}}},
		"InAlb": {Type: "AWS::ElasticLoadBalancingV2::LoadBalancer", Properties: map[string]any{"Scheme": "internal", "Subnets": []any{"a", "b", "c"}}},
		"Acl":   {Type: "AWS::WAFv2::WebACL", Properties: map[string]any{"Rules": []any{1, 2, 3}}},
		"Group": {Type: "AWS::WAFv2::RuleGroup", Properties: map[string]any{"Rules": []any{1, 2}}},
		"Fn":    {Type: "AWS::Lambda::Function", Properties: map[string]any{"MemorySize": 512.0}},
		"Esm":   {Type: "AWS::Lambda::EventSourceMapping", Properties: map[string]any{"FunctionName": map[string]any{"Ref": "Fn"}, "BatchSize": 10.0}},
		"Key":   {Type: "AWS::KMS::Key"},
		"Plan":  {Type: "AWS::ApiGateway::UsagePlan", Properties: map[string]any{"Throttle": map[string]any{"RateLimit": 1000.0}}},
		"Sec":   {Type: "AWS::SecretsManager::Secret"},
	}
}

func TestMeasure(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		q, err := Measure(stack(fixture()))
		if err != nil {
			t.Fatal(err)
		}
		if q.Instances["t4g.nano"] != 2 || q.InterfaceEndpoints != 2 || q.InterfaceEndpointAZs != 4 || q.GatewayEndpoints != 1 ||
			q.DBInstances["db.t4g.medium"] != 2 || q.TaskVCPU != 0.5 || q.TaskMemoryGB != 1 || q.MinTasks != 2 || q.MaxTasks != 6 ||
			q.LoadBalancerAZs != 5 || q.PublicLoadBalancerAZs != 2 || q.WebACLRules != 3 || q.RuleGroupRules != 2 || q.ProcessorMemoryGB != 0.5 || q.ProcessorBatchSize != 10 ||
			q.KMSKeys != 1 || q.Secrets != 1 || q.RateLimit != 1000 {
			t.Errorf("quantities %+v", q)
		}
	})
	t.Run("ErrNoWorkload", func(t *testing.T) {
		r := fixture()
		delete(r, "Task")
		if _, err := Measure(stack(r)); err == nil || !strings.Contains(err.Error(), "task definition") {
			t.Errorf("got %v, want an error naming what is missing", err)
		}
	})
}

func TestOf(t *testing.T) {
	q, err := Measure(stack(fixture()))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Lines", func(t *testing.T) {
		idle := Profile{Name: "idle", RequestsPerTaskVCPU: 1000, PaymentShare: 0.5}
		e, err := Of(q, idle, Singapore)
		if err != nil {
			t.Fatal(err)
		}
		line := map[string]float64{}
		for _, l := range e.Lines {
			line[l.Item] = l.Monthly
		}
		for item, want := range map[string]float64{
			"VPC interface endpoints": 4 * 0.013 * 730,
			"Aurora PostgreSQL":       2 * 0.113 * 730,
			"ECS Fargate (API tasks)": 2 * (0.5*0.04045 + 1*0.00442) * 730,
			"NAT instances":           2 * (0.0054*730 + 0.005*730 + 8*0.096),
			"AWS WAF":                 5 + 5*1,
			"API Gateway (REST)":      0,
		} {
			if math.Abs(line[item]-want) > 0.005 {
				t.Errorf("%s: $%.2f, want $%.2f", item, line[item], want)
			}
		}
		if want := 2 * (0.059 + 0.005) * 730; math.Abs(e.NATGateways-want) > 0.005 {
			t.Errorf("NAT gateways $%.2f, want $%.2f", e.NATGateways, want)
		}
	})
	t.Run("TasksFollowTraffic", func(t *testing.T) {
		busy := Profile{Name: "busy", RequestsPerSecond: 2100, RequestsPerTaskVCPU: 1000, PaymentShare: 0.5}
		e, _ := Of(q, busy, Singapore)
		for _, l := range e.Lines {
			if l.Item == "ECS Fargate (API tasks)" && !strings.HasPrefix(l.Basis, "5 tasks") {
				t.Errorf("2,100 req/s at 500 req/s per 0.5-vCPU task: %s, want 5 tasks", l.Basis)
			}
		}
	})
	t.Run("ErrNoPrice", func(t *testing.T) {
		q.DBInstances["db.x9.huge"] = 1
		defer delete(q.DBInstances, "db.x9.huge")
		if _, err := Of(q, NonProduction, Singapore); err == nil || !strings.Contains(err.Error(), "db.x9.huge") {
			t.Errorf("got %v, want an error naming the class without a price", err)
		}
	})
}

func TestTiered(t *testing.T) {
	tiers := []Tier{{333, 4}, {1000, 3}, {math.Inf(1), 2}}
	for _, tc := range []struct{ millions, want float64 }{
		{0, 0}, {100, 400}, {333, 1332}, {1000, 1332 + 667*3}, {1500, 1332 + 667*3 + 500*2},
	} {
		if got := tiered(tc.millions, tiers); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("tiered(%g) = %g, want %g", tc.millions, got, tc.want)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "intro\n" + BeginMarker + "\nold\n" + EndMarker + "\noutro\n"
	got, err := ReplaceSection(doc, "new\n")
	if err != nil || got != "intro\n"+BeginMarker+"\nnew\n"+EndMarker+"\noutro\n" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := ReplaceSection("no markers", "x"); err == nil {
		t.Error("replaced a section in a document without markers")
	}
}

func TestMoney(t *testing.T) {
	for v, want := range map[float64]string{0.456: "0.46", 9.99: "9.99", 12.4: "12", 1234.5: "1,234", 22049.2: "22,049", 1234567: "1,234,567"} {
		if got := money(v); got != want {
			t.Errorf("money(%g) = %q, want %q", v, got, want)
		}
	}
}
