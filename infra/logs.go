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

// bareCardNumber matches the numbers of Visa, Mastercard, American Express
// and Discover, digits optionally grouped by single spaces or dashes,
// without the keyword the managed identifier wants (CloudWatch Logs allows
// 200 characters of regular expression).
const bareCardNumber = `\b(?:4(?:[ -]?\d){12,18}|5[1-5](?:[ -]?\d){14}|2[2-7]\d\d(?:[ -]?\d){12}|3[47](?:[ -]?\d){13}|6(?:011|5\d\d)(?:[ -]?\d){12})\b`

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
// despite the API refusing them. CloudWatch Logs delivers findings as
// vended logs, through the account's log-delivery resource policy, which
// holds at most 5,120 characters: under /aws/vendedlogs/ one wildcard
// covers every environment's group, however many PR environments exist.
func NewCardDataFindings(scope constructs.Construct, id string, cfg environment.Config, key awskms.IKey) awslogs.LogGroup {
	return newAuditLogGroup(scope, id, cfg, jsii.String(cfg.CardDataFindingsLogGroupName()), key)
}

// newCardDataLogGroup is an audit log group whose data-protection policy
// masks card numbers, expiry dates and security codes for every reader
// without logs:Unmask, and audits each finding into findings: defence in
// depth for the logs that carry what clients send (application, API access,
// WAF, database). CloudWatch Logs' managed CreditCardNumber identifier
// needs a keyword ("card", "visa", ...) near the number; bareCardNumber
// also finds the major networks' numbers on their own.
func newCardDataLogGroup(scope constructs.Construct, id string, cfg environment.Config, name *string, key awskms.IKey, findings awslogs.ILogGroup) awslogs.LogGroup {
	g := auditLogGroup(scope, id, cfg, name, key, awslogs.NewDataProtectionPolicy(&awslogs.DataProtectionPolicyProps{
		Name:        jsii.String(cfg.Name("card-data")),
		Description: jsii.String("Masks card data (PCI DSS requirement 3) and audits every finding"),
		Identifiers: &[]awslogs.DataIdentifier{
			awslogs.DataIdentifier_CREDITCARDNUMBER(), awslogs.DataIdentifier_CREDITCARDEXPIRATION(), awslogs.DataIdentifier_CREDITCARDSECURITYCODE(),
			awslogs.NewCustomDataIdentifier(jsii.String("BareCardNumber"), jsii.String(bareCardNumber)),
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
	if cfg.Posture().RetainData {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}
