package infra

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// goBuild compiles one of our Go commands into a Lambda "bootstrap" binary
// for provided.al2023 on arm64, on the synthesizing machine: no Docker is
// needed, and the asset hash is the binary's (builds are reproducible with
// -trimpath), so a change anywhere in the module that the command imports
// produces a new asset, and nothing else does.
type goBuild struct {
	root string // module root
	pkg  string // e.g. ./cmd/dbinit
}

// built holds, per module root and package, the binary a synth already
// linked: a package bundled for several functions (the bucket cleaner, once
// per stack) is linked once and copied.
// (CDK moves a bundling directory into the assembly, so the binary is kept
// in memory, a few megabytes each.)
var built sync.Map // root + "|" + pkg -> the bootstrap binary

// lambdaPackages are the commands our functions run. prebuildLambdas links
// them all in one `go build`, which compiles and links them in parallel,
// before the stacks ask for them one at a time; NewGoFunction refuses a
// package missing here.
var lambdaPackages = []string{
	"./cmd/audit", "./cmd/authorizer", "./cmd/bucketcleaner", "./cmd/dbinit", "./cmd/merchantkeys", "./cmd/processor", "./cmd/truststore",
}

var prebuilt sync.Map // root -> *sync.Once

// prebuildLambdas builds every package of lambdaPackages for the module at
// root, once per process; a package it cannot build is left to TryBundle,
// which reports the error.
func prebuildLambdas(root string) {
	once, _ := prebuilt.LoadOrStore(root, &sync.Once{})
	once.(*sync.Once).Do(func() {
		dir, err := os.MkdirTemp("", "lambdas-")
		if err != nil {
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", append([]string{"build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
			"-ldflags", "-s -w", "-o", dir + string(filepath.Separator)}, lambdaPackages...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if cmd.Run() != nil {
			return
		}
		for _, pkg := range lambdaPackages {
			if binary, err := os.ReadFile(filepath.Join(dir, filepath.Base(pkg))); err == nil {
				built.Store(root+"|"+pkg, binary)
			}
		}
	})
}

// TryBundle implements awscdk.ILocalBundling.
func (b *goBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	target := filepath.Join(*outputDir, "bootstrap")
	if binary, ok := built.Load(b.root + "|" + b.pkg); ok && os.WriteFile(target, binary.([]byte), 0o755) == nil {
		return jsii.Bool(true)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
		"-ldflags", "-s -w", "-o", target, b.pkg)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		// A failed build must fail the synth, never produce an empty asset.
		// ILocalBundling has no error result: a panic in the callback is
		// how jsii throws, and the synth fails with this message.
		panic(fmt.Sprintf("go build %s for Lambda: %v\n%s", b.pkg, err, out))
	}
	if binary, err := os.ReadFile(target); err == nil {
		built.Store(b.root+"|"+b.pkg, binary)
	}
	return jsii.Bool(true)
}

// lambdaBaseStatements are what every function of ours needs: write its own
// log group and, in a VPC, manage its network interfaces; with tracing, send
// X-Ray segments. The unscoped actions have no resource-level permissions.
func lambdaBaseStatements(logGroup awslogs.ILogGroup, inVpc, tracing bool) []awsiam.PolicyStatement {
	statements := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	})}
	var unscoped []string
	if inVpc {
		unscoped = append(unscoped, "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses")
	}
	if tracing {
		unscoped = append(unscoped, "xray:PutTraceSegments", "xray:PutTelemetryRecords")
	}
	if len(unscoped) > 0 {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("NetworkInterfacesAndTracing"), Actions: jsii.Strings(unscoped...), Resources: jsii.Strings("*"),
		}))
	}
	return statements
}

// reservedConcurrency is the function's reservation, or nothing (nil,
// never 0).
func reservedConcurrency(reserved int) *float64 {
	if reserved <= 0 {
		return nil
	}
	return jsii.Number(reserved)
}

