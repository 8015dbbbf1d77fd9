package infra_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/cost"
	"github.com/fintech/payments-platform/diagram"
	"github.com/fintech/payments-platform/test/integration"
)

// Every output the integration tests read is produced, by exactly one
// stack (cmd/flatoutputs refuses a key two stacks share), and no output
// carries a secret value.
func TestIntegrationOutputs(t *testing.T) {
	owner := map[string]string{}
	for stack, tmpl := range templates {
		for name, output := range asMap(tmpl["Outputs"]) {
			if other, ok := owner[name]; ok {
				t.Errorf("output %s in both %s and %s", name, other, stack)
			}
			owner[name] = stack
			if value := jsonOf(asMap(output)["Value"]); strings.Contains(value, "resolve:secretsmanager") || strings.Contains(value, "SecretString") {
				t.Errorf("output %s carries a secret value: %s", name, value)
			}
		}
	}
	for _, key := range integration.Required {
		if _, ok := owner[key]; !ok {
			t.Errorf("no stack outputs %s, which the integration tests read", key)
		}
	}
}

// docs/architecture.dot is what cmd/diagram draws from this app. The tests
// synthesize the suffix pr123; the committed diagram is of dev.
func TestArchitectureDiagramIsCurrent(t *testing.T) {
	stacks, err := assembly.Load(outdir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	diagram.Build(stacks).WriteDOT(&out)
	got := strings.ReplaceAll(out.String(), "pr123", "dev")
	want, err := os.ReadFile(filepath.Join("..", "docs", "architecture.dot"))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("docs/architecture.dot no longer matches the app: run `make diagram` and commit docs/architecture.{dot,svg}")
	}
}

// The tables of docs/COST.md are what cmd/costmodel computes from this app
// (non-production and production).
func TestCostModelIsCurrent(t *testing.T) {
	nonProduction, err := assembly.Load(outdir)
	if err != nil {
		t.Fatal(err)
	}
	production, err := assembly.Load(prod.outdir)
	if err != nil {
		t.Fatal(err)
	}
	section, err := cost.Section(nonProduction, production)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "COST.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := cost.ReplaceSection(string(doc), section); want != string(doc) {
		t.Errorf("docs/COST.md no longer matches the app: run `make cost` and commit docs/COST.md")
	}
}
