package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/payments"
)

// OutboxRelay publishes the payments to process: each payment's created
// event (payments.payment_events, written in the statement that creates the
// payment) is its outbox message. Relays (one per API task) take turns
// through the row lock of payments.relay_position, which holds how far
// they have published, in the order of the transactions that wrote the
// events (migration 00008: a position below the oldest transaction still
// running never passes an event still to commit). The position moves after
// publishing, in the same transaction: a crash between the two only
// republishes (at-least-once delivery, absorbed by the processor), and no
// committed payment is ever left unpublished.
//
// Payments created before the history was the outbox have rows in
// payments.outbox; the relay drains what is left of them the old way.
type OutboxRelay struct {
	pool *pgxpool.Pool
}

// NewOutboxRelay relays from pool (the writer).
func NewOutboxRelay(pool *pgxpool.Pool) *OutboxRelay { return &OutboxRelay{pool: pool} }

// relayName is the row of payments.relay_position the payment queue's
// relays share.
const relayName = "payments"

// Backlog is what is created but not yet published.
type Backlog struct {
	Unsent int
	// OldestAge is how long ago the oldest unsent payment was created, by
	// the database's clock; 0 when nothing is unsent.
	OldestAge time.Duration
}

// unrelayed are the created events past the relay's position (the
// partial index payment_events_unrelayed), oldest transaction first.
const unrelayed = `FROM payments.payment_events e, payments.relay_position r
	WHERE r.relay = '` + relayName + `' AND e.event_type = 'created' AND e.xact IS NOT NULL AND (e.xact, e.id) > (r.xact, r.id)`

// Backlog reports the unsent payments: a relay that has stopped shows as a
// backlog whose oldest payment keeps ageing, whatever the relay's own
// state.
func (r *OutboxRelay) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var seconds float64
	err := r.pool.QueryRow(ctx, `SELECT sum(n)::int, coalesce(extract(epoch FROM now() - min(oldest)), 0)::float8 FROM (
		SELECT count(*) AS n, min(e.occurred_at) AS oldest `+unrelayed+`
		UNION ALL
		SELECT count(*), min(created_at) FROM payments.outbox WHERE sent_at IS NULL) backlog`).Scan(&b.Unsent, &seconds)
	if err != nil {
		return Backlog{}, classify(err)
	}
	b.OldestAge = time.Duration(seconds * float64(time.Second))
	return b, nil
}

// RelayBatch publishes up to limit payments and moves the position past
// the published ones. It returns how many it sent; 0 also when another
// relay has the turn.
func (r *OutboxRelay) RelayBatch(ctx context.Context, publisher payments.Publisher, limit int) (int, error) {
	sent, err := r.relayCreated(ctx, publisher, limit)
	if err != nil || sent == limit {
		return sent, err
	}
	legacy, err := r.relayOutboxTable(ctx, publisher, limit-sent)
	return sent + legacy, err
}

// position is a place in the (xact, id) order of created events.
type position struct {
	xact string // xid8, as text
	id   int64
}

func (r *OutboxRelay) relayCreated(ctx context.Context, publisher payments.Publisher, limit int) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, classify(err)
	}
	defer tx.Rollback(ctx)
	var at position
	err = tx.QueryRow(ctx, `SELECT xact::text, id FROM payments.relay_position WHERE relay = $1 FOR UPDATE SKIP LOCKED`, relayName).Scan(&at.xact, &at.id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil // another relay's turn
	}
	if err != nil {
		return 0, classify(err)
	}
	// Below the oldest transaction still running, the events are final.
	rows, err := tx.Query(ctx, `SELECT e.id, e.xact::text, e.payment_id, e.merchant_id, e.occurred_at, e.details `+unrelayed+`
		AND e.xact < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.xact, e.id LIMIT $1`, limit)
	if err != nil {
		return 0, classify(err)
	}
	defer rows.Close()
	var events []payments.OutboxEvent
	var positions []position
	for rows.Next() {
		var e payments.OutboxEvent
		var p payments.Payment
		var details string
		var pos position
		if err := rows.Scan(&e.ID, &pos.xact, &p.ID, &p.MerchantID, &p.CreatedAt, &details); err != nil {
			return 0, classify(err)
		}
		if e.Payload, err = createdMessage(p, details); err != nil {
			return 0, fmt.Errorf("outbox: event %d: %w", e.ID, err)
		}
		e.PaymentID, pos.id = p.ID, e.ID
		events, positions = append(events, e), append(positions, pos)
	}
	if err := rows.Err(); err != nil {
		return 0, classify(err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	sent, err := publisher.Publish(ctx, events)
	// The position moves over the published prefix only: what follows the
	// first event SQS did not take is published again next time.
	published := 0
	for published < len(events) && slices.Contains(sent, events[published].ID) {
		published++
	}
	if published > 0 {
		to := positions[published-1]
		if _, moveErr := tx.Exec(ctx, `UPDATE payments.relay_position SET xact = $2::xid8, id = $3 WHERE relay = $1`, relayName, to.xact, to.id); moveErr != nil {
			return 0, classify(moveErr)
		}
		if commitErr := tx.Commit(ctx); commitErr != nil {
			return 0, classify(commitErr)
		}
	}
	if err != nil {
		return published, fmt.Errorf("outbox: publish: %w", err)
	}
	return published, nil
}

// createdMessage is the message of a created payment: the payment as the
// API first returned it (what the outbox row held), which the processor
// reads the id of.
func createdMessage(p payments.Payment, details string) ([]byte, error) {
	var created struct {
		Amount    int64  `json:"amount"`
		Currency  string `json:"currency"`
		Reference string `json:"reference"`
	}
	if err := json.Unmarshal([]byte(details), &created); err != nil {
		return nil, err
	}
	p.Amount, p.Currency, p.Reference, p.Status = created.Amount, created.Currency, created.Reference, payments.StatusPending
	p.CreatedAt = p.CreatedAt.UTC()
	p.UpdatedAt = p.CreatedAt
	return json.Marshal(p)
}

// relayOutboxTable publishes rows of payments.outbox, written before the
// history was the outbox: each relay claims its rows with FOR UPDATE SKIP
// LOCKED and marks the published ones sent in the claiming transaction.
func (r *OutboxRelay) relayOutboxTable(ctx context.Context, publisher payments.Publisher, limit int) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, classify(err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT id, payment_id, payload FROM payments.outbox
		WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return 0, classify(err)
	}
	defer rows.Close()
	var events []payments.OutboxEvent
	for rows.Next() {
		var e payments.OutboxEvent
		if err := rows.Scan(&e.ID, &e.PaymentID, &e.Payload); err != nil {
			return 0, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return 0, classify(err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	sent, err := publisher.Publish(ctx, events)
	if len(sent) > 0 {
		if _, markErr := tx.Exec(ctx, `UPDATE payments.outbox SET sent_at = now() WHERE id = ANY($1)`, sent); markErr != nil {
			return 0, classify(markErr)
		}
		if commitErr := tx.Commit(ctx); commitErr != nil {
			return 0, classify(commitErr)
		}
	}
	if err != nil {
		return len(sent), fmt.Errorf("outbox: publish: %w", err)
	}
	return len(sent), nil
}
