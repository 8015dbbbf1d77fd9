package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	apigwv2types "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	trailtypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	route53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	sqtypes "github.com/aws/aws-sdk-go-v2/service/servicequotas/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/fintech/payments-platform/assembly"
	"github.com/fintech/payments-platform/environment"
)

const (
	testAccount = "111122223333"
	testZoneID  = "Z0123456789ABCDEFGHIJ"
	apiCertArn  = "arn:aws:acm:ap-southeast-1:111122223333:certificate/11111111-2222-3333-4444-555555555555"
	albCertArn  = "arn:aws:acm:ap-southeast-1:111122223333:certificate/11111111-2222-3333-4444-666666666666"
	wafLogGroup = "arn:aws:logs:ap-southeast-1:111122223333:log-group:aws-waf-logs-payments-edge-pr7"
	replica     = "ap-southeast-2"
	primary     = environment.PrimaryRegion
)

// fakeAWS is one region of a fake account. Lists are served one item per
// page, so a check that ignores pagination miscounts and its test fails.
type fakeAWS struct {
	account, arn   string
	stsErr         error
	zones          map[string]route53types.HostedZone
	certs          map[string]acmtypes.CertificateDetail
	params         map[string]string
	stacks         map[string]cfntypes.StackStatus
	cloudwatchRole string
	applied        map[string]float64 // "service/code": the account's applied quota
	defaults       map[string]float64 // "service/code": AWS's default
	vpcs           []ec2types.Vpc
	gateways       []ec2types.InternetGateway
	addresses      []ec2types.Address
	limit          int32
	unreserved     int32
	reserved       map[string]int32 // existing functions and what they reserve
	vpcLinks       []apigwv2types.VpcLink
	policies       []logstypes.ResourcePolicy
	trails         []trailtypes.Trail
	notLogging     map[string]bool // trail ARN -> stopped
	calls          []string
}

func (f *fakeAWS) call(name string) { f.calls = append(f.calls, name) }

// page serves items one at a time, the token being the next index.
func page[T any](items []T, token *string) ([]T, *string) {
	i, _ := strconv.Atoi(aws.ToString(token))
	if i >= len(items) {
		return nil, nil
	}
	if i+1 < len(items) {
		return items[i : i+1], aws.String(strconv.Itoa(i + 1))
	}
	return items[i:], nil
}

func (f *fakeAWS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.call("GetCallerIdentity")
	if f.stsErr != nil {
		return nil, f.stsErr
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String(f.account), Arn: aws.String(f.arn)}, nil
}

func (f *fakeAWS) GetHostedZone(_ context.Context, in *route53.GetHostedZoneInput, _ ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error) {
	f.call("GetHostedZone")
	z, ok := f.zones[aws.ToString(in.Id)]
	if !ok {
		return nil, &route53types.NoSuchHostedZone{Message: aws.String("No hosted zone found with ID: " + aws.ToString(in.Id))}
	}
	return &route53.GetHostedZoneOutput{HostedZone: &z}, nil
}

func (f *fakeAWS) DescribeCertificate(_ context.Context, in *acm.DescribeCertificateInput, _ ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	f.call("DescribeCertificate")
	c, ok := f.certs[aws.ToString(in.CertificateArn)]
	if !ok {
		return nil, &acmtypes.ResourceNotFoundException{Message: aws.String("Could not find certificate")}
	}
	return &acm.DescribeCertificateOutput{Certificate: &c}, nil
}

func (f *fakeAWS) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.call("GetParameter")
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}}, nil
}

func (f *fakeAWS) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.call("DescribeStacks")
	status, ok := f.stacks[aws.ToString(in.StackName)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + aws.ToString(in.StackName) + " does not exist"}
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackName: in.StackName, StackStatus: status}}}, nil
}

func (f *fakeAWS) GetAccount(context.Context, *apigateway.GetAccountInput, ...func(*apigateway.Options)) (*apigateway.GetAccountOutput, error) {
	f.call("GetAccount")
	out := &apigateway.GetAccountOutput{}
	if f.cloudwatchRole != "" {
		out.CloudwatchRoleArn = aws.String(f.cloudwatchRole)
	}
	return out, nil
}

func (f *fakeAWS) GetServiceQuota(_ context.Context, in *servicequotas.GetServiceQuotaInput, _ ...func(*servicequotas.Options)) (*servicequotas.GetServiceQuotaOutput, error) {
	f.call("GetServiceQuota")
	v, ok := f.applied[aws.ToString(in.ServiceCode)+"/"+aws.ToString(in.QuotaCode)]
	if !ok {
		return nil, &sqtypes.NoSuchResourceException{Message: aws.String("The request failed because the specified service quota does not exist.")}
	}
	return &servicequotas.GetServiceQuotaOutput{Quota: &sqtypes.ServiceQuota{Value: aws.Float64(v)}}, nil
}

func (f *fakeAWS) GetAWSDefaultServiceQuota(_ context.Context, in *servicequotas.GetAWSDefaultServiceQuotaInput, _ ...func(*servicequotas.Options)) (*servicequotas.GetAWSDefaultServiceQuotaOutput, error) {
	f.call("GetAWSDefaultServiceQuota")
	v, ok := f.defaults[aws.ToString(in.ServiceCode)+"/"+aws.ToString(in.QuotaCode)]
	if !ok {
		return nil, &sqtypes.NoSuchResourceException{}
	}
	return &servicequotas.GetAWSDefaultServiceQuotaOutput{Quota: &sqtypes.ServiceQuota{Value: aws.Float64(v)}}, nil
}

