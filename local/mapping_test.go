//go:build linux

package local

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fintech/payments-platform/environment"
)

// The mapping deletes what the function processed, gives back what it
// reports failed, and the queue server moves a message that keeps failing
// to the dead-letter queue after PaymentMaxReceiveCount receives: a poison
// message ends there, not in a loop. A whole invocation that fails gives
// its batch back too.
func TestEventSourceMappingReportsBatchItemFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root, _ := filepath.Abs("..")
	p := &Platform{opts: Options{Root: root, VisibilityTimeout: time.Second, Log: io.Discard}}
	if err := p.startQueue(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.queue.terminate(5 * time.Second)
	client := p.queueClient(ctx)

	var mu sync.Mutex
	seen := map[string]int{}
	failedOnce := false
	invoke := func(_ context.Context, event []byte) ([]byte, error) {
		var e events.SQSEvent
		if err := json.Unmarshal(event, &e); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		var resp events.SQSEventResponse
		crash := false
		for _, r := range e.Records {
			seen[r.Body]++
			switch r.Body {
			case "poison":
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			case "crash":
				crash = !failedOnce
			}
		}
		if crash {
			failedOnce = true
			return nil, context.DeadlineExceeded // the whole invocation fails
		}
		return json.Marshal(resp)
	}
	m := newEventSourceMapping(client, p.QueueURL, invoke)
	go m.Run(ctx)
	for _, body := range []string{"ok-1", "poison", "ok-2", "crash"} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.QueueURL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		dlq, err := p.QueueDepth(ctx, p.DeadLetterQueueURL)
		if err != nil {
			t.Fatal(err)
		}
		depth, err := p.QueueDepth(ctx, p.QueueURL)
		if err != nil {
			t.Fatal(err)
		}
		if dlq == 1 && depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %d, dead-letter queue %d after 30 s; deliveries %v", depth, dlq, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["poison"] != environment.PaymentMaxReceiveCount {
		t.Errorf("the poison message was delivered %d times, want %d", seen["poison"], environment.PaymentMaxReceiveCount)
	}
	if seen["crash"] != 2 {
		t.Errorf("a message of a failed invocation was delivered %d times, want 2", seen["crash"])
	}
	if seen["ok-1"] < 1 || seen["ok-2"] < 1 {
		t.Errorf("deliveries %v", seen)
	}
	// The messages processed in the crashed invocation's batch came back
	// too, as in Lambda: at most twice.
	if seen["ok-1"] > 2 || seen["ok-2"] > 2 {
		t.Errorf("processed messages were delivered again after their batch succeeded: %v", seen)
	}
}
