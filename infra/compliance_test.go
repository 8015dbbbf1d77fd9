package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/infra"
)

// cdk-nag turns every unsuppressed error of the three packs into an error
// annotation; none may remain.
func TestNoUnsuppressedNagErrors(t *testing.T) {
	for _, s := range stacks.All() {
		errs := assertions.Annotations_FromStack(s).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*")))
		for _, e := range *errs {
			t.Errorf("%s: %v", *e.Id, e.Entry.Data)
		}
	}
}

// The packs really ran on every stack: a report per pack and stack, each with
// checked rules. Without this, a missing Aspect would look like a clean run.
func TestEveryPackReportsOnEveryStack(t *testing.T) {
	for _, pack := range []string{"AwsSolutions", "PCI.DSS.321", "NIST.800.53.R5"} {
		for _, s := range stacks.All() {
			file := filepath.Join(outdir, pack+"--"+*s.StackName()+"-NagReport.json")
			report, err := readNagReport(file)
			if err != nil {
				t.Errorf("%s: %v", pack, err)
				continue
			}
			if len(report.Lines) == 0 {
				t.Errorf("%s: no rule was checked", file)
			}
			for _, l := range report.Lines {
				if l.Compliance == "Suppressed" && len(l.ExceptionReason) < 60 {
					t.Errorf("%s %s: suppression reason too thin for an assessor: %q", l.RuleID, l.ResourceID, l.ExceptionReason)
				}
			}
		}
	}
}

// nagReport is one cdk-nag report (<pack>--<stack>-NagReport.json).
type nagReport struct {
	Lines []struct {
		Compliance      string `json:"compliance"`
		ExceptionReason string `json:"exceptionReason"`
		RuleID          string `json:"ruleId"`
		ResourceID      string `json:"resourceId"`
	} `json:"lines"`
}

func readNagReport(file string) (nagReport, error) {
	var report nagReport
	data, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(data, &report)
	}
	if err != nil {
		return report, fmt.Errorf("%s: %w", file, err)
	}
	return report, nil
}

// CDK's built-in template validation ("CloudFormation Validate") writes its
// findings to validation-report.json at synth; there must be none.
func TestBuiltInValidationHasNoFindings(t *testing.T) {
	var report struct {
		PluginReports []struct {
			PluginName string            `json:"pluginName"`
			Violations []json.RawMessage `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(validationReport, &report); err != nil {
		t.Fatal(err)
	}
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			t.Errorf("%s: %s", p.PluginName, v)
		}
	}
}

// docs/COMPLIANCE.md names only cdk-nag rules that ran on this app and
// tests that exist: the map cannot claim a check the repository lost.
func TestComplianceMapIsChecked(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "COMPLIANCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(outdir, "*NagReport.json"))
	for _, file := range files {
		report, err := readNagReport(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range report.Lines {
			ran[l.RuleID] = true
		}
	}
	rules := regexp.MustCompile(`\b(?:AwsSolutions|PCI\.DSS\.321|NIST\.800\.53\.R5)-[A-Za-z0-9]+`).FindAllString(string(doc), -1)
	if len(rules) < 30 {
		t.Fatalf("found %d rule names in docs/COMPLIANCE.md; the pattern no longer matches how it names them", len(rules))
	}
	for _, rule := range rules {
		if !ran[rule] {
			t.Errorf("docs/COMPLIANCE.md names %s, which no nag pack ran on this app", rule)
		}
	}

	defined := map[string]bool{}
	sources, _ := filepath.Glob(filepath.Join("..", "*", "*_test.go"))
	more, _ := filepath.Glob(filepath.Join("..", "*", "*", "*_test.go"))
	for _, source := range append(sources, more...) {
		data, _ := os.ReadFile(source)
		for _, m := range regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`).FindAllStringSubmatch(string(data), -1) {
			defined[m[1]] = true
		}
	}
	tests := regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(tests) < 20 {
		t.Fatalf("found %d test names in docs/COMPLIANCE.md", len(tests))
	}
	for _, m := range tests {
		if !defined[m[1]] {
			t.Errorf("docs/COMPLIANCE.md names %s, which no test file defines", m[1])
		}
	}
}

// The packs run again over the synthesized templates, where every deployed
// resource is an L1 of its type (also what CDK writes as a plain
// CfnResource, which the construct tree's packs never see): no unsuppressed
// error in the default configuration or with every non-default axis, and a
// report from every pack on every stack.
func TestNagOverTheTemplates(t *testing.T) {
	for name, dir := range map[string]string{"default": outdir, "matrix": matrix.outdir} {
		unsuppressed, err := infra.NagTemplates(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, pack := range []string{"AwsSolutions", "PCI.DSS.321", "NIST.800.53.R5"} {
			for stack := range syntheses()[name] {
				file := filepath.Join(dir, infra.TemplateNagDir, pack+"--"+stack+"-NagReport.json")
				report, err := readNagReport(file)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				for _, l := range report.Lines {
					if l.Compliance == "Non-Compliant" {
						t.Errorf("%s: %s %s over the template of %s", name, l.RuleID, l.ResourceID, stack)
					}
				}
			}
		}
		if unsuppressed != 0 {
			t.Errorf("%s: %d unsuppressed errors over the templates", name, unsuppressed)
		}
	}
}
