package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fintech/payments-platform/gateway"
)

const methodArn = "arn:aws:execute-api:ap-southeast-1:123456789012:abc123/v1/POST/v1/payments"

// certificatePEM is a client certificate for subject, signed by a CA named
// issuer.
func certificatePEM(t *testing.T, subject, issuer pkix.Name) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: issuer, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: subject, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func request(pemText string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	e := events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: methodArn}
	e.RequestContext.Identity.ClientCert.ClientCertPem = pemText
	return e
}

func TestAuthorizer(t *testing.T) {
	a := authorizer{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}

	t.Run("OK", func(t *testing.T) {
		pemText := certificatePEM(t, pkix.Name{CommonName: "acme", Organization: []string{"Acme Ltd"}}, pkix.Name{CommonName: "payments CA"})
		got, err := a.handle(context.Background(), request(pemText))
		if err != nil {
			t.Fatal(err)
		}
		st := got.PolicyDocument.Statement
		if len(st) != 1 || st[0].Effect != "Allow" || len(st[0].Resource) != 1 || st[0].Resource[0] != methodArn {
			t.Errorf("policy %+v, want Allow on exactly the method", got.PolicyDocument)
		}
		want := gateway.Certificate{Subject: "CN=acme,O=Acme Ltd", Issuer: "CN=payments CA"}
		if got.Context[gateway.ContextClientCertSubject] != want.Subject || got.Context[gateway.ContextClientCertIssuer] != want.Issuer {
			t.Errorf("context %v, want %+v", got.Context, want)
		}
		if parsed, err := gateway.ParseCertificatePEM([]byte(pemText)); err != nil || parsed != want {
			t.Errorf("the merchant tooling names the certificate %+v (%v), the authorizer %+v", parsed, err, want)
		}
	})

	for name, pemText := range map[string]string{
		"ErrNoCertificate":   "",
		"ErrNotACertificate": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"ErrGarbage":         "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := a.handle(context.Background(), request(pemText))
			if err != nil {
				t.Fatal(err)
			}
			if st := got.PolicyDocument.Statement; len(st) != 1 || st[0].Effect != "Deny" || len(got.Context) != 0 {
				t.Errorf("got %+v, want a Deny without context", got)
			}
		})
	}
}
