package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyCompliance runs the three cdk-nag packs over every stack of the app.
// Each pack writes a JSON report per stack into the cloud assembly (read by
// cmd/nagreport) and turns every unsuppressed error into an error annotation,
// which fails `cdk synth`.
func ApplyCompliance(app awscdk.App) {
	props := &cdknag.NagPackProps{
		Verbose:       jsii.Bool(true),
		Reports:       jsii.Bool(true),
		ReportFormats: &[]cdknag.NagReportFormat{cdknag.NagReportFormat_JSON},
	}
	for _, pack := range []awscdk.IAspect{
		cdknag.NewAwsSolutionsChecks(props),
		cdknag.NewPCIDSS321Checks(props),
		cdknag.NewNIST80053R5Checks(props),
	} {
		awscdk.Aspects_Of(app).Add(pack, &awscdk.AspectOptions{Priority: awscdk.AspectPriority_READONLY()})
	}
}

// finding is one cdk-nag rule accepted for one resource, with the reason an
// assessor reads. appliesTo narrows it to the named findings of the rule
// (e.g. "Resource::*") so that a new, different finding still fails.
type finding struct {
	rule      string
	reason    string
	appliesTo []string
	// appliesToRegex narrows like appliesTo, for findings whose text holds a
	// logical id (a token rendered by cdk-nag as <LogicalId>).
	appliesToRegex []string
}

// because is one reason accepted for several rules: the same finding as
// each pack names it (AwsSolutions, NIST 800-53, PCI DSS).
func because(reason string, rules ...string) []finding {
	findings := make([]finding, len(rules))
	for i, rule := range rules {
		findings[i] = finding{rule: rule, reason: reason}
	}
	return findings
}

// suppress records accepted findings on one resource. applyToChildren is for
// an L2 construct whose findings sit on its L1 children (the resource itself);
// it is never used on a stack or a construct that groups several resources.
func suppress(resource constructs.IConstruct, applyToChildren bool, findings ...finding) {
	suppressions := make([]*cdknag.NagPackSuppression, 0, len(findings))
	for _, f := range findings {
		s := &cdknag.NagPackSuppression{Id: jsii.String(f.rule), Reason: jsii.String(f.reason)}
		if len(f.appliesTo)+len(f.appliesToRegex) > 0 {
			var appliesTo []any
			for _, a := range f.appliesTo {
				appliesTo = append(appliesTo, a)
			}
			for _, r := range f.appliesToRegex {
				appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{Regex: jsii.String(r)})
			}
			s.AppliesTo = &appliesTo
		}
		suppressions = append(suppressions, s)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(resource, &suppressions, jsii.Bool(applyToChildren))
}
