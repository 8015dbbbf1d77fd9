package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// newAuditLogGroup creates a log group the way every log group of this
// platform is made: encrypted with the logs key and kept exactly 2557 days
// (AuditLogRetention), retained only in production.
func newAuditLogGroup(scope constructs.Construct, id string, cfg environment.Config, name *string, key awskms.IKey) awslogs.LogGroup {
	return auditLogGroup(scope, id, cfg, name, key, nil)
}

func auditLogGroup(scope constructs.Construct, id string, cfg environment.Config, name *string, key awskms.IKey, protection awslogs.DataProtectionPolicy) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, &id, &awslogs.LogGroupProps{
		LogGroupName:         name,
		Retention:            AuditLogRetention,
		EncryptionKey:        key,
		RemovalPolicy:        removalPolicy(cfg),
		DataProtectionPolicy: protection,
	})
}

// NewCardDataFindings creates the log group where CloudWatch Logs reports
// the card data its data-protection policies find (and mask) in the
// platform's logs: an audit trail of every card number that reached a log
// despite the API refusing them.
func NewCardDataFindings(scope constructs.Construct, id string, cfg environment.Config, key awskms.IKey) awslogs.LogGroup {
	return newAuditLogGroup(scope, id, cfg, jsii.String(cfg.LogGroupName("audit/card-data-findings")), key)
}

// newCardDataLogGroup is an audit log group whose data-protection policy
// masks card numbers, expiry dates and security codes (CloudWatch Logs'
// managed data identifiers) for every reader without logs:Unmask, and
// audits each finding into findings: defence in depth for the logs that
// carry what clients send (application, API access, WAF, database).
func newCardDataLogGroup(scope constructs.Construct, id string, cfg environment.Config, name *string, key awskms.IKey, findings awslogs.ILogGroup) awslogs.LogGroup {
	g := auditLogGroup(scope, id, cfg, name, key, awslogs.NewDataProtectionPolicy(&awslogs.DataProtectionPolicyProps{
		Name:        jsii.String(cfg.Name("card-data")),
		Description: jsii.String("Masks card data (PCI DSS requirement 3) and audits every finding"),
		Identifiers: &[]awslogs.DataIdentifier{
			awslogs.DataIdentifier_CREDITCARDNUMBER(), awslogs.DataIdentifier_CREDITCARDEXPIRATION(), awslogs.DataIdentifier_CREDITCARDSECURITYCODE(),
		},
		LogGroupAuditDestination: findings,
	}))
	// "The log group must already exist prior to creating the data
	// protection policy" (the audit destination).
	g.Node().AddDependency(findings)
	return g
}

// removalPolicy is RETAIN in production and DESTROY elsewhere: a PR
// environment must leave nothing behind.
func removalPolicy(cfg environment.Config) awscdk.RemovalPolicy {
	if cfg.Production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}