// GoFunctionProps configures a Go Lambda function.
type GoFunctionProps struct {
	Config environment.Config
	// SourceRoot is the Go module root; Package is the command to build
	// relative to it, e.g. "./cmd/dbinit".
	SourceRoot, Package string
	// Name is the component name; the function is named Config.Name(Name).
	Name        string
	Description string
	// Timeout is how long an invocation may run. Required.
	Timeout awscdk.Duration
	// MemorySize in MB. Default 256.
	MemorySize float64
	// ReservedConcurrency is reserved for the function (a posture's
	// decision: environment.Posture().ProcessorReservedConcurrency). Default
	// 0: nothing reserved, and the property is left out (a reservation of 0
	// would stop the function).
	ReservedConcurrency int
	// ConcurrencyBound says what bounds the function's concurrency where
	// nothing is reserved (its trigger), the reason given to cdk-nag's
	// LambdaConcurrency rule. Required.
	ConcurrencyBound string
	Environment      map[string]string
	// Vpc and Subnets place the function; SecurityGroup is created for it
	// with no ingress and egress only to the VPC endpoints (callers open
	// more). Nil Vpc: outside any VPC (only where there is none).
	Vpc     awsec2.IVpc
	Subnets *awsec2.SubnetSelection
	// LogsKey encrypts the function's log group; EnvironmentKey its
	// environment variables.
	LogsKey, EnvironmentKey awskms.IKey
	// CardDataFindings, when set, puts the card-data protection policy on
	// the function's log group (for functions that log client input).
	CardDataFindings awslogs.ILogGroup
	// Statements are the function's own permissions. Logging, X-Ray and the
	// VPC network-interface permissions are added here.
	Statements []awsiam.PolicyStatement
}

// GoFunction is a Lambda function built from one of our Go commands.
type GoFunction struct {
	constructs.Construct
	Function      awslambda.Function
	SecurityGroup awsec2.SecurityGroup
	LogGroup      awslogs.LogGroup
	Role          *ServiceRole
	timeout       awscdk.Duration
}

// customResourceDLQReason is why a function that serves custom resources
// needs no dead-letter queue.
const customResourceDLQReason = "CloudFormation invokes it asynchronously for a custom resource; the handler answers SUCCESS or FAILED itself, " +
	"Lambda's retries are off, and a crash fails the resource after its ServiceTimeout: there is no event to keep in a dead-letter queue."

// customResourceGrace is how long CloudFormation waits past a handler's
// own timeout before it fails the custom resource.
const customResourceGrace = 60

// CustomResource is a CloudFormation custom resource this function serves:
// its ARN is the service token, and the handler answers CloudFormation
// itself (aws-lambda-go's cfn.LambdaWrap) through the pre-signed S3 URL of
// the request. Every custom resource of ours is one of these, rather than
// CDK's provider framework, which would add a function, a role, a log group
// and a security group per handler for what LambdaWrap does in process.
//
// CloudFormation invokes the function asynchronously. The handler answers
// SUCCESS or FAILED itself, so Lambda's retries are off: a retry after a
// crash would run the request again after CloudFormation may have moved on.
// A handler that dies without answering (a timeout, out of memory) would
// leave CloudFormation waiting for an hour; ServiceTimeout fails the
// resource a minute after the function's own timeout instead.
func (f *GoFunction) CustomResource(scope constructs.Construct, id, resourceType string, properties map[string]any) awscdk.CustomResource {
	cr := awscdk.NewCustomResource(scope, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken:   f.Function.FunctionArn(),
		ResourceType:   jsii.String(resourceType),
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(*f.timeout.ToSeconds(nil) + customResourceGrace)),
		Properties:     &properties,
	})
	// Once per function, however many resources it serves.
	if f.Function.Node().TryFindChild(jsii.String("EventInvokeConfig")) == nil {
		f.Function.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{RetryAttempts: jsii.Number(0)})
	}
	// Created after everything of the function (its policy, its security
	// group's rules) and so deleted before it: the function must be able to
	// act and to answer for as long as the resource exists.
	cr.Node().AddDependency(f.Construct)
	f.Role.UsedBy(cr)
	return cr
}

