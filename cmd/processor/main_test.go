package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/emf"
	"github.com/fintech/payments-platform/metrics"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

type fixture struct {
	pool    *pgxpool.Pool
	service *postgres.PaymentService
	handler handler
	metrics *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	records := &bytes.Buffer{}
	return &fixture{pool: pool, service: postgres.NewPaymentService(pool, pool), metrics: records, handler: handler{
		processor: postgres.NewPaymentProcessor(pool, payments.RulesAcquirer{}),
		metrics:   emf.New(records, metrics.Namespace, map[string]string{"Environment": "test"}),
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:       time.Now,
	}}
}

// create makes a payment through the service, as the API does, and returns
// the outbox message the relay would send.
func (f *fixture) create(t *testing.T, amount int64, token string) events.SQSMessage {
	t.Helper()
	p := payments.NewPayment{MerchantID: "merchant-1", Amount: amount, Currency: "SGD", PaymentMethodToken: token, Reference: "r"}
	res, err := f.service.CreatePayment(context.Background(), payments.Actor{Credential: "test", RequestID: "r"}, payments.Idempotency{Key: fmt.Sprint(rand.Int64()), Fingerprint: p.Fingerprint()}, p)
	if err != nil {
		t.Fatal(err)
	}
	// The message the relay sends: the payment as the API returned it.
	body, err := json.Marshal(res.Payment)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: "m-" + res.Payment.ID, Body: string(body)}
}

func (f *fixture) status(t *testing.T, body string) (status string, ledgerSum, entries int64) {
	t.Helper()
	var msg struct{ ID string }
	json.Unmarshal([]byte(body), &msg)
	ctx := context.Background()
	f.pool.QueryRow(ctx, `SELECT status FROM payments.payments WHERE id = $1`, msg.ID).Scan(&status)
	f.pool.QueryRow(ctx, `SELECT coalesce(sum(amount_minor), 0), count(*) FROM payments.ledger_entries WHERE payment_id = $1`, msg.ID).Scan(&ledgerSum, &entries)
	return
}

