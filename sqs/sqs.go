// Package sqs publishes outbox events to an SQS queue.
package sqs

import (
	"context"
	"fmt"
	"strconv"

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

// Publish sends events in batches of 10 and returns the ids SQS accepted;
// entries SQS rejects stay unsent for the next round.
func (p Publisher) Publish(ctx context.Context, events []payments.OutboxEvent) ([]int64, error) {
	var sent []int64
	for start := 0; start < len(events); start += MaxBatch {
		batch := events[start:min(start+MaxBatch, len(events))]
		entries := make([]types.SendMessageBatchRequestEntry, len(batch))
		for i, e := range batch {
			entries[i] = types.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.FormatInt(e.ID, 10)), MessageBody: aws.String(string(e.Payload)),
				MessageAttributes: map[string]types.MessageAttributeValue{
					"paymentId": {DataType: aws.String("String"), StringValue: aws.String(e.PaymentID)},
				},
			}
		}
		out, err := p.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &p.QueueURL, Entries: entries})
		if err != nil {
			return sent, fmt.Errorf("sqs: send batch: %w", err)
		}
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
	}
	return sent, nil
}
