//go:build linux

package local

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fintech/payments-platform/environment"
)

// EventSourceMapping polls the payment queue and invokes the processor
// with batches, as Lambda's SQS event source does with
// ReportBatchItemFailures: it deletes the messages an invocation
// processed, leaves those the processor reports failed, and leaves the
// whole batch when the invocation itself fails (a crashed or timed-out
// function), so that SQS delivers them again after the visibility timeout
// and moves them to the dead-letter queue after PaymentMaxReceiveCount
// receives. One invocation at a time: the emulator runs one.
type EventSourceMapping struct {
	client   *sqs.Client
	queueURL string
	invoke   func(context.Context, []byte) ([]byte, error)

	mu       sync.Mutex
	onInvoke func(batch []events.SQSMessage, done <-chan struct{})
	stats    MappingStats
}

// MappingStats count what the mapping did.
type MappingStats struct {
	Invocations, FailedInvocations int
	// Redelivered counts messages received more than once.
	Redelivered int
	// DeleteFailures counts batches whose processed messages could not
	// all be deleted (they come back, harmlessly).
	DeleteFailures int
}

func newEventSourceMapping(client *sqs.Client, queueURL string, invoke func(context.Context, []byte) ([]byte, error)) *EventSourceMapping {
	return &EventSourceMapping{client: client, queueURL: queueURL, invoke: invoke}
}

// OnInvoke sets a function called, in a goroutine of its own, with each
// batch as its invocation starts; done is closed when the invocation ends.
// The end-to-end test uses it to kill the processor in the middle of one.
func (m *EventSourceMapping) OnInvoke(fn func(batch []events.SQSMessage, done <-chan struct{})) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onInvoke = fn
}

// Stats returns the counts so far.
func (m *EventSourceMapping) Stats() MappingStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Run polls until ctx ends.
func (m *EventSourceMapping) Run(ctx context.Context) {
	for ctx.Err() == nil {
		// Short polls, 50 ms apart when the queue is empty: Lambda's long
		// polls return as soon as a message arrives, the local server's at
		// the end of their wait.
		out, err := m.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(m.queueURL), MaxNumberOfMessages: environment.PaymentBatchSize,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		switch {
		case err != nil:
			pause(ctx, time.Second)
			continue
		case len(out.Messages) == 0:
			pause(ctx, 50*time.Millisecond)
			continue
		}
		m.deliver(ctx, out.Messages)
	}
}

func (m *EventSourceMapping) deliver(ctx context.Context, messages []types.Message) {
	batch := make([]events.SQSMessage, len(messages))
	redelivered := 0
	for i, msg := range messages {
		attributes := map[string]string{}
		for k, v := range msg.Attributes {
			attributes[k] = v
		}
		if n, _ := strconv.Atoi(attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); n > 1 {
			redelivered++
		}
		batch[i] = events.SQSMessage{
			MessageId: aws.ToString(msg.MessageId), ReceiptHandle: aws.ToString(msg.ReceiptHandle), Body: aws.ToString(msg.Body),
			Md5OfBody: aws.ToString(msg.MD5OfBody), Attributes: attributes, EventSource: "aws:sqs", AWSRegion: Region,
			EventSourceARN: "arn:aws:sqs:" + Region + ":000000000000:" + queueConfig.PaymentQueueName(),
		}
	}
	event, _ := json.Marshal(events.SQSEvent{Records: batch})

	m.mu.Lock()
	onInvoke := m.onInvoke
	m.stats.Invocations++
	m.stats.Redelivered += redelivered
	m.mu.Unlock()
	done := make(chan struct{})
	if onInvoke != nil {
		go onInvoke(batch, done)
	}
	body, err := m.invoke(ctx, event)
	close(done)
	var failed map[string]bool
	if err == nil {
		failed, err = batchFailures(body, batch)
	}
	if err != nil {
		m.mu.Lock()
		m.stats.FailedInvocations++
		m.mu.Unlock()
		return // the whole batch comes back after the visibility timeout
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for i, msg := range batch {
		if !failed[msg.MessageId] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(msg.ReceiptHandle)})
		}
	}
	if len(entries) > 0 {
		// A message not deleted is delivered again: the processor's
		// transitions make that harmless, as in AWS.
		out, err := m.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.queueURL), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			m.mu.Lock()
			m.stats.DeleteFailures++
			m.mu.Unlock()
		}
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
