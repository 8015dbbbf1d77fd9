package diagram

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/assembly"
)

func build(t *testing.T) *Graph {
	t.Helper()
	stacks, err := assembly.Load("testdata/assembly")
	if err != nil {
		t.Fatal(err)
	}
	return Build(stacks)
}

// The fixture has one of each rule: references through undrawn resources
// (a task definition, a role and its attached policy, a cross-stack
// import), a security-group ingress, a web ACL association, an HTTPS
// integration by host name, a literal S3 ARN, a resource policy pointing
// back, a custom resource's function, counted keys and alarms.
func TestBuild(t *testing.T) {
	g := build(t)

	t.Run("Nodes", func(t *testing.T) {
		want := map[string]string{
			"Data-x/AWS::KMS::Key":         "KMS keys ×2|database, documents",
			"Data-x/Database/Cluster":      "Aurora cluster|db-x|2 instances",
			"Data-x/Storage/Documents":     "S3 bucket|docs-x",
			"Data-x/Storage/Logs":          "S3 bucket|logs-x",
			"App-x/Queues/Payments":        "SQS queue|payments-x",
			"App-x/Api/Service":            "ECS Fargate service|api-x",
			"App-x/Edge/LoadBalancer":      "Application Load Balancer|alb-x",
			"App-x/Edge/WebAcl":            "WAF web ACL|edge-x",
			"App-x/Gateway/RestApi":        "API Gateway REST API|api-x|2 methods",
			"App-x/Gateway/Domain":         "API custom domain|api.x.example.com",
			"App-x/Cleaner/Function":       "Lambda function|cleaner-x",
			"App-x/Worker/Function":        "Lambda function|worker-x",
			"App-x/AWS::CloudWatch::Alarm": "CloudWatch alarms ×2|api-5xx-rate, dlq-not-empty",
		}
		got := map[string]string{}
		for id, n := range g.Nodes {
			got[id] = strings.Join(n.Lines, "|")
		}
		if !maps.Equal(got, want) {
			t.Errorf("nodes:\n got %v\nwant %v", got, want)
		}
		for id, n := range g.Nodes {
			if n.DeployTime != (id == "App-x/Cleaner/Function") {
				t.Errorf("%s: deploy-time %v", id, n.DeployTime)
			}
		}
	})

	t.Run("Edges", func(t *testing.T) {
		want := []Edge{
			{"App-x/AWS::CloudWatch::Alarm", "App-x/Queues/Payments", ""},
			{"App-x/Api/Service", "App-x/Queues/Payments", ""},           // through the task role's policy
			{"App-x/Api/Service", "Data-x/Database/Cluster", "tcp/5432"}, // the ingress rule; the import of the endpoint is the same pair
			{"App-x/Edge/WebAcl", "App-x/Edge/LoadBalancer", "protects"},
			{"App-x/Gateway/Domain", "App-x/Gateway/RestApi", ""},
			{"App-x/Gateway/RestApi", "App-x/Edge/LoadBalancer", "HTTPS"},
			{"App-x/Worker/Function", "Data-x/Database/Cluster", "tcp/5432"}, // the rule imports the group through Fn::GetStackOutput
			{"Data-x/Storage/Documents", "Data-x/Storage/Logs", ""},          // the literal ARN; the log bucket's policy is not a use
		}
		slices.SortFunc(want, func(a, b Edge) int { return strings.Compare(a.From+a.To+a.Label, b.From+b.To+b.Label) })
		if !slices.Equal(g.Edges, want) {
			t.Errorf("edges:\n got %v\nwant %v", g.Edges, want)
		}
	})
}

func TestWriteDOT(t *testing.T) {
	var out bytes.Buffer
	build(t).WriteDOT(&out)
	dot := out.String()
	for _, want := range []string{
		`subgraph cluster_0 {` + "\n" + `    label="App-x (ap-southeast-1)"`,
		`client -> "App-x/Gateway/Domain" [label="mutual TLS"`,
		`"App-x/AWS::CloudWatch::Alarm" -> "App-x/Queues/Payments" [style=dotted`,
		`"App-x/Cleaner/Function" [label="Lambda function\ncleaner-x", fillcolor="#f4f4f4", fontcolor="#777777", style="rounded,filled,dashed"]`,
		`"App-x/Api/Service" -> "Data-x/Database/Cluster" [label="tcp/5432"];`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
	var again bytes.Buffer
	build(t).WriteDOT(&again)
	if again.String() != dot {
		t.Error("two renderings of the same assembly differ")
	}
}
