// Command processor is the SQS-triggered Lambda that settles payments.
//
// Each message is an outbox event (the payment as created, JSON with its
// "id"). Every record is processed; the ones that fail are reported in
// BatchItemFailures, so SQS redelivers only those, and a message that keeps
// failing (malformed, or about a payment that does not exist) moves to the
// dead-letter queue after the queue's maxReceiveCount. Redelivery is
// harmless: state transitions are conditional. Every record emits an
// Embedded Metric Format line: processing time (creation to settlement),
// handler time and the outcome counts, with the environment as dimension.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/emf"
	"github.com/fintech/payments-platform/metrics"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
)

type handler struct {
	processor payments.Processor
	metrics   *emf.Logger
	log       *slog.Logger
	now       func() time.Time
}

// recordConcurrency is how many records of a batch are processed at once:
// the records are independent (duplicates are resolved by the conditional
// updates), and the database pool has this many connections.
const recordConcurrency = 4

// handle processes every record, recordConcurrency at a time, and reports
// the failures.
func (h handler) handle(ctx context.Context, event *events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(event.Records))
	slots := make(chan struct{}, recordConcurrency)
	var wg sync.WaitGroup
	for i, record := range event.Records {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			failed[i] = h.processRecord(ctx, record) != nil
		}()
	}
	wg.Wait()
	var resp events.SQSEventResponse
	for i, record := range event.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: record.MessageId})
		}
	}
	return resp, nil
}

func (h handler) processRecord(ctx context.Context, record events.SQSMessage) error {
	start := h.now()
	var message struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(record.Body), &message); err != nil || message.ID == "" {
		h.log.ErrorContext(ctx, "malformed message", "messageId", record.MessageId, "receiveCount", record.Attributes["ApproximateReceiveCount"])
		h.emit(ctx, record.MessageId, "", start, nil, metrics.Failed)
		return errors.New("malformed message")
	}
	outcome, err := h.processor.Process(ctx, message.ID, payments.Actor{Credential: "processor", RequestID: record.MessageId})
	if err != nil {
		h.log.ErrorContext(ctx, "payment not processed", "messageId", record.MessageId, "paymentId", message.ID,
			"code", payments.ErrorCode(err), "error", err)
		h.emit(ctx, record.MessageId, message.ID, start, nil, metrics.Failed)
		return err
	}
	if outcome.Duplicate {
		h.log.InfoContext(ctx, "duplicate delivery", "messageId", record.MessageId, "paymentId", message.ID, "status", outcome.Payment.Status)
		return nil
	}
	counter := metrics.Settled
	if outcome.Payment.Status == payments.StatusDeclined {
		counter = metrics.Declined
	}
	h.emit(ctx, record.MessageId, message.ID, start, &outcome.Payment, counter)
	return nil
}

func (h handler) emit(ctx context.Context, messageID, paymentID string, start time.Time, p *payments.Payment, counter string) {
	record := []emf.Metric{{Name: metrics.HandlerTime, Unit: emf.Milliseconds, Value: float64(h.now().Sub(start).Microseconds()) / 1000}}
	for _, name := range []string{metrics.Settled, metrics.Declined, metrics.Failed} {
		value := 0.0
		if name == counter {
			value = 1
		}
		record = append(record, emf.Metric{Name: name, Unit: emf.Count, Value: value})
	}
	if p != nil {
		record = append(record, emf.Metric{Name: metrics.ProcessingTime, Unit: emf.Milliseconds, Value: float64(p.UpdatedAt.Sub(p.CreatedAt).Microseconds()) / 1000})
	}
	if err := h.metrics.Emit(record, map[string]any{"messageId": messageID, "paymentId": paymentID}); err != nil {
		h.log.ErrorContext(ctx, "metric record not written", "error", err)
	}
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("processor cannot start", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	ctx := context.Background()
	cfg := postgres.PoolConfig{DSN: os.Getenv(database.EnvURL), MaxConns: recordConcurrency}
	if cfg.DSN == "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		if cfg, err = postgres.IAMPoolConfig(os.Getenv, awsCfg.Region, awsCfg.Credentials, recordConcurrency); err != nil {
			return err
		}
	}
	pool, err := postgres.NewPool(ctx, cfg)
	if err != nil {
		return err
	}
	h := handler{
		processor: postgres.NewPaymentProcessor(pool, payments.RulesAcquirer{}),
		// EMF on stdout, logs on stderr: both reach CloudWatch Logs.
		metrics: emf.New(os.Stdout, metrics.Namespace, map[string]string{metrics.DimensionEnvironment: os.Getenv("ENVIRONMENT")}),
		log:     logger,
		now:     time.Now,
	}
	lambda.Start(h.handle)
	return nil
}
