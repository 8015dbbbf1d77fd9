// Package environment is the typed configuration of one deployment of the
// payments platform: the CDK context read and validated once, the names every
// resource derives from it, and the checks that tell a deployable
// configuration from an offline placeholder. It imports neither the CDK nor an
// AWS SDK, so the CDK app, the deploy preflight and the integration tests
// share it without linking jsii.
package environment

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// PrimaryRegion is where every stateful and stateless stack lives. The seed's
// single mention of us-east-1 is stale (see ARCHITECTURE.md).
const PrimaryRegion = "ap-southeast-1"

// OfflineAccount is the account synthesized when neither the `account` context
// key nor CDK_DEFAULT_ACCOUNT (set by the CDK CLI when it finds credentials) is
// present. cdk.json carries the availability-zone context for this account so
// an offline synth never asks AWS for it. It is AWS's documentation account and
// cannot be deployed to.
const OfflineAccount = "123456789012"

// Context keys, exactly as they are passed with `cdk synth -c key=value`.
const (
	KeyEnvironmentSuffix = "environmentSuffix"
	KeyAccount           = "account"
	KeyReplicaRegion     = "replicaRegion"
	KeyProduction        = "production"
	KeyVpcCidr           = "vpcCidr"
	KeyDomainName        = "domainName"
	KeyHostedZoneID      = "hostedZoneId"
	KeyHostedZoneName    = "hostedZoneName"
	KeyMtlsTruststore    = "mtlsTruststore"
	// KeyAPIKeySecretArn is refused: the platform's one API key gave way to
	// merchants' keys.
	KeyAPIKeySecretArn              = "apiKeySecretArn"
	KeyAPICertificateArn            = "apiCertificateArn"
	KeyALBCertificateArn            = "albCertificateArn"
	KeyAlarmEmails                  = "alarmEmails"
	KeyPagerEndpoint                = "pagerEndpoint"
	KeyDBInstanceClass              = "dbInstanceClass"
	KeyDocumentVersionRetentionDays = "documentVersionRetentionDays"
	KeyAPITaskCPU                   = "apiTaskCpu"
	KeyAPITaskMemory                = "apiTaskMemory"
	KeyAPIBurstLimit                = "apiBurstLimit"
	// The account setup's opt-in security services (make account-setup).
	KeyAuditTrail  = "auditTrail"
	KeyGuardDuty   = "guardDuty"
	KeySecurityHub = "securityHub"
	KeyAWSConfig   = "awsConfig"
)

