package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
)

// Processing sizes (the queue's delivery contract is environment's).
const (
	processorTimeoutSeconds = environment.ProcessorTimeoutSeconds
	maxReceiveCount         = environment.PaymentMaxReceiveCount
	processorMaxConcurrency = environment.ProcessorMaxConcurrency
)

// Queues are the payment queue and its dead-letter queue.
type Queues struct {
	constructs.Construct
	Payments   awssqs.Queue
	DeadLetter awssqs.Queue
}

// NewQueues creates both queues, encrypted with the messaging key and
// refusing non-TLS requests.
func NewQueues(scope constructs.Construct, id string, cfg environment.Config, keys *Keys) *Queues {
	this := constructs.NewConstruct(scope, &id)
	q := &Queues{Construct: this}
	q.DeadLetter = awssqs.NewQueue(this, jsii.String("DeadLetter"), &awssqs.QueueProps{
		QueueName:           jsii.String(cfg.DeadLetterQueueName()),
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: keys.Messaging,
		DataKeyReuse:        awscdk.Duration_Minutes(jsii.Number(5)),
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:       removalPolicy(cfg),
	})
	q.Payments = awssqs.NewQueue(this, jsii.String("Payments"), &awssqs.QueueProps{
		QueueName:              jsii.String(cfg.PaymentQueueName()),
		Encryption:             awssqs.QueueEncryption_KMS,
		EncryptionMasterKey:    keys.Messaging,
		DataKeyReuse:           awscdk.Duration_Minutes(jsii.Number(5)),
		EnforceSSL:             jsii.Bool(true),
		ReceiveMessageWaitTime: awscdk.Duration_Seconds(jsii.Number(20)), // long polling
		VisibilityTimeout:      awscdk.Duration_Seconds(jsii.Number(environment.PaymentVisibilityTimeoutSeconds)),
		RetentionPeriod:        awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:        &awssqs.DeadLetterQueue{Queue: q.DeadLetter, MaxReceiveCount: jsii.Number(maxReceiveCount)},
		RemovalPolicy:          removalPolicy(cfg),
	})
	suppress(q.DeadLetter, true, finding{
		rule:   "AwsSolutions-SQS3",
		reason: "This is the dead-letter queue of the payment queue; poison messages end here and an alarm fires on the first one.",
	})
	return q
}

// sendStatements let a producer put messages on the queue.
func (q *Queues) sendStatements(cfg environment.Config, keys *Keys) []awsiam.PolicyStatement {
	return []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("SendPayments"), Actions: jsii.Strings("sqs:SendMessage", "sqs:GetQueueAttributes"),
			Resources: jsii.Strings(*q.Payments.QueueArn()),
		}),
		messagingKeyStatement(cfg, keys, "kms:GenerateDataKey", "kms:Decrypt"),
	}
}

func messagingKeyStatement(cfg environment.Config, keys *Keys, actions ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("UseTheMessagingKeyThroughSqs"), Actions: jsii.Strings(actions...),
		Resources:  jsii.Strings(*keys.Messaging.KeyArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("sqs.%s.amazonaws.com", cfg.Region)}},
	})
}

// ProcessorProps configures NewProcessor.
type ProcessorProps struct {
	Config   environment.Config
	Network  *Network
	Database *Database
	Keys     *Keys
	Queues   *Queues
	// CardDataFindings receives what the data-protection policies of the
	// logs carrying client input find (NewCardDataFindings).
	CardDataFindings awslogs.ILogGroup
	SourceRoot       string
}

// NewProcessor deploys cmd/processor on the payment queue: batches of 10,
// partial batch failures reported, concurrency bounded to protect Aurora.
func NewProcessor(scope constructs.Construct, id string, props *ProcessorProps) *GoFunction {
	cfg, q := props.Config, props.Queues
	fn := NewGoFunction(scope, id, &GoFunctionProps{
		Config: cfg, SourceRoot: props.SourceRoot, Package: "./cmd/processor", Name: "processor",
		Description: "Settles payments from the payment queue (conditional transitions, double-entry ledger, EMF metrics)",
		Timeout:     awscdk.Duration_Seconds(jsii.Number(processorTimeoutSeconds)), MemorySize: 512,
		// Reserved in production so that no other function of the account
		// can starve it.
		ReservedConcurrency: cfg.Posture().ProcessorReservedConcurrency,
		ConcurrencyBound:    fmt.Sprintf("the SQS event source's MaximumConcurrency (%d) bounds its invocations.", processorMaxConcurrency),
		Vpc:                 props.Network.Vpc, Subnets: props.Network.PrivateSubnets(),
		LogsKey: props.Keys.Logs, EnvironmentKey: props.Keys.Secrets, CardDataFindings: props.CardDataFindings,
		Environment: props.Database.Environment(database.AppRole, map[string]string{
			"ENVIRONMENT": cfg.EnvironmentSuffix,
		}),
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ConsumePayments"),
				Actions:   jsii.Strings("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"),
				Resources: jsii.Strings(*q.Payments.QueueArn()),
			}),
			messagingKeyStatement(cfg, props.Keys, "kms:Decrypt"),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("ConnectAsApplicationRole"), Actions: jsii.Strings("rds-db:connect"),
				Resources: jsii.Strings(*props.Database.ConnectArnOf(database.AppRole)),
			}),
		},
	})
	props.Database.AllowFrom(fn.SecurityGroup, "payment processor")
	fn.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(q.Payments, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(environment.PaymentBatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(processorMaxConcurrency),
	}))
	suppress(fn.Function, true, finding{
		rule: "NIST.800.53.R5-LambdaDLQ",
		reason: "Invoked synchronously by the SQS event source: failed messages go back to the queue and, after " + fmt.Sprint(maxReceiveCount) +
			" receives, to the queue's dead-letter queue; a Lambda DLQ only applies to asynchronous invocations.",
	})
	return fn
}