func (f *fakeAWS) DescribeVpcs(_ context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	f.call("DescribeVpcs")
	items, next := page(f.vpcs, in.NextToken)
	return &ec2.DescribeVpcsOutput{Vpcs: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeInternetGateways(_ context.Context, in *ec2.DescribeInternetGatewaysInput, _ ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error) {
	f.call("DescribeInternetGateways")
	items, next := page(f.gateways, in.NextToken)
	return &ec2.DescribeInternetGatewaysOutput{InternetGateways: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error) {
	f.call("DescribeAddresses")
	return &ec2.DescribeAddressesOutput{Addresses: f.addresses}, nil
}

func (f *fakeAWS) GetAccountSettings(context.Context, *lambda.GetAccountSettingsInput, ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error) {
	f.call("GetAccountSettings")
	return &lambda.GetAccountSettingsOutput{AccountLimit: &lambdatypes.AccountLimit{
		ConcurrentExecutions: f.limit, UnreservedConcurrentExecutions: aws.Int32(f.unreserved),
	}}, nil
}

func (f *fakeAWS) GetFunctionConcurrency(_ context.Context, in *lambda.GetFunctionConcurrencyInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error) {
	f.call("GetFunctionConcurrency")
	n, ok := f.reserved[aws.ToString(in.FunctionName)]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found")}
	}
	out := &lambda.GetFunctionConcurrencyOutput{}
	if n > 0 {
		out.ReservedConcurrentExecutions = aws.Int32(n)
	}
	return out, nil
}

func (f *fakeAWS) GetVpcLinks(_ context.Context, in *apigatewayv2.GetVpcLinksInput, _ ...func(*apigatewayv2.Options)) (*apigatewayv2.GetVpcLinksOutput, error) {
	f.call("GetVpcLinks")
	items, next := page(f.vpcLinks, in.NextToken)
	return &apigatewayv2.GetVpcLinksOutput{Items: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeResourcePolicies(_ context.Context, in *cloudwatchlogs.DescribeResourcePoliciesInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeResourcePoliciesOutput, error) {
	f.call("DescribeResourcePolicies")
	items, next := page(f.policies, in.NextToken)
	return &cloudwatchlogs.DescribeResourcePoliciesOutput{ResourcePolicies: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeTrails(_ context.Context, in *cloudtrail.DescribeTrailsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	f.call("DescribeTrails")
	var trails []trailtypes.Trail
	for _, t := range f.trails {
		// Trails of other regions (and organization trails) are shadow
		// trails here.
		if aws.ToBool(in.IncludeShadowTrails) || aws.ToString(t.HomeRegion) == primary {
			trails = append(trails, t)
		}
	}
	return &cloudtrail.DescribeTrailsOutput{TrailList: trails}, nil
}

func (f *fakeAWS) GetTrailStatus(_ context.Context, in *cloudtrail.GetTrailStatusInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error) {
	f.call("GetTrailStatus")
	return &cloudtrail.GetTrailStatusOutput{IsLogging: aws.Bool(!f.notLogging[aws.ToString(in.Name)])}, nil
}

func (f *fakeAWS) clients() clients {
	return clients{sts: f, route53: f, acm: f, ssm: f, cloudformation: f, apigateway: f, quotas: f, ec2: f, lambda: f, vpcLinks: f, logs: f, trails: f}
}

// stackTag is what CloudFormation tags the resources of a stack with.
func stackTag(stack string) []ec2types.Tag {
	return []ec2types.Tag{{Key: aws.String("aws:cloudformation:stack-name"), Value: aws.String(stack)}}
}

// goodAWS is a region of an account ready for the fixture deployment, which
// is already deployed once: its VPC, gateway, VPC link and reserved
// function exist.
func goodAWS() *fakeAWS {
	return &fakeAWS{
		account: testAccount,
		arn:     "arn:aws:sts::111122223333:assumed-role/deployer/ci",
		zones: map[string]route53types.HostedZone{testZoneID: {
			Id: aws.String("/hostedzone/" + testZoneID), Name: aws.String("Example.org."),
			Config: &route53types.HostedZoneConfig{PrivateZone: false},
		}},
		certs: map[string]acmtypes.CertificateDetail{
			apiCertArn: {Status: acmtypes.CertificateStatusIssued, DomainName: aws.String("api.pr7.payments.example.org")},
			albCertArn: {Status: acmtypes.CertificateStatusIssued, DomainName: aws.String("payments.example.org"),
				SubjectAlternativeNames: []string{"payments.example.org", "*.pr7.payments.example.org"}},
		},
		params:         map[string]string{bootstrapParameter: "28"},
		stacks:         map[string]cfntypes.StackStatus{environment.AccountStackName: cfntypes.StackStatusUpdateComplete},
		cloudwatchRole: "arn:aws:iam::111122223333:role/payments-apigateway-cloudwatch-ap-southeast-1",
		applied:        map[string]float64{"vpc/L-F678F1CE": 5, "vpc/L-29B6F2EB": 50},
		defaults:       map[string]float64{"vpc/L-A4707A72": 5, "ec2/L-0263D0A3": 5},
		vpcs: []ec2types.Vpc{
			{VpcId: aws.String("vpc-default"), IsDefault: aws.Bool(true)},
			{VpcId: aws.String("vpc-pr7"), Tags: stackTag("PaymentsNetwork-pr7")},
		},
		gateways: []ec2types.InternetGateway{
			{InternetGatewayId: aws.String("igw-default")},
			{InternetGatewayId: aws.String("igw-pr7"), Tags: stackTag("PaymentsNetwork-pr7")},
		},
		limit: 1000, unreserved: 990,
		reserved: map[string]int32{"payments-processor-pr7": 10, "payments-cleaner-pr7": 0},
		vpcLinks: []apigwv2types.VpcLink{
			{Name: aws.String("payments-vpclink-pr7")},
			{Name: aws.String("payments-vpclink-pr8"), Tags: map[string]string{"aws:cloudformation:stack-name": "PaymentsApp-pr8"}},
		},
		trails: []trailtypes.Trail{organizationTrail},
		policies: []logstypes.ResourcePolicy{
			{PolicyName: aws.String("Route53QueryLogs"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)},
			{PolicyName: aws.String(wafPolicyName), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"AWSWAF-LOGS","Effect":"Allow","Principal":{"Service":"delivery.logs.amazonaws.com"},"Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":["arn:aws:logs:ap-southeast-1:111122223333:log-group:aws-waf-logs-payments-edge-pr8:*"]}]}`)},
		},
	}
}

// organizationTrail is an organization's trail as a member account sees it:
// homed in another region and account.
var organizationTrail = trailtypes.Trail{
	Name: aws.String("org-trail"), TrailARN: aws.String("arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail"),
	HomeRegion: aws.String("us-east-1"), IsMultiRegionTrail: aws.Bool(true), IsOrganizationTrail: aws.Bool(true), LogFileValidationEnabled: aws.Bool(true),
}

// A production environment needs a multi-region trail that logs, the
// account's or the organization's, unless the operator waives it.
func TestCheckTrail(t *testing.T) {
	ctx := context.Background()
	t.Run("OKOrganizationTrail", func(t *testing.T) {
		assertResult(t, checkTrail(ctx, goodAWS(), true, false), levelOK, "the organization's trail org-trail logs every region, with log-file validation")
	})
	t.Run("OKAccountTrail", func(t *testing.T) {
		f := goodAWS()
		f.trails = []trailtypes.Trail{{Name: aws.String("payments-account-trail"), HomeRegion: aws.String(primary), IsMultiRegionTrail: aws.Bool(true),
			TrailARN: aws.String("arn:aws:cloudtrail:ap-southeast-1:111122223333:trail/payments-account-trail"), LogFileValidationEnabled: aws.Bool(true)}}
		assertResult(t, checkTrail(ctx, f, true, false), levelOK, "the account's trail payments-account-trail")
	})
	noTrail := func() *fakeAWS {
		f := goodAWS()
		single := trailtypes.Trail{Name: aws.String("local"), HomeRegion: aws.String(primary), IsMultiRegionTrail: aws.Bool(false)}
		f.trails = []trailtypes.Trail{organizationTrail, single}
		f.notLogging = map[string]bool{*organizationTrail.TrailARN: true}
		return f
	}
	t.Run("ErrNoneLoggingInProduction", func(t *testing.T) {
		assertResult(t, checkTrail(ctx, noTrail(), true, false), levelFail, "org-trail (not logging)", "local (one region only)",
			"make account-setup CONTEXT=\"-c auditTrail=true\"", "make deploy PREFLIGHT=-without-trail")
	})
	t.Run("WarnNoneOutsideProduction", func(t *testing.T) {
		assertResult(t, checkTrail(ctx, noTrail(), false, false), levelWarn, "no multi-region trail is logging")
	})
	t.Run("WarnWaived", func(t *testing.T) {
		assertResult(t, checkTrail(ctx, noTrail(), true, true), levelWarn, "accepted with -without-trail")
	})
}

// fakeCommands answers commands by their full command line.
type fakeCommands map[string]fakeOutput

type fakeOutput struct {
	out string
	err error
}

func (c fakeCommands) Output(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	o, ok := c[line]
	if !ok {
		return nil, errors.New("exec: " + line + ": not faked")
	}
	return []byte(o.out), o.err
}

const buildxLs = `NAME/NODE     DRIVER/ENDPOINT   STATUS    BUILDKIT   PLATFORMS
default*      docker
 \_ default    \_ default       running   v0.16.0    linux/amd64, linux/amd64/v2, linux/386, linux/arm64*
`

func goodDocker() fakeCommands {
	return fakeCommands{
		"docker info --format {{.ServerVersion}}": {out: "27.3.1\n"},
		"docker buildx ls":                        {out: buildxLs},
	}
}

// assertResult checks that a check printed one line at the wanted level
// naming each of want.
func assertResult(tb testing.TB, got []result, level level, want ...string) {
	tb.Helper()
	if len(got) != 1 {
		tb.Fatalf("got %d lines %q, want 1", len(got), got)
	}
	if got[0].level != level {
		tb.Errorf("got %q, want level %v", got[0], level)
	}
	for _, w := range want {
		if !strings.Contains(got[0].String(), w) {
			tb.Errorf("got %q, want it to name %q", got[0], w)
		}
	}
}

// mustConfig loads the configuration from context values for the test
// account.
func mustConfig(tb testing.TB, context map[string]any) environment.Config {
	tb.Helper()
	cfg, err := environment.Load(func(key string) any { return context[key] }, func(string) string { return testAccount })
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func deployableContext() map[string]any {
	return map[string]any{
		"environmentSuffix": "pr7", "domainName": "payments.example.org",
		"hostedZoneId": testZoneID, "hostedZoneName": "example.org",
		"mtlsTruststore": filepath.Join("testdata", "ca.pem"),
		"alarmEmails":    "oncall@example.org",
	}
}

// mustDeployment reads the fixture assembly.
func mustDeployment(tb testing.TB) deployment {
	tb.Helper()
	stacks, err := assembly.Load(filepath.Join("testdata", "assembly"))
	if err != nil {
		tb.Fatal(err)
	}
	return readDeployment(stacks, "pr7")
}

func TestResultString(t *testing.T) {
	for _, tc := range []struct {
		r    result
		want string
	}{
		{ok("docker", "fine"), "ok   docker: fine"},
		{warn("config", "careful"), "warn config: careful"},
		{fail("bootstrap x", "run make bootstrap"), "FAIL bootstrap x: run make bootstrap"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		assertResult(t, checkConfig(mustConfig(t, deployableContext())), levelOK, "pr7", testAccount)
	})
	t.Run("ErrPlaceholders", func(t *testing.T) {
		got := checkConfig(mustConfig(t, map[string]any{}))
		var fails, warns int
		for _, r := range got {
			switch r.level {
			case levelFail:
				fails++
			case levelWarn:
				warns++
			}
		}
		// The placeholder domain and the two certificates without a zone
		// fail; the placeholder truststore, the alarms without a
		// destination and the missing zone warn.
		if fails != 3 || warns != 3 {
			t.Fatalf("got %d FAIL and %d warn lines %q, want 3 and 3", fails, warns, got)
		}
		if !strings.Contains(got[0].String(), "FAIL config: domainName") || !strings.Contains(got[0].detail, "set -c domainName=") {
			t.Errorf("got %q, want the placeholder domain first, saying what to set", got[0])
		}
	})
}

func TestCheckCredentials(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		got, account := checkCredentials(context.Background(), goodAWS(), "")
		assertResult(t, got, levelOK, testAccount, "assumed-role/deployer")
		if account != testAccount {
			t.Errorf("got account %q, want %q", account, testAccount)
		}
	})
	t.Run("OKAccountContextMatches", func(t *testing.T) {
		_, account := checkCredentials(context.Background(), goodAWS(), testAccount)
		if account != testAccount {
			t.Errorf("got account %q, want %q", account, testAccount)
		}
	})
	t.Run("ErrNoCredentials", func(t *testing.T) {
		f := goodAWS()
		f.stsErr = errors.New("failed to refresh cached credentials, no EC2 IMDS role found")
		got, account := checkCredentials(context.Background(), f, "")
		assertResult(t, got, levelFail, "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID", "no EC2 IMDS role found")
		if account != "" {
			t.Errorf("got account %q, want none", account)
		}
	})
	t.Run("ErrAccountMismatch", func(t *testing.T) {
		got, account := checkCredentials(context.Background(), goodAWS(), "999999999999")
		assertResult(t, got, levelFail, "account 111122223333", "-c account=999999999999", "use credentials for 999999999999")
		if account != "" {
			t.Errorf("got account %q, want none: the other checks would read the wrong account", account)
		}
	})
}

func TestCheckHostedZone(t *testing.T) {
	ctx := context.Background()
	cfg := mustConfig(t, deployableContext())
	t.Run("OK", func(t *testing.T) {
		assertResult(t, checkHostedZone(ctx, goodAWS(), cfg), levelOK, testZoneID, "example.org")
	})
	t.Run("OKNotConfigured", func(t *testing.T) {
		f := goodAWS()
		if got := checkHostedZone(ctx, f, mustConfig(t, map[string]any{})); got != nil || len(f.calls) != 0 {
			t.Errorf("got %q and calls %v, want nothing without a zone", got, f.calls)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		f := goodAWS()
		f.zones = nil
		assertResult(t, checkHostedZone(ctx, f, cfg), levelFail, "does not exist", "create a public hosted zone for example.org or fix -c hostedZoneId")
	})
	t.Run("ErrNameMismatch", func(t *testing.T) {
		f := goodAWS()
		z := f.zones[testZoneID]
		z.Name = aws.String("example.net.")
		f.zones[testZoneID] = z
		assertResult(t, checkHostedZone(ctx, f, cfg), levelFail, "is example.net, not example.org", "set -c hostedZoneId and -c hostedZoneName")
	})
	t.Run("ErrPrivate", func(t *testing.T) {
		f := goodAWS()
		z := f.zones[testZoneID]
		z.Config = &route53types.HostedZoneConfig{PrivateZone: true}
		f.zones[testZoneID] = z
		assertResult(t, checkHostedZone(ctx, f, cfg), levelFail, "private zone", "use a public hosted zone")
	})
}

func TestCheckCertificate(t *testing.T) {
	ctx := context.Background()
	const host = "api.pr7.payments.example.org"
	key := environment.KeyAPICertificateArn
	t.Run("OK", func(t *testing.T) {
		assertResult(t, checkCertificate(ctx, goodAWS(), "api", key, apiCertArn, host), levelOK, "issued for api.pr7.payments.example.org")
	})
	t.Run("OKWildcard", func(t *testing.T) {
		assertResult(t, checkCertificate(ctx, goodAWS(), "alb", environment.KeyALBCertificateArn, albCertArn, "alb.pr7.payments.example.org"),
			levelOK, "certificate alb", "*.pr7.payments.example.org")
	})
	t.Run("OKNotConfigured", func(t *testing.T) {
		f := goodAWS()
		if got := checkCertificate(ctx, f, "api", key, "", host); got != nil || len(f.calls) != 0 {
			t.Errorf("got %q and calls %v, want nothing without an ARN", got, f.calls)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		f := goodAWS()
		f.certs = nil
		assertResult(t, checkCertificate(ctx, f, "api", key, apiCertArn, host), levelFail, "does not exist", "request a certificate for "+host, "-c apiCertificateArn")
	})
	t.Run("ErrNotIssued", func(t *testing.T) {
		f := goodAWS()
		c := f.certs[apiCertArn]
		c.Status = acmtypes.CertificateStatusPendingValidation
		f.certs[apiCertArn] = c
		assertResult(t, checkCertificate(ctx, f, "api", key, apiCertArn, host), levelFail, "PENDING_VALIDATION, not ISSUED", "complete its validation")
	})
	t.Run("ErrWrongHost", func(t *testing.T) {
		// A wildcard covers one label only: *.payments.example.org does
		// not cover api.pr7.payments.example.org.
		f := goodAWS()
		f.certs[apiCertArn] = acmtypes.CertificateDetail{Status: acmtypes.CertificateStatusIssued,
			DomainName: aws.String("*.payments.example.org")}
		assertResult(t, checkCertificate(ctx, f, "api", key, apiCertArn, host), levelFail,
			"covers *.payments.example.org, not "+host, "use a certificate whose name or alternative names include "+host)
	})
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		want       bool
	}{
		{"api.example.com", "api.example.com", true},
		{"API.Example.com", "api.example.com", true},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.api.example.com", false},
		{"*.example.com", "api.example.org", false},
		{"alb.example.com", "api.example.com", false},
		{"api.*.com", "api.example.com", false},
	} {
		if got := covers(tc.name, tc.host); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.name, tc.host, got, tc.want)
		}
	}
}

func TestCheckBootstrap(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		assertResult(t, checkBootstrap(ctx, goodAWS(), replica), levelOK, "bootstrap ap-southeast-2: version 28")
	})
	t.Run("ErrMissing", func(t *testing.T) {
		f := goodAWS()
		f.params = nil
		assertResult(t, checkBootstrap(ctx, f, replica), levelFail, "FAIL bootstrap ap-southeast-2", "not bootstrapped", "run make bootstrap")
	})
	t.Run("ErrTooOld", func(t *testing.T) {
		f := goodAWS()
		f.params[bootstrapParameter] = "5"
		assertResult(t, checkBootstrap(ctx, f, primary), levelFail, "version 5", "need 6 or later", "run make bootstrap")
	})
}

func TestCheckAccountSetup(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := goodAWS()
		assertResult(t, checkAccountSetup(ctx, f, f), levelOK, "PaymentsAccount is UPDATE_COMPLETE", "payments-apigateway-cloudwatch")
	})
	t.Run("OKUpdateRolledBack", func(t *testing.T) {
		// A failed update rolls back to the last good state, which still
		// has the role.
		f := goodAWS()
		f.stacks[environment.AccountStackName] = cfntypes.StackStatusUpdateRollbackComplete
		assertResult(t, checkAccountSetup(ctx, f, f), levelOK)
	})
	for _, tc := range []struct {
		name   string
		status cfntypes.StackStatus
		want   string
	}{
		{"ErrStackMissing", "", "PaymentsAccount does not exist in ap-southeast-1"},
		{"ErrRolledBack", cfntypes.StackStatusRollbackComplete, "ROLLBACK_COMPLETE"},
		{"ErrDeleted", cfntypes.StackStatusDeleteComplete, "DELETE_COMPLETE"},
		{"ErrInProgress", cfntypes.StackStatusCreateInProgress, "CREATE_IN_PROGRESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := goodAWS()
			delete(f.stacks, environment.AccountStackName)
			if tc.status != "" {
				f.stacks[environment.AccountStackName] = tc.status
			}
			assertResult(t, checkAccountSetup(ctx, f, f), levelFail, tc.want, "run make account-setup (once per account and region)")
		})
	}
	t.Run("ErrNoCloudWatchRole", func(t *testing.T) {
		f := goodAWS()
		f.cloudwatchRole = ""
		assertResult(t, checkAccountSetup(ctx, f, f), levelFail, "no CloudWatch role", "run make account-setup (once per account and region)")
	})
	t.Run("ErrBoth", func(t *testing.T) {
		f := goodAWS()
		f.stacks, f.cloudwatchRole = nil, ""
		if got := checkAccountSetup(ctx, f, f); len(got) != 2 || got[0].level != levelFail || got[1].level != levelFail {
			t.Errorf("got %q, want two FAIL lines", got)
		}
	})
}

func TestCheckDocker(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		assertResult(t, checkDocker(ctx, goodDocker()), levelOK, "engine 27.3.1", "linux/arm64")
	})
	t.Run("OKOlderBuildx", func(t *testing.T) {
		c := goodDocker()
		c["docker buildx ls"] = fakeOutput{out: "NAME/NODE DRIVER/ENDPOINT STATUS  BUILDKIT PLATFORMS\ndefault * docker\n  default default         running v0.11.6 linux/arm64, linux/arm64/v8, linux/amd64\n"}
		assertResult(t, checkDocker(ctx, c), levelOK)
	})
	t.Run("ErrEngineUnreachable", func(t *testing.T) {
		c := goodDocker()
		c["docker info --format {{.ServerVersion}}"] = fakeOutput{
			out: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
			err: errors.New("exit status 1"),
		}
		assertResult(t, checkDocker(ctx, c), levelFail, "unreachable", "Cannot connect to the Docker daemon", "start Docker")
	})
	t.Run("ErrNoDocker", func(t *testing.T) {
		assertResult(t, checkDocker(ctx, fakeCommands{}), levelFail, "unreachable", "install and start Docker")
	})
	t.Run("ErrNoBuildx", func(t *testing.T) {
		c := goodDocker()
		c["docker buildx ls"] = fakeOutput{out: "docker: 'buildx' is not a docker command.\n", err: errors.New("exit status 1")}
		assertResult(t, checkDocker(ctx, c), levelFail, "'buildx' is not a docker command", "install the buildx plugin")
	})
	t.Run("ErrNoARM64", func(t *testing.T) {
		c := goodDocker()
		c["docker buildx ls"] = fakeOutput{out: strings.ReplaceAll(buildxLs, ", linux/arm64*", "")}
		assertResult(t, checkDocker(ctx, c), levelFail, "no buildx builder lists linux/arm64", "QEMU", "binfmt")
	})
}

func TestReadDeployment(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		d := mustDeployment(t)
		wantStacks := []string{"PaymentsAccount", "PaymentsApp-pr7", "PaymentsNetwork-pr7", "PaymentsReplica-pr7"}
		var gotStacks []string
		for s := range d.Stacks {
			gotStacks = append(gotStacks, s)
		}
		slices.Sort(gotStacks)
		if !slices.Equal(gotStacks, wantStacks) {
			t.Errorf("got stacks %v, want %v (never PaymentsNetwork-pr77)", gotStacks, wantStacks)
		}
		want := usage{
			VPCs: 1, InternetGateways: 1, InterfaceEndpoints: 3,
			Reservations:      []reservation{{"payments-processor-pr7", 10}, {"", 2}},
			WAFLoggingConfigs: 2, WAFLogGroups: []string{wafLogGroup},
			VpcLinks: 1, VpcLinkNames: []string{"payments-vpclink-pr7"},
		}
		if got := d.Regions[primary]; !reflect.DeepEqual(got, want) {
			t.Errorf("got %s usage\n%+v, want\n%+v", primary, got, want)
		}
		wantReplica := usage{Reservations: []reservation{{"payments-replica-pr7", 5}}}
		if got := d.Regions[replica]; !reflect.DeepEqual(got, wantReplica) {
			t.Errorf("got %s usage %+v, want %+v", replica, got, wantReplica)
		}
	})
	t.Run("OKEndpointsPerVPC", func(t *testing.T) {
		endpoint := func(vpc string) assembly.Resource {
			return assembly.Resource{Type: "AWS::EC2::VPCEndpoint", Properties: map[string]any{
				"VpcEndpointType": "Interface", "VpcId": map[string]any{"Ref": vpc}}}
		}
		stacks := []*assembly.Stack{{Name: "PaymentsNetwork-x", Region: primary, Template: assembly.Template{Resources: map[string]assembly.Resource{
			"A1": endpoint("A"), "A2": endpoint("A"), "B1": endpoint("B"), "B2": endpoint("B"), "B3": endpoint("B"),
		}}}}
		if got := readDeployment(stacks, "x").Regions[primary].InterfaceEndpoints; got != 3 {
			t.Errorf("got %d interface endpoints, want 3 (the most in one VPC)", got)
		}
	})
	t.Run("ErrOtherEnvironment", func(t *testing.T) {
		_, got := loadDeployment(filepath.Join("testdata", "assembly"), "pr9")
		assertResult(t, []result{got}, levelFail, "no stack of environment pr9", "synthesize with the same -c flags")
	})
	t.Run("ErrNoAssembly", func(t *testing.T) {
		_, got := loadDeployment(filepath.Join(t.TempDir(), "cdk.out"), "pr7")
		assertResult(t, []result{got}, levelFail, "cannot read", "cdk synth")
	})
}

func TestCheckVPCQuota(t *testing.T) {
	ctx := context.Background()
	d := mustDeployment(t)
	t.Run("OK", func(t *testing.T) {
		// Four VPCs of others and this deployment's own: the redeploy
		// updates its VPC, so it fits the quota of 5 exactly.
		f := goodAWS()
		for i := range 3 {
			f.vpcs = append(f.vpcs, ec2types.Vpc{VpcId: aws.String("vpc-" + strconv.Itoa(i)), Tags: stackTag("PaymentsNetwork-pr" + strconv.Itoa(i))})
		}
		assertResult(t, checkVPCQuota(ctx, f, f, d, primary), levelOK, "4 in use by others, 1 for this deployment, quota 5 (vpc/L-F678F1CE)")
	})
	t.Run("ErrOverQuota", func(t *testing.T) {
		f := goodAWS()
		f.applied["vpc/L-F678F1CE"] = 2
		f.vpcs = append(f.vpcs, ec2types.Vpc{VpcId: aws.String("vpc-other")})
		assertResult(t, checkVPCQuota(ctx, f, f, d, primary), levelFail,
			"2 VPCs of other stacks exist in ap-southeast-1 and this deployment needs 1, over the quota of 2 (vpc/L-F678F1CE)", "request an increase in Service Quotas")
	})
}

func TestCheckInternetGatewayQuota(t *testing.T) {
	ctx := context.Background()
	d := mustDeployment(t)
	t.Run("OK", func(t *testing.T) {
		// No applied quota: the AWS default of 5 is read instead.
		f := goodAWS()
		assertResult(t, checkInternetGatewayQuota(ctx, f, f, d, primary), levelOK, "1 in use by others, 1 for this deployment, quota 5 (vpc/L-A4707A72)")
		if !slices.Contains(f.calls, "GetAWSDefaultServiceQuota") {
			t.Errorf("calls %v, want the default quota read after NoSuchResourceException", f.calls)
		}
	})
	t.Run("ErrOverQuota", func(t *testing.T) {
		f := goodAWS()
		f.defaults["vpc/L-A4707A72"] = 1
		assertResult(t, checkInternetGatewayQuota(ctx, f, f, d, primary), levelFail, "over the quota of 1 (vpc/L-A4707A72)", "delete unused VPCs")
	})
	t.Run("ErrNoQuota", func(t *testing.T) {
		f := goodAWS()
		f.defaults = nil
		assertResult(t, checkInternetGatewayQuota(ctx, f, f, d, primary), levelFail, "cannot read quota vpc/L-A4707A72")
	})
}

func TestCheckElasticIPQuota(t *testing.T) {
	ctx := context.Background()
	withEIPs := func(n int) deployment {
		d := mustDeployment(t)
		u := d.Regions[primary]
		u.ElasticIPs = n
		d.Regions[primary] = u
		return d
	}
	t.Run("OKNoneUsed", func(t *testing.T) {
		f := goodAWS()
		got := checkElasticIPQuota(ctx, f, f, mustDeployment(t), primary)
		assertResult(t, got, levelOK)
		if want := "ok   quota elastic ips: none used (NAT instances use associated public addresses)"; got[0].String() != want {
			t.Errorf("got %q, want %q", got[0], want)
		}
		if len(f.calls) != 0 {
			t.Errorf("calls %v, want none when nothing is used", f.calls)
		}
	})
	t.Run("OK", func(t *testing.T) {
		f := goodAWS()
		f.addresses = []ec2types.Address{{AllocationId: aws.String("eipalloc-1")}, {AllocationId: aws.String("eipalloc-2"), Tags: stackTag("PaymentsNetwork-pr7")}}
		assertResult(t, checkElasticIPQuota(ctx, f, f, withEIPs(2), primary), levelOK, "1 in use by others, 2 for this deployment, quota 5 (ec2/L-0263D0A3)")
	})
	t.Run("ErrOverQuota", func(t *testing.T) {
		f := goodAWS()
		for range 4 {
			f.addresses = append(f.addresses, ec2types.Address{})
		}
		assertResult(t, checkElasticIPQuota(ctx, f, f, withEIPs(2), primary), levelFail,
			"4 Elastic IPs of other stacks exist in ap-southeast-1 and this deployment needs 2, over the quota of 5", "release unassociated Elastic IPs")
	})
}

func TestCheckInterfaceEndpointQuota(t *testing.T) {
	ctx := context.Background()
	d := mustDeployment(t)
	t.Run("OK", func(t *testing.T) {
		assertResult(t, checkInterfaceEndpointQuota(ctx, goodAWS(), d, primary), levelOK, "3 in the new VPC, quota 50 per VPC (vpc/L-29B6F2EB)")
	})
	t.Run("ErrOverQuota", func(t *testing.T) {
		f := goodAWS()
		f.applied["vpc/L-29B6F2EB"] = 2
		assertResult(t, checkInterfaceEndpointQuota(ctx, f, d, primary), levelFail, "3 interface endpoints, over the quota of 2", "request an increase")
	})
}

func TestCheckLambdaConcurrency(t *testing.T) {
	ctx := context.Background()
	d := mustDeployment(t)
	const check = "quota lambda concurrency"
	t.Run("OK", func(t *testing.T) {
		// The processor holds its 10 already: only the provider's 2 are new.
		assertResult(t, checkLambdaConcurrency(ctx, goodAWS(), d, primary, check), levelOK,
			"account limit 1000", "10 reserved already", "reserves 12 (2 more", "988 stay unreserved")
	})
	t.Run("OKNothingReserved", func(t *testing.T) {
		// A new account's limit of 10 is no problem while nothing is
		// reserved.
		f := goodAWS()
		f.limit, f.unreserved = 10, 10
		nothing := deployment{Stacks: d.Stacks, Regions: map[string]usage{}}
		assertResult(t, checkLambdaConcurrency(ctx, f, nothing, primary, check), levelOK, "reserves nothing", "limit 10")
	})
	t.Run("ErrShort", func(t *testing.T) {
		f := goodAWS()
		f.limit, f.unreserved = 50, 50
		f.reserved = nil
		assertResult(t, checkLambdaConcurrency(ctx, f, d, primary, check), levelFail,
			"account limit 50", "0 reserved already", "this deploy reserves 12", "leave 38 unreserved", "keeps at least 100",
			"Service Quotas lambda/L-B99A9384", "production needs it")
	})
	t.Run("ErrShortAfterRedeployCredit", func(t *testing.T) {
		f := goodAWS()
		f.limit, f.unreserved = 111, 101
		assertResult(t, checkLambdaConcurrency(ctx, f, d, primary, check), levelFail, "leave 99 unreserved")
	})
	t.Run("ErrReplicaShort", func(t *testing.T) {
		f := goodAWS()
		f.limit, f.unreserved = 50, 50
		assertResult(t, checkLambdaConcurrency(ctx, f, d, replica, check+" "+replica), levelFail,
			"FAIL quota lambda concurrency ap-southeast-2:", "in ap-southeast-2", "reserves 5")
	})
}

func TestCheckVpcLinkQuota(t *testing.T) {
	ctx := context.Background()
	d := mustDeployment(t)
	t.Run("OK", func(t *testing.T) {
		// The link named payments-vpclink-pr7 is this deployment's own.
		assertResult(t, checkVpcLinkQuota(ctx, goodAWS(), d, primary), levelOK, "1 in use by others, 1 for this deployment, limit 10", "default")
	})
	t.Run("ErrOverLimit", func(t *testing.T) {
		f := goodAWS()
		for i := range 9 {
			f.vpcLinks = append(f.vpcLinks, apigwv2types.VpcLink{Name: aws.String("other-" + strconv.Itoa(i))})
		}
		assertResult(t, checkVpcLinkQuota(ctx, f, d, primary), levelFail,
			"10 VPC links of other stacks exist in ap-southeast-1 and this deployment needs 1, over 10", "the default per account and region", "delete unused VPC links")
	})
}

func TestCheckWAFLoggingPolicy(t *testing.T) {
	ctx := context.Background()
	d := mustDeployment(t)
	t.Run("OK", func(t *testing.T) {
		f := goodAWS()
		before := len(aws.ToString(f.policies[1].PolicyDocument))
		want := before + len(wafLogGroup) + arnOverhead
		assertResult(t, checkWAFLoggingPolicy(ctx, f, d, primary), levelOK,
			"AWSWAF-LOGS grows from "+strconv.Itoa(before)+" to about "+strconv.Itoa(want)+" of 5120")
	})
	t.Run("OKAlreadyGranted", func(t *testing.T) {
		f := goodAWS()
		f.policies[1].PolicyDocument = aws.String(`{"Statement":[{"Resource":["` + wafLogGroup + `:*"]}]}`)
		assertResult(t, checkWAFLoggingPolicy(ctx, f, d, primary), levelOK, "already names every log group")
	})
	t.Run("OKNoPolicyYet", func(t *testing.T) {
		f := goodAWS()
		f.policies = f.policies[:1]
		assertResult(t, checkWAFLoggingPolicy(ctx, f, d, primary), levelOK, "does not exist yet", "1 of 10")
	})
	t.Run("OKNoWAFLogging", func(t *testing.T) {
		f := goodAWS()
		none := deployment{Stacks: d.Stacks, Regions: map[string]usage{}}
		assertResult(t, checkWAFLoggingPolicy(ctx, f, none, primary), levelOK, "logs no web ACL")
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		f := goodAWS()
		f.policies[1].PolicyDocument = aws.String(strings.Repeat("x", maxPolicyChars-len(wafLogGroup)-arnOverhead+1))
		assertResult(t, checkWAFLoggingPolicy(ctx, f, d, primary), levelFail,
			"about 5121, over CloudWatch Logs' 5120", wafLogGroup, "remove the entries of deleted aws-waf-logs- log groups")
	})
	t.Run("OKJustFits", func(t *testing.T) {
		f := goodAWS()
		f.policies[1].PolicyDocument = aws.String(strings.Repeat("x", maxPolicyChars-len(wafLogGroup)-arnOverhead))
		assertResult(t, checkWAFLoggingPolicy(ctx, f, d, primary), levelOK, "to about 5120 of 5120")
	})
	t.Run("ErrTooManyPolicies", func(t *testing.T) {
		f := goodAWS()
		f.policies = nil
		for i := range maxPolicies {
			f.policies = append(f.policies, logstypes.ResourcePolicy{PolicyName: aws.String("policy-" + strconv.Itoa(i))})
		}
		assertResult(t, checkWAFLoggingPolicy(ctx, f, d, primary), levelFail,
			"AWSWAF-LOGS does not exist and ap-southeast-1 already has 10", "delete an unused resource policy")
	})
}

// TestInterfacesOnlyRead pins that preflight can only read: every AWS call
// it can make is a Get, Describe or List.
func TestInterfacesOnlyRead(t *testing.T) {
	typ := reflect.TypeFor[clients]()
	for i := range typ.NumField() {
		api := typ.Field(i).Type
		for j := range api.NumMethod() {
			name := api.Method(j).Name
			if !strings.HasPrefix(name, "Get") && !strings.HasPrefix(name, "Describe") && !strings.HasPrefix(name, "List") {
				t.Errorf("%s.%s may change the account: preflight only reads", api, name)
			}
		}
	}
}

func TestLoadContext(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	t.Chdir(dir)
	t.Setenv("HOME", home)
	os.WriteFile("cdk.json", []byte(`{"app":"x","context":{"a":"cdk.json","b":"cdk.json","production":true}}`), 0o644)
	os.WriteFile("cdk.context.json", []byte(`{"b":"cdk.context.json","c":"cdk.context.json"}`), 0o644)
	os.WriteFile(filepath.Join(home, ".cdk.json"), []byte(`{"context":{"c":"user","d":"user"}}`), 0o644)

	t.Run("OK", func(t *testing.T) {
		lookup, err := loadContext(map[string]string{"a": "flag"})
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]any{"a": "flag", "b": "cdk.json", "c": "cdk.context.json", "d": "user", "production": true, "e": nil} {
			if got := lookup(key); got != want {
				t.Errorf("context %q: got %v, want %v", key, got, want)
			}
		}
	})
	t.Run("ErrNoCdkJSON", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if _, err := loadContext(nil); err == nil || !strings.Contains(err.Error(), "run preflight from the repository root") {
			t.Errorf("got %v, want it to say where to run", err)
		}
	})
	t.Run("ErrInvalidJSON", func(t *testing.T) {
		t.Chdir(t.TempDir())
		os.WriteFile("cdk.json", []byte(`{"context":`), 0o644)
		if _, err := loadContext(nil); err == nil || !strings.Contains(err.Error(), "cdk.json is not valid JSON") {
			t.Errorf("got %v", err)
		}
	})
}

// testdata is absolute so that a test may chdir into it more than once.
var testdata, _ = filepath.Abs("testdata")

// runFixture runs preflight in testdata (its cdk.json and assembly) against
// fake regions.
func runFixture(t *testing.T, regions map[string]*fakeAWS, docker fakeCommands, args ...string) (string, error) {
	t.Helper()
	t.Chdir(testdata)
	t.Setenv("HOME", t.TempDir())
	newClients := func(_ context.Context, region string) (clients, error) {
		f, ok := regions[region]
		if !ok {
			t.Fatalf("no fake for region %s", region)
		}
		return f.clients(), nil
	}
	var out bytes.Buffer
	args = append([]string{"-assembly", "assembly"}, args...)
	err := run(context.Background(), args, &out, newClients, docker)
	return out.String(), err
}

// certificateArgs import both certificates, so that a run checks them.
var certificateArgs = []string{"-c", "apiCertificateArn=" + apiCertArn, "-c", "albCertificateArn=" + albCertArn}

func goodRegions() map[string]*fakeAWS {
	r := goodAWS()
	r.unreserved, r.reserved = 1000, nil
	return map[string]*fakeAWS{primary: goodAWS(), replica: r}
}

func lines(out string) []string { return strings.Split(strings.TrimSuffix(out, "\n"), "\n") }

func TestRun(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		out, err := runFixture(t, goodRegions(), goodDocker(), certificateArgs...)
		if err != nil {
			t.Fatalf("got %v, want exit 0; output:\n%s", err, out)
		}
		wantChecks := []string{
			"config", "credentials", "hosted zone", "certificate api", "certificate alb",
			"bootstrap ap-southeast-1", "bootstrap ap-southeast-2", "account setup", "audit trail", "docker", "assembly",
			"quota vpcs", "quota internet gateways", "quota elastic ips", "quota interface endpoints",
			"quota lambda concurrency", "quota lambda concurrency ap-southeast-2", "quota vpc links", "waf logging policy",
		}
		got := lines(out)
		if len(got) != len(wantChecks) {
			t.Fatalf("got %d lines, want %d:\n%s", len(got), len(wantChecks), out)
		}
		for i, line := range got {
			if want := "ok   " + wantChecks[i] + ": "; !strings.HasPrefix(line, want) {
				t.Errorf("line %d is %q, want it to start %q", i+1, line, want)
			}
		}
	})
	t.Run("ErrReplicaNotBootstrapped", func(t *testing.T) {
		regions := goodRegions()
		regions[replica].params = nil
		out, err := runFixture(t, regions, goodDocker(), certificateArgs...)
		if !errors.Is(err, errFailed) {
			t.Fatalf("got %v, want exit 1; output:\n%s", err, out)
		}
		var fails []string
		for _, line := range lines(out) {
			if strings.HasPrefix(line, "FAIL") {
				fails = append(fails, line)
			}
		}
		if len(fails) != 1 || !strings.HasPrefix(fails[0], "FAIL bootstrap ap-southeast-2: ap-southeast-2 is not bootstrapped") ||
			!strings.HasSuffix(fails[0], "run make bootstrap") {
			t.Errorf("got FAIL lines %q, want only the replica's bootstrap, naming the region and the fix", fails)
		}
	})
	t.Run("ErrNoCredentials", func(t *testing.T) {
		regions := goodRegions()
		regions[primary].stsErr = errors.New("no EC2 IMDS role found")
		out, err := runFixture(t, regions, goodDocker())
		if !errors.Is(err, errFailed) {
			t.Fatalf("got %v, want exit 1", err)
		}
		if !strings.Contains(out, "FAIL credentials: no AWS credentials: set AWS_PROFILE") || !strings.Contains(out, "ok   docker:") {
			t.Errorf("output:\n%s\nwant the credentials FAIL and the Docker check", out)
		}
		for _, skipped := range []string{"hosted zone", "certificate", "bootstrap", "account setup", "quota", "waf"} {
			if strings.Contains(out, skipped+" ") {
				t.Errorf("output:\n%s\nwant no %q line without credentials", out, skipped)
			}
		}
		if got := regions[primary].calls; !slices.Equal(got, []string{"GetCallerIdentity"}) {
			t.Errorf("calls %v, want only GetCallerIdentity", got)
		}
	})
	t.Run("ErrNoCredentialsWithCertificates", func(t *testing.T) {
		// The certificate ARNs name the real account, which the offline
		// placeholder is not: the configuration fails, and the credentials
		// line says why.
		regions := goodRegions()
		regions[primary].stsErr = errors.New("no EC2 IMDS role found")
		out, err := runFixture(t, regions, goodDocker(), certificateArgs...)
		if !errors.Is(err, errFailed) {
			t.Fatalf("got %v, want exit 1", err)
		}
		got := lines(out)
		if len(got) != 2 || !strings.HasPrefix(got[0], "FAIL config: invalid CDK context") || !strings.HasPrefix(got[1], "FAIL credentials: no AWS credentials") {
			t.Errorf("got %q, want the config and credentials FAIL lines only", got)
		}
	})
	t.Run("ErrAccountMismatch", func(t *testing.T) {
		regions := goodRegions()
		out, err := runFixture(t, regions, goodDocker(), "-c", "account=999999999999")
		if !errors.Is(err, errFailed) {
			t.Fatalf("got %v, want exit 1", err)
		}
		if !strings.Contains(out, "FAIL credentials: the credentials are for account 111122223333") {
			t.Errorf("output:\n%s", out)
		}
		if got := regions[primary].calls; !slices.Equal(got, []string{"GetCallerIdentity"}) {
			t.Errorf("calls %v, want only GetCallerIdentity: the other checks would read the wrong account", got)
		}
	})
	t.Run("ErrInvalidContext", func(t *testing.T) {
		out, err := runFixture(t, goodRegions(), goodDocker(), "-c", "environmentSuffix=Not_Valid", "-c", "vpcCidr=8.8.0.0/16")
		if !errors.Is(err, errFailed) {
			t.Fatalf("got %v, want exit 1", err)
		}
		got := lines(out)
		if len(got) != 1 || !strings.HasPrefix(got[0], "FAIL config: invalid CDK context: context \"environmentSuffix\"") ||
			!strings.Contains(got[0], `; context "vpcCidr"`) {
			t.Errorf("got %q, want one FAIL line with every invalid key and nothing after it", got)
		}
	})
	t.Run("ErrNoAssembly", func(t *testing.T) {
		out, err := runFixture(t, goodRegions(), goodDocker(), "-assembly", "missing.out")
		if !errors.Is(err, errFailed) {
			t.Fatalf("got %v, want exit 1", err)
		}
		got := lines(out)
		if last := got[len(got)-1]; !strings.HasPrefix(last, "FAIL assembly: cannot read missing.out") || strings.Contains(out, "quota") {
			t.Errorf("output:\n%s\nwant it to end on the assembly FAIL, with no quota line", out)
		}
	})
	t.Run("ErrBadFlag", func(t *testing.T) {
		if _, err := runFixture(t, goodRegions(), goodDocker(), "-c", "noequals"); err == nil || errors.Is(err, errFailed) {
			t.Errorf("got %v, want a usage error", err)
		}
	})
}
