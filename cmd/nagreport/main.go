// Command nagreport summarises a synthesized cloud assembly's compliance
// reports: per cdk-nag pack, the unsuppressed errors and warnings and the
// suppressions, both for the packs applied to the construct tree and for
// the same packs run over the synthesized templates (template-nag/, which
// also sees what CDK writes as plain CfnResource), and the findings of CDK's
// built-in template validation. It exits 1 when any unsuppressed error or
// validation finding remains, and 2 when either set of reports is missing
// (a synth without the packs must not look clean).
//
//	nagreport [cdk.out]
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

func main() {
	dir := "cdk.out"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	failed, err := run(dir, os.Stdout)
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "nagreport:", err)
		os.Exit(2)
	case failed:
		os.Exit(1)
	}
}

// reportLine is one row of a cdk-nag JSON report (NagReportLine).
type reportLine struct {
	RuleID          string `json:"ruleId"`
	ResourceID      string `json:"resourceId"`
	Compliance      string `json:"compliance"`
	ExceptionReason string `json:"exceptionReason"`
	RuleLevel       string `json:"ruleLevel"`
}

// PackSummary counts one pack's findings over every stack.
type PackSummary struct {
	Pack       string
	Errors     []reportLine
	Warnings   []reportLine
	Suppressed int
	Checked    int
}

// Summarize reads every "<pack>--<stack>-NagReport.json" in dir.
func Summarize(dir string) ([]PackSummary, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*-NagReport.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no cdk-nag reports in %s: was the app synthesized with the compliance packs?", dir)
	}
	byPack := map[string]*PackSummary{}
	for _, file := range files {
		pack, _, ok := strings.Cut(filepath.Base(file), "--")
		if !ok {
			return nil, fmt.Errorf("%s: not named <pack>--<stack>-NagReport.json", file)
		}
		var report struct {
			Lines []reportLine `json:"lines"`
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &report); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		s := byPack[pack]
		if s == nil {
			s = &PackSummary{Pack: pack}
			byPack[pack] = s
		}
		for _, l := range report.Lines {
			s.Checked++
			switch {
			case l.Compliance == "Suppressed":
				s.Suppressed++
			case l.Compliance == "Non-Compliant" && l.RuleLevel == "Error":
				s.Errors = append(s.Errors, l)
			case l.Compliance == "Non-Compliant":
				s.Warnings = append(s.Warnings, l)
			}
		}
	}
	summaries := make([]PackSummary, 0, len(byPack))
	for _, s := range byPack {
		summaries = append(summaries, *s)
	}
	sort.Slice(summaries, func(i, j int) bool { return summaries[i].Pack < summaries[j].Pack })
	return summaries, nil
}

// ValidationFindings counts the violations in CDK's validation-report.json
// (the built-in "CloudFormation Validate" plugin and construct annotations).
func ValidationFindings(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "validation-report.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // written only when validation ran; an older CLI or CDK_VALIDATION=false
	}
	if err != nil {
		return nil, err
	}
	var report struct {
		PluginReports []struct {
			PluginName string `json:"pluginName"`
			Violations []struct {
				RuleName    string `json:"ruleName"`
				Description string `json:"description"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		return nil, fmt.Errorf("validation-report.json: %w", err)
	}
	var findings []string
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			findings = append(findings, fmt.Sprintf("%s %s: %s", p.PluginName, v.RuleName, strings.TrimSpace(v.Description)))
		}
	}
	return findings, nil
}

// templateNagDir is where the CDK app writes the reports of the packs run
// over the synthesized templates (infra.TemplateNagDir).
const templateNagDir = "template-nag"

func run(dir string, w io.Writer) (failed bool, err error) {
	tree, err := Summarize(dir)
	if err != nil {
		return false, err
	}
	templates, err := Summarize(filepath.Join(dir, templateNagDir))
	if err != nil {
		return false, err
	}
	findings, err := ValidationFindings(dir)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "\nCompliance summary (%s)\n", dir)
	fmt.Fprintf(w, "  %-16s %-10s %8s %8s %10s %8s\n", "pack", "over", "errors", "warnings", "suppressed", "checked")
	for _, set := range []struct {
		over      string
		summaries []PackSummary
	}{{"constructs", tree}, {"templates", templates}} {
		for _, s := range set.summaries {
			fmt.Fprintf(w, "  %-16s %-10s %8d %8d %10d %8d\n", s.Pack, set.over, len(s.Errors), len(s.Warnings), s.Suppressed, s.Checked)
		}
	}
	fmt.Fprintf(w, "  %-16s %-10s %8d\n", "cfn-validate", "templates", len(findings))
	for _, s := range slices.Concat(tree, templates) {
		for _, l := range s.Errors {
			fmt.Fprintf(w, "  ERROR   %s %s\n", l.RuleID, l.ResourceID)
			failed = true
		}
		for _, l := range s.Warnings {
			fmt.Fprintf(w, "  warning %s %s\n", l.RuleID, l.ResourceID)
		}
	}
	for _, f := range findings {
		fmt.Fprintf(w, "  FINDING %s\n", f)
		failed = true
	}
	return failed, nil
}
