package main

import (
	"context"
	"os/exec"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Each interface names only the read calls a check makes, so the checks
// cannot mutate the account (TestInterfacesOnlyRead pins this) and the tests
// fake exactly what is used.

type stsAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

type route53API interface {
	GetHostedZone(context.Context, *route53.GetHostedZoneInput, ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error)
}

type acmAPI interface {
	DescribeCertificate(context.Context, *acm.DescribeCertificateInput, ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
}

type ssmAPI interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

type cloudformationAPI interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

type apigatewayAPI interface {
	GetAccount(context.Context, *apigateway.GetAccountInput, ...func(*apigateway.Options)) (*apigateway.GetAccountOutput, error)
}

type quotasAPI interface {
	GetServiceQuota(context.Context, *servicequotas.GetServiceQuotaInput, ...func(*servicequotas.Options)) (*servicequotas.GetServiceQuotaOutput, error)
	GetAWSDefaultServiceQuota(context.Context, *servicequotas.GetAWSDefaultServiceQuotaInput, ...func(*servicequotas.Options)) (*servicequotas.GetAWSDefaultServiceQuotaOutput, error)
}

type vpcsAPI interface {
	DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
}

type internetGatewaysAPI interface {
	DescribeInternetGateways(context.Context, *ec2.DescribeInternetGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
}

type addressesAPI interface {
	DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
}

type lambdaAPI interface {
	GetAccountSettings(context.Context, *lambda.GetAccountSettingsInput, ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error)
	GetFunctionConcurrency(context.Context, *lambda.GetFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
}

type vpcLinksAPI interface {
	GetVpcLinks(context.Context, *apigatewayv2.GetVpcLinksInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetVpcLinksOutput, error)
}

type trailsAPI interface {
	DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error)
	GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
}

type logsAPI interface {
	DescribeResourcePolicies(context.Context, *cloudwatchlogs.DescribeResourcePoliciesInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeResourcePoliciesOutput, error)
}

// ec2API is the EC2 part the quota checks count existing resources with.
type ec2API interface {
	vpcsAPI
	internetGatewaysAPI
	addressesAPI
}

// clients are the service clients of one region.
type clients struct {
	sts            stsAPI
	route53        route53API
	acm            acmAPI
	ssm            ssmAPI
	cloudformation cloudformationAPI
	apigateway     apigatewayAPI
	quotas         quotasAPI
	ec2            ec2API
	lambda         lambdaAPI
	vpcLinks       vpcLinksAPI
	logs           logsAPI
	trails         trailsAPI
}

// newClientsFunc builds the clients of a region; run takes it so that the
// tests hand it fakes.
type newClientsFunc func(ctx context.Context, region string) (clients, error)

// awsClients builds real clients from the default credential chain (the same
// one the CDK CLI uses: AWS_PROFILE, the AWS_* keys, SSO, instance roles).
// Building a client makes no request; credentials are first resolved by the
// first call, so a missing credential shows up as that call's error.
func awsClients(ctx context.Context, region string) (clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return clients{}, err
	}
	return clients{
		sts:            sts.NewFromConfig(cfg),
		route53:        route53.NewFromConfig(cfg),
		acm:            acm.NewFromConfig(cfg),
		ssm:            ssm.NewFromConfig(cfg),
		cloudformation: cloudformation.NewFromConfig(cfg),
		apigateway:     apigateway.NewFromConfig(cfg),
		quotas:         servicequotas.NewFromConfig(cfg),
		ec2:            ec2.NewFromConfig(cfg),
		lambda:         lambda.NewFromConfig(cfg),
		vpcLinks:       apigatewayv2.NewFromConfig(cfg),
		logs:           cloudwatchlogs.NewFromConfig(cfg),
		trails:         cloudtrail.NewFromConfig(cfg),
	}, nil
}

// commander runs a local command and returns its combined output.
type commander interface {
	Output(ctx context.Context, name string, args ...string) ([]byte, error)
}

type execCommander struct{}

func (execCommander) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}
