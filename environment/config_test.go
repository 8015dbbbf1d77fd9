package environment_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/environment"
)

func loadConfig(context map[string]any, env map[string]string) (environment.Config, error) {
	return environment.Load(func(key string) any { return context[key] }, func(k string) string { return env[k] })
}

func TestLoadConfig(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		got, err := loadConfig(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.EnvironmentSuffix != "dev" || got.Account != environment.OfflineAccount || got.Region != "ap-southeast-1" ||
			got.ReplicaRegion != "ap-southeast-2" || got.Production || got.VpcCidr.String() != "10.40.0.0/16" ||
			got.DomainName != "payments.example.com" {
			t.Errorf("defaults: %+v", got)
		}
	})

	t.Run("AccountFromTheCLI", func(t *testing.T) {
		got, err := loadConfig(nil, map[string]string{"CDK_DEFAULT_ACCOUNT": "210987654321"})
		if err != nil || got.Account != "210987654321" {
			t.Errorf("got %q, %v; want the CLI's account", got.Account, err)
		}
		got, err = loadConfig(map[string]any{"account": "111122223333"}, map[string]string{"CDK_DEFAULT_ACCOUNT": "210987654321"})
		if err != nil || got.Account != "111122223333" {
			t.Errorf("got %q, %v; the context key wins over the CLI's account", got.Account, err)
		}
	})

	t.Run("ProductionFromCdkJSONOrCommandLine", func(t *testing.T) {
		for _, v := range []any{true, "true"} {
			got, err := loadConfig(map[string]any{"production": v}, nil)
			if err != nil || !got.Production {
				t.Errorf("production=%#v: got %v, %v", v, got.Production, err)
			}
		}
	})

	t.Run("HostedZone", func(t *testing.T) {
		got, err := loadConfig(map[string]any{
			"domainName": "Pay.Example.org.", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.org",
		}, nil)
		if err != nil || got.DomainName != "pay.example.org" {
			t.Errorf("got %q, %v", got.DomainName, err)
		}
	})

	t.Run("Truststore", func(t *testing.T) {
		path := filepath.Join("testdata", "ca.pem")
		if _, err := loadConfig(map[string]any{"mtlsTruststore": path}, nil); err != nil {
			t.Errorf("a CA bundle is accepted: %v", err)
		}
	})

}

