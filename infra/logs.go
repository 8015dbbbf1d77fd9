package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
)

// Every physical name is derived here so that the environment suffix can
// never be forgotten: two environments in one account never collide.

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

// rotationFunctionName names the master secret's rotation function, a
// Serverless Application Repository app whose log group Lambda names
// /aws/lambda/<function>.
func (c Config) rotationFunctionName() string {
	return c.Name("db-rotation")
}

// WafLogGroupName is the WAF log group: WAF accepts only names that start
// with "aws-waf-logs-".
func (c Config) WafLogGroupName() string {
	return "aws-waf-logs-" + c.Name("edge")
}

// KeyAlias is "alias/payments/<suffix>/<domain>".
func (c Config) KeyAlias(domain string) string {
	return fmt.Sprintf("alias/payments/%s/%s", c.EnvironmentSuffix, domain)
}

// HostName is the DNS name of a public endpoint: "<service>.<domainName>" in
// production, "<service>.<suffix>.<domainName>" elsewhere, so that PR
// environments sharing a domain never claim the same name.
func (c Config) HostName(service string) string {
	if c.Production {
		return service + "." + c.DomainName
	}
	return service + "." + c.EnvironmentSuffix + "." + c.DomainName
}

// newAuditLogGroup creates a log group the way every log group of this
// platform is made: encrypted with the logs key and kept exactly 2557 days
// (AuditLogRetention), retained only in production.
func newAuditLogGroup(scope constructs.Construct, id string, cfg Config, name *string, key awskms.IKey) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, &id, &awslogs.LogGroupProps{
		LogGroupName:  name,
		Retention:     AuditLogRetention,
		EncryptionKey: key,
		RemovalPolicy: cfg.RemovalPolicy(),
	})
}

// RemovalPolicy is RETAIN in production and DESTROY elsewhere: a PR
// environment must leave nothing behind.
func (c Config) RemovalPolicy() awscdk.RemovalPolicy {
	if c.Production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}
