// Package payments is the domain: payments, their states, validation, the
// errors the service reports, and the service interface. It imports neither
// the AWS SDK nor a database driver; dependency packages implement Service.
package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
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

// IsPaymentID reports whether s is a payment id in the one form the API
// uses and PostgreSQL's uuid type reads: 8-4-4-4-12 hexadecimal digits.
// Other spellings a UUID parser may accept (urn:uuid:, braces, no
// hyphens) are no payment's id.
func IsPaymentID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// MaxAmount bounds a single payment (in minor units): 10^15 is ten trillion
// of a two-decimal currency, far above any card payment, and far below
// int64's overflow in sums.
const MaxAmount int64 = 1_000_000_000_000_000

// NewPayment is a validated request to create a payment. MerchantID is
// the caller's merchant, never one a client names.
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
	if err := ValidateMerchantID(p.MerchantID); err != nil {
		return err
	}
	switch {
	case p.Amount <= 0:
		return Errorf(EINVALID, "amount_not_positive", "amount must be a positive integer number of minor units")
	case p.Amount > MaxAmount:
		return Errorf(EINVALID, "amount_out_of_range", "amount must not exceed %d minor units", MaxAmount)
	case p.Currency == "":
		return Errorf(EINVALID, "currency_required", "currency is required: the code of an active ISO 4217 currency, e.g. SGD")
	case !validCurrency(p.Currency):
		return Errorf(EINVALID, "currency_unknown", "currency must be the code of an active ISO 4217 currency in upper case, e.g. SGD (list of %s)", CurrenciesAsOf)
	case p.PaymentMethodToken == "":
		return Errorf(EINVALID, "payment_method_token_required", "paymentMethodToken is required")
	case ContainsCardNumber(p.PaymentMethodToken):
		return Errorf(EINVALID, "payment_method_token_is_card_number", "paymentMethodToken is a card number: send the token your card vault issued for it, never the number")
	case !tokenPattern.MatchString(p.PaymentMethodToken):
		return Errorf(EINVALID, "payment_method_token_invalid", "paymentMethodToken must be 8-128 letters, digits, '-' or '_' (a token, never a card number)")
	case p.Reference == "":
		return Errorf(EINVALID, "reference_required", "reference is required")
	case !utf8.ValidString(p.Reference) || utf8.RuneCountInString(p.Reference) > 140 || strings.ContainsFunc(p.Reference, isControl):
		return Errorf(EINVALID, "reference_invalid", "reference must be at most 140 printable characters")
	case ContainsCardNumber(p.Reference):
		return Errorf(EINVALID, "reference_contains_card_number", "reference holds what looks like a card number (13-19 digits passing the Luhn check); card numbers must never be sent")
	}
	return nil
}

// ValidateMerchantID checks a merchant id: 1-64 letters, digits, '-' or
// '_' (it names secrets, tags and API keys too).
func ValidateMerchantID(id string) error {
	switch {
	case id == "":
		return Errorf(EINVALID, "merchant_id_required", "merchantId is required")
	case !merchantIDPattern.MatchString(id):
		return Errorf(EINVALID, "merchant_id_invalid", "merchantId must be 1-64 letters, digits, '-' or '_'")
	}
	return nil
}

// isControl is a control character (C0, DEL, C1) or a line or paragraph
// separator: nothing a reference prints.
func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}

