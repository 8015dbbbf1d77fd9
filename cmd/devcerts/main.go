// Command devcerts creates a test certificate authority and a client
// certificate for non-production mutual-TLS truststores:
//
//	certs/truststore.pem  the CA certificate: pass it as -c mtlsTruststore=certs/truststore.pem
//	certs/ca.key          the CA's private key (mode 0600)
//	certs/client.pem      a client certificate signed by the CA (clientAuth)
//	certs/client.key      its private key (mode 0600)
//
// With -merchant <id> it issues a merchant's client certificate from the
// existing test CA instead (CN=<id>, what make merchant-onboard registers):
//
//	certs/merchants/<id>.pem and <id>.key
//
// certs/ is ignored by git: private keys never leave the machine. Existing
// files are never overwritten unless -force is given.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

func main() {
	dir := flag.String("dir", "certs", "output directory")
	client := flag.String("client", "payments-dev-client", "common name of the client certificate")
	force := flag.Bool("force", false, "overwrite existing files")
	merchant := flag.String("merchant", "", "issue this merchant's client certificate from the test CA in -dir")
	flag.Parse()
	if *merchant != "" {
		cert, err := issueMerchant(*dir, *merchant, *force, time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, "devcerts:", err)
			os.Exit(1)
		}
		fmt.Printf("wrote %s and its key\n", cert)
		return
	}
	if err := run(*dir, *client, *force, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "devcerts:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s/{truststore.pem,ca.key,client.pem,client.key}\n", *dir)
}

// issueMerchant signs a client certificate for the merchant with the test
// CA of dir, and returns its path.
func issueMerchant(dir, merchant string, force bool, now time.Time) (string, error) {
	if !merchantID.MatchString(merchant) {
		return "", fmt.Errorf("merchant %q: use 1-64 letters, digits, '-' or '_'", merchant)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "truststore.pem"))
	if err != nil {
		return "", fmt.Errorf("the test CA: %w (run make dev-certs first)", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return "", fmt.Errorf("the test CA's key: %w (run make dev-certs first)", err)
	}
	caBlock, _ := pem.Decode(caPEM)
	keyBlock, _ := pem.Decode(keyPEM)
	if caBlock == nil || keyBlock == nil {
		return "", errors.New("the test CA in " + dir + " is not PEM")
	}
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return "", err
	}
	caKey, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "merchants")
	certFile := filepath.Join(out, merchant+".pem")
	if _, err := os.Stat(certFile); err == nil && !force {
		return "", fmt.Errorf("%s exists: keep it, or run with -force to issue another", certFile)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: merchant, Organization: []string{"payments (non-production)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(out, merchant+".key"), pem.EncodeToMemory(privateKeyBlock(key)), 0o600); err != nil {
		return "", err
	}
	return certFile, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

var merchantID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func run(dir, clientName string, force bool, now time.Time) error {
	files := []string{"truststore.pem", "ca.key", "client.pem", "client.key"}
	if !force {
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return fmt.Errorf("%s exists: keep it, or run with -force to replace the test CA", filepath.Join(dir, f))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "payments development client CA", Organization: []string{"payments (non-production)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(2, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)

	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	clientTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: clientName, Organization: []string{"payments (non-production)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientDER, err := x509.CreateCertificate(rand.Reader, clientTmpl, ca, &clientKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	for name, block := range map[string]*pem.Block{
		"truststore.pem": {Type: "CERTIFICATE", Bytes: caDER},
		"client.pem":     {Type: "CERTIFICATE", Bytes: clientDER},
		"ca.key":         privateKeyBlock(caKey),
		"client.key":     privateKeyBlock(clientKey),
	} {
		mode := os.FileMode(0o644)
		if block.Type == "PRIVATE KEY" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), mode); err != nil {
			return err
		}
	}
	return nil
}

func privateKeyBlock(k *ecdsa.PrivateKey) *pem.Block {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an ECDSA P-256 key always marshals
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
