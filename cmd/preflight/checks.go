package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	route53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/fintech/payments-platform/environment"
)

type level int

const (
	levelOK level = iota
	levelWarn
	levelFail
)

func (l level) String() string {
	switch l {
	case levelOK:
		return "ok"
	case levelWarn:
		return "warn"
	default:
		return "FAIL"
	}
}

// result is one printed line.
type result struct {
	level  level
	check  string
	detail string
}

func (r result) String() string {
	return fmt.Sprintf("%-4s %s: %s", r.level, r.check, r.detail)
}

func ok(check, format string, args ...any) result {
	return result{levelOK, check, fmt.Sprintf(format, args...)}
}

func warn(check, format string, args ...any) result {
	return result{levelWarn, check, fmt.Sprintf(format, args...)}
}

func fail(check, format string, args ...any) result {
	return result{levelFail, check, fmt.Sprintf(format, args...)}
}

// checkConfig reports what keeps the configuration from deploying (offline
// placeholders that synthesize but fail in AWS) and what deploys but will
// not work as expected.
func checkConfig(cfg environment.Config) []result {
	var results []result
	for _, p := range cfg.DeployProblems() {
		results = append(results, fail("config", "%s", p))
	}
	for _, w := range cfg.DeployWarnings() {
		results = append(results, warn("config", "%s", w))
	}
	if len(results) == 0 {
		results = append(results, ok("config", "environment %s, account %s, %s with replica in %s",
			cfg.EnvironmentSuffix, cfg.Account, cfg.Region, cfg.ReplicaRegion))
	}
	return results
}

// checkCredentials asks STS who the caller is. It runs before the
// configuration is loaded because an unset `account` context resolves to
// the caller's account, as the CDK CLI resolves it; it returns that account,
// empty when the caller cannot be used.
func checkCredentials(ctx context.Context, api stsAPI, contextAccount string) ([]result, string) {
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return []result{credentialsFailure(err)}, ""
	}
	account := aws.ToString(out.Account)
	if contextAccount != "" && contextAccount != account {
		return []result{fail("credentials",
			"the credentials are for account %s (%s) but -c account=%s: use credentials for %s (AWS_PROFILE) or fix the account context; the checks that need AWS were skipped",
			account, aws.ToString(out.Arn), contextAccount, contextAccount)}, ""
	}
	return []result{ok("credentials", "account %s as %s", account, aws.ToString(out.Arn))}, account
}

func credentialsFailure(err error) result {
	return fail("credentials",
		"no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or run aws sso login; the checks that need AWS were skipped (%v)", err)
}

// checkHostedZone verifies the zone that validates the certificates and
// holds the alias records: CloudFormation would otherwise fail late, or wait
// on a validation record nobody can resolve.
func checkHostedZone(ctx context.Context, api route53API, cfg environment.Config) []result {
	if cfg.HostedZoneID == "" {
		return nil
	}
	const check = "hosted zone"
	out, err := api.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(cfg.HostedZoneID)})
	var notFound *route53types.NoSuchHostedZone
	switch {
	case errors.As(err, &notFound):
		return []result{fail(check, "%s does not exist in account %s: create a public hosted zone for %s or fix -c %s",
			cfg.HostedZoneID, cfg.Account, cfg.HostedZoneName, environment.KeyHostedZoneID)}
	case err != nil:
		return []result{fail(check, "cannot read %s: %v", cfg.HostedZoneID, err)}
	}
	zone := out.HostedZone
	name := strings.ToLower(strings.TrimSuffix(aws.ToString(zone.Name), "."))
	if name != cfg.HostedZoneName {
		return []result{fail(check, "%s is %s, not %s: set -c %s and -c %s to the same zone",
			cfg.HostedZoneID, name, cfg.HostedZoneName, environment.KeyHostedZoneID, environment.KeyHostedZoneName)}
	}
	if zone.Config != nil && zone.Config.PrivateZone {
		return []result{fail(check, "%s (%s) is a private zone: ACM validates certificates only through a public zone, so use a public hosted zone for %s",
			cfg.HostedZoneID, name, name)}
	}
	return []result{ok(check, "%s is the public zone %s", cfg.HostedZoneID, name)}
}