// Config is the typed environment configuration every construct reads. It is
// built only by Load, so a Config value is always valid.
type Config struct {
	// EnvironmentSuffix is appended to every resource name so that PR
	// environments coexist in one account. Default "dev".
	EnvironmentSuffix string
	// Account is the AWS account of every stack. Default: CDK_DEFAULT_ACCOUNT,
	// else OfflineAccount.
	Account string
	// Region is always PrimaryRegion.
	Region string
	// ReplicaRegion holds the document bucket's cross-region replica.
	// Default "ap-southeast-2"; must differ from Region.
	ReplicaRegion string
	// Production turns on deletion protection, retained data and production
	// sizes. Default false: every resource is destroyable and small.
	Production bool
	// VpcCidr is the VPC's IPv4 range, a private /16. It is a literal (not the
	// VPC's CidrBlock token) so that security-group rules built from it can be
	// evaluated by cdk-nag. Default "10.40.0.0/16".
	VpcCidr netip.Prefix
	// DomainName is the apex under which the API (api.<domainName>) and the
	// ALB (alb.<domainName>) are named. Default "payments.example.com".
	DomainName string
	// HostedZoneID and HostedZoneName name the Route 53 zone that validates the
	// ACM certificates and holds the alias records. Both or neither. Without
	// them (and without certificate ARNs) the environment synthesizes but is
	// not deployable: see DeployProblems.
	HostedZoneID   string
	HostedZoneName string
	// APICertificateArn and ALBCertificateArn import existing, issued ACM
	// certificates for HostName("api") and HostName("alb") instead of
	// creating DNS-validated ones; either may be given alone.
	APICertificateArn, ALBCertificateArn string
	// AlarmEmails receive every alarm (pages and tickets), each address
	// confirming its SNS subscription once. Default none.
	AlarmEmails []string
	// PagerEndpoint is the HTTPS endpoint of a paging service's SNS
	// integration (one that confirms the subscription itself), which
	// receives the alarms that page. Default none. A chat integration
	// (AWS Chatbot) subscribes itself to the topics the stack outputs.
	PagerEndpoint string
	// MtlsTruststore is the path of the PEM bundle of client CAs that API
	// Gateway trusts for mutual TLS. Empty until one is configured.
	MtlsTruststore string
	// TruststorePEM is that bundle, read once by Load; the placeholder CA
	// when MtlsTruststore is empty.
	TruststorePEM string
	// DBInstanceClass is the Graviton class of the three Aurora instances,
	// without the "db." prefix. Default t4g.medium (burstable), or r7g.large
	// (memory-optimised) in production.
	DBInstanceClass string
	// DocumentVersionRetentionDays is how long non-current versions of
	// documents are kept before they expire. Default 365, 2557 in production.
	DocumentVersionRetentionDays int
	// APITaskCPU (CPU units) and APITaskMemory (MiB) size each API task, a
	// combination Fargate offers. Default 512/1024, or 1024/2048 in
	// production.
	APITaskCPU, APITaskMemory int
	// APIBurstLimit is the API's burst above its steady 1000 requests per
	// second (stage and usage plan). Default 2000; at most 5000, the
	// regional account limit.
	APIBurstLimit int
	// AuditTrail adds the account's CloudTrail trail to the account setup:
	// off by default, because an account has at most five trails per region
	// and most accounts already receive an organization trail. GuardDuty,
	// SecurityHub (with the PCI DSS v4.0.1 standard) and AWSConfig add
	// those services, each of which exists once per account and region.
	AuditTrail, GuardDuty, SecurityHub, AWSConfig bool
}

// placeholderTruststore is used when no mtlsTruststore is configured: a CA
// certificate whose private key was discarded the moment it was made, so no
// client certificate can ever chain to it. The API is then closed to
// everyone until a real truststore is configured: safe by default.
//
//go:embed placeholder-truststore.pem
var placeholderTruststore string

// Defaults applied when a key is absent.
const (
	defaultEnvironmentSuffix = "dev"
	defaultReplicaRegion     = "ap-southeast-2"
	defaultVpcCidr           = "10.40.0.0/16"
	defaultDomainName        = "payments.example.com"
)

// commercialRegions are the regions this platform may replicate to. Opt-in and
// partition-specific regions are left out on purpose: replicating card-adjacent
// documents there needs a decision, not a typo.
var commercialRegions = []string{
	"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
	"eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
	"me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
	"us-west-1", "us-west-2",
}

// MaxSuffixLength is the longest environment suffix. The longest names that
// carry it decide: bucket names (63 characters with the 14-character region
// codes and the 4-letter components), the ALB and its target group (32).
// TestNamesFitTheirLimits synthesizes a suffix of this length and checks
// every name against its service's limit.
const MaxSuffixLength = 16

