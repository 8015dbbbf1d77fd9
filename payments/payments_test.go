package payments_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fintech/payments-platform/payments"
)

func valid() payments.NewPayment {
	return payments.NewPayment{MerchantID: "merchant-1", Amount: 1250, Currency: "SGD", PaymentMethodToken: "tok_4f9a8b7c6d", Reference: "order 42"}
}

func TestNewPaymentValidate(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if err := valid().Validate(); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		reason string
		mutate func(*payments.NewPayment)
	}{
		{"merchant_id_required", func(p *payments.NewPayment) { p.MerchantID = "" }},
		{"merchant_id_invalid", func(p *payments.NewPayment) { p.MerchantID = "m 1" }},
		{"amount_not_positive", func(p *payments.NewPayment) { p.Amount = 0 }},
		{"amount_not_positive", func(p *payments.NewPayment) { p.Amount = -5 }},
		{"amount_out_of_range", func(p *payments.NewPayment) { p.Amount = payments.MaxAmount + 1 }},
		{"currency_unknown", func(p *payments.NewPayment) { p.Currency = "ABC" }},
		{"currency_unknown", func(p *payments.NewPayment) { p.Currency = "sgd" }},
		{"currency_unknown", func(p *payments.NewPayment) { p.Currency = "" }},
		{"payment_method_token_required", func(p *payments.NewPayment) { p.PaymentMethodToken = "" }},
		{"payment_method_token_invalid", func(p *payments.NewPayment) { p.PaymentMethodToken = "4111 1111 1111 1111" }},
		{"reference_required", func(p *payments.NewPayment) { p.Reference = "" }},
		{"reference_invalid", func(p *payments.NewPayment) { p.Reference = strings.Repeat("x", 141) }},
		{"reference_invalid", func(p *payments.NewPayment) { p.Reference = "a\nb" }},
	} {
		t.Run("Err_"+tc.reason, func(t *testing.T) {
			p := valid()
			tc.mutate(&p)
			var e *payments.Error
			if err := p.Validate(); !errors.As(err, &e) || e.Code != payments.EINVALID || e.Reason != tc.reason {
				t.Errorf("got %v, want %s", err, tc.reason)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a, b := valid(), valid()
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("equal requests must have equal fingerprints")
	}
	b.Amount++
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("different amounts must differ")
	}
	// Field boundaries are part of the fingerprint.
	c, d := valid(), valid()
	c.MerchantID, c.Reference = "ab", "c"
	d.MerchantID, d.Reference = "a", "bc"
	if c.Fingerprint() == d.Fingerprint() {
		t.Error("moving characters between fields must change the fingerprint")
	}
}

func TestErrorCode(t *testing.T) {
	if got := payments.ErrorCode(payments.Errorf(payments.ENOTFOUND, "payment_not_found", "x")); got != payments.ENOTFOUND {
		t.Errorf("got %s", got)
	}
	if got := payments.ErrorCode(errors.New("boom")); got != payments.EINTERNAL {
		t.Errorf("got %s", got)
	}
}

// For every amount the postings sum to zero, none is zero, and the merchant
// never pays.
func TestPostingsBalance(t *testing.T) {
	amounts := []int64{1, 2, 29, 30, 31, 999, 1000, 1001, 1250, payments.MaxAmount}
	for a := int64(1); a < 5000; a += 7 {
		amounts = append(amounts, a)
	}
	for _, amount := range amounts {
		p := valid()
		p.Amount = amount
		pay := payments.Payment{MerchantID: p.MerchantID, Amount: amount, PaymentMethodToken: p.PaymentMethodToken}
		var sum int64
		for _, posting := range payments.Postings(pay) {
			sum += posting.Amount
			if posting.Amount == 0 || (strings.HasPrefix(posting.Account, "merchant:") && posting.Amount < 0) {
				t.Errorf("amount %d: posting %+v", amount, posting)
			}
		}
		if sum != 0 {
			t.Errorf("amount %d: postings sum to %d", amount, sum)
		}
	}
	if got := payments.Fee(1000); got != 59 {
		t.Errorf("Fee(1000) = %d, want 2.9 %% + 30 = 59", got)
	}
}