func validCurrency(code string) bool {
	_, ok := MinorUnits(code)
	return ok
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

// Idempotency identifies one logical request: the key a client sent and
// the request's fingerprint. Keys are scoped to the merchant: two
// merchants may use the same key, one merchant's credentials (its current
// and previous API key) share its keys.
type Idempotency struct {
	Key         string
	Fingerprint string
}

// Result is what creating a payment produced: the payment, and whether it
// is a replay of an earlier request with the same key.
type Result struct {
	Payment  Payment
	Replayed bool
}

// Actor is who makes a change and in which request, as a payment's history
// records it: the credential ("api-key:<id>") or component ("processor"),
// and the API request's or the queue message's id.
type Actor struct {
	Credential string
	RequestID  string
}

// Event types: a payment's history.
const (
	EventCreated    = "created"
	EventProcessing = "processing"
	EventSettled    = "settled"
	EventDeclined   = "declined"
)

// Event is one change in a payment's history.
type Event struct {
	Seq        int             `json:"seq"`
	Type       string          `json:"type"`
	Actor      string          `json:"actor"`
	RequestID  string          `json:"requestId"`
	OccurredAt time.Time       `json:"occurredAt"`
	Details    json.RawMessage `json:"details"`
	// Hash chains the event to the one before (hex): see package audit.
	Hash string `json:"hash"`
}

// Service creates and reads payments, each for one merchant.
type Service interface {
	// CreatePayment creates p.MerchantID's payment, its outbox event and
	// the first event of its history atomically. The same Idempotency (key,
	// fingerprint) of the same merchant returns the original payment with
	// Replayed set and creates nothing; the same key with another
	// fingerprint fails with ECONFLICT reason idempotency_key_reused.
	CreatePayment(ctx context.Context, by Actor, idem Idempotency, p NewPayment) (Result, error)
	// Payment returns the merchant's payment with this id, or ENOTFOUND
	// (also when the payment is another merchant's).
	Payment(ctx context.Context, merchantID, id string) (Payment, error)
	// Payments returns a page of the merchant's payments, newest first.
	Payments(ctx context.Context, merchantID string, page PageRequest) (PaymentPage, error)
	// History returns the events of the merchant's payment, oldest first,
	// or ENOTFOUND.
	History(ctx context.Context, merchantID, id string) ([]Event, error)
	// Ping checks that the service can reach its store.
	Ping(ctx context.Context) error
}

// Page sizes of Service.Payments.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// PageRequest asks for up to Limit payments created before the payment
// with id Before (the start when empty).
type PageRequest struct {
	Limit  int
	Before string
}

// PaymentPage is one page of payments, newest first. Next is the Before of
// the following page; empty on the last page.
type PaymentPage struct {
	Payments []Payment
	Next     string
}

// Caller is who sent a request, as API Gateway authenticated it: the API
// key it presented and the client certificate of its TLS connection.
type Caller struct {
	APIKeyID string
	// CertificateSubject and CertificateIssuer are the certificate's
	// distinguished names (RFC 2253).
	CertificateSubject string
	CertificateIssuer  string
}

// Merchants knows which merchant each credential belongs to.
type Merchants interface {
	// Merchant returns the id of the merchant that both the caller's API key
	// and its client certificate belong to. A caller without both fails with
	// EUNAUTHORIZED; a credential no merchant holds, or credentials of two
	// merchants, with EFORBIDDEN.
	Merchant(ctx context.Context, caller Caller) (string, error)
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

// RulesAcquirer stands in for the external payment network until one is
// contracted: it declines payment-method tokens that start with
// "tok_decline" and approves the rest, deterministically per payment.
type RulesAcquirer struct{}

// Authorize implements Acquirer.
func (RulesAcquirer) Authorize(_ context.Context, p Payment) (Decision, error) {
	if len(p.PaymentMethodToken) >= 11 && p.PaymentMethodToken[:11] == "tok_decline" {
		return Decision{Approved: false, Reason: "declined_by_issuer"}, nil
	}
	return Decision{Approved: true}, nil
}

// AcquirerReceivable is the ledger account of what the acquirer owes for
// settled payments. No account is named after a payer: a payment method
// token identifies a card, and account names are read and logged freely.
const AcquirerReceivable = "acquirer_receivable"

// Postings are the double-entry ledger entries of a settled payment: the
// acquirer owes the amount, the fee account takes the fee, the merchant the
// rest. They always sum to zero; zero entries are left out.
func Postings(p Payment) []Posting {
	fee := Fee(p.Amount, p.Currency)
	all := []Posting{
		{Account: AcquirerReceivable, Amount: -p.Amount},
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

// Fee is 2.9 % of the amount, rounded down, plus a fixed 0.30 of the
// currency (30 minor units of SGD, 300 of BHD, none of JPY, whose smallest
// unit is 1), and never more than the amount, so that the merchant's
// posting is never negative. Amounts are in the currency's minor units.
func Fee(amount int64, currency string) int64 {
	return min(amount, amount/1000*29+amount%1000*29/1000+fixedFee(currency))
}

// fixedFee is 0.30 of a currency's unit in its minor units, rounded half
// up: 3 x 10^minor / 10.
func fixedFee(currency string) int64 {
	minor, ok := MinorUnits(currency)
	if !ok {
		minor = 2 // unreachable for a validated payment
	}
	unit := int64(1)
	for range minor {
		unit *= 10
	}
	return (3*unit + 5) / 10
}

// Outcome says what processing did to a payment.
type Outcome struct {
	Payment Payment
	// Duplicate is true when the payment had already reached a final state
	// (a redelivered message): nothing was changed.
	Duplicate bool
}

// Processor moves payments from pending to settled or declined, each step
// recorded in the payment's history as by.
type Processor interface {
	Process(ctx context.Context, paymentID string, by Actor) (Outcome, error)
}

// OutboxEvent is a payment event recorded in the same transaction as the
// payment, waiting to be published to the processing queue (the outbox).
type OutboxEvent struct {
	ID        int64
	PaymentID string
	Payload   []byte
}

// Publisher sends outbox events to the processing queue and returns the
// ids of those it sent; an event it could not send stays unsent and is
// tried again later. The outbox relay (postgres) calls it; package sqs
// implements it.
type Publisher interface {
	Publish(ctx context.Context, events []OutboxEvent) (sent []int64, err error)
}
