package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/payments"
)

// PaymentService implements payments.Service on PostgreSQL: writes go to the
// writer, reads to the readers.
type PaymentService struct {
	writer, reader *pgxpool.Pool
}

var _ payments.Service = (*PaymentService)(nil)

// NewPaymentService uses writer for writes and reader for reads (they may be
// the same pool).
func NewPaymentService(writer, reader *pgxpool.Pool) *PaymentService {
	return &PaymentService{writer: writer, reader: reader}
}

// createPayment is the whole write, one statement and so one transaction
// and one round trip: the idempotency row first (ON CONFLICT DO NOTHING),
// then the payment and the first event of its history (see
// payments.payment_events), which is also its outbox message (OutboxRelay),
// only if that row was new. A
// concurrent request with the same key blocks on the idempotency row until
// this statement's transaction ends, then finds it committed and replays it:
// concurrent duplicates create exactly one payment and never see half of
// one. (Foreign keys are checked at the end of the statement.)
const createPayment = `WITH idem AS (
	INSERT INTO payments.idempotency_keys
		(merchant_id, idempotency_key, request_hash, payment_id, response_status, response_body, created_at)
	VALUES ($1, $2, $3, $4, 201, $11, $10)
	ON CONFLICT DO NOTHING
	RETURNING payment_id
), pay AS (
	INSERT INTO payments.payments
		(id, merchant_id, amount_minor, currency, payment_method_token, reference, status, created_at, updated_at)
	SELECT payment_id, $5, $6, $7, $8, $9, 'pending', $10, $10 FROM idem
	RETURNING id
)
INSERT INTO payments.payment_events
	(payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash)
SELECT id, 1, 'created', $5, $12, $13, $10, $14, $15 FROM pay`

// CreatePayment creates the payment, its created event and the idempotency
// record atomically, or replays the request that used the key first.
func (s *PaymentService) CreatePayment(ctx context.Context, by payments.Actor, idem payments.Idempotency, p payments.NewPayment) (payments.Result, error) {
	fingerprint, err := hex.DecodeString(idem.Fingerprint)
	if err != nil || len(fingerprint) == 0 {
		return payments.Result{}, fmt.Errorf("postgres: fingerprint %q is not hex", idem.Fingerprint)
	}
	id, err := uuid.NewV7() // time-ordered: inserts stay at the right edge of the index
	if err != nil {
		return payments.Result{}, err
	}
	// PostgreSQL keeps microseconds; truncating here makes the response,
	// the stored snapshot and later reads agree to the byte.
	now := time.Now().UTC().Truncate(time.Microsecond)
	pay := payments.Payment{ID: id.String(), MerchantID: p.MerchantID, Amount: p.Amount, Currency: p.Currency,
		PaymentMethodToken: p.PaymentMethodToken, Reference: p.Reference, Status: payments.StatusPending,
		CreatedAt: now, UpdatedAt: now}
	snapshot, err := json.Marshal(pay) // the response, replayed for a retried request
	if err != nil {
		return payments.Result{}, err
	}
	// What the history records of the creation: never the token.
	details, err := json.Marshal(struct {
		Amount    int64  `json:"amount"`
		Currency  string `json:"currency"`
		Reference string `json:"reference"`
	}{pay.Amount, pay.Currency, pay.Reference})
	if err != nil {
		return payments.Result{}, err
	}
	created := audit.Event{PaymentID: pay.ID, Seq: 1, Type: "created", MerchantID: pay.MerchantID,
		Actor: by.Credential, RequestID: by.RequestID, OccurredAt: now, Details: string(details)}
	// The first event's hash is computed here, as payments.event_hash
	// would (TestEventHashAgreesWithGo): everything
	// it covers is known before the statement, and the tasks scale out
	// where the writer does not (docs/CAPACITY.md, "History and pgaudit").
	tag, err := s.writer.Exec(ctx, createPayment, p.MerchantID, idem.Key, fingerprint, pay.ID,
		pay.MerchantID, pay.Amount, pay.Currency, pay.PaymentMethodToken, pay.Reference, now, snapshot,
		created.Actor, created.RequestID, created.Details, audit.Hash(nil, created))
	if err != nil {
		return payments.Result{}, classify(err)
	}
	if tag.RowsAffected() == 0 {
		return s.replay(ctx, p.MerchantID, idem, fingerprint)
	}
	return payments.Result{Payment: pay}, nil
}