// checkCertificate verifies an imported certificate: API Gateway and the ALB
// accept a certificate that is not issued or does not cover the host only to
// fail the deployment (or serve a name mismatch) later.
func checkCertificate(ctx context.Context, api acmAPI, service, key, arn, host string) []result {
	if arn == "" {
		return nil
	}
	check := "certificate " + service
	out, err := api.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(arn)})
	var notFound *acmtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return []result{fail(check, "%s does not exist: request a certificate for %s in %s or fix -c %s",
			arn, host, environment.PrimaryRegion, key)}
	case err != nil:
		return []result{fail(check, "cannot read %s: %v", arn, err)}
	}
	cert := out.Certificate
	if cert.Status != acmtypes.CertificateStatusIssued {
		return []result{fail(check, "%s is %s, not ISSUED: complete its validation or use an issued certificate for %s",
			arn, cert.Status, host)}
	}
	// ACM lists the domain name among the alternative names too.
	names := []string{aws.ToString(cert.DomainName)}
	for _, san := range cert.SubjectAlternativeNames {
		if !slices.Contains(names, san) {
			names = append(names, san)
		}
	}
	for _, name := range names {
		if covers(name, host) {
			return []result{ok(check, "%s is issued for %s", arn, name)}
		}
	}
	return []result{fail(check, "%s covers %s, not %s: use a certificate whose name or alternative names include %s",
		arn, strings.Join(names, ", "), host, host)}
}

// covers reports whether a certificate name matches host: exactly, or as a
// wildcard standing for exactly one label (*.example.com covers
// api.example.com, not example.com or a.api.example.com).
func covers(name, host string) bool {
	name, host = strings.ToLower(name), strings.ToLower(host)
	if name == host {
		return true
	}
	parent, ok := strings.CutPrefix(name, "*.")
	if !ok {
		return false
	}
	label, rest, found := strings.Cut(host, ".")
	return found && label != "" && rest == parent
}

// bootstrapParameter is where `cdk bootstrap` records its stack's version.
const bootstrapParameter = "/cdk-bootstrap/hnb659fds/version"

// minBootstrapVersion is the version the BootstrapVersion rule of every
// synthesized template requires (the manifest's requiresBootstrapStackVersion).
const minBootstrapVersion = 6

// checkBootstrap verifies the CDK toolkit stack of a region. Without it the
// CLI cannot publish assets and CloudFormation rejects every template.
func checkBootstrap(ctx context.Context, api ssmAPI, region string) []result {
	check := "bootstrap " + region
	out, err := api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(bootstrapParameter)})
	var notFound *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &notFound):
		return []result{fail(check, "%s is not bootstrapped (no %s): run make bootstrap", region, bootstrapParameter)}
	case err != nil:
		return []result{fail(check, "cannot read %s in %s: %v", bootstrapParameter, region, err)}
	}
	value := aws.ToString(out.Parameter.Value)
	version, err := strconv.Atoi(value)
	if err != nil || version < minBootstrapVersion {
		return []result{fail(check, "the bootstrap stack in %s is version %s, the templates need %d or later: run make bootstrap",
			region, value, minBootstrapVersion)}
	}
	return []result{ok(check, "version %d", version)}
}

const accountSetupHint = "run make account-setup (once per account and region)"

// checkAccountSetup verifies what `make account-setup` deploys once per
// account and region: without API Gateway's CloudWatch role the App stack's
// stage fails to enable access logging.
func checkAccountSetup(ctx context.Context, stacks cloudformationAPI, gateway apigatewayAPI) []result {
	const check = "account setup"
	var results []result
	out, err := stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(environment.AccountStackName)})
	switch {
	case stackMissing(err) || err == nil && len(out.Stacks) == 0:
		results = append(results, fail(check, "stack %s does not exist in %s: %s",
			environment.AccountStackName, environment.PrimaryRegion, accountSetupHint))
	case err != nil:
		results = append(results, fail(check, "cannot read stack %s: %v", environment.AccountStackName, err))
	default:
		status := string(out.Stacks[0].StackStatus)
		if !strings.HasSuffix(status, "_COMPLETE") || status == "DELETE_COMPLETE" || status == "ROLLBACK_COMPLETE" {
			results = append(results, fail(check, "stack %s is %s: wait for it to settle or %s",
				environment.AccountStackName, status, accountSetupHint))
		}
	}
	account, err := gateway.GetAccount(ctx, &apigateway.GetAccountInput{})
	switch {
	case err != nil:
		results = append(results, fail(check, "cannot read API Gateway's account settings: %v", err))
	case aws.ToString(account.CloudwatchRoleArn) == "":
		results = append(results, fail(check, "API Gateway has no CloudWatch role in %s, so stages cannot log: %s",
			environment.PrimaryRegion, accountSetupHint))
	}
	if len(results) > 0 {
		return results
	}
	return []result{ok(check, "stack %s is %s, API Gateway logs with %s",
		environment.AccountStackName, out.Stacks[0].StackStatus, aws.ToString(account.CloudwatchRoleArn))}
}

