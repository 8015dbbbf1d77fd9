package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/fintech/payments-platform/environment"
)

// newAuditLogGroup creates a log group the way every log group of this
// platform is made: encrypted with the logs key and kept exactly 2557 days
// (AuditLogRetention), retained only in production.
func newAuditLogGroup(scope constructs.Construct, id string, cfg environment.Config, name *string, key awskms.IKey) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, &id, &awslogs.LogGroupProps{
		LogGroupName:  name,
		Retention:     AuditLogRetention,
		EncryptionKey: key,
		RemovalPolicy: removalPolicy(cfg),
	})
}

// removalPolicy is RETAIN in production and DESTROY elsewhere: a PR
// environment must leave nothing behind.
func removalPolicy(cfg environment.Config) awscdk.RemovalPolicy {
	if cfg.Production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}
