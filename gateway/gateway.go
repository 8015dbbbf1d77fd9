// Package gateway is the contract between API Gateway and the payment
// service: the headers API Gateway sets on every request it forwards (the
// service trusts them because nothing else reaches it, and API Gateway
// replaces any a client sends under those names), the context the
// mutual-TLS authorizer returns, and how a client certificate is named.
// infra maps the headers, cmd/authorizer fills the context, the service
// and the merchant tooling read certificates the same way. It imports only
// the standard library.
package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// Headers API Gateway sets on the integration request.
const (
	// HeaderAPIKeyID is the id of the API key the request was made with
	// ($context.identity.apiKeyId).
	HeaderAPIKeyID = "X-Api-Key-Id"
	// HeaderClientCertSubject and HeaderClientCertIssuer name the client
	// certificate of the mutual-TLS handshake, as Certificate computes them
	// (from the authorizer's context).
	HeaderClientCertSubject = "X-Client-Cert-Subject"
	HeaderClientCertIssuer  = "X-Client-Cert-Issuer"
	// HeaderRequestID is API Gateway's request id ($context.requestId).
	HeaderRequestID = "X-Request-Id"
)

// Keys of the context the authorizer returns, read by the integration's
// parameter mapping as context.authorizer.<key>.
const (
	ContextClientCertSubject = "clientCertSubject"
	ContextClientCertIssuer  = "clientCertIssuer"
)

// Certificate names a client certificate by its subject and issuer
// distinguished names, both in RFC 2253 form ("CN=acme,O=Acme Ltd"). A
// merchant is registered with these, and each request's certificate must
// match them.
type Certificate struct {
	Subject string
	Issuer  string
}

// CertificateOf names a parsed certificate.
func CertificateOf(cert *x509.Certificate) Certificate {
	return Certificate{Subject: cert.Subject.String(), Issuer: cert.Issuer.String()}
}

// ParseCertificatePEM names the first certificate of a PEM document.
func ParseCertificatePEM(data []byte) (Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return Certificate{}, errors.New("no PEM certificate found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return Certificate{}, err
		}
		if cert.Subject.String() == "" {
			return Certificate{}, errors.New("the certificate has an empty subject")
		}
		return CertificateOf(cert), nil
	}
}
