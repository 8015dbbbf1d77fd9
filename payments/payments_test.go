package payments_test

import (
	"errors"
	"slices"
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
		{"currency_required", func(p *payments.NewPayment) { p.Currency = "" }},
		{"payment_method_token_required", func(p *payments.NewPayment) { p.PaymentMethodToken = "" }},
		{"payment_method_token_is_card_number", func(p *payments.NewPayment) { p.PaymentMethodToken = "4111 1111 1111 1111" }},
		{"payment_method_token_is_card_number", func(p *payments.NewPayment) { p.PaymentMethodToken = "4111111111111111" }},
		{"payment_method_token_invalid", func(p *payments.NewPayment) { p.PaymentMethodToken = "tok 1" }},
		{"payment_method_token_is_card_number", func(p *payments.NewPayment) { p.PaymentMethodToken = "tok_4111111111111111" }},
		{"currency_unknown", func(p *payments.NewPayment) { p.Currency = "XTS" }},
		{"currency_unknown", func(p *payments.NewPayment) { p.Currency = "HRK" }},
		{"reference_contains_card_number", func(p *payments.NewPayment) { p.Reference = "card 4111-1111-1111-1111" }},
		{"reference_required", func(p *payments.NewPayment) { p.Reference = "" }},
		{"reference_invalid", func(p *payments.NewPayment) { p.Reference = strings.Repeat("x", 141) }},
		{"reference_invalid", func(p *payments.NewPayment) { p.Reference = "a\nb" }},
		{"reference_invalid", func(p *payments.NewPayment) { p.Reference = "a\u0085b" }},
		{"reference_invalid", func(p *payments.NewPayment) { p.Reference = "a\u2028b" }},
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
	for _, currency := range []string{"SGD", "JPY", "BHD"} {
		for _, amount := range amounts {
			p := valid()
			pay := payments.Payment{MerchantID: p.MerchantID, Amount: amount, Currency: currency, PaymentMethodToken: p.PaymentMethodToken}
			var sum int64
			for _, posting := range payments.Postings(pay) {
				sum += posting.Amount
				if posting.Amount == 0 || (strings.HasPrefix(posting.Account, "merchant:") && posting.Amount < 0) ||
					strings.Contains(posting.Account, p.PaymentMethodToken) {
					t.Errorf("%d %s: posting %+v", amount, currency, posting)
				}
			}
			if sum != 0 {
				t.Errorf("%d %s: postings sum to %d", amount, currency, sum)
			}
		}
	}
	for _, tc := range []struct {
		amount   int64
		currency string
		want     int64
	}{
		{1000, "SGD", 29 + 30},  // 10.00 SGD: 2.9 % + 0.30
		{1000, "JPY", 29},       // 1,000 JPY: 2.9 %, and 0.30 JPY rounds to nothing
		{1000, "BHD", 29 + 300}, // 1.000 BHD: 2.9 % + 0.300
		{10, "SGD", 10},         // never more than the amount
	} {
		if got := payments.Fee(tc.amount, tc.currency); got != tc.want {
			t.Errorf("Fee(%d, %s) = %d, want %d", tc.amount, tc.currency, got, tc.want)
		}
	}
}

// Card numbers are refused wherever a client writes free text: whole or
// inside other text, in groups joined by any white space, dashes or
// underscores; numbers that are not card numbers pass.
func TestContainsCardNumber(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"4111111111111111", true},
		{"4111 1111 1111 1111", true},
		{"4111-1111-1111-1111", true},
		{"4111_1111_1111_1111", true},
		{"378282246310005", true},  // American Express, 15 digits
		{"6011111111111117", true}, // Discover
		{"4222222222222", true},    // 13-digit Visa test number
		{"tok_4111111111111111", true},
		{"tok-4111111111111111", true},
		{"4111111111111111_", true},
		{"4111111111111111-01", true},
		{"order 4111 1111 1111 1111 paid", true},
		// Found by black-box testing: neighbouring numbers, repeated or
		// other separators.
		{"invoice 2026 4111 1111 1111 1111", true},
		{"order 1 4111111111111111", true},
		{"ref 12345 4111111111111111", true},
		{"ref 4111111111111111 4111111111111111", true},
		{"ref 4111 1111 1111 1111 1", true},
		{"card 4111 1111  1111 1111", true},
		{"ref 4111--1111--1111--1111", true},
		{"ref 4111 - 1111 - 1111 - 1111", true},
		{"ref 4111‑1111–1111—1111", true},                // non-breaking hyphen, en and em dashes
		{"ref 4111\u30001111\u30001111\u30001111", true}, // ideographic spaces
		{"4111111111111112", false},                      // Luhn fails
		{"411111111111", false},                          // 12 digits
		{"order 41111111111111110000", false},            // one 20-digit number is no PAN
		{"order 42, 2026-11-29", false},
		{"tok_1J2k3L4m5N6o7P8q", false},
		{"", false},
		// Dates break runs: numbers beside them pass.
		{"invoice 2026-11-29 1234567", false},
		{"order 2026 11 29 000123456", false},
	} {
		if got := payments.ContainsCardNumber(tc.s); got != tc.want {
			t.Errorf("ContainsCardNumber(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// Identifiers a client chooses freely are refused only when they are a
// card number as a whole: numbers joined by dashes are common in them.
func TestIsCardNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "4111-1111-1111-1111": true, "4111 1111 1111 1111": true,
		"0-1732867200-123456789-42": false, // a load generator's key: thread, time, random, counter
		"order-4111111111111111":    false, "41111111111111111111": false, "": false,
	} {
		if got := payments.IsCardNumber(s); got != want {
			t.Errorf("IsCardNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

// The list of currencies is ISO 4217's active ones: the codes that changed
// most recently are right, funds, metals and test codes are out, and the
// minor units that differ from two are kept.
func TestCurrencies(t *testing.T) {
	for _, code := range []string{"SGD", "USD", "EUR", "VES", "MRU", "SLE", "ZWG", "STN", "XCG", "XOF", "XAF", "XPF"} {
		if _, ok := payments.MinorUnits(code); !ok {
			t.Errorf("%s is active, want it accepted", code)
		}
	}
	for _, code := range []string{"XXX", "XTS", "XAU", "XDR", "DEM", "VEF", "ZWL", "USN", "HRK", "SLL", "MRO", "CUC", "BOV", "sgd", "SG", ""} {
		if _, ok := payments.MinorUnits(code); ok {
			t.Errorf("%q is not an active currency, want it refused", code)
		}
	}
	for code, want := range map[string]int{"SGD": 2, "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3, "IQD": 3, "LYD": 3} {
		if got, _ := payments.MinorUnits(code); got != want {
			t.Errorf("%s has %d minor units, want %d", code, got, want)
		}
	}
	codes := payments.Currencies()
	if len(codes) < 150 || !slices.IsSorted(codes) {
		t.Errorf("%d codes, sorted %v", len(codes), slices.IsSorted(codes))
	}
	for _, c := range codes {
		if len(c) != 3 || strings.ToUpper(c) != c {
			t.Errorf("code %q", c)
		}
	}
}
