package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/payments"
)

// OutboxRelay publishes pending outbox rows. Several relays (one per API
// task) run at once: each claims its rows with FOR UPDATE SKIP LOCKED, so
// they never wait for or publish each other's rows. Rows are marked sent in
// the claiming transaction after publishing: a crash between the two only
// republishes (at-least-once delivery, absorbed by the processor), and no
// committed payment is ever left unpublished.
type OutboxRelay struct {
	pool *pgxpool.Pool
}

// NewOutboxRelay relays from pool (the writer).
func NewOutboxRelay(pool *pgxpool.Pool) *OutboxRelay { return &OutboxRelay{pool: pool} }

// Backlog is what the outbox holds unsent.
type Backlog struct {
	Unsent int
	// OldestAge is how long ago the oldest unsent row was written, by the
	// database's clock; 0 when nothing is unsent.
	OldestAge time.Duration
}

// Backlog reports the unsent rows: a relay that has stopped shows as a
// backlog whose oldest row keeps ageing, whatever the relay's own state.
func (r *OutboxRelay) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var seconds float64
	err := r.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM payments.outbox WHERE sent_at IS NULL`).Scan(&b.Unsent, &seconds)
	if err != nil {
		return Backlog{}, classify(err)
	}
	b.OldestAge = time.Duration(seconds * float64(time.Second))
	return b, nil
}

// RelayBatch claims up to limit rows, publishes them and marks the published
// ones sent. It returns how many it sent.
func (r *OutboxRelay) RelayBatch(ctx context.Context, publisher payments.Publisher, limit int) (int, error) {
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
