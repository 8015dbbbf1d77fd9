package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
)

// published records what the relay publishes, in order.
type published struct{ payments []string }

func (p *published) Publish(_ context.Context, events []payments.OutboxEvent) ([]int64, error) {
	var sent []int64
	for _, e := range events {
		var m payments.Payment
		if err := json.Unmarshal(e.Payload, &m); err != nil || m.ID != e.PaymentID || m.Status != payments.StatusPending {
			return sent, err
		}
		p.payments = append(p.payments, m.ID)
		sent = append(sent, e.ID)
	}
	return sent, nil
}

// The created event is the outbox message, and the relay never passes one
// whose transaction is still open: ids are drawn before their transactions
// commit, in any order, so a position on ids alone would skip a payment
// committed after a later one. Here a transaction that began first commits
// last; the relay waits for it, then publishes both, its payment first.
func TestRelayNeverPassesAPaymentStillToCommit(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	relay := postgres.NewOutboxRelay(h.pool)
	out := &published{}
	var valid bool // built by 00009, outside a transaction
	if err := h.admin.QueryRow(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'payments.payment_events_unrelayed'::regclass`).Scan(&valid); err != nil || !valid {
		t.Fatalf("the relay's index: valid %v, %v", valid, err)
	}

	open, err := h.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	if _, err := open.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil { // its transaction id, drawn first
		t.Fatal(err)
	}
	later := h.pay(t, "m1", 1, "tok_12345678")[0] // created and committed meanwhile

	if n, err := relay.RelayBatch(ctx, out, 50); err != nil || n != 0 {
		t.Fatalf("published %d (%v) past a transaction still open", n, err)
	}
	var first string
	if err := open.QueryRow(ctx, `INSERT INTO payments.payment_events (payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash)
		VALUES (gen_random_uuid(), 1, 'created', 'm1', 'api-key:k1', 'req-open', now(), '{"amount":5,"currency":"SGD","reference":"r"}', decode(repeat('00', 32), 'hex'))
		RETURNING payment_id`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := relay.RelayBatch(ctx, out, 50)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if !slices.Equal(out.payments, []string{first, later}) {
		t.Errorf("published %v, want %v (the earlier transaction's first, each once)", out.payments, []string{first, later})
	}
	if b, err := relay.Backlog(ctx); err != nil || b.Unsent != 0 {
		t.Errorf("backlog %+v %v after publishing everything", b, err)
	}
}

// A relay position that cannot be right stops the relay loudly instead of
// skipping payments in silence: missing, or ahead of every transaction of
// the cluster (the database restored or copied into a cluster whose
// transaction counter is behind). The backlog is not reported either, which
// the relay-stalled alarm treats as breaching.
func TestRelayRefusesAnImpossiblePosition(t *testing.T) {
	for name, damage := range map[string]string{
		"Missing": `DELETE FROM payments.relay_position`,
		"Ahead":   `UPDATE payments.relay_position SET xact = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text::xid8`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHistory(t)
			ctx := context.Background()
			h.pay(t, "m1", 1, "tok_12345678")
			if _, err := h.admin.Exec(damage); err != nil {
				t.Fatal(err)
			}
			relay := postgres.NewOutboxRelay(h.pool)
			if _, err := relay.RelayBatch(ctx, &published{}, 50); !errors.Is(err, postgres.ErrRelayPosition) {
				t.Errorf("relayed with the position %s: %v", name, err)
			}
			if b, err := relay.Backlog(ctx); !errors.Is(err, postgres.ErrRelayPosition) {
				t.Errorf("reported a backlog of %+v with the position %s: %v", b, name, err)
			}
		})
	}
}
