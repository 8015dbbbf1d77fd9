// Package sqs publishes outbox events to an SQS queue.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fintech/payments-platform/payments"
)

// MaxBatch is SQS's SendMessageBatch limit.
const MaxBatch = 10

// SendAPI is the SQS call the publisher makes.
type SendAPI interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Publisher implements payments.Publisher with SendMessageBatch.
type Publisher struct {
	Client   SendAPI
	QueueURL string
}

var _ payments.Publisher = Publisher{}

// MaxInFlight is how many SendMessageBatch calls Publish makes at once: one
// relay publishes for every API task in turn, and a call takes 10-20 ms, so
// calls one after another would cap it near 500-1,000 messages a second.
const MaxInFlight = 10

// Publish sends events in batches of 10, up to MaxInFlight batches at once,
// and returns the ids SQS accepted, in no particular order; entries SQS
// rejects, or a batch that fails, stay unsent for the next round.
func (p Publisher) Publish(ctx context.Context, events []payments.OutboxEvent) ([]int64, error) {
	var (
		mu    sync.Mutex
		sent  []int64
		errs  []error
		calls sync.WaitGroup
	)
	slots := make(chan struct{}, MaxInFlight)
	for start := 0; start < len(events); start += MaxBatch {
		batch := events[start:min(start+MaxBatch, len(events))]
		slots <- struct{}{}
		calls.Go(func() {
			defer func() { <-slots }()
			ids, err := p.send(ctx, batch)
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, ids...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	calls.Wait()
	return sent, errors.Join(errs...)
}

// send is one SendMessageBatch call.
func (p Publisher) send(ctx context.Context, batch []payments.OutboxEvent) ([]int64, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(batch))
	for i, e := range batch {
		entries[i] = types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.FormatInt(e.ID, 10)), MessageBody: aws.String(sqsSafe(e.Payload)),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"paymentId": {DataType: aws.String("String"), StringValue: aws.String(e.PaymentID)},
			},
		}
	}
	out, err := p.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &p.QueueURL, Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("sqs: send batch: %w", err)
	}
	var sent []int64
	for _, ok := range out.Successful {
		id, err := strconv.ParseInt(aws.ToString(ok.Id), 10, 64)
		if err != nil {
			return sent, fmt.Errorf("sqs: unexpected entry id %q", aws.ToString(ok.Id))
		}
		sent = append(sent, id)
	}
	if len(out.Failed) > 0 {
		f := out.Failed[0]
		return sent, fmt.Errorf("sqs: %d of %d entries rejected, first %s: %s", len(out.Failed), len(batch), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return sent, nil
}

// sqsSafe is a JSON body with the characters SQS refuses in a message
// (everything but #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and
// #x10000-#x10FFFF) written as JSON escapes, which decode to the same
// string. json.Marshal escapes the control characters but lets U+FFFE and
// U+FFFF through, and one message SQS refuses would come back every round:
// the relay never moves past a message it could not send.
func sqsSafe(body []byte) string {
	var b strings.Builder
	for _, r := range string(body) {
		if r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}