func failures(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestSettlement(t *testing.T) {
	f := newFixture(t)
	settle, decline := f.create(t, 1250, "tok_4f9a8b7c6d5e"), f.create(t, 900, "tok_decline_0001")
	resp, _ := f.handler.handle(context.Background(), &events.SQSEvent{Records: []events.SQSMessage{settle, decline}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if status, sum, n := f.status(t, settle.Body); status != "settled" || sum != 0 || n != 3 {
		t.Errorf("settled payment: %s, ledger sum %d over %d entries; want settled, 0 over 3", status, sum, n)
	}
	if status, _, n := f.status(t, decline.Body); status != "declined" || n != 0 {
		t.Errorf("declined payment: %s with %d ledger entries", status, n)
	}
	var fee, merchant int64
	f.pool.QueryRow(context.Background(), `SELECT sum(amount_minor) FILTER (WHERE account = 'fees'), sum(amount_minor) FILTER (WHERE account LIKE 'merchant:%') FROM payments.ledger_entries`).Scan(&fee, &merchant)
	if fee != payments.Fee(1250, "SGD") || merchant != 1250-payments.Fee(1250, "SGD") {
		t.Errorf("fee %d merchant %d", fee, merchant)
	}
	// Records are processed concurrently: one line per record, in any order.
	lines := strings.Split(strings.TrimSpace(f.metrics.String()), "\n")
	settledLine, declinedLine := 0, 0
	for _, line := range lines {
		if strings.Contains(line, `"PaymentsSettled":1`) && strings.Contains(line, `"ProcessingTime":`) {
			settledLine++
		}
		if strings.Contains(line, `"PaymentsDeclined":1`) {
			declinedLine++
		}
	}
	if len(lines) != 2 || settledLine != 1 || declinedLine != 1 {
		t.Errorf("metric records:\n%s", f.metrics.String())
	}
}

// Redelivery, sequential or concurrent, changes nothing and posts nothing twice.
func TestDuplicates(t *testing.T) {
	f := newFixture(t)
	msg := f.create(t, 5000, "tok_4f9a8b7c6d5e")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, _ := f.handler.handle(context.Background(), &events.SQSEvent{Records: []events.SQSMessage{msg}}); len(resp.BatchItemFailures) != 0 {
				t.Errorf("a duplicate failed: %v", failures(resp))
			}
		}()
	}
	wg.Wait()
	f.handler.handle(context.Background(), &events.SQSEvent{Records: []events.SQSMessage{msg}})
	if status, sum, n := f.status(t, msg.Body); status != "settled" || sum != 0 || n != 3 {
		t.Errorf("after 9 deliveries: %s, sum %d, %d entries; want settled, 0, 3", status, sum, n)
	}
	if got := strings.Count(f.metrics.String(), `"PaymentsSettled":1`); got != 1 {
		t.Errorf("%d settlements counted, want 1", got)
	}
}

// Malformed and permanently failing messages are reported (and so reach the
// dead-letter queue after maxReceiveCount); the good ones in the same batch
// are not.
func TestPoisonMessagesFailOnlyThemselves(t *testing.T) {
	f := newFixture(t)
	good := f.create(t, 700, "tok_4f9a8b7c6d5e")
	batch := []events.SQSMessage{
		{MessageId: "not-json", Body: "{"},
		{MessageId: "no-id", Body: `{"amount":1}`},
		good,
		{MessageId: "unknown-payment", Body: `{"id":"0190a8e4-1f0b-7c2e-8d5a-3b6f9e2c1d4a"}`},
	}
	resp, err := f.handler.handle(context.Background(), &events.SQSEvent{Records: batch})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(failures(resp), ","); got != "not-json,no-id,unknown-payment" {
		t.Errorf("failures %q", got)
	}
	if status, _, _ := f.status(t, good.Body); status != "settled" {
		t.Errorf("the good message's payment is %s", status)
	}
	if got := strings.Count(f.metrics.String(), `"PaymentsFailed":1`); got != 3 {
		t.Errorf("%d failures counted, want 3", got)
	}
}

// A database outage fails the batch's items (not the invocation), and
// redelivery after recovery settles them.
func TestTransientDatabaseErrorFailsOnlyItsItems(t *testing.T) {
	f := newFixture(t)
	msgs := []events.SQSMessage{f.create(t, 100, "tok_4f9a8b7c6d5e"), f.create(t, 200, "tok_4f9a8b7c6d5e")}
	if err := server.Pause(); err != nil {
		t.Fatal(err)
	}
	resp, err := f.handler.handle(context.Background(), &events.SQSEvent{Records: msgs})
	if resumeErr := server.Resume(); resumeErr != nil {
		t.Fatal(resumeErr)
	}
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("during the outage: err %v, failures %v", err, failures(resp))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ = f.handler.handle(context.Background(), &events.SQSEvent{Records: msgs})
		if len(resp.BatchItemFailures) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, m := range msgs {
		if status, sum, _ := f.status(t, m.Body); status != "settled" || sum != 0 {
			t.Errorf("after recovery: %s, sum %d", status, sum)
		}
	}
}

// Over a random batch of payments, every settled payment's postings sum to
// zero, and so does the whole ledger.
func TestLedgerBalancesOverARandomBatch(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(42, 7))
	var batch []events.SQSMessage
	for range 60 {
		token := "tok_4f9a8b7c6d5e"
		if r.IntN(5) == 0 {
			token = "tok_decline_0042"
		}
		batch = append(batch, f.create(t, 1+r.Int64N(2_000_000), token))
	}
	for i := 0; i < len(batch); i += 10 { // SQS batches of 10
		if resp, _ := f.handler.handle(context.Background(), &events.SQSEvent{Records: batch[i : i+10]}); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("failures %v", failures(resp))
		}
	}
	var unbalanced, total, settledWithoutEntries int64
	ctx := context.Background()
	f.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT payment_id FROM payments.ledger_entries GROUP BY payment_id HAVING sum(amount_minor) <> 0) x`).Scan(&unbalanced)
	f.pool.QueryRow(ctx, `SELECT coalesce(sum(amount_minor), 0) FROM payments.ledger_entries`).Scan(&total)
	f.pool.QueryRow(ctx, `SELECT count(*) FROM payments.payments p WHERE status = 'settled' AND NOT EXISTS (SELECT 1 FROM payments.ledger_entries l WHERE l.payment_id = p.id)`).Scan(&settledWithoutEntries)
	if unbalanced != 0 || total != 0 || settledWithoutEntries != 0 {
		t.Errorf("unbalanced payments %d, ledger total %d, settled without postings %d", unbalanced, total, settledWithoutEntries)
	}
}
