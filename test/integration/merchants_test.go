package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fintech/payments-platform/merchantadmin"
)

// The merchants the tests act as: A holds the development client
// certificate (certs/client.pem, which the truststore trusts), B one the
// tests issue from the development CA. Both are onboarded once, the way an
// operator does (the merchant-keys function), and kept: onboarding again is
// a no-op, and the environment's deletion removes them.
const (
	merchantA = "integration-tests"
	merchantB = "integration-tests-b"
)

// merchant is an onboarded merchant: its id, certificate and current API
// key, read from its secret as the merchant would.
type merchant struct {
	id        string
	cert      tls.Certificate
	apiKey    string
	secretArn string
}

var (
	merchantsMu sync.Mutex
	merchants   = map[string]merchant{}
)

// merchantWith onboards the merchant with the certificate (once per run)
// and waits for its first API key.
func merchantWith(t *testing.T, o Outputs, id string, cert tls.Certificate) merchant {
	t.Helper()
	merchantsMu.Lock()
	defer merchantsMu.Unlock()
	if m, ok := merchants[id]; ok {
		return m
	}
	ctx := context.Background()
	cfg := awsConfig(t, primaryRegion(t, o))
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	payload, _ := json.Marshal(merchantadmin.Request{Action: merchantadmin.Onboard, MerchantID: id, CertificatePEM: string(certPEM)})
	out, err := lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(o["MerchantKeysFunctionName"]), Payload: payload})
	if err != nil {
		t.Fatalf("onboard %s: %v", id, err)
	}
	var resp merchantadmin.Response
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &resp) != nil || len(resp.Merchants) != 1 {
		t.Fatalf("onboard %s: %s", id, out.Payload)
	}
	arn := resp.Merchants[0].SecretArn
	sm := secretsmanager.NewFromConfig(cfg)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &arn})
		if err != nil {
			t.Fatalf("%s: %v", arn, err)
		}
		pending := false
		for _, stages := range d.VersionIdsToStages {
			pending = pending || slices.Contains(stages, "AWSPENDING") && !slices.Contains(stages, "AWSCURRENT")
		}
		if d.LastRotatedDate != nil && !pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no API key within 3 minutes (see the merchant-keys function's log group)", arn)
		}
		time.Sleep(3 * time.Second)
	}
	value, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		t.Fatalf("%s: %v", arn, err)
	}
	var secret struct{ MerchantID, Value string }
	if err := json.Unmarshal([]byte(aws.ToString(value.SecretString)), &secret); err != nil || secret.Value == "" || secret.MerchantID != id {
		t.Fatalf("%s holds no API key of %s: %v", arn, id, err)
	}
	m := merchant{id: id, cert: cert, apiKey: secret.Value, secretArn: arn}
	merchants[id] = m
	return m
}

// merchantA is the merchant of the development client certificate.
func merchantOfDevCertificate(t *testing.T, o Outputs) merchant {
	t.Helper()
	return merchantWith(t, o, merchantA, clientCertificate(t))
}

// secondMerchant is a merchant whose certificate the tests issue from the
// development CA (certs/ca.key, which make dev-certs writes); without the
// CA's key the test skips, saying so.
func secondMerchant(t *testing.T, o Outputs) merchant {
	t.Helper()
	caPEM, err1 := os.ReadFile(filepath.Join(root, "certs", "truststore.pem"))
	keyPEM, err2 := os.ReadFile(filepath.Join(root, "certs", "ca.key"))
	if err1 != nil || err2 != nil {
		t.Skip("a second merchant needs the development CA (certs/truststore.pem and certs/ca.key, from make dev-certs) that the deployed truststore trusts")
	}
	caBlock, _ := pem.Decode(caPEM)
	keyBlock, _ := pem.Decode(keyPEM)
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	merchantsMu.Lock()
	m, ok := merchants[merchantB]
	merchantsMu.Unlock()
	if ok {
		return m
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	// A fixed subject: onboarding the same merchant again must present the
	// certificate names it was registered with.
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: merchantB, Organization: []string{"payments (non-production)"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return merchantWith(t, o, merchantB, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
}

func (m merchant) String() string { return fmt.Sprintf("merchant %s", m.id) }
