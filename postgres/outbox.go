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

// relayRoundTimeout bounds one round of RelayBatch.
const relayRoundTimeout = 10 * time.Second

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

// unrelayed are the created events past a position ($1 xact, $2 id), by
// the partial index payment_events_unrelayed. The position is a parameter,
// not a join, so that the index is entered at it rather than walked from
// its start.
const unrelayed = `FROM payments.payment_events e
	WHERE e.event_type = 'created' AND e.xact IS NOT NULL AND (e.xact, e.id) > ($1::xid8, $2::bigint)`

// ErrRelayPosition is a relay position that cannot be right: missing, or
// ahead of every transaction of this cluster (the database was restored or
// copied into a cluster whose transaction counter is behind). Relaying would
// silently skip payments, so the relay stops and says so, and the backlog
// is not reported (the relay-stalled alarm treats that as breaching).
var ErrRelayPosition = errors.New("outbox: the relay position is missing or ahead of this cluster's transactions (docs/RUNBOOK.md, relay-stalled)")

// readPosition reads the relay's position, taking its turn when lock is
// set: ok is false when another relay has the turn.
func readPosition(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, lock bool) (at position, ok bool, err error) {
	query := `SELECT xact::text, id, xact > pg_snapshot_xmax(pg_current_snapshot()) FROM payments.relay_position WHERE relay = $1`
	if lock {
		query += ` FOR UPDATE SKIP LOCKED`
	}
	var ahead bool
	err = q.QueryRow(ctx, query, relayName).Scan(&at.xact, &at.id, &ahead)
	if errors.Is(err, pgx.ErrNoRows) && lock {
		// Locked by another relay, or missing.
		var exists bool
		if err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payments.relay_position WHERE relay = $1)`, relayName).Scan(&exists); err == nil {
			if exists {
				return at, false, nil
			}
			return at, false, ErrRelayPosition
		}
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return at, false, ErrRelayPosition
	case err != nil:
		return at, false, classify(err)
	case ahead:
		return at, false, fmt.Errorf("%w: it is at transaction %s", ErrRelayPosition, at.xact)
	}
	return at, true, nil
}

// Backlog reports the unsent payments: a relay that has stopped shows as a
// backlog whose oldest payment keeps ageing, whatever the relay's own
// state.
func (r *OutboxRelay) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var seconds float64
	at, _, err := readPosition(ctx, r.pool, false)
	if err != nil {
		return Backlog{}, err
	}
	err = r.pool.QueryRow(ctx, `SELECT sum(n)::int, coalesce(extract(epoch FROM now() - min(oldest)), 0)::float8 FROM (
		SELECT count(*) AS n, min(e.occurred_at) AS oldest `+unrelayed+`
		UNION ALL
		SELECT count(*), min(created_at) FROM payments.outbox WHERE sent_at IS NULL) backlog`, at.xact, at.id).Scan(&b.Unsent, &seconds)
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
	// A hung call must not hold the turn (and a transaction id, which holds
	// every relay's horizon back) for long.
	ctx, cancel := context.WithTimeout(ctx, relayRoundTimeout)
	defer cancel()
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
	at, turn, err := readPosition(ctx, tx, true)
	if err != nil || !turn {
		return 0, err
	}
	// Below the oldest transaction still running, the events are final.
	rows, err := tx.Query(ctx, `SELECT e.id, e.xact::text, e.payment_id, e.merchant_id, e.occurred_at, e.details `+unrelayed+`
		AND e.xact < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.xact, e.id LIMIT $3`, at.xact, at.id, limit)
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
	var to position
	if published > 0 {
		to = positions[published-1]
	}
	return record(ctx, tx, published, err, `UPDATE payments.relay_position SET xact = $2::xid8, id = $3 WHERE relay = $1`, relayName, to.xact, to.id)
}

// record ends a round that published n events: it runs statement (which
// records them as sent) and commits when n > 0, and reports n and the
// publisher's error.
func record(ctx context.Context, tx pgx.Tx, n int, publishErr error, statement string, args ...any) (int, error) {
	if n > 0 {
		if _, err := tx.Exec(ctx, statement, args...); err != nil {
			return 0, classify(err)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, classify(err)
		}
	}
	if publishErr != nil {
		return n, fmt.Errorf("outbox: publish: %w", publishErr)
	}
	return n, nil
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
	return record(ctx, tx, len(sent), err, `UPDATE payments.outbox SET sent_at = now() WHERE id = ANY($1)`, sent)
}
