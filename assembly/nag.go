package assembly

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NagReportLine is one row of a cdk-nag report, the file
// "<pack>--<stack>-NagReport.json" each pack writes per stack.
type NagReportLine struct {
	RuleID          string `json:"ruleId"`
	ResourceID      string `json:"resourceId"`
	Compliance      string `json:"compliance"` // Compliant, Non-Compliant, Suppressed, ...
	ExceptionReason string `json:"exceptionReason"`
	RuleLevel       string `json:"ruleLevel"` // Error, Warning
}

// Unsuppressed reports whether the line is a finding nobody accepted, and
// whether it is an error (else a warning).
func (l NagReportLine) Unsuppressed() (finding, isError bool) {
	return l.Compliance == "Non-Compliant", l.RuleLevel == "Error"
}

// ReadNagReport reads one cdk-nag report.
func ReadNagReport(file string) ([]NagReportLine, error) {
	var report struct {
		Lines []NagReportLine `json:"lines"`
	}
	if err := readJSON(file, &report); err != nil {
		return nil, err
	}
	return report.Lines, nil
}

// NagReportFile is the report of pack over stack in dir.
func NagReportFile(dir, pack, stack string) string {
	return filepath.Join(dir, pack+"--"+stack+"-NagReport.json")
}

// NagReports reads every report in dir, by pack.
func NagReports(dir string) (map[string][]NagReportLine, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*-NagReport.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no cdk-nag reports in %s: was the app synthesized with the compliance packs?", dir)
	}
	byPack := map[string][]NagReportLine{}
	for _, file := range files {
		pack, _, ok := strings.Cut(filepath.Base(file), "--")
		if !ok {
			return nil, fmt.Errorf("%s: not named <pack>--<stack>-NagReport.json", file)
		}
		lines, err := ReadNagReport(file)
		if err != nil {
			return nil, err
		}
		byPack[pack] = append(byPack[pack], lines...)
	}
	return byPack, nil
}

// ValidationFindings lists the violations in CDK's validation-report.json
// (the built-in "CloudFormation Validate" plugin and construct annotations).
func ValidationFindings(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "validation-report.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // written only when validation ran; an older CLI or CDK_VALIDATION=false
	}
	if err != nil {
		return nil, err
	}
	return ParseValidationReport(data)
}

// ParseValidationReport lists the violations of a validation-report.json.
func ParseValidationReport(data []byte) ([]string, error) {
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
