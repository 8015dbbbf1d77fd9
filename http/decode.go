package http

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fintech/payments-platform/payments"
)

// createPaymentBody is the JSON body of POST /v1/payments. Amount stays raw
// JSON so that strings, fractions, exponents and overflow are reported
// precisely instead of being coerced or rounded into a float. MerchantID is
// optional: the payment is always the caller's merchant's, and a body that
// names another merchant is refused.
type createPaymentBody struct {
	MerchantID         jsontext.Value `json:"merchantId"`
	Amount             jsontext.Value `json:"amount"`
	Currency           string         `json:"currency"`
	PaymentMethodToken string         `json:"paymentMethodToken"`
	Reference          string         `json:"reference"`
}

// readBody reads the whole request body, at most MaxBodyBytes: too large
// (or announced so) is 413, a client too slow to send it within the
// server's read timeout 408.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := payments.Errorf(payments.EINVALID, "body_too_large", "the body must not exceed %d bytes", MaxBodyBytes)
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var maxErr *http.MaxBytesError
	switch {
	case err == nil:
		return body, nil
	case errors.As(err, &maxErr):
		return nil, tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, payments.Errorf(payments.EINVALID, "request_timeout", "the body did not arrive in time; send it at once")
	}
	return nil, payments.Errorf(payments.EINVALID, "body_unreadable", "the body could not be read")
}

// DecodeNewPayment reads one JSON object and validates it. It is strict
// where a lenient reader would see another request than API Gateway's
// validator and the web ACLs saw: member names match exactly (no case
// folding), a name may appear once, unknown members are refused, the text
// is valid UTF-8, and nothing follows the object. Every failure is a
// *payments.Error with a stable reason.
func DecodeNewPayment(body []byte, merchantID string) (payments.NewPayment, error) {
	if len(body) == 0 {
		return payments.NewPayment{}, payments.Errorf(payments.EINVALID, "body_required", "send the payment as a JSON object")
	}
	if !utf8.Valid(body) {
		return payments.NewPayment{}, payments.Errorf(payments.EINVALID, "invalid_utf8", "the body is not valid UTF-8")
	}
	if jsontext.Value(body).Kind() != '{' {
		// A body that is not an object (null included, which would decode
		// into an empty payment) says nothing about a payment.
		if !jsontext.Value(body).IsValid() {
			return payments.NewPayment{}, payments.Errorf(payments.EINVALID, "malformed_json", "the body is not one valid JSON object")
		}
		return payments.NewPayment{}, payments.Errorf(payments.EINVALID, "field_type_invalid", "the body must be a JSON object")
	}
	var b createPaymentBody
	if err := json.Unmarshal(body, &b, json.RejectUnknownMembers(true)); err != nil {
		return payments.NewPayment{}, decodeError(err)
	}
	if b.MerchantID != nil {
		var named string
		if b.MerchantID.Kind() != '"' || json.Unmarshal(b.MerchantID, &named) != nil || payments.ValidateMerchantID(named) != nil {
			return payments.NewPayment{}, payments.Errorf(payments.EINVALID, "merchant_id_invalid",
				"merchantId, if sent, must be your merchant's id: 1-64 letters, digits, '-' or '_'")
		}
		if named != merchantID {
			return payments.NewPayment{}, payments.Errorf(payments.EFORBIDDEN, "merchant_mismatch",
				"merchantId is not the merchant your credentials belong to; leave it out, payments are always your own")
		}
	}
	amount, err := parseAmount(b.Amount)
	if err != nil {
		return payments.NewPayment{}, err
	}
	p := payments.NewPayment{MerchantID: merchantID, Amount: amount, Currency: b.Currency,
		PaymentMethodToken: b.PaymentMethodToken, Reference: b.Reference}
	if err := p.Validate(); err != nil {
		return payments.NewPayment{}, err
	}
	return p, nil
}

