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
