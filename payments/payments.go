// Package payments is the domain: payments, their states, validation, the
// errors the service reports, and the service interface. It imports neither
// the AWS SDK nor a database driver; dependency packages implement Service.
package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/currency"
)

// Status is where a payment is in its life.
type Status string

// The states a payment moves through: created pending, claimed by the
// processor, then settled or declined.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusSettled    Status = "settled"
	StatusDeclined   Status = "declined"
)

// Payment is a payment as stored.
type Payment struct {
	ID                 string    `json:"id"`
	MerchantID         string    `json:"merchantId"`
	Amount             int64     `json:"amount"`
	Currency           string    `json:"currency"`
	PaymentMethodToken string    `json:"-"` // never echoed or logged
	Reference          string    `json:"reference"`
	Status             Status    `json:"status"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// MaxAmount bounds a single payment (in minor units): 10^15 is ten trillion
// of a two-decimal currency, far above any card payment, and far below
// int64's overflow in sums.
const MaxAmount int64 = 1_000_000_000_000_000

// NewPayment is a validated request to create a payment.
type NewPayment struct {
	MerchantID         string
	Amount             int64
	Currency           string
	PaymentMethodToken string
	Reference          string
}

var (
	merchantIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	tokenPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{8,128}$`)
)

// Validate checks every field and reports the first problem with a stable
// reason.
func (p NewPayment) Validate() error {
	switch {
	case p.MerchantID == "":
		return Errorf(EINVALID, "merchant_id_required", "merchantId is required")
	case !merchantIDPattern.MatchString(p.MerchantID):
		return Errorf(EINVALID, "merchant_id_invalid", "merchantId must be 1-64 letters, digits, '-' or '_'")
	case p.Amount <= 0:
		return Errorf(EINVALID, "amount_not_positive", "amount must be a positive integer number of minor units")
	case p.Amount > MaxAmount:
		return Errorf(EINVALID, "amount_out_of_range", "amount must not exceed %d minor units", MaxAmount)
	case !validCurrency(p.Currency):
		return Errorf(EINVALID, "currency_unknown", "currency must be an ISO 4217 code in upper case, e.g. SGD")
	case p.PaymentMethodToken == "":
		return Errorf(EINVALID, "payment_method_token_required", "paymentMethodToken is required")
	case !tokenPattern.MatchString(p.PaymentMethodToken):
		return Errorf(EINVALID, "payment_method_token_invalid", "paymentMethodToken must be 8-128 letters, digits, '-' or '_' (a token, never a card number)")
	case p.Reference == "":
		return Errorf(EINVALID, "reference_required", "reference is required")
	case utf8.RuneCountInString(p.Reference) > 140 || strings.ContainsFunc(p.Reference, isControl):
		return Errorf(EINVALID, "reference_invalid", "reference must be at most 140 printable characters")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func validCurrency(code string) bool {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return false
	}
	_, err := currency.ParseISO(code)
	return err == nil
}

// Fingerprint identifies the request's content, so a retried request with
// an Idempotency-Key can be told from a different request with the same key.
func (p NewPayment) Fingerprint() string {
	h := sha256.New()
	for _, field := range []string{p.MerchantID, fmt.Sprint(p.Amount), p.Currency, p.PaymentMethodToken, p.Reference} {
		fmt.Fprintf(h, "%d:%s;", len(field), field)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Idempotency identifies one logical request: the key a client sent, scoped
// to the client (its API key id), and the request's fingerprint.
type Idempotency struct {
	Scope       string
	Key         string
	Fingerprint string
}

// Result is what creating a payment produced: the payment, and whether it
// is a replay of an earlier request with the same key.
type Result struct {
	Payment  Payment
	Replayed bool
}

// Service creates and reads payments.
type Service interface {
	// CreatePayment creates the payment and its outbox event atomically. The
	// same Idempotency (scope, key, fingerprint) returns the original payment
	// with Replayed set and creates nothing; the same key with another
	// fingerprint fails with ECONFLICT reason idempotency_key_reused.
	CreatePayment(ctx context.Context, idem Idempotency, p NewPayment) (Result, error)
	// Payment returns the payment with this id, or ENOTFOUND.
	Payment(ctx context.Context, id string) (Payment, error)
	// Ping checks that the service can reach its store.
	Ping(ctx context.Context) error
}

// Decision is an acquirer's answer for a payment.
type Decision struct {
	Approved bool
	Reason   string // why it was declined
}

// Acquirer authorizes payments with the external payment network. It must
// be idempotent per payment id: a redelivered message asks again.
type Acquirer interface {
	Authorize(ctx context.Context, p Payment) (Decision, error)
}

// Posting is one ledger entry: a signed amount on an account.
type Posting struct {
	Account string
	Amount  int64
}

// Postings are the double-entry ledger entries of a settled payment: the
// customer pays the amount, the fee account takes the fee, the merchant the
// rest. They always sum to zero; zero entries are left out.
func Postings(p Payment) []Posting {
	fee := Fee(p.Amount)
	all := []Posting{
		{Account: "customer:" + p.PaymentMethodToken, Amount: -p.Amount},
		{Account: "merchant:" + p.MerchantID, Amount: p.Amount - fee},
		{Account: "fees", Amount: fee},
	}
	postings := all[:0]
	for _, posting := range all {
		if posting.Amount != 0 {
			postings = append(postings, posting)
		}
	}
	return postings
}

// Fee is 2.9 % plus 30 minor units, rounded down, and never more than the
// amount, so that the merchant's posting is never negative.
func Fee(amount int64) int64 {
	return min(amount, amount/1000*29+amount%1000*29/1000+30)
}

// Outcome says what processing did to a payment.
type Outcome struct {
	Payment Payment
	// Duplicate is true when the payment had already reached a final state
	// (a redelivered message): nothing was changed.
	Duplicate bool
}

// Processor moves payments from pending to settled or declined.
type Processor interface {
	Process(ctx context.Context, paymentID string) (Outcome, error)
}
