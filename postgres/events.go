package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/audit"
)

// EventLog reads payments.payment_events for the audit (audit.Events): as
// the auditor role, which may read the history and nothing else.
type EventLog struct {
	pool *pgxpool.Pool
	// SettleAfter is how old an event must be before it is anchored:
	// longer than any transaction may run (the application role's
	// statement and idle-in-transaction timeouts are 30 s), so that no
	// event with a smaller id can still commit into a range once anchored.
	SettleAfter time.Duration
}

var _ audit.Events = (*EventLog)(nil)

// NewEventLog reads the history in pool.
func NewEventLog(pool *pgxpool.Pool) *EventLog {
	return &EventLog{pool: pool, SettleAfter: 5 * time.Minute}
}

// eventColumns, payment_id as PostgreSQL spells it (the canonical text the
// hash covers).
const eventColumns = `id, payment_id::text, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash`

func scanEvent(row pgx.CollectableRow) (audit.Event, error) {
	var e audit.Event
	err := row.Scan(&e.ID, &e.PaymentID, &e.Seq, &e.Type, &e.MerchantID, &e.Actor, &e.RequestID, &e.OccurredAt, &e.Details, &e.Hash)
	return e, err
}

// Range implements audit.Events.
func (l *EventLog) Range(ctx context.Context, from, to int64) ([]audit.Event, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+eventColumns+` FROM payments.payment_events WHERE id > $1 AND id <= $2 ORDER BY id`, from, to)
	if err != nil {
		return nil, classify(err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	return events, classify(err)
}

// Settled implements audit.Events.
func (l *EventLog) Settled(ctx context.Context) (int64, error) {
	var id int64
	err := l.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM payments.payment_events WHERE occurred_at < now() - $1::interval`,
		l.SettleAfter.String()).Scan(&id)
	return id, classify(err)
}

// Chains implements audit.Events: one pass over the table in (payment,
// seq) order, a payment's events handed over at a time.
func (l *EventLog) Chains(ctx context.Context, fn func([]audit.Event) error) error {
	rows, err := l.pool.Query(ctx, `SELECT `+eventColumns+` FROM payments.payment_events ORDER BY payment_id, seq`)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	var chain []audit.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if len(chain) > 0 && chain[0].PaymentID != e.PaymentID {
			if err := fn(chain); err != nil {
				return err
			}
			chain = nil
		}
		chain = append(chain, e)
	}
	if err := rows.Err(); err != nil {
		return classify(err)
	}
	if len(chain) > 0 {
		return fn(chain)
	}
	return nil
}

// History returns any payment's events (the operator's view; the API's
// is payments.Service.History, for the merchant's own payments).
func (l *EventLog) History(ctx context.Context, paymentID string) ([]audit.Event, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+eventColumns+` FROM payments.payment_events WHERE payment_id = $1 ORDER BY seq`, paymentID)
	if err != nil {
		return nil, classify(err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	return events, classify(err)
}
