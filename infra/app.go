package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// environmentTag is the tag every resource of an environment carries, with
// the suffix as its value; IAM conditions on it scope what one
// environment's roles may touch.
const environmentTag = "Environment"

// Stacks are the stacks of the app: the account setup and one environment's.
type Stacks struct {
	// Account is the account setup (environment.AccountStackName): deployed
	// by `make account-setup`, outside every environment.
	Account awscdk.Stack
	Replica awscdk.Stack
	Keys    awscdk.Stack
	Network awscdk.Stack
	Data    awscdk.Stack
	App     awscdk.Stack
}

// Environment returns the environment's stacks in deployment order: what
// `make deploy` deploys and `make destroy` removes.
func (s Stacks) Environment() []awscdk.Stack {
	return []awscdk.Stack{s.Replica, s.Keys, s.Network, s.Data, s.App}
}

// All returns every stack: the account setup, then the environment's.
func (s Stacks) All() []awscdk.Stack {
	return append([]awscdk.Stack{s.Account}, s.Environment()...)
}

// NewStacks builds every stack of the environment described by cfg.
// sourceRoot is the Go module root, from which the Lambda functions are
// built. Stateful resources (keys, data) live apart from stateless ones so
// that the latter can be replaced without touching data.
func NewStacks(app awscdk.App, cfg environment.Config, sourceRoot string) Stacks {
	prebuildLambdas(sourceRoot)
	stack := func(name, region, description string, protected, crossRegion bool) awscdk.Stack {
		return awscdk.NewStack(app, &name, &awscdk.StackProps{
			Env:                   &awscdk.Environment{Account: &cfg.Account, Region: &region},
			StackName:             &name,
			Description:           jsii.String(description),
			TerminationProtection: jsii.Bool(protected),
			CrossRegionReferences: jsii.Bool(crossRegion),
		})
	}
	newStack := func(component, region, description string, crossRegion bool) awscdk.Stack {
		return stack(cfg.StackName(component), region, description, cfg.Posture().Protected, crossRegion)
	}

	var s Stacks
	// Shared by every environment of the account: protected from deletion,
	// and no environment's stack depends on it (`make preflight` checks it
	// is deployed instead), so deploying or destroying an environment never
	// touches it.
	s.Account = stack(environment.AccountStackName, cfg.Region,
		"Payments platform: account setup (API Gateway's CloudWatch role; opt-in: the account's CloudTrail trail, GuardDuty, Security Hub, AWS Config), once per account and region like the CDK bootstrap stack", true, false)
	NewAccountSetup(s.Account, "Setup", cfg)

	s.Replica = newStack("Replica", cfg.ReplicaRegion, "Payments platform: cross-region replica of the document bucket and its key (stateful)", true)
	replica := NewReplica(s.Replica, "Replica", &ReplicaProps{Config: cfg})

	s.Keys = newStack("Keys", cfg.Region, "Payments platform: customer-managed KMS keys, one per data domain (stateful)", false)
	keys := NewKeys(s.Keys, "Keys", &KeysProps{Config: cfg})

	s.Network = newStack("Network", cfg.Region, "Payments platform: VPC over three AZs, NAT instances, VPC endpoints, flow logs", false)
	networkKeys := keys.ImportInto(s.Network)
	network := NewNetwork(s.Network, "Network", &NetworkProps{Config: cfg, LogsKey: networkKeys.Logs, ComputeKey: networkKeys.Compute})

	s.Data = newStack("Data", cfg.Region, "Payments platform: Aurora PostgreSQL, document storage (stateful)", true)
	dataKeys := keys.ImportInto(s.Data)
	findings := NewCardDataFindings(s.Data, "CardDataFindings", cfg, dataKeys.Logs)
	database := NewDatabase(s.Data, "Database", &DatabaseProps{Config: cfg, Network: network, Keys: dataKeys, CardDataFindings: findings, SourceRoot: sourceRoot})
	storage := NewStorage(s.Data, "Storage", &StorageProps{Config: cfg, Keys: dataKeys, ReplicaKeyArn: replica.Key.KeyArn()})
	newAuditQueries(s.Data, cfg, database.LogGroup)
	if !cfg.Posture().RetainData {
		NewBucketCleaner(s.Data, "BucketCleaner", &BucketCleanerProps{
			Name: "data", Config: cfg, SourceRoot: sourceRoot, LogsKey: dataKeys.Logs, Network: network,
			Buckets: []CleanedBucket{
				{Name: cfg.BucketName("docs", cfg.Region), Bucket: storage.Documents},
				{Name: cfg.BucketName("logs", cfg.Region), Bucket: storage.LogBucket},
				{Name: cfg.BucketName("audit", cfg.Region), Bucket: storage.Anchors, GovernanceLocked: true},
			},
		})
		NewBucketCleaner(s.Replica, "BucketCleaner", &BucketCleanerProps{
			Name: "replica", Config: cfg, SourceRoot: sourceRoot, LogsKey: replica.LogsKey,
			Buckets: []CleanedBucket{
				{Name: cfg.BucketName("docs", cfg.ReplicaRegion), Bucket: replica.Bucket},
				{Name: cfg.BucketName("logs", cfg.ReplicaRegion), Bucket: replica.LogBucket},
			},
		})
	}
	// Replication is configured against a bucket that must already exist.
	s.Data.Node().AddDependency(s.Replica)

	s.App = newStack("App", cfg.Region, "Payments platform: API Gateway (mTLS), WAF, ALB, the payment API on ECS Fargate, queues, processor, dashboard and alarms (stateless)", false)
	// The ALB checks at creation that it may write to the log bucket.
	s.App.Node().AddDependency(s.Data)
	appKeys := keys.ImportInto(s.App)
	names := NewNames(s.App, "Names", cfg)
	queues := NewQueues(s.App, "Queues", cfg, appKeys)
	service := NewPaymentService(s.App, "Api", &PaymentServiceProps{
		Config: cfg, Network: network, Database: database, Keys: appKeys, Queues: queues, CardDataFindings: findings, SourceRoot: sourceRoot,
	})
	processor := NewProcessor(s.App, "Processor", &ProcessorProps{
		Config: cfg, Network: network, Database: database, Keys: appKeys, Queues: queues, CardDataFindings: findings, SourceRoot: sourceRoot,
	})
	auditor := NewAuditor(s.App, "Audit", &AuditorProps{
		Config: cfg, Network: network, Database: database, Keys: appKeys, SourceRoot: sourceRoot,
	})
	edge := NewEdge(s.App, "Edge", &EdgeProps{Config: cfg, Network: network, Service: service, Names: names, LogBucketName: cfg.BucketName("logs", cfg.Region)})
	gateway := NewPaymentsAPI(s.App, "Gateway", &PaymentsAPIProps{
		Config: cfg, Network: network, Keys: appKeys, Edge: edge, Names: names, Database: database, CardDataFindings: findings, SourceRoot: sourceRoot,
	})
	webACLs := NewWebACLs(s.App, "Waf", &WebACLsProps{
		Config: cfg, Keys: appKeys, CardDataFindings: findings, LoadBalancerArn: edge.LoadBalancer.LoadBalancerArn(), StageArn: gateway.RestAPI.DeploymentStage().StageArn(),
	})
	NewObservability(s.App, "Observability", &ObservabilityProps{
		Config: cfg, Keys: appKeys, Thresholds: DefaultAlarmThresholds, API: gateway, Edge: edge, WebACLs: webACLs,
		Service: service, Database: database, Queues: queues, Processor: processor, Auditor: auditor,
	})
	if !cfg.Posture().RetainData {
		NewBucketCleaner(s.App, "BucketCleaner", &BucketCleanerProps{
			Name: "app", Config: cfg, SourceRoot: sourceRoot, LogsKey: appKeys.Logs, Network: network,
			Buckets: []CleanedBucket{{Name: cfg.BucketName("mtls", cfg.Region), Bucket: gateway.Truststore}},
		})
	}

	// What the integration tests read from cfn-outputs/flat-outputs.json,
	// besides the three outputs for people (AlbDnsName, ApiEndpoint,
	// DashboardUrl): names, no secret values.
	output := func(stack awscdk.Stack, name, description string, value *string) {
		awscdk.NewCfnOutput(stack, &name, &awscdk.CfnOutputProps{Value: value, Description: &description})
	}
	output(s.Data, "DatabaseClusterIdentifier", "The Aurora cluster", database.Cluster.ClusterIdentifier())
	output(s.Data, "DatabaseSecretArn", "The Aurora master secret (rotated every 30 days)", database.Cluster.Secret().SecretArn())
	output(s.Data, "DocumentBucketName", "The document bucket (replicated to the replica region)", storage.Documents.BucketName())
	output(s.Replica, "ReplicaBucketName", "The replication destination of the document bucket", replica.Bucket.BucketName())
	output(s.Replica, "ReplicaRegion", "The region of the replica bucket", jsii.String(cfg.ReplicaRegion))
	output(s.Data, "AnchorBucketName", "The Object Lock bucket holding the signed anchors of payments' histories", storage.Anchors.BucketName())
	output(s.App, "AuditFunctionName", "Anchors and verifies payments' histories (make audit-verify and make payment-history invoke it)", auditor.Function.FunctionName())
	output(s.App, "MerchantKeysFunctionName", "Onboards, rotates and offboards merchants' API keys (make merchant-onboard invokes it)", gateway.MerchantKeys.Function.FunctionName())

	awscdk.Tags_Of(app).Add(jsii.String("Project"), jsii.String("payments"), nil)
	// The account setup belongs to no environment.
	for _, stack := range s.Environment() {
		tags := awscdk.Tags_Of(stack)
		tags.Add(jsii.String(environmentTag), jsii.String(cfg.EnvironmentSuffix), nil)
		tags.Add(jsii.String("DataClassification"), jsii.String("pci-cardholder-adjacent"), nil)
	}
	return s
}
