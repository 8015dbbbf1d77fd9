package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeReport(tb testing.TB, dir, name, lines string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"lines":[`+lines+`]}`), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// assemblyWith writes a construct-tree report and a template report, the
// two sets the CDK app writes.
func assemblyWith(tb testing.TB, tree, template string) string {
	tb.Helper()
	dir := tb.TempDir()
	writeReport(tb, dir, "AwsSolutions--S-NagReport.json", tree)
	writeReport(tb, filepath.Join(dir, templateNagDir), "AwsSolutions--S-NagReport.json", template)
	return dir
}

const (
	compliant  = `{"ruleId":"AwsSolutions-VPC7","resourceId":"S/Vpc","compliance":"Compliant","exceptionReason":"N/A","ruleLevel":"Error","ruleInfo":""}`
	suppressed = `{"ruleId":"AwsSolutions-EC29","resourceId":"S/Nat","compliance":"Suppressed","exceptionReason":"stateless","ruleLevel":"Error","ruleInfo":""}`
	nonCompErr = `{"ruleId":"AwsSolutions-S1","resourceId":"S/Bucket","compliance":"Non-Compliant","exceptionReason":"N/A","ruleLevel":"Error","ruleInfo":""}`
	nonCompWrn = `{"ruleId":"AwsSolutions-L1","resourceId":"S/Fn","compliance":"Non-Compliant","exceptionReason":"N/A","ruleLevel":"Warning","ruleInfo":""}`
)

func TestRun(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		dir := assemblyWith(t, compliant+","+suppressed+","+nonCompWrn, compliant+","+suppressed)
		writeReport(t, dir, "PCI.DSS.321--S-NagReport.json", compliant)
		var out strings.Builder
		failed, err := run(dir, &out)
		if err != nil || failed {
			t.Fatalf("failed=%v err=%v\n%s", failed, err, out.String())
		}
		for _, want := range []string{
			"AwsSolutions     constructs        0        1          1        3",
			"PCI.DSS.321      constructs        0        0          0        1",
			"AwsSolutions     templates         0        0          1        2",
			"warning AwsSolutions-L1 S/Fn",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("ErrUnsuppressedError", func(t *testing.T) {
		dir := assemblyWith(t, compliant+","+nonCompErr, compliant)
		var out strings.Builder
		failed, err := run(dir, &out)
		if err != nil || !failed || !strings.Contains(out.String(), "ERROR   AwsSolutions-S1 S/Bucket") {
			t.Fatalf("failed=%v err=%v\n%s", failed, err, out.String())
		}
	})

	// What only the templates show (a plain CfnResource) fails too.
	t.Run("ErrUnsuppressedErrorInTheTemplates", func(t *testing.T) {
		dir := assemblyWith(t, compliant, compliant+","+nonCompErr)
		var out strings.Builder
		failed, err := run(dir, &out)
		if err != nil || !failed || !strings.Contains(out.String(), "ERROR   AwsSolutions-S1 S/Bucket") {
			t.Fatalf("failed=%v err=%v\n%s", failed, err, out.String())
		}
	})

	t.Run("ErrNoTemplateReports", func(t *testing.T) {
		dir := t.TempDir()
		writeReport(t, dir, "AwsSolutions--S-NagReport.json", compliant)
		if _, err := run(dir, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "no cdk-nag reports in "+filepath.Join(dir, templateNagDir)) {
			t.Fatalf("err=%v, want: no cdk-nag reports over the templates", err)
		}
	})

	t.Run("ErrValidationFinding", func(t *testing.T) {
		dir := assemblyWith(t, compliant, compliant)
		report := `{"pluginReports":[{"pluginName":"CloudFormation Validate","violations":[{"ruleName":"W1","description":"open port"}]}]}`
		if err := os.WriteFile(filepath.Join(dir, "validation-report.json"), []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		failed, err := run(dir, &out)
		if err != nil || !failed || !strings.Contains(out.String(), "FINDING CloudFormation Validate W1: open port") {
			t.Fatalf("failed=%v err=%v\n%s", failed, err, out.String())
		}
	})

	t.Run("ErrNoReports", func(t *testing.T) {
		if _, err := run(t.TempDir(), &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "no cdk-nag reports") {
			t.Fatalf("err=%v, want: no cdk-nag reports", err)
		}
	})
}
