package postgres

import (
	"context"
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

// Process claims the payment (pending, or processing after a crashed
// attempt), asks the acquirer outside any transaction (no lock is held
// across a network call), then settles or declines it and, when settled,
// writes its balanced ledger postings in the same transaction.
func (p *PaymentProcessor) Process(ctx context.Context, id string) (payments.Outcome, error) {
	pay, err := scanPayment(p.pool.QueryRow(ctx, `UPDATE payments.payments SET status = 'processing', updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'processing') RETURNING `+paymentColumns, id))
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
	if !decision.Approved {
		status, reason = payments.StatusDeclined, decision.Reason
	}
	final, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments
		SET status = $2, decline_reason = NULLIF($3, ''), settled_at = CASE WHEN $2 = 'settled' THEN now() END, updated_at = now()
		WHERE id = $1 AND status = 'processing' RETURNING `+paymentColumns, id, string(status), reason))
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

// RulesAcquirer stands in for the external payment network until one is
// contracted: it declines payment-method tokens that start with
// "tok_decline" and approves the rest, deterministically per payment.
type RulesAcquirer struct{}

// Authorize implements payments.Acquirer.
func (RulesAcquirer) Authorize(_ context.Context, p payments.Payment) (payments.Decision, error) {
	if len(p.PaymentMethodToken) >= 11 && p.PaymentMethodToken[:11] == "tok_decline" {
		return payments.Decision{Approved: false, Reason: "declined_by_issuer"}, nil
	}
	return payments.Decision{Approved: true}, nil
}
