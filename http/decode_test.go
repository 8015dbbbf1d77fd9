package http_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	apihttp "github.com/fintech/payments-platform/http"
	"github.com/fintech/payments-platform/payments"
)

// FuzzDecodeNewPayment: decoding never panics, fails only with a client
// error, and whatever it accepts is a valid payment. The seed corpus runs in
// every `go test`; `go test -fuzz FuzzDecodeNewPayment ./http` explores.
func FuzzDecodeNewPayment(f *testing.F) {
	for _, seed := range []string{
		paymentBody(1250), paymentBody(0), paymentBody(-1), paymentBody(1.5), paymentBody("1e3"),
		paymentBody("92233720368547758070"), paymentBody(`"12"`), `{}`, `[]`, `null`, ``, `{"amount":1}`,
		`{"merchantId":"m","amount":1,"currency":"SGD","paymentMethodToken":"tok_12345678","reference":"r","x":1}`,
		paymentBody(1) + `{}`, `{"merchantId":"\u0000"}`, `{"reference":"` + strings.Repeat("é", 141) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := apihttp.DecodeNewPayment(strings.NewReader(string(body)))
		if err != nil {
			var e *payments.Error
			if !errors.As(err, &e) || e.Code != payments.EINVALID || e.Reason == "" {
				t.Fatalf("decode failed with a non-client error: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid payment %+v: %v", p, err)
		}
	})
}

func TestIdempotencyKeyHeader(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
		reason string
	}{
		{[]string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", ""},
		{[]string{`bare-token`}, "bare-token", ""},
		{nil, "", "idempotency_key_required"},
		{[]string{`""`}, "", "idempotency_key_invalid"},
		{[]string{`"a b"`}, "", "idempotency_key_invalid"},
		{[]string{`"` + strings.Repeat("k", 256) + `"`}, "", "idempotency_key_invalid"},
		{[]string{`"a"`, `"b"`}, "", "idempotency_key_invalid"},
	} {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add("Idempotency-Key", v)
		}
		got, err := apihttp.IdempotencyKey(h)
		var e *payments.Error
		switch {
		case tc.reason == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %q, %v", tc.values, got, err)
		case tc.reason != "" && (!errors.As(err, &e) || e.Reason != tc.reason):
			t.Errorf("%q: got %v, want %s", tc.values, err, tc.reason)
		}
	}
}
