package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	apigw "github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// apiGatewayLogActions are the actions of AWS's managed policy
// AmazonAPIGatewayPushToCloudWatchLogs, listed instead of attaching it.
var apiGatewayLogActions = []string{
	"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
	"logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents",
}

// AccountSetup holds what belongs to the account and region rather than to
// an environment, like the CDK bootstrap stack: deployed once by `make
// account-setup`, never removed by `make destroy`, and so the one exception
// to "every name carries the suffix, everything is destroyable".
type AccountSetup struct {
	constructs.Construct
	// CloudWatchRole is API Gateway's account-wide logging role.
	CloudWatchRole *ServiceRole
	// Audit is the account's trail, with -c auditTrail=true; else nil.
	Audit *AccountAudit
}

// NewAccountSetup sets API Gateway's CloudWatch role for the account and
// region (AWS::ApiGateway::Account). API Gateway writes every REST API's
// execution and access logs with this one role, and checks it when the
// setting is applied by writing a log group of its own
// (/aws/apigateway/welcome), so the role may write any log group of the
// account in the region: the scope of AmazonAPIGatewayPushToCloudWatchLogs,
// narrowed from "*" to this account and region. A per-environment setting
// would be overwritten by the last environment deployed and left pointing at
// a deleted role by the first one destroyed.
func NewAccountSetup(scope constructs.Construct, id string, cfg environment.Config) *AccountSetup {
	this := constructs.NewConstruct(scope, &id)
	a := &AccountSetup{Construct: this}
	logGroups := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:*", cfg.Region, cfg.Account)
	// Trusted as AWS's setup guide trusts it, without an aws:SourceAccount
	// condition: API Gateway is not documented to send the key when it
	// assumes this role, and a condition it cannot meet would fail the
	// setting. Only this account's own setting (which needs iam:PassRole
	// here) can make API Gateway use it.
	a.CloudWatchRole = NewServiceRole(this, "ApiGatewayCloudWatchRole", &ServiceRoleProps{
		Name: "payments-apigateway-cloudwatch-" + cfg.Region, Service: "apigateway.amazonaws.com",
		Statements: []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WriteApiGatewayLogs"), Actions: jsii.Strings(apiGatewayLogActions...),
			Resources: jsii.Strings(logGroups, logGroups+":log-stream:*"),
		})},
	})
	account := apigw.NewCfnAccount(this, jsii.String("ApiGatewayAccount"), &apigw.CfnAccountProps{CloudWatchRoleArn: a.CloudWatchRole.Role.RoleArn()})
	// API Gateway uses the role as soon as the setting is applied.
	a.CloudWatchRole.UsedBy(account)
	awscdk.NewCfnOutput(scope, jsii.String("ApiGatewayCloudWatchRoleArn"), &awscdk.CfnOutputProps{
		Value:       a.CloudWatchRole.Role.RoleArn(),
		Description: jsii.String("API Gateway's account-wide CloudWatch role in " + cfg.Region + " (every environment's API logs through it)"),
	})
	// One bucket receives the access logs of the account's buckets (the
	// trail's and Config's), whichever of them the context asks for, under
	// one construct id: turning the trail on or off later does not replace
	// it (it is retained and named, so a replacement would fail).
	var accessLogs awss3.IBucket
	if cfg.AuditTrail || cfg.AWSConfig {
		accessLogs = newAccessLogBucket(this, "AccessLogs", cfg, accountBucketName(cfg, "logs"))
	}
	if cfg.AuditTrail {
		a.Audit = NewAccountAudit(this, "Audit", cfg, accessLogs)
	}
	if cfg.GuardDuty || cfg.SecurityHub || cfg.AWSConfig {
		NewAccountSecurityServices(this, "Security", cfg, a.Audit, accessLogs)
	}
	suppress(this.Node().FindChild(jsii.String("ApiGatewayCloudWatchRolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::" + logGroups, "Resource::" + logGroups + ":log-stream:*"},
		reason: "API Gateway writes every REST API's execution logs (API-Gateway-Execution-Logs_<api id>/<stage>) and access logs (a group each API names) with this one " +
			"account-wide role, and tests it by writing /aws/apigateway/welcome: the log groups of this account and region, the managed policy's scope without its other regions.",
	})
	return a
}
