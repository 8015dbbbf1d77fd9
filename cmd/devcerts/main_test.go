package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := run(dir, "client-1", false, now); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	block, _ := pem.Decode(read("truststore.pem"))
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("truststore is not a CA certificate: %v", err)
	}
	pair, err := tls.X509KeyPair(read("client.pem"), read("client.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("the client certificate does not verify against the truststore for client auth: %v", err)
	}
	for _, key := range []string{"ca.key", "client.key"} {
		if info, _ := os.Stat(filepath.Join(dir, key)); info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", key, info.Mode().Perm())
		}
	}
	if strings.Contains(string(read("truststore.pem")), "PRIVATE KEY") {
		t.Error("the truststore holds a private key")
	}

	t.Run("ErrWouldOverwrite", func(t *testing.T) {
		if err := run(dir, "client-1", false, now); err == nil || !strings.Contains(err.Error(), "-force") {
			t.Fatalf("got %v", err)
		}
		if err := run(dir, "client-1", true, now); err != nil {
			t.Fatalf("-force: %v", err)
		}
	})
}

// A merchant's certificate is issued by the test CA, for client auth, named
// after the merchant.
func TestIssueMerchant(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if _, err := issueMerchant(dir, "acme", false, now); err == nil || !strings.Contains(err.Error(), "make dev-certs") {
		t.Fatalf("without a CA: %v", err)
	}
	if err := run(dir, "client-1", false, now); err != nil {
		t.Fatal(err)
	}
	certFile, err := issueMerchant(dir, "acme", false, now)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "merchants", "acme.key"))
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	caPEM, _ := os.ReadFile(filepath.Join(dir, "truststore.pem"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("the merchant's certificate does not verify for client auth: %v", err)
	}
	if leaf.Subject.CommonName != "acme" {
		t.Errorf("subject %s", leaf.Subject)
	}
	if _, err := issueMerchant(dir, "acme", false, now); err == nil {
		t.Error("overwrote an existing certificate")
	}
	if _, err := issueMerchant(dir, "../escape", false, now); err == nil {
		t.Error("accepted a merchant id that is a path")
	}
}
