package environment

import (
	"fmt"
	"strings"
)

// Every physical name is derived here so that the environment suffix can
// never be forgotten: two environments in one account never collide. The
// longest names set the suffix's length limit (see MaxSuffixLength).

// Name is the physical name of a resource: "payments-<component>-<suffix>".
func (c Config) Name(component string) string {
	return fmt.Sprintf("payments-%s-%s", component, c.EnvironmentSuffix)
}

// StackName is "Payments<Component>-<suffix>".
func (c Config) StackName(component string) string {
	return fmt.Sprintf("Payments%s-%s", component, c.EnvironmentSuffix)
}

// LogGroupPrefix holds every log group this environment creates itself, so a
// single ARN pattern in the logs key policy covers them and nothing else.
func (c Config) LogGroupPrefix() string {
	return fmt.Sprintf("/payments/%s/", c.EnvironmentSuffix)
}

// LogGroupName is "/payments/<suffix>/<component>".
func (c Config) LogGroupName(component string) string {
	return c.LogGroupPrefix() + component
}

// RotationFunctionName names the master secret's rotation function, a
// Serverless Application Repository app whose log group Lambda names
// /aws/lambda/<function>.
func (c Config) RotationFunctionName() string {
	return c.Name("db-rotation")
}

// WafLogGroupName is the log group of both web ACLs: WAF accepts only names
// that start with "aws-waf-logs-".
func (c Config) WafLogGroupName() string {
	return "aws-waf-logs-" + c.Name("edge")
}

// ContainerInsightsLogGroupName is the group ECS Container Insights writes
// the cluster's performance events to; ECS dictates the name.
func (c Config) ContainerInsightsLogGroupName() string {
	return fmt.Sprintf("/aws/ecs/containerinsights/%s/performance", c.Name("cluster"))
}

// PaymentQueueName is the queue the outbox relay sends payments to;
// DeadLetterQueueName holds what the processor failed to settle five times.
// `make redrive-dlq` moves the second back into the first.
func (c Config) PaymentQueueName() string    { return c.Name("payments") }
func (c Config) DeadLetterQueueName() string { return c.Name("payments-dlq") }

// CardDataFindingsLogGroupName receives the findings of the card-data
// protection policies: "/aws/vendedlogs/payments/<suffix>/card-data-findings"
// (under /aws/vendedlogs/ the account's log-delivery resource policy names
// one wildcard for all such groups instead of each group).
func (c Config) CardDataFindingsLogGroupName() string {
	return fmt.Sprintf("/aws/vendedlogs/payments/%s/card-data-findings", c.EnvironmentSuffix)
}

// KeyAlias is "alias/payments/<suffix>/<domain>".
func (c Config) KeyAlias(domain string) string {
	return fmt.Sprintf("alias/payments/%s/%s", c.EnvironmentSuffix, domain)
}

// HostName is the DNS name of an endpoint: "<service>.<domainName>" in
// production, "<service>.<suffix>.<domainName>" elsewhere, so that PR
// environments sharing a domain never claim the same name.
func (c Config) HostName(service string) string {
	if c.Posture().BareHostNames {
		return service + "." + c.DomainName
	}
	return service + "." + c.EnvironmentSuffix + "." + c.DomainName
}

// BucketName is "payments-<component>-<suffix>-<account>-<region>": bucket
// names are global, so account and region keep environments and the replica
// apart. With the longest component ("docs", "logs", "mtls": 4 letters), the
// longest suffix and the longest region code the name is S3's 63 characters
// at most.
func (c Config) BucketName(component, region string) string {
	return fmt.Sprintf("%s-%s-%s", c.Name(component), c.Account, region)
}

// AccountStackName is the account setup stack: one per account and region,
// like the CDK bootstrap stack, so it carries no suffix.
const AccountStackName = "PaymentsAccount"

// Tags on what is created outside CloudFormation at run time (merchants'
// secrets and API keys): IAM policies allow creating, changing and deleting
// only what carries this environment's TagEnvironment, and TagMerchant says
// whose it is.
const (
	TagEnvironment = "Environment"
	TagMerchant    = "Merchant"
)

// MerchantSecretPrefix holds every merchant's API-key secret of the
// environment: "payments/<suffix>/merchants/".
func (c Config) MerchantSecretPrefix() string {
	return fmt.Sprintf("payments/%s/merchants/", c.EnvironmentSuffix)
}

// MerchantSecretName is a merchant's API-key secret:
// "payments/<suffix>/merchants/<merchant>/api-key".
func (c Config) MerchantSecretName(merchantID string) string {
	return c.MerchantSecretPrefix() + merchantID + "/api-key"
}

// MerchantFromSecretName is the merchant whose API-key secret this is, and
// false for any other name.
func (c Config) MerchantFromSecretName(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, c.MerchantSecretPrefix())
	if !ok {
		return "", false
	}
	merchant, ok := strings.CutSuffix(rest, "/api-key")
	return merchant, ok && merchant != "" && !strings.Contains(merchant, "/")
}

// APIKeyName is the name of a merchant's API key created for one secret
// version: "payments-<suffix>-<merchant>-<version id>".
func (c Config) APIKeyName(merchantID, version string) string {
	return c.APIKeyNamePrefix(merchantID) + version
}

// APIKeyNamePrefix starts the names of a merchant's API keys (names only
// help people: the tags say whose a key is, since one merchant's prefix
// may start another's).
func (c Config) APIKeyNamePrefix(merchantID string) string {
	return fmt.Sprintf("payments-%s-%s-", c.EnvironmentSuffix, merchantID)
}

// MerchantKeysFunctionName is the function that onboards, rotates and
// offboards merchants' API keys.
func (c Config) MerchantKeysFunctionName() string { return c.Name("merchant-keys") }

// AuditFunctionName is the function that anchors and verifies payments'
// histories.
func (c Config) AuditFunctionName() string { return c.Name("audit") }

// RoleArn is the ARN of the role named name in the environment's account
// (roles are created at the path /, named like the function or service
// they serve), for policies that must name a role before it exists.
func (c Config) RoleArn(name string) string {
	return "arn:aws:iam::" + c.Account + ":role/" + name
}

// The payment queue's delivery contract, which the stack and the local
// platform (package local) both set up: a message whose processing fails
// PaymentMaxReceiveCount times moves to the dead-letter queue, the
// processor receives up to PaymentBatchSize messages an invocation and has
// ProcessorTimeoutSeconds for it, and a message stays invisible for
// PaymentVisibilityTimeoutSeconds after it is received: six times the
// processor's timeout, AWS's guidance for Lambda event sources. SQS starts
// at most ProcessorMaxConcurrency invocations at once (the event source's
// MaximumConcurrency), which bounds the processor's database connections;
// production reserves twice that (Posture), room for SQS's scaling above it.
const (
	ProcessorMaxConcurrency         = 5
	PaymentMaxReceiveCount          = 5
	PaymentBatchSize                = 10
	ProcessorTimeoutSeconds         = 30
	PaymentVisibilityTimeoutSeconds = 6 * ProcessorTimeoutSeconds
)