// replay answers a request whose key was used before: the original payment
// as it was first returned, or a conflict if the request differs.
func (s *PaymentService) replay(ctx context.Context, merchantID string, idem payments.Idempotency, fingerprint []byte) (payments.Result, error) {
	var stored []byte
	var body []byte
	err := s.writer.QueryRow(ctx, `SELECT request_hash, response_body FROM payments.idempotency_keys
		WHERE merchant_id = $1 AND idempotency_key = $2`, merchantID, idem.Key).Scan(&stored, &body)
	if err != nil {
		return payments.Result{}, classify(err)
	}
	if hex.EncodeToString(stored) != hex.EncodeToString(fingerprint) {
		return payments.Result{}, payments.Errorf(payments.ECONFLICT, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request; use a new key for a new payment")
	}
	var pay payments.Payment
	if body == nil {
		// The row exists without a response: impossible, as the statement
		// writes both at once; never answer with an empty payment.
		return payments.Result{}, fmt.Errorf("postgres: idempotency key %q has no stored response", idem.Key)
	}
	if err := json.Unmarshal(body, &pay); err != nil {
		return payments.Result{}, fmt.Errorf("postgres: stored response of %s: %w", idem.Key, err)
	}
	return payments.Result{Payment: pay, Replayed: true}, nil
}

// Payment reads from the readers; a payment too new to have reached them
// (replica lag) is read from the writer. Another merchant's payment is not
// found, exactly like one that does not exist.
func (s *PaymentService) Payment(ctx context.Context, merchantID, id string) (payments.Payment, error) {
	if !payments.IsPaymentID(id) {
		return payments.Payment{}, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no such payment")
	}
	pay, err := readPayment(ctx, s.reader, merchantID, id)
	if errors.Is(err, pgx.ErrNoRows) && s.reader != s.writer {
		pay, err = readPayment(ctx, s.writer, merchantID, id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return payments.Payment{}, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no such payment")
	}
	if err != nil {
		return payments.Payment{}, classify(err)
	}
	return pay, nil
}

// History reads the merchant's payment's events from the readers (the
// writer when the payment is too new to have replicated).
func (s *PaymentService) History(ctx context.Context, merchantID, id string) ([]payments.Event, error) {
	if !payments.IsPaymentID(id) {
		return nil, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no such payment")
	}
	events, err := readHistory(ctx, s.reader, merchantID, id)
	if err == nil && len(events) == 0 && s.reader != s.writer {
		events, err = readHistory(ctx, s.writer, merchantID, id)
	}
	if err != nil {
		return nil, classify(err)
	}
	if len(events) == 0 {
		return nil, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no such payment")
	}
	return events, nil
}

func readHistory(ctx context.Context, pool *pgxpool.Pool, merchantID, id string) ([]payments.Event, error) {
	rows, err := pool.Query(ctx, `SELECT seq, event_type, actor, request_id, occurred_at, details, hash
		FROM payments.payment_events WHERE payment_id = $1 AND merchant_id = $2 ORDER BY seq`, id, merchantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (payments.Event, error) {
		var e payments.Event
		var details string
		var hash []byte
		err := row.Scan(&e.Seq, &e.Type, &e.Actor, &e.RequestID, &e.OccurredAt, &details, &hash)
		e.Details, e.Hash = json.RawMessage(details), hex.EncodeToString(hash)
		e.OccurredAt = e.OccurredAt.UTC()
		return e, err
	})
}

// publicColumns are what the API shows of a payment (never the token).
const publicColumns = `id, merchant_id, amount_minor, currency, reference, status, created_at, updated_at`

func scanPublic(row pgx.Row) (payments.Payment, error) {
	var p payments.Payment
	var status string
	err := row.Scan(&p.ID, &p.MerchantID, &p.Amount, &p.Currency, &p.Reference, &status, &p.CreatedAt, &p.UpdatedAt)
	p.Status = payments.Status(status)
	return p, err
}

func readPayment(ctx context.Context, pool *pgxpool.Pool, merchantID, id string) (payments.Payment, error) {
	return scanPublic(pool.QueryRow(ctx, `SELECT `+publicColumns+` FROM payments.payments WHERE id = $1 AND merchant_id = $2`, id, merchantID))
}

// Payments reads a page of the merchant's payments from the readers,
// newest first, by the (merchant_id, id) index: ids are UUIDv7, ordered by
// creation time. A payment created a moment ago may not have reached the
// readers yet; a client that needs it reads it by id.
func (s *PaymentService) Payments(ctx context.Context, merchantID string, page payments.PageRequest) (payments.PaymentPage, error) {
	if page.Limit < 1 || page.Limit > payments.MaxPageSize {
		return payments.PaymentPage{}, payments.Errorf(payments.EINVALID, "limit_invalid", "limit must be 1-%d", payments.MaxPageSize)
	}
	var before *string
	if page.Before != "" {
		if !payments.IsPaymentID(page.Before) {
			return payments.PaymentPage{}, payments.Errorf(payments.EINVALID, "cursor_invalid", "the cursor is not one this API returned")
		}
		before = &page.Before
	}
	rows, err := s.reader.Query(ctx, `SELECT `+publicColumns+` FROM payments.payments
		WHERE merchant_id = $1 AND ($2::uuid IS NULL OR id < $2::uuid)
		ORDER BY id DESC LIMIT $3`, merchantID, before, page.Limit+1)
	if err != nil {
		return payments.PaymentPage{}, classify(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (payments.Payment, error) { return scanPublic(row) })
	if err != nil {
		return payments.PaymentPage{}, classify(err)
	}
	result := payments.PaymentPage{Payments: list}
	if len(list) > page.Limit {
		result.Payments = list[:page.Limit]
		result.Next = list[page.Limit-1].ID
	}
	return result, nil
}

// Ping checks the writer.
func (s *PaymentService) Ping(ctx context.Context) error {
	return classify(s.writer.Ping(ctx))
}

// classify turns database failures that a retry can cure (connection lost,
// server shutting down or starting, pool exhausted until the deadline) into
// EUNAVAILABLE; everything else stays an internal error.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code[:2] == "08", // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, cannot connect now
			pgErr.Code == "53300": // too many connections
			return &payments.Error{Code: payments.EUNAVAILABLE, Reason: "database_unavailable", Message: "the payment store is unavailable; retry with the same Idempotency-Key"}
		}
		return err
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &payments.Error{Code: payments.EUNAVAILABLE, Reason: "database_unavailable", Message: "the payment store is unavailable; retry with the same Idempotency-Key"}
	}
	return err
}
