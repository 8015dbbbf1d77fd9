package infra

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
)

// APIPort is where the API task serves HTTPS to the load balancer.
const APIPort = 8443

// Autoscaling targets of the API service.
const (
	apiCPUTarget    = 70
	apiMemoryTarget = 80
)

// PaymentServiceProps configures PaymentService.
type PaymentServiceProps struct {
	Config   environment.Config
	Network  *Network
	Database *Database
	Keys     *Keys
	// Queues receive the outbox events the API relays.
	Queues *Queues
	// CardDataFindings receives what the data-protection policies of the
	// logs carrying client input find (NewCardDataFindings).
	CardDataFindings awslogs.ILogGroup
	SourceRoot       string
}

// PaymentService is the payment API on ECS Fargate in the private subnets.
type PaymentService struct {
	constructs.Construct
	Cluster       awsecs.Cluster
	Service       awsecs.FargateService
	SecurityGroup awsec2.SecurityGroup
	LogGroup      awslogs.LogGroup
	TaskRole      *ServiceRole
}

// NewPaymentService creates the cluster, the task definition and the
// service with target tracking on CPU and memory.
func NewPaymentService(scope constructs.Construct, id string, props *PaymentServiceProps) *PaymentService {
	this := constructs.NewConstruct(scope, &id)
	cfg, network, db := props.Config, props.Network, props.Database
	s := &PaymentService{Construct: this}
	region, account := cfg.Region, cfg.Account

	s.Cluster = awsecs.NewCluster(this, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 network.Vpc,
		ClusterName:         jsii.String(cfg.Name("cluster")),
		ContainerInsightsV2: awsecs.ContainerInsights_ENHANCED,
	})
	s.LogGroup = newCardDataLogGroup(this, "LogGroup", cfg, jsii.String(cfg.LogGroupName("api")), props.Keys.Logs, props.CardDataFindings)
	// Container Insights writes the cluster's performance events into a
	// group ECS names and would create itself: unencrypted, kept forever and
	// left behind by `make destroy`. Created first, it is like every other
	// log group of the platform.
	s.Cluster.Node().AddDependency(newAuditLogGroup(this, "ContainerInsightsLogs", cfg, jsii.String(cfg.ContainerInsightsLogGroupName()), props.Keys.Logs))

	// The image lives in the CDK bootstrap's asset repository (default
	// qualifier); the execution role may pull from it and nothing else.
	assetRepository := fmt.Sprintf("arn:aws:ecr:%s:%s:repository/cdk-hnb659fds-container-assets-%s-%s", region, account, account, region)
	executionRole := NewServiceRole(this, "ExecutionRole", &ServiceRoleProps{
		Name: cfg.Name("api-execution"), Service: "ecs-tasks.amazonaws.com", Account: account,
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("EcrAuthorization"), Actions: jsii.Strings("ecr:GetAuthorizationToken"), Resources: jsii.Strings("*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("PullApiImage"),
				Actions:   jsii.Strings("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"),
				Resources: jsii.Strings(assetRepository),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("WriteApiLogs"), Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
				Resources: jsii.Strings(*s.LogGroup.LogGroupArn()),
			}),
		},
	})
	// The task may connect to Aurora as the application role and relay the
	// outbox to the payment queue, and nothing else.
	s.TaskRole = NewServiceRole(this, "TaskRole", &ServiceRoleProps{
		Name: cfg.Name("api-task"), Service: "ecs-tasks.amazonaws.com", Account: account,
		Statements: append([]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("ConnectAsApplicationRole"), Actions: jsii.Strings("rds-db:connect"),
				Resources: jsii.Strings(*db.ConnectArnOf(database.AppRole)),
			}),
		}, props.Queues.sendStatements(cfg, props.Keys)...),
	})

	task := awsecs.NewFargateTaskDefinition(this, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String(cfg.Name("api")),
		Cpu:            jsii.Number(cfg.APITaskCPU),
		MemoryLimitMiB: jsii.Number(cfg.APITaskMemory),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		ExecutionRole: executionRole.Role,
		TaskRole:      s.TaskRole.Role,
	})
	// At most this many connections per pool (one to the writer, one to the
	// readers): 12 tasks x 20 on the writer stays well below db.t4g.medium's
	// max_connections (about 450), 60 x 20 below db.r7g.large's (about
	// 1,800); docs/CAPACITY.md has the budget.
	const maxConnsPerPool = 20
	task.AddContainer(jsii.String("api"), &awsecs.ContainerDefinitionOptions{
		ContainerName: jsii.String("api"),
		Image: awsecs.ContainerImage_FromAsset(jsii.String(props.SourceRoot), &awsecs.AssetImageProps{
			File:       jsii.String("Dockerfile"),
			Platform:   awsecrassets.Platform_LINUX_ARM64(),
			IgnoreMode: awscdk.IgnoreMode_DOCKER,
		}),
		ReadonlyRootFilesystem: jsii.Bool(true),
		User:                   jsii.String("65532:65532"),
		Privileged:             jsii.Bool(false),
		PortMappings:           &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(APIPort), Protocol: awsecs.Protocol_TCP}},
		Environment: &map[string]*string{
			"API_ADDR":             jsii.String(":" + strconv.Itoa(APIPort)),
			"API_TLS":              jsii.String("true"),
			database.EnvWriterHost: db.Cluster.ClusterEndpoint().Hostname(),
			database.EnvReaderHost: db.Cluster.ClusterReadEndpoint().Hostname(),
			database.EnvPort:       jsii.String(strconv.Itoa(database.Port)),
			database.EnvName:       jsii.String(database.Name),
			database.EnvUser:       jsii.String(database.AppRole),
			database.EnvMaxConns:   jsii.String(strconv.Itoa(maxConnsPerPool)),
			"AWS_REGION":           jsii.String(region),
			"OUTBOX_QUEUE_URL":     props.Queues.Payments.QueueUrl(),
			"ENVIRONMENT":          jsii.String(cfg.EnvironmentSuffix), // the metrics' dimension
		},
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     s.LogGroup,
			StreamPrefix: jsii.String("api"),
			Mode:         awsecs.AwsLogDriverMode_NON_BLOCKING,
		}),
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(30)),
	})

	s.SecurityGroup = awsec2.NewSecurityGroup(this, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               network.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("api")),
		Description:       jsii.String("Payment API tasks: HTTPS from the ALB only; out to the endpoints, S3, Aurora and (via NAT) HTTPS"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	// HTTPS out: the interface endpoints, S3 through the gateway endpoint
	// (whose addresses are outside the VPC) and, through the NAT instances,
	// external payment networks.
	s.SecurityGroup.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS"), nil)
	// Adds the cluster's ingress and this group's egress on 5432.
	db.AllowFrom(s.SecurityGroup, "payment API tasks")

	desired := float64(len(AvailabilityZones)) // at least one task per AZ
	s.Service = awsecs.NewFargateService(this, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:                s.Cluster,
		ServiceName:            jsii.String(cfg.Name("api")),
		TaskDefinition:         task,
		DesiredCount:           &desired,
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		AssignPublicIp:         jsii.Bool(false),
		VpcSubnets:             network.PrivateSubnets(),
		SecurityGroups:         &[]awsec2.ISecurityGroup{s.SecurityGroup},
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(60)),
		EnableExecuteCommand:   jsii.Bool(false),
		PropagateTags:          awsecs.PropagatedTagSource_SERVICE,
	})
	// Tasks start (pull, log, connect) as soon as the service exists; the
	// task definition names both roles.
	executionRole.UsedBy(task, s.Service)
	s.TaskRole.UsedBy(task, s.Service)
	maxTasks := float64(cfg.Posture().MaxAPITasks)
	scaling := s.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{MinCapacity: &desired, MaxCapacity: &maxTasks})
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(apiCPUTarget),
		ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(300)),
	})
	scaling.ScaleOnMemoryUtilization(jsii.String("Memory"), &awsecs.MemoryUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(apiMemoryTarget),
		ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(60)),
		ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(300)),
	})

	suppress(task, true, finding{
		rule: "AwsSolutions-ECS2",
		reason: "The environment holds no secret: endpoint host names, port, database and role names, pool size and region. " +
			"The service has no credential to inject: it authenticates to Aurora with IAM tokens signed by its task role.",
	})
	suppress(this.Node().FindChild(jsii.String("ExecutionRolePolicy")), true, finding{
		rule: "AwsSolutions-IAM5", appliesTo: []string{"Resource::*"},
		reason: "ecr:GetAuthorizationToken has no resource-level permissions (it returns a registry token); pulling is limited to the CDK asset repository.",
	})
	return s
}