// Every bad value fails with a message that names the key and the accepted
// form. The messages are pinned: they are the user interface of `cdk synth`.
func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	leafFile := filepath.Join("testdata", "leaf.pem")

	for _, tc := range []struct {
		name    string
		context map[string]any
		want    string
	}{
		{"ErrSuffixUpperCase", map[string]any{"environmentSuffix": "PR123"},
			`context "environmentSuffix": "PR123" is not a valid suffix: use 1-16 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen (e.g. pr123)`},
		{"ErrSuffixTooLong", map[string]any{"environmentSuffix": "feature-branch-12"},
			`context "environmentSuffix": "feature-branch-12" is not a valid suffix`},
		{"ErrSuffixTrailingHyphen", map[string]any{"environmentSuffix": "pr-"}, `context "environmentSuffix": "pr-" is not a valid suffix`},
		{"ErrSuffixDoubleHyphen", map[string]any{"environmentSuffix": "pr--1"}, `context "environmentSuffix": "pr--1" is not a valid suffix`},
		{"ErrSuffixNotAString", map[string]any{"environmentSuffix": 42.0},
			`context "environmentSuffix": 42 is a float64: use a string`},
		{"ErrAccount", map[string]any{"account": "1234"},
			`context "account": "1234" is not an AWS account id: use exactly 12 digits`},
		{"ErrUnknownRegion", map[string]any{"replicaRegion": "ap-southeast-9"},
			`context "replicaRegion": "ap-southeast-9" is not a known AWS commercial region: use a region code such as ap-southeast-2`},
		{"ErrReplicaIsPrimary", map[string]any{"replicaRegion": "ap-southeast-1"},
			`context "replicaRegion": "ap-southeast-1" is the primary region: the replica must be in a second region such as ap-southeast-2`},
		{"ErrProduction", map[string]any{"production": "yes"},
			`context "production": "yes" is not a boolean: use true or false`},
		{"ErrAuditTrail", map[string]any{"auditTrail": "on"},
			`context "auditTrail": "on" is not a boolean: use true or false`},
		{"ErrSecurityHub", map[string]any{"securityHub": 1.0},
			`context "securityHub": 1 is not a boolean: use true or false`},
		{"ErrVpcCidrNotPrivate", map[string]any{"vpcCidr": "8.8.0.0/16"},
			`context "vpcCidr": "8.8.0.0/16" is not usable: use a private IPv4 /16 in canonical form inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (e.g. 10.40.0.0/16)`},
		{"ErrVpcCidrSize", map[string]any{"vpcCidr": "10.40.0.0/20"}, `context "vpcCidr": "10.40.0.0/20" is not usable`},
		{"ErrVpcCidrNotCanonical", map[string]any{"vpcCidr": "10.40.1.0/16"}, `context "vpcCidr": "10.40.1.0/16" is not usable`},
		{"ErrDomainName", map[string]any{"domainName": "payments"},
			`context "domainName": "payments" is not a DNS name: use lower-case labels of letters, digits and hyphens separated by dots, at least two labels (e.g. payments.example.com)`},
		{"ErrHostedZoneID", map[string]any{"hostedZoneId": "zone-1", "hostedZoneName": "example.com"},
			`context "hostedZoneId": "zone-1" is not a Route 53 hosted zone id: use the id as Route 53 shows it, e.g. Z0123456789ABCDEFGHIJ`},
		{"ErrHostedZoneAlone", map[string]any{"hostedZoneId": "Z0123456789ABCDEFGHIJ"},
			`context "hostedZoneName": hostedZoneId and hostedZoneName must be given together, or neither`},
		{"ErrDomainOutsideZone", map[string]any{"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.org"},
			`context "hostedZoneName": "example.org" does not contain domainName "payments.example.com": use the zone that holds the domain`},
		{"ErrRemovedAPIKeySecretArn", map[string]any{"apiKeySecretArn": "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:payments/api-key-AbCdEf"},
			`context "apiKeySecretArn": is no longer read: every API key belongs to a merchant now, each in its own rotated secret; onboard one with make merchant-onboard (docs/FRONT-DOOR.md, Merchants)`},
		{"ErrAPICertificateArn", map[string]any{"apiCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"},
			`context "apiCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" is not an ACM certificate ARN in ap-southeast-1 and account 123456789012: use arn:aws:acm:ap-southeast-1:<account>:certificate/<id> of an issued certificate for api.dev.payments.example.com`},
		{"ErrALBCertificateArn", map[string]any{"albCertificateArn": "arn:aws:acm:ap-southeast-1:123456789012:certificate/not-an-id", "production": true},
			`context "albCertificateArn": "arn:aws:acm:ap-southeast-1:123456789012:certificate/not-an-id" is not an ACM certificate ARN in ap-southeast-1 and account 123456789012: use arn:aws:acm:ap-southeast-1:<account>:certificate/<id> of an issued certificate for alb.payments.example.com`},
		{"ErrTaskSize", map[string]any{"apiTaskCpu": "256", "apiTaskMemory": "8192"},
			`context "apiTaskMemory": apiTaskCpu 256 with apiTaskMemory 8192 is not a Fargate size: use 256 (512-2048 MiB), 512 (1024-4096), 1024 (2048-8192), 2048 (4096-16384) or 4096 (8192-30720), memory in steps of 1024`},
		{"ErrDBInstanceClass", map[string]any{"dbInstanceClass": "db.m5.large"},
			`context "dbInstanceClass": "db.m5.large" is not a Graviton instance class Aurora PostgreSQL offers`},
		{"ErrDocumentVersionRetention", map[string]any{"documentVersionRetentionDays": "7"},
			`context "documentVersionRetentionDays": 7 is not usable: use a whole number of days from 31`},
		{"ErrAPIBurstLimit", map[string]any{"apiBurstLimit": "9000"},
			`context "apiBurstLimit": 9000 is not usable: use a whole number of requests from 1000 (the steady rate) to 5000 (the regional account limit)`},
		{"ErrTruststoreMissing", map[string]any{"mtlsTruststore": "no/such.pem"},
			`context "mtlsTruststore": cannot read "no/such.pem": use the path of a PEM file of client CA certificates (make dev-certs writes one)`},
		{"ErrTruststorePrivateKey", map[string]any{"mtlsTruststore": keyFile},
			`context "mtlsTruststore": "` + keyFile + `" holds a PRIVATE KEY block: use CERTIFICATE blocks only (never a private key)`},
		{"ErrTruststoreNotCA", map[string]any{"mtlsTruststore": leafFile},
			`context "mtlsTruststore": "` + leafFile + `" holds a certificate that is not a CA certificate: use the CAs that issue client certificates`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.context, nil)
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %q\nwant %q", err, tc.want)
			}
		})
	}

	t.Run("AllProblemsAreReportedTogether", func(t *testing.T) {
		_, err := loadConfig(map[string]any{"environmentSuffix": "PR1", "replicaRegion": "mars-1", "account": "x"}, nil)
		for _, key := range []string{`"environmentSuffix"`, `"replicaRegion"`, `"account"`} {
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("error does not name %s: %v", key, err)
			}
		}
	})
}

