package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/emf"
	"github.com/fintech/payments-platform/metrics"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
)

// TestProcessorThroughput measures payments settled per second through the
// handler (batches of 10, as SQS delivers them) against a raw-SQL baseline
// running the same statements with pgx directly, in one run, and prints the
// ratio. It runs only under `make bench-processor` (timings are never
// asserted in tests).
func TestProcessorThroughput(t *testing.T) {
	if os.Getenv("PROCESSOR_BENCH") == "" {
		t.Skip("benchmark: run `make bench-processor`")
	}
	const perRun, workers = 4000, 4 // workers = the event source's MaxConcurrency range
	f := newFixture(t)
	ctx := context.Background()
	seed := func() []string {
		rows, err := f.pool.Query(ctx, `INSERT INTO payments.payments (id, merchant_id, amount_minor, currency, payment_method_token, reference)
			SELECT gen_random_uuid(), 'merchant-1', 1000 + g, 'SGD', 'tok_4f9a8b7c6d5e', 'bench' FROM generate_series(1, $1) g RETURNING id`, perRun)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	// run spreads chunks of 10 over n goroutines.
	run := func(ids []string, n int, work func(chunk []string)) float64 {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w * 10; i < len(ids); i += n * 10 {
					work(ids[i:min(i+10, len(ids))])
				}
			}()
		}
		wg.Wait()
		return float64(len(ids)) / time.Since(start).Seconds()
	}

	baselineIDs, handlerIDs := seed(), seed()
	// The baseline runs at the handler's database concurrency: workers
	// invocations, each settling recordConcurrency records at once.
	baseline := run(baselineIDs, workers*recordConcurrency, func(chunk []string) {
		for _, id := range chunk {
			if err := rawSettle(ctx, f.pool, id); err != nil {
				t.Error(err)
				return
			}
		}
	})
	h := handler{
		processor: postgres.NewPaymentProcessor(f.pool, payments.RulesAcquirer{}),
		metrics:   emf.New(io.Discard, metrics.Namespace, map[string]string{"Environment": "bench"}),
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now,
	}
	through := run(handlerIDs, workers, func(chunk []string) {
		event := &events.SQSEvent{}
		for _, id := range chunk {
			event.Records = append(event.Records, events.SQSMessage{MessageId: id, Body: `{"id":"` + id + `"}`})
		}
		if resp, _ := h.handle(ctx, event); len(resp.BatchItemFailures) > 0 {
			t.Errorf("%d failures", len(resp.BatchItemFailures))
		}
	})
	var unsettled int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM payments.payments WHERE status <> 'settled'`).Scan(&unsettled)
	if unsettled != 0 {
		t.Fatalf("%d payments not settled", unsettled)
	}
	fmt.Printf("processor benchmark: %d payments per run, %d invocations x %d records at once, PostgreSQL on loopback\n", perRun, workers, recordConcurrency)
	fmt.Printf("  raw SQL, same statements  %7.0f payments/s\n", baseline)
	fmt.Printf("  handler (batches of 10)   %7.0f payments/s\n", through)
	fmt.Printf("  ratio handler / raw SQL   %7.2f\n", through/baseline)
}

// rawSettle is the processor's transaction without the handler: claim,
// then settle with the ledger postings, as PaymentProcessor does.
func rawSettle(ctx context.Context, pool *pgxpool.Pool, id string) error {
	var amount int64
	var merchant, token, currency string
	if err := pool.QueryRow(ctx, `UPDATE payments.payments SET status = 'processing', updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'processing') RETURNING amount_minor, merchant_id, payment_method_token, currency`, id).
		Scan(&amount, &merchant, &token, &currency); err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE payments.payments SET status = 'settled', settled_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'processing'`, id); err != nil {
		return err
	}
	batch := &pgx.Batch{}
	for _, p := range payments.Postings(payments.Payment{Amount: amount, MerchantID: merchant, PaymentMethodToken: token}) {
		batch.Queue(`INSERT INTO payments.ledger_entries (payment_id, account, amount_minor, currency) VALUES ($1, $2, $3, $4)`, id, p.Account, p.Amount, currency)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
