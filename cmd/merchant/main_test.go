package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fintech/payments-platform/merchantadmin"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

// fakeLambda answers like the merchant-keys function and records what it
// was asked.
type fakeLambda struct {
	function string
	requests []merchantadmin.Request
	fail     string
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.function = aws.ToString(in.FunctionName)
	var req merchantadmin.Request
	if err := json.Unmarshal(in.Payload, &req); err != nil {
		return nil, err
	}
	f.requests = append(f.requests, req)
	if f.fail != "" {
		payload, _ := json.Marshal(map[string]string{"errorMessage": f.fail, "errorType": "errorString"})
		return &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: payload}, nil
	}
	payload, _ := json.Marshal(merchantadmin.Response{Merchants: []merchantadmin.Merchant{{
		MerchantID: req.MerchantID, SecretArn: "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:payments/pr1/merchants/acme/api-key-AbCdEf",
		Rotation: merchantadmin.RotationStarted,
	}}})
	return &lambda.InvokeOutput{Payload: payload}, nil
}

// fakeSecrets finishes the first rotation after a few looks.
type fakeSecrets struct{ looks int }

func (f *fakeSecrets) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.looks++
	if f.looks < 3 {
		return &secretsmanager.DescribeSecretOutput{VersionIdsToStages: map[string][]string{"v0": {"AWSCURRENT"}, "v1": {"AWSPENDING"}}}, nil
	}
	return &secretsmanager.DescribeSecretOutput{LastRotatedDate: aws.Time(time.Now()), VersionIdsToStages: map[string][]string{"v1": {"AWSCURRENT"}}}, nil
}

func writeCertificate(t *testing.T, cn string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), cn+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runWith(t *testing.T, fn *fakeLambda, secrets *fakeSecrets, args ...string) (string, error) {
	t.Helper()
	pollEvery = 0
	var out strings.Builder
	err := run(context.Background(), args, &out, func(_ context.Context, region string) (clients, error) {
		if region != "ap-southeast-1" {
			t.Errorf("region %s", region)
		}
		return clients{lambda: fn, secrets: secrets}, nil
	})
	return out.String(), err
}

func TestOnboard(t *testing.T) {
	cert := writeCertificate(t, "acme")
	fn, secrets := &fakeLambda{}, &fakeSecrets{}
	out, err := runWith(t, fn, secrets, "onboard", "-env", "pr1", "-id", "acme", "-cert", cert, "-reader", "arn:aws:iam::210987654321:role/acme", "-wait")
	if err != nil {
		t.Fatal(err)
	}
	if fn.function != "payments-merchant-keys-pr1" || len(fn.requests) != 1 {
		t.Fatalf("invoked %s with %d requests", fn.function, len(fn.requests))
	}
	req := fn.requests[0]
	if req.Action != merchantadmin.Onboard || req.MerchantID != "acme" || !strings.Contains(req.CertificatePEM, "BEGIN CERTIFICATE") || req.Reader != "arn:aws:iam::210987654321:role/acme" {
		t.Errorf("request %+v", req)
	}
	if secrets.looks != 3 || !strings.Contains(out, `subject "CN=acme"`) || !strings.Contains(out, "the first API key is ready") {
		t.Errorf("looked %d times; output:\n%s", secrets.looks, out)
	}
}

func TestErrors(t *testing.T) {
	cert := writeCertificate(t, "acme")
	for name, tc := range map[string]struct {
		args []string
		fail string
		want string
	}{
		"ErrNoCommand":       {nil, "", "usage"},
		"ErrUnknownCommand":  {[]string{"promote", "-env", "pr1"}, "", "unknown command"},
		"ErrNoEnvironment":   {[]string{"list"}, "", "-env is required"},
		"ErrBadEnvironment":  {[]string{"list", "-env", "PR 1"}, "", "environmentSuffix"},
		"ErrOnboardNoCert":   {[]string{"onboard", "-env", "pr1", "-id", "acme"}, "", "needs -id and -cert"},
		"ErrOffboardNoID":    {[]string{"offboard", "-env", "pr1"}, "", "needs -id"},
		"ErrFunctionRefuses": {[]string{"onboard", "-env", "pr1", "-id", "acme", "-cert", cert}, "certificate_in_use", "certificate_in_use"},
		"ErrLocalNeedsFlags": {[]string{"local", "-id", "acme"}, "", "local needs"},
		"ErrNotACertificate": {[]string{"onboard", "-env", "pr1", "-id", "acme", "-cert", "main.go"}, "", "main.go"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runWith(t, &fakeLambda{fail: tc.fail}, &fakeSecrets{}, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A merchant registered locally is the merchant the API finds for requests
// with the printed headers.
func TestLocal(t *testing.T) {
	ctx := context.Background()
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(ctx, pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	cert := writeCertificate(t, "acme")
	out, err := runWith(t, &fakeLambda{}, &fakeSecrets{}, "local", "-dsn", dsn, "-id", "acme", "-cert", cert, "-api-key-id", "local-acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "X-Client-Cert-Subject: CN=acme") || !strings.Contains(out, "X-Api-Key-Id: local-acme") {
		t.Errorf("output:\n%s", out)
	}
	pool, err := postgres.NewPool(ctx, postgres.PoolConfig{DSN: dsn, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	got, err := postgres.NewMerchantRegistry(pool, 0).Merchant(ctx, payments.Caller{APIKeyID: "local-acme", CertificateSubject: "CN=acme", CertificateIssuer: "CN=acme"})
	if err != nil || got != "acme" {
		t.Errorf("merchant %q, %v", got, err)
	}
}