func parseAmount(raw jsontext.Value) (int64, error) {
	s := string(raw)
	if s == "" || s == "null" {
		return 0, payments.Errorf(payments.EINVALID, "amount_required", "amount is required, in the currency's minor units (e.g. 1250 for 12.50 SGD)")
	}
	if raw.Kind() != '0' {
		return 0, payments.Errorf(payments.EINVALID, "field_type_invalid", "field \"amount\" has the wrong type: want an integer")
	}
	if strings.ContainsAny(s, ".eE") {
		return 0, payments.Errorf(payments.EINVALID, "amount_not_integer", "amount must be an integer number of minor units (e.g. 1250 for 12.50 SGD)")
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

// decodeError names the member a decoding error is about.
func decodeError(err error) error {
	var semantic *json.SemanticError
	var syntactic *jsontext.SyntacticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syntactic):
		return payments.Errorf(payments.EINVALID, "duplicate_field", "field %s appears more than once", fieldName(syntactic.JSONPointer.LastToken()))
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &semantic):
		return payments.Errorf(payments.EINVALID, "unknown_field", "unknown field %s (names are case-sensitive)", fieldName(semantic.JSONPointer.LastToken()))
	case errors.As(err, &semantic) && semantic.JSONKind != 0:
		if semantic.JSONPointer == "" {
			return payments.Errorf(payments.EINVALID, "field_type_invalid", "the body must be a JSON object")
		}
		return payments.Errorf(payments.EINVALID, "field_type_invalid", "field %s has the wrong type: want a string", fieldName(semantic.JSONPointer.LastToken()))
	}
	return payments.Errorf(payments.EINVALID, "malformed_json", "the body is not one valid JSON object")
}

// PageRequest reads the query of GET /v1/payments: limit (1-100, default
// 20) and cursor (the nextCursor of the previous page), each at most once.
// A query that does not decode is refused, never read as no query (a
// damaged cursor would restart paging).
func PageRequest(rawQuery string) (payments.PageRequest, error) {
	page := payments.PageRequest{Limit: payments.DefaultPageSize}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return page, payments.Errorf(payments.EINVALID, "query_invalid", "the query string is not valid: use limit=<1-%d>&cursor=<nextCursor>", payments.MaxPageSize)
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) > 1 || err != nil || n < 1 || n > payments.MaxPageSize {
			return page, payments.Errorf(payments.EINVALID, "limit_invalid", "limit must be one integer from 1 to %d", payments.MaxPageSize)
		}
		page.Limit = n
	}
	if v, ok := q["cursor"]; ok {
		id, err := base64.RawURLEncoding.DecodeString(v[0])
		if len(v) > 1 || err != nil || !payments.IsPaymentID(string(id)) || encodeCursor(string(id)) != v[0] {
			return page, payments.Errorf(payments.EINVALID, "cursor_invalid", "cursor must be a nextCursor this API returned")
		}
		page.Before = string(id)
	}
	return page, nil
}

// encodeCursor makes a page's last payment id an opaque cursor.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// fieldName quotes a member name for a problem's detail if it looks like a
// field name; anything else a client sends is not repeated back (it could
// be a card number).
func fieldName(name string) string {
	if fieldNamePattern.MatchString(name) {
		return strconv.Quote(name)
	}
	return "(a name that is no field of a payment)"
}

var fieldNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// requireJSON accepts a Content-Type of application/json in any case, with
// at most a charset parameter that says UTF-8 (RFC 9110, 8.3.1; RFC 8259).
// One Content-Type only, and no content coding (RFC 9110, 8.4: a coding the
// server does not apply is 415).
func requireJSON(h http.Header) error {
	refused := payments.Errorf(payments.EINVALID, "unsupported_media_type", "send the payment as Content-Type: application/json (UTF-8), without a Content-Encoding")
	if len(h.Values("Content-Type")) != 1 {
		return refused
	}
	for _, coding := range h.Values("Content-Encoding") {
		if !strings.EqualFold(strings.TrimSpace(coding), "identity") {
			return refused
		}
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	charset, hasCharset := params["charset"]
	if err != nil || mediaType != "application/json" || len(params) > 1 || len(params) == 1 && !hasCharset ||
		hasCharset && !strings.EqualFold(charset, "utf-8") {
		return refused
	}
	return nil
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
		return "", payments.Errorf(payments.EINVALID, "idempotency_key_invalid", "the Idempotency-Key must be 1-255 printable ASCII characters without spaces, quotes or backslashes")
	}
	if payments.IsCardNumber(key) {
		return "", payments.Errorf(payments.EINVALID, "idempotency_key_invalid", "the Idempotency-Key must not hold a card number; use a UUID")
	}
	return key, nil
}
