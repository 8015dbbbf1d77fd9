// Command authorizer is the payment API's Lambda REQUEST authorizer. It
// passes the client certificate of the mutual-TLS handshake on to the
// service: API Gateway's parameter mapping cannot read the certificate, an
// authorizer's context can. It allows the request and returns the
// certificate's subject and issuer (gateway.Certificate) as its context,
// which the integration forwards as headers; the service then requires the
// certificate and the API key to belong to the same merchant. A request
// without a certificate (none reaches the API through its mutual-TLS
// domain, the only way in) is denied.
//
// Results are not cached: the certificate is no identity source API
// Gateway can key a cache on, so a cached answer could speak for another
// certificate.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/fintech/payments-platform/gateway"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	lambda.Start(authorizer{log: logger}.handle)
}

type authorizer struct{ log *slog.Logger }

func (a authorizer) handle(ctx context.Context, e events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	cert, err := gateway.ParseCertificatePEM([]byte(e.RequestContext.Identity.ClientCert.ClientCertPem))
	if err != nil {
		a.log.WarnContext(ctx, "request without a usable client certificate denied", "requestId", e.RequestContext.RequestID, "error", err)
		return policy("no-client-certificate", "Deny", e.MethodArn, nil), nil
	}
	return policy(cert.Subject, "Allow", e.MethodArn, map[string]any{
		gateway.ContextClientCertSubject: cert.Subject,
		gateway.ContextClientCertIssuer:  cert.Issuer,
	}), nil
}

// policy allows or denies invoking exactly the method of this request.
func policy(principal, effect, methodArn string, context map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{methodArn},
			}},
		},
		Context: context,
	}
}
