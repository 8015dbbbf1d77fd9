package infra_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

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

// Every relative link of the README and the reference pages leads to a file
// that exists, and every #anchor to a heading of its page (GitHub's slugs):
// moving a section must not leave a reader at a dead end.
func TestDocLinksResolve(t *testing.T) {
	pages, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	pages = append(pages, filepath.Join("..", "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			checked++
			data, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s links %s: %v", page, target, err)
				continue
			}
			if anchor != "" && !slices.Contains(headingSlugs(string(data)), anchor) {
				t.Errorf("%s links %s: %s has no such heading", page, target, path)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d links checked: the pattern no longer finds them", checked)
	}
}

// headingSlugs are the anchors GitHub gives a page's headings: lower case,
// punctuation but hyphens and underscores dropped, spaces as hyphens.
func headingSlugs(page string) []string {
	var slugs []string
	fence := false
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slugs = append(slugs, b.String())
	}
	return slugs
}
