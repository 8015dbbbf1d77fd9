package integration

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests need no deployment: they pin how the outputs file is read,
// so that a deployed run can never pass on a missing or malformed value.
func TestLoad(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		o, err := Load("testdata/flat-outputs.json")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := o.APIHost(), "api.pr123.payments.example.com"; got != want {
			t.Errorf("APIHost %q, want %q", got, want)
		}
		if got, _ := o.DashboardName(); got != "payments-dashboard-pr123" {
			t.Errorf("DashboardName %q", got)
		}
		if got, _ := RegionOf(o["DatabaseSecretArn"]); got != "ap-southeast-1" {
			t.Errorf("RegionOf %q", got)
		}
	})
	t.Run("ErrNotExist", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "flat-outputs.json"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("ErrEveryMissingKeyNamed", func(t *testing.T) {
		_, err := Load(write(t, `{"ApiEndpoint":"https://api.example.com/","AlbDnsName":"  "}`))
		if err == nil {
			t.Fatal("loaded an outputs file without most keys")
		}
		for _, key := range Required {
			if key != "ApiEndpoint" && !strings.Contains(err.Error(), "missing "+key) {
				t.Errorf("error does not name %s: %v", key, err)
			}
		}
		if strings.Contains(err.Error(), "missing ApiEndpoint") {
			t.Errorf("ApiEndpoint reported missing: %v", err)
		}
	})
	t.Run("ErrMalformedValues", func(t *testing.T) {
		o := fixture(t)
		o["ApiEndpoint"] = "http://api.example.com/"
		o["DashboardUrl"] = "https://console.aws.amazon.com/cloudwatch/home"
		o["DatabaseSecretArn"] = "payments/pr123/db-master"
		err := o.check()
		for _, want := range []string{"ApiEndpoint", "DashboardUrl", "DatabaseSecretArn"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s: %v", want, err)
			}
		}
	})
	t.Run("ErrNotJSON", func(t *testing.T) {
		if _, err := Load(write(t, `AlbDnsName=x`)); err == nil || !strings.Contains(err.Error(), "flat-outputs.json") {
			t.Errorf("got %v, want an error naming the file", err)
		}
	})
}

func fixture(t *testing.T) Outputs {
	t.Helper()
	o, err := Load("testdata/flat-outputs.json")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flat-outputs.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsRefusal must recognise what a server that requires a client
// certificate answers a client without one, and nothing else.
func TestTLSRefusal(t *testing.T) {
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	server.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: x509.NewCertPool()}
	server.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	server.StartTLS()
	defer server.Close()
	client := server.Client() // trusts the server, presents no certificate
	_, err := client.Get(server.URL)
	if err == nil || !tlsRefusal(err) {
		t.Errorf("no client certificate: %v, want it recognised as a TLS refusal", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := client.Get(closed.URL); err == nil || tlsRefusal(err) {
		t.Errorf("a closed port: %v, want an error that is not a TLS refusal", err)
	}
}
