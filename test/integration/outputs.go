// Package integration checks a deployed environment through its stack
// outputs: cfn-outputs/flat-outputs.json, which `make deploy` writes. The
// tests live in this package's _test files and run with `make integration`;
// without the outputs file they skip with one line.
package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// FlatOutputsFile is where `make deploy` writes the stacks' outputs,
// relative to the repository root.
const FlatOutputsFile = "cfn-outputs/flat-outputs.json"

// Required are the outputs the tests read. Every one must be present and
// non-empty: a test never passes because a value was missing.
var Required = []string{
	"AlbDnsName", "ApiEndpoint", "DashboardUrl",
	"DatabaseClusterIdentifier", "DatabaseSecretArn", "DocumentBucketName",
	"MerchantKeysFunctionName", "ReplicaBucketName", "ReplicaRegion",
}

// Outputs are the deployed environment's stack outputs, by output name.
type Outputs map[string]string

// Load reads and checks an outputs file. A missing file is reported as an
// error satisfying errors.Is(err, fs.ErrNotExist); every other problem
// (bad JSON, missing or empty keys, malformed values) names what is wrong.
func Load(path string) (Outputs, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var o Outputs
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

func (o Outputs) check() error {
	var problems []string
	for _, key := range Required {
		if strings.TrimSpace(o[key]) == "" {
			problems = append(problems, "missing "+key)
		}
	}
	if len(problems) == 0 {
		if u, err := url.Parse(o["ApiEndpoint"]); err != nil || u.Scheme != "https" || u.Host == "" {
			problems = append(problems, fmt.Sprintf("ApiEndpoint %q is not an https URL", o["ApiEndpoint"]))
		}
		if _, err := o.DashboardName(); err != nil {
			problems = append(problems, err.Error())
		}
		if _, err := RegionOf(o["DatabaseSecretArn"]); err != nil {
			problems = append(problems, fmt.Sprintf("DatabaseSecretArn: %v", err))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// APIHost is the mutual-TLS custom domain, e.g. api.dev.payments.example.com.
func (o Outputs) APIHost() string {
	u, _ := url.Parse(o["ApiEndpoint"])
	return u.Host
}

// DashboardName is the dashboard the DashboardUrl output opens.
func (o Outputs) DashboardName() (string, error) {
	u, err := url.Parse(o["DashboardUrl"])
	if err == nil {
		if _, name, ok := strings.Cut(u.Fragment, "dashboards:name="); ok && name != "" {
			return name, nil
		}
	}
	return "", fmt.Errorf("DashboardUrl %q does not name a dashboard", o["DashboardUrl"])
}

// RegionOf returns the region of an ARN (arn:partition:service:region:...).
func RegionOf(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[3] == "" {
		return "", fmt.Errorf("%q is not a regional ARN", arn)
	}
	return parts[3], nil
}