// The longest suffix MaxSuffixLength allows is accepted (the infra tests
// synthesize it and check every name's length), one more is not.
func TestSuffixLength(t *testing.T) {
	longest := "p" + strings.Repeat("r", environment.MaxSuffixLength-1)
	if _, err := loadConfig(map[string]any{"environmentSuffix": longest}, nil); err != nil {
		t.Errorf("%q (%d characters) refused: %v", longest, len(longest), err)
	}
	if _, err := loadConfig(map[string]any{"environmentSuffix": longest + "x"}, nil); err == nil {
		t.Errorf("%q (%d characters) accepted", longest+"x", len(longest)+1)
	}
}

// A configuration that synthesizes offline is not yet one that deploys:
// DeployProblems names what `make preflight` refuses, each with the keys to
// set.
func TestDeployProblems(t *testing.T) {
	certificate := "arn:aws:acm:ap-southeast-1:210987654321:certificate/12345678-1234-1234-1234-123456789012"
	for _, tc := range []struct {
		name    string
		context map[string]any
		want    []string // the keys the problems name, in order
	}{
		{"ErrPlaceholders", nil, []string{"account", "domainName", "apiCertificateArn", "albCertificateArn"}},
		{"ErrOneCertificateWithoutZone", map[string]any{"account": "210987654321", "domainName": "pay.example.org", "apiCertificateArn": certificate},
			[]string{"albCertificateArn"}},
		{"OKHostedZone", map[string]any{"account": "210987654321", "domainName": "pay.example.org",
			"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.org"}, nil},
		{"OKCertificates", map[string]any{"account": "210987654321", "domainName": "pay.example.org",
			"apiCertificateArn": certificate, "albCertificateArn": certificate}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(tc.context, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range cfg.DeployProblems() {
				key, _, _ := strings.Cut(p, ":")
				got = append(got, key)
				if !strings.Contains(p, "-c ") {
					t.Errorf("%q does not say what to set", p)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("problems name %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("WarningsForPlaceholdersThatDeploy", func(t *testing.T) {
		cfg, _ := loadConfig(nil, nil)
		var keys []string
		for _, w := range cfg.DeployWarnings() {
			key, _, _ := strings.Cut(w, ":")
			keys = append(keys, key)
		}
		if got := strings.Join(keys, "|"); got != "mtlsTruststore|alarmEmails, pagerEndpoint|hostedZoneId" {
			t.Errorf("warnings name %s", got)
		}
		cfg, _ = loadConfig(map[string]any{"alarmEmails": "oncall@example.com"}, nil)
		for _, w := range cfg.DeployWarnings() {
			if strings.HasPrefix(w, "alarmEmails") {
				t.Errorf("warns that alarms go nowhere with an address set: %q", w)
			}
		}
	})
}

func TestAlarmDestinations(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		cfg, err := loadConfig(map[string]any{"alarmEmails": "oncall@example.com, payments@example.org",
			"pagerEndpoint": "https://events.pagerduty.com/integration/abc/enqueue"}, nil)
		if err != nil || strings.Join(cfg.AlarmEmails, ";") != "oncall@example.com;payments@example.org" || cfg.PagerEndpoint == "" {
			t.Errorf("%v %v %q", err, cfg.AlarmEmails, cfg.PagerEndpoint)
		}
	})
	for name, tc := range map[string]struct {
		context map[string]any
		want    string
	}{
		"ErrEmail": {map[string]any{"alarmEmails": "oncall@example.com,Ops <ops@example.com>"},
			`context "alarmEmails": "oncall@example.com,Ops <ops@example.com>" is not a list of e-mail addresses: use addresses separated by commas`},
		"ErrPagerNotHTTPS": {map[string]any{"pagerEndpoint": "http://pager.example.com/sns"},
			`context "pagerEndpoint": "http://pager.example.com/sns" is not an HTTPS URL: use the HTTPS endpoint your paging service gives`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadConfig(tc.context, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