// NewGoFunction creates the function, its log group (encrypted, kept 2557
// days like every log of this platform) and its role (one customer-managed
// policy, no later widening).
func NewGoFunction(scope constructs.Construct, id string, props *GoFunctionProps) *GoFunction {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	name := cfg.Name(props.Name)
	f := &GoFunction{Construct: this, timeout: props.Timeout}
	if props.Timeout == nil {
		awscdk.Annotations_Of(this).AddError(jsii.String("GoFunctionProps.Timeout is required: say how long " + name + " may run"))
		f.timeout = awscdk.Duration_Seconds(jsii.Number(3)) // Lambda's default
	}
	if !slices.Contains(lambdaPackages, props.Package) {
		awscdk.Annotations_Of(this).AddError(jsii.String(props.Package + " is not in lambdaPackages (infra/golambda.go): add it, so that synth builds it with the others"))
	}

	if props.CardDataFindings != nil {
		f.LogGroup = newCardDataLogGroup(this, "LogGroup", cfg, jsii.String(cfg.LogGroupName("lambda/"+props.Name)), props.LogsKey, props.CardDataFindings)
	} else {
		f.LogGroup = newAuditLogGroup(this, "LogGroup", cfg, jsii.String(cfg.LogGroupName("lambda/"+props.Name)), props.LogsKey)
	}
	var securityGroups *[]awsec2.ISecurityGroup
	if props.Vpc != nil {
		f.SecurityGroup = awsec2.NewSecurityGroup(this, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc:               props.Vpc,
			SecurityGroupName: jsii.String(name),
			Description:       jsii.String("Lambda " + name + ": no ingress; egress opened per dependency"),
			AllowAllOutbound:  jsii.Bool(false),
		})
		// AWS APIs are reached through the interface endpoints (HTTPS).
		f.SecurityGroup.AddEgressRule(awsec2.Peer_Ipv4(jsii.String(cfg.VpcCidr.String())), awsec2.Port_Tcp(jsii.Number(443)),
			jsii.String("HTTPS to the VPC endpoints"), nil)
		securityGroups = &[]awsec2.ISecurityGroup{f.SecurityGroup}
	}
	statements := append(lambdaBaseStatements(f.LogGroup, props.Vpc != nil, true), props.Statements...)
	f.Role = NewServiceRole(this, "Role", &ServiceRoleProps{
		Name:       name,
		Service:    "lambda.amazonaws.com",
		Account:    cfg.Account,
		Statements: statements,
	})

	memory := props.MemorySize
	if memory == 0 {
		memory = 256
	}
	env := map[string]*string{}
	for k, v := range props.Environment {
		env[k] = jsii.String(v)
	}
	f.Function = awslambda.NewFunction(this, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName: jsii.String(name),
		Description:  jsii.String(props.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(jsii.String(filepath.Join(props.SourceRoot, props.Package)), &awss3assets.AssetOptions{
			AssetHashType: awscdk.AssetHashType_OUTPUT,
			Bundling: &awscdk.BundlingOptions{
				// Used only if the local build is impossible; it never is
				// where `go` is installed, which synth requires anyway.
				Image: awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:1.26")),
				Local: &goBuild{root: props.SourceRoot, pkg: props.Package},
			},
		}),
		Timeout:                      props.Timeout,
		MemorySize:                   jsii.Number(memory),
		ReservedConcurrentExecutions: reservedConcurrency(props.ReservedConcurrency),
		Environment:                  &env,
		EnvironmentEncryption:        props.EnvironmentKey,
		Role:                         f.Role.Role,
		LogGroup:                     f.LogGroup,
		LoggingFormat:                awslambda.LoggingFormat_JSON,
		Tracing:                      awslambda.Tracing_ACTIVE,
		Vpc:                          props.Vpc,
		VpcSubnets:                   props.Subnets,
		SecurityGroups:               securityGroups,
	})
	f.Role.UsedBy(f.Function)
	if f.Function.Node().DefaultChild().(awslambda.CfnFunction).ReservedConcurrentExecutions() == nil {
		if props.ConcurrencyBound == "" {
			awscdk.Annotations_Of(f.Construct).AddError(jsii.String("GoFunctionProps.ConcurrencyBound is required: say what bounds " + name + "'s concurrency"))
		}
		suppress(f.Function, true, finding{
			rule: "NIST.800.53.R5-LambdaConcurrency",
			reason: "Nothing is reserved (outside production a new account's concurrency limit of 10 or 50 cannot spare any, and Lambda keeps 100 unreserved); " +
				props.ConcurrencyBound,
		})
	}
	suppress(this.Node().FindChild(jsii.String("RolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::*"},
		reason: "Only the VPC network-interface actions (ec2:*NetworkInterface*, *PrivateIpAddresses) and X-Ray's PutTraceSegments/PutTelemetryRecords " +
			"are granted on *: Lambda creates the interfaces with names unknown at deploy time, and X-Ray has no resource-level permissions. Every other statement names its resources.",
	})
	return f
}
