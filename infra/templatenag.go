package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cloudformationinclude"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/assembly"
)

// TemplateNagDir is where NagTemplates writes its reports inside the cloud
// assembly: "<pack>--<stack>-NagReport.json", as the in-app packs do.
const TemplateNagDir = "template-nag"

// NagTemplates runs the three cdk-nag packs over the synthesized templates of
// the cloud assembly in assemblyDir and writes their reports to
// assemblyDir/TemplateNagDir. The packs applied to the app see only the L1
// classes of the construct tree; resources CDK writes as plain CfnResource
// (the default security group's restriction provider: a function, a role
// with an inline and an AWS managed policy) escape them. Included from the
// templates, every resource is an L1 of its type, so every resource that is
// deployed is checked. Suppressions travel in each resource's metadata
// (cdk_nag), as the app wrote them. The Serverless Application Repository's
// nested stack (the database rotation function) is not in our templates and
// stays the one blind spot. It returns the number of unsuppressed errors.
func NagTemplates(assemblyDir string) (unsuppressed int, err error) {
	// jsii reports a failed synthesis as a panic.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesizing the included templates: %v", r)
		}
	}()
	templates, err := filepath.Glob(filepath.Join(assemblyDir, "*.template.json"))
	if err != nil || len(templates) == 0 {
		return 0, fmt.Errorf("no templates in %s", assemblyDir)
	}
	sort.Strings(templates)
	work, err := os.MkdirTemp("", "template-nag-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)

	// Only the packs: the templates passed CloudFormation Validate when the
	// app was synthesized.
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir:                          jsii.String(filepath.Join(work, "out")),
		BuiltinCloudFormationValidation: jsii.Bool(false),
	})
	for _, file := range templates {
		name := strings.TrimSuffix(filepath.Base(file), ".template.json")
		included, err := includable(file, filepath.Join(work, filepath.Base(file)))
		if err != nil {
			return 0, err
		}
		// Without a bootstrap synthesizer: the template brings its own
		// BootstrapVersion parameter and rule.
		stack := awscdk.NewStack(app, &name, &awscdk.StackProps{StackName: &name, Synthesizer: awscdk.NewBootstraplessSynthesizer(nil)})
		cloudformationinclude.NewCfnInclude(stack, jsii.String("Template"), &cloudformationinclude.CfnIncludeProps{
			TemplateFile: &included, PreserveLogicalIds: jsii.Bool(true),
		})
	}
	ApplyCompliance(app)
	app.Synth(nil)

	reportDir := filepath.Join(assemblyDir, TemplateNagDir)
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return 0, err
	}
	reports, _ := filepath.Glob(filepath.Join(work, "out", "*-NagReport.json"))
	if len(reports) == 0 {
		return 0, fmt.Errorf("the packs wrote no report over the templates of %s", assemblyDir)
	}
	for _, report := range reports {
		lines, err := assembly.ReadNagReport(report)
		if err != nil {
			return 0, err
		}
		for _, l := range lines {
			if finding, isError := l.Unsuppressed(); finding && isError {
				unsuppressed++
			}
		}
		data, err := os.ReadFile(report)
		if err == nil {
			err = os.WriteFile(filepath.Join(reportDir, filepath.Base(report)), data, 0o644)
		}
		if err != nil {
			return 0, err
		}
	}
	return unsuppressed, nil
}

// includable writes a copy of a template that CfnInclude can parse: each
// weak cross-stack reference (Fn::GetStackOutput, which aws-cdk-lib 2.276's
// parser does not know) becomes the Fn::ImportValue it stands for (both name
// a value of another stack, so the rules read the same thing), and CDK's own
// version-reporting resource goes (the including stack writes its own).
func includable(src, dst string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var template any
	if err := json.Unmarshal(data, &template); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	if t, ok := template.(map[string]any); ok {
		if resources, ok := t["Resources"].(map[string]any); ok {
			delete(resources, "CDKMetadata")
		}
		if conditions, ok := t["Conditions"].(map[string]any); ok {
			delete(conditions, "CDKMetadataAvailable")
		}
	}
	out, err := json.Marshal(importValues(template))
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, out, 0o644)
}

func importValues(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["Fn::GetStackOutput"].(map[string]any); ok && len(x) == 1 {
			return map[string]any{"Fn::ImportValue": fmt.Sprintf("%v:%v", ref["StackName"], ref["OutputName"])}
		}
		for k, child := range x {
			x[k] = importValues(child)
		}
	case []any:
		for i, child := range x {
			x[i] = importValues(child)
		}
	}
	return v
}