// checkTrail looks for a multi-region trail that is logging: the account's
// own (make account-setup with -c auditTrail=true) or an organization
// trail, which member accounts see too. Without one, AWS API calls to the
// environment go unrecorded (PCI DSS 10.2): a warning outside production; in
// production a failure, unless the operator says -without-trail.
func checkTrail(ctx context.Context, trails trailsAPI, required, withoutTrail bool) []result {
	const check = "audit trail"
	out, err := trails.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return []result{fail(check, "cannot list the account's trails: %v", err)}
	}
	var seen []string
	for _, t := range out.TrailList {
		if !aws.ToBool(t.IsMultiRegionTrail) {
			seen = append(seen, aws.ToString(t.Name)+" (one region only)")
			continue
		}
		status, err := trails.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: t.TrailARN})
		if err != nil {
			seen = append(seen, fmt.Sprintf("%s (status unreadable: %v)", aws.ToString(t.Name), err))
			continue
		}
		if !aws.ToBool(status.IsLogging) {
			seen = append(seen, aws.ToString(t.Name)+" (not logging)")
			continue
		}
		kind := "the account's"
		if aws.ToBool(t.IsOrganizationTrail) {
			kind = "the organization's"
		}
		validation := "with"
		if !aws.ToBool(t.LogFileValidationEnabled) {
			validation = "without"
		}
		return []result{ok(check, "%s trail %s logs every region, %s log-file validation", kind, aws.ToString(t.Name), validation)}
	}
	message := "no multi-region trail is logging in this account"
	if len(seen) > 0 {
		message += " (" + strings.Join(seen, ", ") + ")"
	}
	message += fmt.Sprintf(": AWS API calls and document changes go unrecorded; run make account-setup CONTEXT=\"-c %s=true\" or enable your organization trail", environment.KeyAuditTrail)
	switch {
	case !required:
		return []result{warn(check, "%s", message)}
	case withoutTrail:
		return []result{warn(check, "%s (accepted with -without-trail)", message)}
	}
	return []result{fail(check, "%s; to deploy production without one anyway, say so: make deploy PREFLIGHT=-without-trail", message)}
}

// stackMissing recognizes CloudFormation's answer for an unknown stack name,
// a ValidationError rather than a typed not-found error.
func stackMissing(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" &&
		strings.Contains(apiErr.ErrorMessage(), "does not exist")
}

// checkDocker verifies what the CDK CLI needs to build the API image at
// deploy time: a reachable engine, and a BuildKit builder that can produce
// linux/arm64 (the Fargate tasks run on Graviton).
func checkDocker(ctx context.Context, cmd commander) []result {
	const check = "docker"
	out, err := cmd.Output(ctx, "docker", "info", "--format", "{{.ServerVersion}}")
	if err != nil {
		return []result{fail(check, "the Docker engine is unreachable (%s): install and start Docker; the CDK CLI builds the API image with it at deploy time",
			firstLine(out, err))}
	}
	version := strings.TrimSpace(string(out))
	out, err = cmd.Output(ctx, "docker", "buildx", "ls")
	if err != nil {
		return []result{fail(check, "docker buildx is unavailable (%s): install the buildx plugin; the CDK CLI builds the API image with BuildKit",
			firstLine(out, err))}
	}
	if !listsARM64(string(out)) {
		return []result{fail(check,
			"no buildx builder lists linux/arm64 among its platforms, and the API image is built for linux/arm64: on an x86 host register QEMU's binfmt handlers (docker run --privileged --rm tonistiigi/binfmt --install arm64, or apt-get install qemu-user-static) and check docker buildx ls again")}
	}
	return []result{ok(check, "engine %s, a buildx builder builds linux/arm64", version)}
}

// listsARM64 reads `docker buildx ls`, whose PLATFORMS column is a
// comma-separated list where a trailing * marks the platforms a builder was
// configured for.
func listsARM64(out string) bool {
	fields := strings.FieldsFunc(out, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	for _, f := range fields {
		f = strings.TrimSuffix(f, "*")
		if f == "linux/arm64" || strings.HasPrefix(f, "linux/arm64/") {
			return true
		}
	}
	return false
}

// firstLine is the first line a failed command printed, or its error.
func firstLine(out []byte, err error) string {
	if line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); line != "" {
		return line
	}
	return err.Error()
}
