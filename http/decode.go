package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/fintech/payments-platform/payments"
)

// createPaymentBody is the JSON body of POST /v1/payments. Amount stays raw
// JSON so that strings, fractions, exponents and overflow are reported
// precisely instead of being coerced or rounded into a float.
type createPaymentBody struct {
	MerchantID         string          `json:"merchantId"`
	Amount             json.RawMessage `json:"amount"`
	Currency           string          `json:"currency"`
	PaymentMethodToken string          `json:"paymentMethodToken"`
	Reference          string          `json:"reference"`
}

// DecodeNewPayment reads one JSON object (no unknown fields, nothing after
// it) and validates it. Every failure is a *payments.Error with a stable
// reason.
func DecodeNewPayment(r io.Reader) (payments.NewPayment, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var body createPaymentBody
	if err := dec.Decode(&body); err != nil {
		return payments.NewPayment{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return payments.NewPayment{}, decodeError(err)
		}
		return payments.NewPayment{}, payments.Errorf(payments.EINVALID, "malformed_json", "the body must be exactly one JSON object")
	}
	amount, err := parseAmount(body.Amount)
	if err != nil {
		return payments.NewPayment{}, err
	}
	p := payments.NewPayment{MerchantID: body.MerchantID, Amount: amount, Currency: body.Currency,
		PaymentMethodToken: body.PaymentMethodToken, Reference: body.Reference}
	if err := p.Validate(); err != nil {
		return payments.NewPayment{}, err
	}
	return p, nil
}

func parseAmount(raw json.RawMessage) (int64, error) {
	s := string(raw)
	if s == "" || s == "null" {
		return 0, payments.Errorf(payments.EINVALID, "amount_required", "amount is required, in minor units (e.g. 1250 for 12.50)")
	}
	if s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return 0, payments.Errorf(payments.EINVALID, "field_type_invalid", "field \"amount\" has the wrong type: want an integer")
	}
	if strings.ContainsAny(s, ".eE") {
		return 0, payments.Errorf(payments.EINVALID, "amount_not_integer", "amount must be an integer number of minor units (e.g. 1250 for 12.50)")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return 0, payments.Errorf(payments.EINVALID, "amount_out_of_range", "amount must not exceed %d minor units", payments.MaxAmount)
		}
		return 0, payments.Errorf(payments.EINVALID, "amount_not_integer", "amount must be an integer number of minor units")
	}
	return v, nil
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return payments.Errorf(payments.EINVALID, "body_too_large", "the body must not exceed %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return payments.Errorf(payments.EINVALID, "body_required", "send the payment as a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return payments.Errorf(payments.EINVALID, "unknown_field", "unknown field %s", field)
	case errors.As(err, &typeErr):
		return payments.Errorf(payments.EINVALID, "field_type_invalid", "field %q has the wrong type: want %s", typeErr.Field, kind(typeErr))
	}
	return payments.Errorf(payments.EINVALID, "malformed_json", "the body is not valid JSON")
}

func kind(e *json.UnmarshalTypeError) string {
	if e.Field == "amount" {
		return "an integer"
	}
	return "a string"
}

// IdempotencyKey reads the Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header): a Structured Fields string,
// e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"; a bare token is accepted too.
func IdempotencyKey(h http.Header) (string, error) {
	values := h.Values("Idempotency-Key")
	if len(values) == 0 {
		return "", payments.Errorf(payments.EINVALID, "idempotency_key_required",
			"POST /v1/payments requires an Idempotency-Key header, e.g. Idempotency-Key: \"<uuid>\"")
	}
	if len(values) > 1 {
		return "", payments.Errorf(payments.EINVALID, "idempotency_key_invalid", "send exactly one Idempotency-Key header")
	}
	key := strings.TrimSpace(values[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if key == "" || len(key) > 255 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
		return "", payments.Errorf(payments.EINVALID, "idempotency_key_invalid", "the Idempotency-Key must be 1-255 printable ASCII characters without spaces or quotes")
	}
	return key, nil
}