var (
	// RDS identifiers (which carry the suffix) reject a trailing hyphen and
	// "--".
	suffixPattern          = regexp.MustCompile(fmt.Sprintf(`^[a-z][a-z0-9-]{0,%d}$`, MaxSuffixLength-1))
	accountPattern         = regexp.MustCompile(`^[0-9]{12}$`)
	hostedZoneIDPattern    = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	dnsLabelPattern        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	dbInstanceClassPattern = regexp.MustCompile(`^(t4g\.(medium|large)|(r6g|r7g|r8g|x2g)\.(large|[1-9]?[0-9]?xlarge))$`)
	certificateArnPattern  = regexp.MustCompile(`^arn:aws:acm:([a-z0-9-]+):([0-9]{12}):certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Load reads and validates the configuration. context returns the raw
// value of a context key (nil when absent); getenv reads the environment (only
// CDK_DEFAULT_ACCOUNT is consulted). Every invalid key is reported, each in a
// message that names it and the accepted form.
func Load(context func(key string) any, getenv func(string) string) (Config, error) {
	var errs []error
	str := func(key, def string) string {
		v, err := contextString(context(key), def)
		if err != nil {
			errs = append(errs, keyError(key, err.Error()))
		}
		return v
	}

	cfg := Config{
		EnvironmentSuffix: str(KeyEnvironmentSuffix, defaultEnvironmentSuffix),
		Account:           str(KeyAccount, ""),
		Region:            PrimaryRegion,
		ReplicaRegion:     str(KeyReplicaRegion, defaultReplicaRegion),
		DomainName:        strings.ToLower(strings.TrimSuffix(str(KeyDomainName, defaultDomainName), ".")),
		HostedZoneID:      str(KeyHostedZoneID, ""),
		HostedZoneName:    strings.ToLower(strings.TrimSuffix(str(KeyHostedZoneName, ""), ".")),
		MtlsTruststore:    str(KeyMtlsTruststore, ""),
		APICertificateArn: str(KeyAPICertificateArn, ""),
		ALBCertificateArn: str(KeyALBCertificateArn, ""),
		PagerEndpoint:     str(KeyPagerEndpoint, ""),
	}
	emails := str(KeyAlarmEmails, "")
	if emails != "" {
		for _, e := range strings.Split(emails, ",") {
			cfg.AlarmEmails = append(cfg.AlarmEmails, strings.TrimSpace(e))
		}
	}
	if cfg.Account == "" {
		cfg.Account = getenv("CDK_DEFAULT_ACCOUNT")
	}
	if cfg.Account == "" {
		cfg.Account = OfflineAccount
	}

	production, err := contextBool(context(KeyProduction))
	if err != nil {
		errs = append(errs, keyError(KeyProduction, err.Error()))
	}
	cfg.Production = production
	for _, flag := range []struct {
		key   string
		value *bool
	}{{KeyAuditTrail, &cfg.AuditTrail}, {KeyGuardDuty, &cfg.GuardDuty}, {KeySecurityHub, &cfg.SecurityHub}, {KeyAWSConfig, &cfg.AWSConfig}} {
		on, err := contextBool(context(flag.key))
		if err != nil {
			errs = append(errs, keyError(flag.key, err.Error()))
		}
		*flag.value = on
	}

	cfg.DBInstanceClass = str(KeyDBInstanceClass, cfg.Posture().DBInstanceClass)
	retention, retentionErr := contextInt(context(KeyDocumentVersionRetentionDays), cfg.Posture().DocumentVersionRetentionDays)
	cfg.DocumentVersionRetentionDays = retention

	cpu, cpuErr := contextInt(context(KeyAPITaskCPU), cfg.Posture().APITaskCPU)
	memory, memoryErr := contextInt(context(KeyAPITaskMemory), cfg.Posture().APITaskMemory)
	cfg.APITaskCPU, cfg.APITaskMemory = cpu, memory
	burst, burstErr := contextInt(context(KeyAPIBurstLimit), 2000)
	cfg.APIBurstLimit = burst

	cidr := str(KeyVpcCidr, defaultVpcCidr)
	prefix, cidrErr := netip.ParsePrefix(cidr)

	for _, check := range []struct {
		failed  bool
		key     string
		message string
	}{
		{!validSuffix(cfg.EnvironmentSuffix), KeyEnvironmentSuffix, fmt.Sprintf(
			"%q is not a valid suffix: use 1-%d lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen (e.g. pr123)",
			cfg.EnvironmentSuffix, MaxSuffixLength)},
		{!accountPattern.MatchString(cfg.Account), KeyAccount, fmt.Sprintf(
			"%q is not an AWS account id: use exactly 12 digits", cfg.Account)},
		{!slices.Contains(commercialRegions, cfg.ReplicaRegion), KeyReplicaRegion, fmt.Sprintf(
			"%q is not a known AWS commercial region: use a region code such as ap-southeast-2", cfg.ReplicaRegion)},
		{cfg.ReplicaRegion == PrimaryRegion, KeyReplicaRegion, fmt.Sprintf(
			"%q is the primary region: the replica must be in a second region such as ap-southeast-2", cfg.ReplicaRegion)},
		{cidrErr != nil || !validVpcCidr(prefix), KeyVpcCidr, fmt.Sprintf(
			"%q is not usable: use a private IPv4 /16 in canonical form inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (e.g. 10.40.0.0/16)", cidr)},
		{!validDomainName(cfg.DomainName), KeyDomainName, fmt.Sprintf(
			"%q is not a DNS name: use lower-case labels of letters, digits and hyphens separated by dots, at least two labels (e.g. payments.example.com)", cfg.DomainName)},
		{cfg.HostedZoneID != "" && !hostedZoneIDPattern.MatchString(cfg.HostedZoneID), KeyHostedZoneID, fmt.Sprintf(
			"%q is not a Route 53 hosted zone id: use the id as Route 53 shows it, e.g. Z0123456789ABCDEFGHIJ", cfg.HostedZoneID)},
		{(cfg.HostedZoneID == "") != (cfg.HostedZoneName == ""), KeyHostedZoneName,
			"hostedZoneId and hostedZoneName must be given together, or neither"},
		{cfg.HostedZoneName != "" && !inZone(cfg.DomainName, cfg.HostedZoneName), KeyHostedZoneName, fmt.Sprintf(
			"%q does not contain domainName %q: use the zone that holds the domain", cfg.HostedZoneName, cfg.DomainName)},
		{context(KeyAPIKeySecretArn) != nil, KeyAPIKeySecretArn,
			"is no longer read: every API key belongs to a merchant now, each in its own rotated secret; onboard one with make merchant-onboard (docs/FRONT-DOOR.md, Merchants)"},
		{cfg.APICertificateArn != "" && !validRegionalArn(certificateArnPattern, cfg.APICertificateArn, cfg.Account), KeyAPICertificateArn, fmt.Sprintf(
			"%q is not an ACM certificate ARN in %s and account %s: use arn:aws:acm:%s:<account>:certificate/<id> of an issued certificate for %s",
			cfg.APICertificateArn, PrimaryRegion, cfg.Account, PrimaryRegion, cfg.HostName("api"))},
		{cfg.ALBCertificateArn != "" && !validRegionalArn(certificateArnPattern, cfg.ALBCertificateArn, cfg.Account), KeyALBCertificateArn, fmt.Sprintf(
			"%q is not an ACM certificate ARN in %s and account %s: use arn:aws:acm:%s:<account>:certificate/<id> of an issued certificate for %s",
			cfg.ALBCertificateArn, PrimaryRegion, cfg.Account, PrimaryRegion, cfg.HostName("alb"))},
		{!validEmails(cfg.AlarmEmails), KeyAlarmEmails, fmt.Sprintf(
			"%q is not a list of e-mail addresses: use addresses separated by commas, e.g. oncall@example.com,payments-team@example.com", emails)},
		{cfg.PagerEndpoint != "" && !validHTTPSURL(cfg.PagerEndpoint), KeyPagerEndpoint, fmt.Sprintf(
			"%q is not an HTTPS URL: use the HTTPS endpoint your paging service gives for an Amazon SNS or CloudWatch integration", cfg.PagerEndpoint)},
		{!dbInstanceClassPattern.MatchString(cfg.DBInstanceClass), KeyDBInstanceClass, fmt.Sprintf(
			"%q is not a Graviton instance class Aurora PostgreSQL offers: use t4g.medium or t4g.large outside production, r7g.<size> or r8g.<size> in production (no \"db.\" prefix)", cfg.DBInstanceClass)},
		{retentionErr != nil || retention < 31 || retention > 36500, KeyDocumentVersionRetentionDays, fmt.Sprintf(
			"%v is not usable: use a whole number of days from 31 (after the 30-day Glacier Instant Retrieval transition) to 36500", context(KeyDocumentVersionRetentionDays))},
		{cpuErr != nil || memoryErr != nil || !fargateSize(cpu, memory), KeyAPITaskMemory, fmt.Sprintf(
			"apiTaskCpu %v with apiTaskMemory %v is not a Fargate size: use 256 (512-2048 MiB), 512 (1024-4096), 1024 (2048-8192), 2048 (4096-16384) or 4096 (8192-30720), memory in steps of 1024",
			context(KeyAPITaskCPU), context(KeyAPITaskMemory))},
		{burstErr != nil || burst < 1000 || burst > 5000, KeyAPIBurstLimit, fmt.Sprintf(
			"%v is not usable: use a whole number of requests from 1000 (the steady rate) to 5000 (the regional account limit)", context(KeyAPIBurstLimit))},
	} {
		if check.failed {
			errs = append(errs, keyError(check.key, check.message))
		}
	}
	cfg.TruststorePEM = placeholderTruststore
	if cfg.MtlsTruststore != "" {
		pem, err := readTruststore(cfg.MtlsTruststore)
		if err != nil {
			errs = append(errs, keyError(KeyMtlsTruststore, err.Error()))
		}
		cfg.TruststorePEM = pem
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid CDK context:\n%w", err)
	}
	cfg.VpcCidr = prefix
	return cfg, nil
}

func keyError(key, message string) error {
	return fmt.Errorf("context %q: %s", key, message)
}

// contextString accepts a string (as `-c key=value` passes it) and treats an
// absent or empty value as the default.
func contextString(raw any, def string) (string, error) {
	switch v := raw.(type) {
	case nil:
		return def, nil
	case string:
		if v == "" {
			return def, nil
		}
		return v, nil
	default:
		return def, fmt.Errorf("%v is a %T: use a string", v, v)
	}
}

// fargateSize reports whether Fargate offers this CPU and memory pair.
func fargateSize(cpu, memory int) bool {
	limits := map[int][2]int{256: {512, 2048}, 512: {1024, 4096}, 1024: {2048, 8192}, 2048: {4096, 16384}, 4096: {8192, 30720}}
	l, ok := limits[cpu]
	return ok && memory >= l[0] && memory <= l[1] && (memory == 512 || memory%1024 == 0)
}

// contextInt accepts a JSON number (cdk.json) or a decimal string (`-c`).
func contextInt(raw any, def int) (int, error) {
	switch v := raw.(type) {
	case nil:
		return def, nil
	case float64:
		if v != float64(int(v)) {
			return def, fmt.Errorf("%v is not a whole number", v)
		}
		return int(v), nil
	case string:
		return strconv.Atoi(v)
	default:
		return def, fmt.Errorf("%v is not a number", v)
	}
}

// contextBool accepts a JSON boolean (cdk.json) or "true"/"false" (`-c`).
func contextBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return false, fmt.Errorf("%q is not a boolean: use true or false", v)
		}
		return b, nil
	default:
		return false, fmt.Errorf("%v is not a boolean: use true or false", v)
	}
}

func validSuffix(s string) bool {
	return suffixPattern.MatchString(s) && !strings.HasSuffix(s, "-") && !strings.Contains(s, "--")
}

func validVpcCidr(p netip.Prefix) bool {
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() != 16 || p.Masked() != p {
		return false
	}
	for _, private := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} {
		if netip.MustParsePrefix(private).Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func validDomainName(name string) bool {
	labels := strings.Split(name, ".")
	if len(labels) < 2 || len(name) > 253 {
		return false
	}
	for _, label := range labels {
		if !dnsLabelPattern.MatchString(label) {
			return false
		}
	}
	return true
}

func inZone(domain, zone string) bool {
	return domain == zone || strings.HasSuffix(domain, "."+zone)
}

// validEmails reports whether every address is a bare e-mail address (no
// display name), as an SNS e-mail subscription takes it.
func validEmails(emails []string) bool {
	for _, e := range emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" {
			return false
		}
	}
	return true
}

func validHTTPSURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

// validRegionalArn reports whether arn matches pattern (whose first two
// groups are the region and the account) in PrimaryRegion and account.
func validRegionalArn(pattern *regexp.Regexp, arn, account string) bool {
	m := pattern.FindStringSubmatch(arn)
	return m != nil && m[1] == PrimaryRegion && m[2] == account
}

// readTruststore reads a PEM bundle and requires at least one CA certificate
// and nothing else: API Gateway rejects a truststore it cannot parse only at
// deploy time, after the custom domain has been half-created.
func readTruststore(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %q: use the path of a PEM file of client CA certificates (make dev-certs writes one)", path)
	}
	certs := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if strings.TrimSpace(string(rest)) != "" {
				return "", fmt.Errorf("%q holds data that is not PEM: use a bundle of PEM CERTIFICATE blocks", path)
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return "", fmt.Errorf("%q holds a %s block: use CERTIFICATE blocks only (never a private key)", path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !cert.IsCA {
			return "", fmt.Errorf("%q holds a certificate that is not a CA certificate: use the CAs that issue client certificates", path)
		}
		certs++
	}
	if certs == 0 {
		return "", fmt.Errorf("%q holds no certificate: use a bundle of PEM CERTIFICATE blocks", path)
	}
	return string(data), nil
}

// DeployProblems lists what keeps this configuration from deploying to a real
// account: offline placeholders that synthesize but would fail a deployment
// or hold it in CREATE_IN_PROGRESS. `make preflight` (which `make deploy`
// runs first) refuses to deploy while any remains; each problem names the
// keys to set.
func (c Config) DeployProblems() []string {
	var problems []string
	if c.Account == OfflineAccount {
		problems = append(problems, fmt.Sprintf(
			"%s: %s is the offline placeholder account: run with credentials for the target account (the CDK CLI sets CDK_DEFAULT_ACCOUNT) or set -c %s=<12 digits>",
			KeyAccount, OfflineAccount, KeyAccount))
	}
	if c.DomainName == defaultDomainName {
		problems = append(problems, fmt.Sprintf(
			"%s: %s is a placeholder: set -c %s=<a domain you control>, with -c %s and -c %s (certificates validated and records created automatically) or -c %s and -c %s (issued ACM certificates)",
			KeyDomainName, defaultDomainName, KeyDomainName, KeyHostedZoneID, KeyHostedZoneName, KeyAPICertificateArn, KeyALBCertificateArn))
	}
	if c.HostedZoneID == "" {
		for _, cert := range []struct{ key, arn, host string }{
			{KeyAPICertificateArn, c.APICertificateArn, c.HostName("api")},
			{KeyALBCertificateArn, c.ALBCertificateArn, c.HostName("alb")},
		} {
			if cert.arn == "" {
				problems = append(problems, fmt.Sprintf(
					"%s: without a hosted zone ACM cannot validate a certificate for %s and the App stack would wait in CREATE_IN_PROGRESS: set -c %s and -c %s, or -c %s=<ARN of an issued certificate for %s>",
					cert.key, cert.host, KeyHostedZoneID, KeyHostedZoneName, cert.key, cert.host))
			}
		}
	}
	return problems
}

// DeployWarnings lists what deploys but will not work as a user expects.
func (c Config) DeployWarnings() []string {
	var warnings []string
	if c.MtlsTruststore == "" {
		warnings = append(warnings, fmt.Sprintf(
			"%s: not set, so the truststore is the placeholder CA and no client can connect: set -c %s=<PEM of your client CAs> (make dev-certs writes a test one)",
			KeyMtlsTruststore, KeyMtlsTruststore))
	}
	if len(c.AlarmEmails) == 0 && c.PagerEndpoint == "" {
		warnings = append(warnings, fmt.Sprintf(
			"%s, %s: neither is set, so alarms reach nobody: set -c %s=<addresses> and/or -c %s=<a paging service's HTTPS endpoint> (or subscribe a chat integration to the PageTopicArn and TicketTopicArn outputs)",
			KeyAlarmEmails, KeyPagerEndpoint, KeyAlarmEmails, KeyPagerEndpoint))
	}
	if c.HostedZoneID == "" {
		warnings = append(warnings, fmt.Sprintf(
			"%s: no hosted zone, so no DNS record is created: point %s at the custom domain's regional name (stack output ApiDomainTarget) yourself",
			KeyHostedZoneID, c.HostName("api")))
	}
	return warnings
}

// Named is the configuration of the environment with this suffix, every
// other key at its default: what an operator's command (make audit-verify,
// redrive-dlq, merchant-onboard) needs to name that environment's
// resources.
func Named(suffix string) (Config, error) {
	return Load(func(key string) any {
		if key == KeyEnvironmentSuffix {
			return suffix
		}
		return nil
	}, func(string) string { return "" })
}
