package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// deployed is the environment under test; nil when there is no outputs
// file, and then every test that needs it skips.
var deployed Outputs

// root is the repository root: the outputs file and the development
// certificates are found relative to it.
var root string

func TestMain(m *testing.M) {
	var err error
	if root, err = repositoryRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	deployed, err = Load(filepath.Join(root, FlatOutputsFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Printf("integration: SKIP: %s not found; `make deploy` writes it, then `make integration` checks the deployed environment\n", FlatOutputsFile)
	case err != nil:
		// A file that is present but incomplete fails the run: the tests
		// must not pass because there was nothing to check.
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// environment returns the deployed outputs, or skips the test when none
// were found (TestMain said so once).
func environment(t *testing.T) Outputs {
	t.Helper()
	if deployed == nil {
		t.SkipNow()
	}
	return deployed
}

func repositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// awsConfig loads the caller's credentials (the usual chain: environment,
// profile, SSO, instance role) for the given region.
func awsConfig(t *testing.T, region string) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		t.Fatalf("AWS configuration: %v", err)
	}
	return cfg
}

// primaryRegion is where the environment's main stacks run: the region of
// the database secret.
func primaryRegion(t *testing.T, o Outputs) string {
	t.Helper()
	region, err := RegionOf(o["DatabaseSecretArn"])
	if err != nil {
		t.Fatal(err)
	}
	return region
}

// clientCertificate is the certificate the API's truststore trusts: by
// default the one `make dev-certs` writes (deploy with
// -c mtlsTruststore=certs/truststore.pem), else the files named by
// INTEGRATION_CLIENT_CERT and INTEGRATION_CLIENT_KEY.
func clientCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	certFile := envOr("INTEGRATION_CLIENT_CERT", filepath.Join(root, "certs", "client.pem"))
	keyFile := envOr("INTEGRATION_CLIENT_KEY", filepath.Join(root, "certs", "client.key"))
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("client certificate: %v (run `make dev-certs` and deploy with its truststore, or set INTEGRATION_CLIENT_CERT and INTEGRATION_CLIENT_KEY)", err)
	}
	return cert
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
