package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/payments"
)

// PaymentProcessor implements payments.Processor: pending -> processing ->
// settled or declined, each step a conditional update, so that redelivered
// and concurrent messages change a payment at most once.
type PaymentProcessor struct {
	pool     *pgxpool.Pool
	acquirer payments.Acquirer
}

var _ payments.Processor = (*PaymentProcessor)(nil)

// NewPaymentProcessor processes payments stored in pool (the writer).
func NewPaymentProcessor(pool *pgxpool.Pool, acquirer payments.Acquirer) *PaymentProcessor {
	return &PaymentProcessor{pool: pool, acquirer: acquirer}
}

const paymentColumns = `id, merchant_id, amount_minor, currency, payment_method_token, reference, status, created_at, updated_at`

func scanPayment(row pgx.Row) (payments.Payment, error) {
	var p payments.Payment
	var status string
	err := row.Scan(&p.ID, &p.MerchantID, &p.Amount, &p.Currency, &p.PaymentMethodToken, &p.Reference, &status, &p.CreatedAt, &p.UpdatedAt)
	p.Status = payments.Status(status)
	return p, err
}

// appendEvent is a data-modifying CTE that appends an event to the history
// of the payment the CTE named changed returns (its id and merchant_id):
// seq and hash follow the payment's last event. The payment's row, which
// the same statement updates, serializes a payment's events. Parameters:
// $2 type, and the statement's $n, $n+1, $n+2 actor, request id, details.
func appendEvent(changed, eventType, actor, requestID, details string) string {
	return `INSERT INTO payments.payment_events
		(payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash)
	SELECT c.id, coalesce(last.seq, 0) + 1, ` + eventType + `, c.merchant_id, ` + actor + `, ` + requestID + `, now(), ` + details + `,
		payments.event_hash(last.hash, c.id, ` + eventType + `, c.merchant_id, ` + actor + `, ` + requestID + `, now(), ` + details + `)
	FROM ` + changed + ` c LEFT JOIN LATERAL (
		SELECT seq, hash FROM payments.payment_events e WHERE e.payment_id = c.id ORDER BY seq DESC LIMIT 1
	) last ON true`
}

// claim moves a pending payment (or one a crashed attempt left processing)
// to processing; the history records the first claim only.
var claim = `WITH previous AS (
	SELECT id AS claimed_id, status AS was FROM payments.payments WHERE id = $1 FOR UPDATE
), claimed AS (
	UPDATE payments.payments SET status = 'processing', updated_at = now()
	FROM previous WHERE id = previous.claimed_id AND previous.was IN ('pending', 'processing')
	RETURNING ` + paymentColumns + `, previous.was
), history AS (
	` + appendEvent("(SELECT * FROM claimed WHERE was = 'pending')", "'processing'", "$2", "$3", "'{}'") + `
)
SELECT ` + paymentColumns + ` FROM claimed`

// finish settles or declines a processing payment and records it.
var finish = `WITH finished AS (
	UPDATE payments.payments
	SET status = $2, decline_reason = NULLIF($3, ''), settled_at = CASE WHEN $2 = 'settled' THEN now() END, updated_at = now()
	WHERE id = $1 AND status = 'processing' RETURNING ` + paymentColumns + `
), history AS (
	` + appendEvent("finished", "$2", "$4", "$5", "$6") + `
)
SELECT ` + paymentColumns + ` FROM finished`

// Process claims the payment (pending, or processing after a crashed
// attempt), asks the acquirer outside any transaction (no lock is held
// across a network call), then settles or declines it and, when settled,
// writes its balanced ledger postings in the same transaction. Each step
// appends to the payment's history in the statement that makes it.
func (p *PaymentProcessor) Process(ctx context.Context, id string, by payments.Actor) (payments.Outcome, error) {
	pay, err := scanPayment(p.pool.QueryRow(ctx, claim, id, by.Credential, by.RequestID))
	if errors.Is(err, pgx.ErrNoRows) {
		return p.alreadyFinal(ctx, id)
	}
	if err != nil {
		return payments.Outcome{}, classify(err)
	}

	decision, err := p.acquirer.Authorize(ctx, pay)
	if err != nil {
		return payments.Outcome{}, &payments.Error{Code: payments.EUNAVAILABLE, Reason: "acquirer_unavailable", Message: err.Error()}
	}

	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return payments.Outcome{}, classify(err)
	}
	defer tx.Rollback(ctx)
	status, reason := payments.StatusSettled, ""
	details, _ := json.Marshal(map[string]int64{"fee": payments.Fee(pay.Amount, pay.Currency)})
	if !decision.Approved {
		status, reason = payments.StatusDeclined, decision.Reason
		details, _ = json.Marshal(map[string]string{"reason": reason})
	}
	final, err := scanPayment(tx.QueryRow(ctx, finish, id, string(status), reason, by.Credential, by.RequestID, string(details)))
	if errors.Is(err, pgx.ErrNoRows) {
		// A concurrent delivery of the same message finished first.
		_ = tx.Rollback(ctx)
		return p.alreadyFinal(ctx, id)
	}
	if err != nil {
		return payments.Outcome{}, classify(err)
	}
	if status == payments.StatusSettled {
		batch := &pgx.Batch{}
		for _, posting := range payments.Postings(final) {
			batch.Queue(`INSERT INTO payments.ledger_entries (payment_id, account, amount_minor, currency) VALUES ($1, $2, $3, $4)`,
				final.ID, posting.Account, posting.Amount, final.Currency)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return payments.Outcome{}, classify(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return payments.Outcome{}, classify(err)
	}
	return payments.Outcome{Payment: final}, nil
}

// alreadyFinal answers for a payment that is not pending or processing: a
// duplicate when it is settled or declined, not found when it does not
// exist (a permanent failure).
func (p *PaymentProcessor) alreadyFinal(ctx context.Context, id string) (payments.Outcome, error) {
	pay, err := scanPayment(p.pool.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments.payments WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return payments.Outcome{}, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no payment %q", id)
	}
	if err != nil {
		return payments.Outcome{}, classify(err)
	}
	return payments.Outcome{Payment: pay, Duplicate: true}, nil
}
