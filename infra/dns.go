package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// Names is how the environment's host names are certified and published:
// the configured Route 53 zone, resolved once per stack, and the
// certificates.
type Names struct {
	constructs.Construct
	cfg environment.Config
	// Zone is the configured hosted zone; nil without one.
	Zone awsroute53.IHostedZone
}

// NewNames resolves the hosted zone (when configured) in scope's stack.
func NewNames(scope constructs.Construct, id string, cfg environment.Config) *Names {
	n := &Names{Construct: constructs.NewConstruct(scope, &id), cfg: cfg}
	if cfg.HostedZoneID != "" {
		n.Zone = awsroute53.HostedZone_FromHostedZoneAttributes(n.Construct, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String(cfg.HostedZoneID), ZoneName: jsii.String(cfg.HostedZoneName),
		})
	}
	return n
}

// Certificate is the certificate of host: the issued one whose ARN the
// configuration names (importedArn), else a DNS-validated ACM certificate
// validated through the zone. Without either, the certificate would wait for
// a DNS record added by hand; the configuration reports that as a deploy
// problem (environment.Config.DeployProblems), so only an offline synth
// produces it.
func (n *Names) Certificate(scope constructs.Construct, id, host, importedArn string) awscertificatemanager.ICertificate {
	if importedArn != "" {
		return awscertificatemanager.Certificate_FromCertificateArn(scope, &id, &importedArn)
	}
	return awscertificatemanager.NewCertificate(scope, &id, &awscertificatemanager.CertificateProps{
		DomainName: jsii.String(host),
		Validation: awscertificatemanager.CertificateValidation_FromDns(n.Zone),
	})
}
