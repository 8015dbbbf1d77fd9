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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/fintech/payments-platform/assembly"
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

// PackSummary counts one pack's findings over every stack.
type PackSummary struct {
	Pack       string
	Errors     []assembly.NagReportLine
	Warnings   []assembly.NagReportLine
	Suppressed int
	Checked    int
}

// Summarize reads every "<pack>--<stack>-NagReport.json" in dir.
func Summarize(dir string) ([]PackSummary, error) {
	byPack, err := assembly.NagReports(dir)
	if err != nil {
		return nil, err
	}
	summaries := make([]PackSummary, 0, len(byPack))
	for pack, lines := range byPack {
		s := PackSummary{Pack: pack, Checked: len(lines)}
		for _, l := range lines {
			finding, isError := l.Unsuppressed()
			switch {
			case l.Compliance == "Suppressed":
				s.Suppressed++
			case finding && isError:
				s.Errors = append(s.Errors, l)
			case finding:
				s.Warnings = append(s.Warnings, l)
			}
		}
		summaries = append(summaries, s)
	}
	sort.Slice(summaries, func(i, j int) bool { return summaries[i].Pack < summaries[j].Pack })
	return summaries, nil
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
	findings, err := assembly.ValidationFindings(dir)
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
