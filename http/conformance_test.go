package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	apihttp "github.com/fintech/payments-platform/http"
	"github.com/fintech/payments-platform/openapi"
)

// The contract: openapi.json, loaded once, with its server removed so that
// the router matches the tests' loopback URLs.
var contract = sync.OnceValues(func() (*openapi3.T, routers.Router) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		panic(err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		panic(err)
	}
	return doc, router
})

// conform fails the test when a response the handler produced is not what
// openapi.json promises for its operation: a documented status, with the
// documented content type and body. A response to a request no operation
// matches (404, 405) must still be a Problem.
func conform(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	doc, router := contract()
	route, params, err := router.FindRoute(req)
	// The router forgives a trailing "/" and the like; the API, like its
	// contract, names no resource so (see Handler.ServeHTTP).
	if err != nil || path.Clean(req.URL.Path) != req.URL.Path {
		var problem any
		if header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &problem) != nil ||
			doc.Components.Schemas["Problem"].Value.VisitJSON(problem) != nil {
			t.Errorf("%s %s (no operation): %d %q %s is not a Problem", req.Method, req.URL.Path, status, header.Get("Content-Type"), body)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: %d %s breaks the contract: %v", req.Method, req.URL.Path, status, body, err)
	}
}

// The document the API serves is openapi.json, and it conforms to itself.
func TestServesItsContract(t *testing.T) {
	a := newAPI(t)
	r := a.get(t, openapi.Path)
	if r.status != http.StatusOK || !bytes.Equal(r.body, openapi.Document) || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("GET %s: %d %q, %d bytes", openapi.Path, r.status, r.header.Get("Content-Type"), len(r.body))
	}
}

// The server's validation and the contract's schema agree on what a
// payment body is. Where the server is stricter it is on purpose, each
// case named: what a schema cannot say (a card number, a member named
// twice, invalid UTF-8, a number spelled with an exponent or a fraction
// point, a line separator, which API Gateway's and Go's patterns spell
// differently) and who may pay (another merchant's id).
func TestValidationAgreesWithTheContract(t *testing.T) {
	body := func(replace ...string) string { return strings.NewReplacer(replace...).Replace(paymentBody(1250)) }
	for _, tc := range []struct {
		name, body     string
		serverStricter string // why the server refuses what the schema accepts
	}{
		{"Valid", body(), ""},
		{"WithoutMerchantId", body(`"merchantId":"merchant-1",`, ""), ""},
		{"SmallestAmount", body("1250", "1"), ""},
		{"LargestAmount", body("1250", "1000000000000000"), ""},
		{"ZeroDecimalCurrency", body("SGD", "JPY"), ""},
		{"LongestReference", body("order 42", strings.Repeat("r", 140)), ""},
		{"UnicodeReference", body("order 42", "commande n°42 — 注文"), ""},
		{"ShortestToken", body(token, "tok_1234"), ""},
		{"ErrZeroAmount", body("1250", "0"), ""},
		{"ErrAmountTooLarge", body("1250", "1000000000000001"), ""},
		{"ErrFractionalAmount", body("1250", "12.5"), ""},
		{"ErrAmountAsString", body("1250", `"1250"`), ""},
		{"ErrMissingAmount", body(`"amount":1250,`, ""), ""},
		{"ErrMissingCurrency", body(`"currency":"SGD",`, ""), ""},
		{"ErrMissingToken", body(`"paymentMethodToken":"`+token+`",`, ""), ""},
		{"ErrMissingReference", body(`,"reference":"order 42"`, ""), ""},
		{"ErrLowerCaseCurrency", body("SGD", "sgd"), ""},
		{"ErrTestCurrency", body("SGD", "XTS"), ""},
		{"ErrWithdrawnCurrency", body("SGD", "HRK"), ""},
		{"ErrShortToken", body(token, "tok_123"), ""},
		{"ErrTokenWithSpace", body(token, "tok 12345"), ""},
		{"ErrLongReference", body("order 42", strings.Repeat("r", 141)), ""},
		{"ErrEmptyReference", body("order 42", ""), ""},
		{"ErrControlInReference", body("order 42", `a\u0007b`), ""},
		{"ErrUnknownField", body(`{`, `{"cardNumber":"x",`), ""},
		{"ErrCaseFoldedField", body(`"amount"`, `"Amount"`), ""},
		{"ErrMerchantIdPattern", body("merchant-1", "merchant 1"), ""},
		{"ErrNotAnObject", `[1,2]`, ""},
		{"ErrCardNumberAsToken", body(token, "4111111111111111"), "a card number"},
		{"ErrCardNumberInReference", body("order 42", "4111 1111 1111 1111"), "a card number"},
		{"ErrDuplicateField", body(`{`, `{"amount":7,`), "a member named twice"},
		{"ErrInvalidUTF8", body("order 42", "order \xff"), "invalid UTF-8"},
		{"ErrExponentAmount", body("1250", "1.25e3"), "an exponent"},
		{"ErrFractionPointAmount", body("1250", "1250.0"), "a fraction point"},
		{"ErrAnotherMerchant", body("merchant-1", "merchant-2"), "another merchant"},
		{"ErrC1ControlInReference", body("order 42", `a\u0085b`), ""},
		{"ErrLineSeparatorInReference", body("order 42", `a\u2028b`), "a line separator"},
		{"ErrCardNumberAfterAnotherNumber", body("order 42", "invoice 2026 4111 1111 1111 1111"), "a card number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apihttp.DecodeNewPayment([]byte(tc.body), "merchant-1")
			serverAccepts := err == nil
			schemaAccepts := contractAccepts(t, tc.body)
			switch {
			case tc.serverStricter == "" && serverAccepts != schemaAccepts:
				t.Errorf("server accepts %v (%v), contract accepts %v: %s", serverAccepts, err, schemaAccepts, tc.body)
			case tc.serverStricter != "" && (serverAccepts || !schemaAccepts):
				t.Errorf("the server should refuse %s (%s) where the contract cannot: server %v, contract %v", tc.body, tc.serverStricter, serverAccepts, schemaAccepts)
			}
		})
	}
}

// contractAccepts validates a create-payment request with this body
// against openapi.json, as a gateway doing what the contract says would.
func contractAccepts(t *testing.T, body string) bool {
	t.Helper()
	_, router := contract()
	req := httptest.NewRequest("POST", "/v1/payments", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", `"k"`)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}) == nil
}
