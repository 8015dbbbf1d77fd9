package infra_test

import (
	"strings"
	"testing"

	"github.com/fintech/payments-platform/environment"
)

// The payment queue and its DLQ: KMS-encrypted with the messaging key,
// TLS-only, long polling, visibility six times the processor's timeout, poison
// messages to the DLQ after 5 receives, DLQ kept 14 days.
func TestQueues(t *testing.T) {
	queues := map[string]map[string]any{}
	for _, q := range appResources("AWS::SQS::Queue") {
		queues[q.Properties["QueueName"].(string)] = q.Properties
		if q.Properties["KmsMasterKeyId"] == nil {
			t.Errorf("%v: not encrypted with the messaging key", q.Properties["QueueName"])
		}
	}
	main, dlq := queues["payments-payments-pr123"], queues["payments-payments-dlq-pr123"]
	if main == nil || dlq == nil {
		t.Fatalf("queues %v", queues)
	}
	redrive := asMap(main["RedrivePolicy"])
	if main["ReceiveMessageWaitTimeSeconds"] != float64(20) || main["VisibilityTimeout"] != float64(180) ||
		redrive["maxReceiveCount"] != float64(environment.PaymentMaxReceiveCount) || redrive["deadLetterTargetArn"] == nil {
		t.Errorf("payment queue %v", main)
	}
	if dlq["MessageRetentionPeriod"] != float64(14*24*3600) {
		t.Errorf("DLQ retention %v", dlq["MessageRetentionPeriod"])
	}
	policies := 0
	for _, p := range appResources("AWS::SQS::QueuePolicy") {
		if strings.Contains(jsonOf(p.Properties), `"aws:SecureTransport":"false"`) {
			policies++
		}
	}
	if policies != 2 {
		t.Errorf("%d TLS-only queue policies, want 2", policies)
	}
}

// The processor consumes in batches of 10, reports partial failures, is
// bounded in concurrency, and may only consume the queue and connect to
// Aurora as the application role.
func TestProcessorEventSource(t *testing.T) {
	mapping := one(t, appResources("AWS::Lambda::EventSourceMapping"), "event source mappings").Properties
	if mapping["BatchSize"] != float64(10) || jsonOf(mapping["FunctionResponseTypes"]) != `["ReportBatchItemFailures"]` ||
		jsonOf(mapping["ScalingConfig"]) != `{"MaximumConcurrency":5}` {
		t.Errorf("event source %v", mapping)
	}
	var fn map[string]any
	for _, f := range appResources("AWS::Lambda::Function") {
		if f.Properties["FunctionName"] == "payments-processor-pr123" {
			fn = f.Properties
		}
	}
	if fn == nil || fn["Runtime"] != "provided.al2023" || fn["VpcConfig"] == nil || fn["ReservedConcurrentExecutions"] != nil || fn["Timeout"] != float64(30) {
		t.Fatalf("processor %v", fn)
	}
	policy := jsonOf(policyOf(t, appResources("AWS::IAM::ManagedPolicy"), "payments-processor-pr123-policy"))
	for _, want := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "rds-db:connect", `"kms:ViaService":"sqs.ap-southeast-1.amazonaws.com"`} {
		if !strings.Contains(policy, want) {
			t.Errorf("processor policy lacks %s", want)
		}
	}
	if strings.Contains(policy, "sqs:SendMessage") {
		t.Error("the processor may send messages")
	}
}
