package http_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
		strings.Replace(paymentBody(1), `{`, `{"amount":7,`, 1), strings.Replace(paymentBody(1), `"amount"`, `"Amount"`, 1),
		strings.Replace(paymentBody(1), "order 42", "order \xff", 1), strings.Replace(paymentBody(1), "order 42", `order \ud800`, 1),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := apihttp.DecodeNewPayment(body, "merchant-1")
		if err != nil {
			var e *payments.Error
			if !errors.As(err, &e) || (e.Code != payments.EINVALID && e.Reason != "merchant_mismatch") || e.Reason == "" {
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

// canonicalOnly is a store that, like PostgreSQL's uuid type, fails on an
// id in any but the canonical form: the handler must never pass it one.
type canonicalOnly struct {
	failing
	t *testing.T
}

func (c canonicalOnly) Payment(_ context.Context, _, id string) (payments.Payment, error) {
	if !payments.IsPaymentID(id) {
		c.t.Errorf("the store was asked for %q", id)
		return payments.Payment{}, errors.New("invalid input syntax for type uuid")
	}
	return payments.Payment{}, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no payment %q", id)
}

// FuzzGetPaymentPath: no path a client sends makes a 500, and the store
// only ever sees canonical ids.
func FuzzGetPaymentPath(f *testing.F) {
	for _, seed := range []string{
		"0190a8e4-0000-7000-8000-000000000000", "urn:uuid:0190a8e4-0000-7000-8000-000000000000",
		"{0190a8e4-0000-7000-8000-000000000000}", "0190a8e400007000800000000000000", "x", "", "%00", "../healthz",
		"0190a8e4-0000-7000-8000-00000000000g", "0190A8E4-0000-7000-8000-000000000000",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		h := apihttp.NewHandler(canonicalOnly{t: t}, anyone{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		req := httptest.NewRequest("GET", "/v1/payments/x", nil)
		req.URL.Path = "/v1/payments/" + id
		req.URL.RawPath = ""
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET /v1/payments/%q: %d %q %s", id, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		conform(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
	})
}
