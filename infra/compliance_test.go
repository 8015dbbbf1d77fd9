package infra_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/infra"
)

// cdk-nag turns every unsuppressed error of the three packs into an error
// annotation, as the constructs do with a configuration they refuse; none
// may remain.
func TestNoUnsuppressedNagErrors(t *testing.T) {
	for _, s := range stacks.All() {
		for _, e := range errorAnnotations(s) {
			t.Error(e)
		}
	}
}

// errorAnnotations are a stack's error annotations, each as JSON (its
// construct path and message).
func errorAnnotations(s awscdk.Stack) []string {
	var out []string
	for _, e := range *assertions.Annotations_FromStack(s).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*"))) {
		data, _ := json.Marshal(e)
		out = append(out, string(data))
	}
	return out
}

// The packs really ran on every stack: a report per pack and stack, each with
// checked rules. Without this, a missing Aspect would look like a clean run.
func TestEveryPackReportsOnEveryStack(t *testing.T) {
	for _, pack := range []string{"AwsSolutions", "PCI.DSS.321", "NIST.800.53.R5"} {
		for _, s := range stacks.All() {
			file := assembly.NagReportFile(outdir, pack, *s.StackName())
			lines, err := assembly.ReadNagReport(file)
			if err != nil {
				t.Errorf("%s: %v", pack, err)
				continue
			}
			if len(lines) == 0 {
				t.Errorf("%s: no rule was checked", file)
			}
			for _, l := range lines {
				if l.Compliance == "Suppressed" && len(l.ExceptionReason) < 60 {
					t.Errorf("%s %s: suppression reason too thin for an assessor: %q", l.RuleID, l.ResourceID, l.ExceptionReason)
				}
			}
		}
	}
}

// CDK's built-in template validation ("CloudFormation Validate") writes its
// findings to validation-report.json at synth; there must be none.
func TestBuiltInValidationHasNoFindings(t *testing.T) {
	// As the first synthesis wrote it: the assertions synthesize the app
	// again into the same directory, and aspects that ran once warn when
	// they find their own work (the NAT instances' IMDSv2 launch template).
	findings, err := assembly.ParseValidationReport(validationReport)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Error(f)
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
	reports, err := assembly.NagReports(outdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, lines := range reports {
		for _, l := range lines {
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
				lines, err := assembly.ReadNagReport(assembly.NagReportFile(filepath.Join(dir, infra.TemplateNagDir), pack, stack))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				for _, l := range lines {
					if finding, _ := l.Unsuppressed(); finding {
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
