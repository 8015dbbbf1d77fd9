package http_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/gateway"
	apihttp "github.com/fintech/payments-platform/http"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

// api is a running API over its own freshly migrated database, with two
// registered merchants.
type api struct {
	*httptest.Server
	pool *pgxpool.Pool
	logs *bytes.Buffer
}

// credentials are what API Gateway forwards of a caller: its API key's id
// and its client certificate's names.
type credentials struct{ keyID, subject, issuer string }

func (c credentials) headers() []string {
	return []string{gateway.HeaderAPIKeyID, c.keyID, gateway.HeaderClientCertSubject, c.subject, gateway.HeaderClientCertIssuer, c.issuer}
}

const testCA = "CN=payments test CA"

var (
	merchant1      = credentials{"key-merchant-1", "CN=merchant-1,O=Merchant One", testCA}
	merchant1Again = credentials{"key-merchant-1-rotated", "CN=merchant-1,O=Merchant One", testCA} // its next API key
	merchant2      = credentials{"key-merchant-2", "CN=merchant-2,O=Merchant Two", testCA}
)

func newAPI(t *testing.T) *api {
	t.Helper()
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	registry := postgres.NewMerchantRegistry(pool, time.Minute)
	ctx := context.Background()
	for id, creds := range map[string][]credentials{"merchant-1": {merchant1, merchant1Again}, "merchant-2": {merchant2}} {
		if err := registry.Register(ctx, id, gateway.Certificate{Subject: creds[0].subject, Issuer: creds[0].issuer}); err != nil {
			t.Fatal(err)
		}
		for _, c := range creds {
			if err := registry.AddAPIKey(ctx, id, c.keyID); err != nil {
				t.Fatal(err)
			}
		}
	}
	logs := &bytes.Buffer{}
	h := apihttp.NewHandler(postgres.NewPaymentService(pool, pool), registry, slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{Server: srv, pool: pool, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.w)
}

const token = "tok_4f9a8b7c6d5e"

func paymentBody(amount any) string {
	return fmt.Sprintf(`{"merchantId":"merchant-1","amount":%v,"currency":"SGD","paymentMethodToken":"%s","reference":"order 42"}`, amount, token)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (a *api) post(t testing.TB, key, body string, headers ...string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", a.URL+"/v1/payments", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	setHeaders(req, append(merchant1.headers(), headers...))
	return do(t, req)
}

// get reads as merchant 1, or with the credentials given.
func (a *api) get(t testing.TB, path string, as ...credentials) response {
	t.Helper()
	req, _ := http.NewRequest("GET", a.URL+path, nil)
	creds := merchant1
	if len(as) > 0 {
		creds = as[0]
	}
	setHeaders(req, creds.headers())
	return do(t, req)
}

func setHeaders(req *http.Request, headers []string) {
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
}

func do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	conform(t, req, resp.StatusCode, resp.Header, body)
	return response{resp.StatusCode, resp.Header, body}
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return v
}

func (a *api) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := a.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateAndGetPayment(t *testing.T) {
	a := newAPI(t)
	created := a.post(t, `"key-1"`, paymentBody(1250))
	if created.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", created.status, created.body)
	}
	p := decode[payments.Payment](t, created)
	if p.ID == "" || p.Amount != 1250 || p.Currency != "SGD" || p.Status != payments.StatusPending || p.MerchantID != "merchant-1" {
		t.Errorf("created %+v", p)
	}
	if got := created.header.Get("Location"); got != "/v1/payments/"+p.ID {
		t.Errorf("Location %q", got)
	}
	if strings.Contains(string(created.body), token) {
		t.Error("the payment method token is echoed")
	}
	if n := a.count(t, `SELECT count(*) FROM payments.payment_events WHERE payment_id = $1 AND event_type = 'created' AND xact IS NOT NULL`, p.ID); n != 1 {
		t.Errorf("%d created events (the outbox message) for the payment, want 1 (written in the same transaction)", n)
	}

	got := a.get(t, "/v1/payments/"+p.ID)
	if got.status != http.StatusOK || decode[payments.Payment](t, got).ID != p.ID {
		t.Errorf("GET: %d %s", got.status, got.body)
	}
	for _, path := range []string{"/v1/payments/0190a8e4-0000-7000-8000-000000000000", "/v1/payments/not-a-uuid"} {
		if r := a.get(t, path); r.status != http.StatusNotFound || decode[apihttp.Problem](t, r).Code != "payment_not_found" {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	if r := a.get(t, "/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz %d", r.status)
	}
	if strings.Contains(a.logs.String(), token) {
		t.Error("the payment method token reached the logs")
	}
	if !strings.Contains(a.logs.String(), `"requestId"`) {
		t.Error("logs lack request ids")
	}
}

// Every bad input gets a 4xx problem with a stable code, and nothing is
// written.
func TestBadRequests(t *testing.T) {
	a := newAPI(t)
	for _, tc := range []struct {
		name, key, body, contentType string
		status                       int
		code                         string
	}{
		{"MissingIdempotencyKey", "", paymentBody(100), "", 400, "idempotency_key_required"},
		{"InvalidIdempotencyKey", `"has space"`, paymentBody(100), "", 400, "idempotency_key_invalid"},
		{"MalformedJSON", "k", `{"merchantId":`, "", 400, "malformed_json"},
		{"NotAnObject", "k", `[1,2]`, "", 400, "field_type_invalid"},
		{"TrailingData", "k", paymentBody(100) + `{}`, "", 400, "malformed_json"},
		{"EmptyBody", "k", ``, "", 400, "body_required"},
		{"Oversized", "k", `{"reference":"` + strings.Repeat("x", apihttp.MaxBodyBytes) + `"}`, "", 413, "body_too_large"},
		{"UnknownField", "k", strings.Replace(paymentBody(100), `{`, `{"cardNumber":"4111111111111111",`, 1), "", 400, "unknown_field"},
		{"MissingAmount", "k", `{"merchantId":"merchant-1","currency":"SGD","paymentMethodToken":"tok_12345678","reference":"r"}`, "", 400, "amount_required"},
		{"ZeroAmount", "k", paymentBody(0), "", 400, "amount_not_positive"},
		{"NegativeAmount", "k", paymentBody(-100), "", 400, "amount_not_positive"},
		{"FractionalAmount", "k", paymentBody(12.5), "", 400, "amount_not_integer"},
		{"ExponentAmount", "k", paymentBody("1e3"), "", 400, "amount_not_integer"},
		{"OverflowingAmount", "k", paymentBody("92233720368547758070"), "", 400, "amount_out_of_range"},
		{"AmountAsString", "k", paymentBody(`"100"`), "", 400, "field_type_invalid"},
		{"UnknownCurrency", "k", strings.Replace(paymentBody(100), "SGD", "XYZ", 1), "", 400, "currency_unknown"},
		{"WrongContentType", "k", paymentBody(100), "text/plain", 415, "unsupported_media_type"},
		// Found by black-box testing: a lenient reader sees another
		// request than API Gateway's validator and the web ACLs saw.
		{"DuplicateField", "k", strings.Replace(paymentBody(100), `{`, `{"amount":7,`, 1), "", 400, "duplicate_field"},
		{"CaseFoldedField", "k", strings.Replace(paymentBody(100), `{`, `{"Amount":7,`, 1), "", 400, "unknown_field"},
		{"InvalidUTF8", "k", strings.Replace(paymentBody(100), "order 42", "order \xff", 1), "", 400, "invalid_utf8"},
		{"LoneSurrogate", "k", strings.Replace(paymentBody(100), "order 42", `order \ud800`, 1), "", 400, "malformed_json"},
		{"TestCurrency", "k", strings.Replace(paymentBody(100), "SGD", "XTS", 1), "", 400, "currency_unknown"},
		{"PreciousMetal", "k", strings.Replace(paymentBody(100), "SGD", "XAU", 1), "", 400, "currency_unknown"},
		{"WithdrawnCurrency", "k", strings.Replace(paymentBody(100), "SGD", "HRK", 1), "", 400, "currency_unknown"},
		{"FundsCode", "k", strings.Replace(paymentBody(100), "SGD", "USN", 1), "", 400, "currency_unknown"},
		{"CardNumberAsToken", "k", strings.Replace(paymentBody(100), token, "4111111111111111", 1), "", 400, "payment_method_token_is_card_number"},
		{"CardNumberInReference", "k", strings.Replace(paymentBody(100), "order 42", "card 4111 1111 1111 1111", 1), "", 400, "reference_contains_card_number"},
		{"JSONPrefixedType", "k", paymentBody(100), "application/jsonp", 415, "unsupported_media_type"},
		{"OtherCharset", "k", paymentBody(100), "application/json; charset=iso-8859-1", 415, "unsupported_media_type"},
		{"NoContentType", "k", paymentBody(100), "-", 415, "unsupported_media_type"},
		// Found by the second black-box pass.
		{"CardNumberAfterAnotherNumber", "k", strings.Replace(paymentBody(100), "order 42", "invoice 2026 4111 1111 1111 1111", 1), "", 400, "reference_contains_card_number"},
		{"CardNumberInsideToken", "k", strings.Replace(paymentBody(100), token, "tok-4111111111111111", 1), "", 400, "payment_method_token_is_card_number"},
		{"EmptyMerchantId", "k", strings.Replace(paymentBody(100), `"merchant-1"`, `""`, 1), "", 400, "merchant_id_invalid"},
		{"NullMerchantId", "k", strings.Replace(paymentBody(100), `"merchant-1"`, `null`, 1), "", 400, "merchant_id_invalid"},
		{"LongMerchantId", "k", strings.Replace(paymentBody(100), `merchant-1`, strings.Repeat("m", 65), 1), "", 400, "merchant_id_invalid"},
		{"NullBody", "k", `null`, "", 400, "field_type_invalid"},
		{"MissingCurrency", "k", strings.Replace(paymentBody(100), `"currency":"SGD",`, "", 1), "", 400, "currency_required"},
		{"CardNumberAsIdempotencyKey", "4111111111111111", paymentBody(100), "", 400, "idempotency_key_invalid"},
		{"ControlC1InReference", "k", strings.Replace(paymentBody(100), "order 42", `a\u0085b`, 1), "", 400, "reference_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := []string{}
			switch tc.contentType {
			case "":
			case "-":
				headers = []string{"Content-Type", ""}
			default:
				headers = []string{"Content-Type", tc.contentType}
			}
			r := a.post(t, tc.key, tc.body, headers...)
			if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %q %s; want %d problem", r.status, r.header.Get("Content-Type"), r.body, tc.status)
			}
			p := decode[apihttp.Problem](t, r)
			if p.Code != tc.code || p.Status != tc.status || p.Type != "/problems/"+tc.code || p.Detail == "" || p.RequestID == "" {
				t.Errorf("problem %+v, want code %s", p, tc.code)
			}
		})
	}
	if n := a.count(t, `SELECT count(*) FROM payments.payments`); n != 0 {
		t.Errorf("bad requests wrote %d payments", n)
	}
}

// Requests that a lenient server would read one way and API Gateway
// another: duplicated credentials, duplicated media types, content codings,
// undecodable queries, credentials that are no text; and bodies announced
// too large are refused before they are read.
func TestAmbiguousRequests(t *testing.T) {
	a := newAPI(t)
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		headers [][2]string
		status  int
		code    string
	}{
		{"TwoAPIKeyIds", "GET", "/v1/payments", [][2]string{{gateway.HeaderAPIKeyID, merchant1.keyID}, {gateway.HeaderAPIKeyID, merchant2.keyID}}, 401, "credentials_ambiguous"},
		{"TwoSubjects", "GET", "/v1/payments", [][2]string{{gateway.HeaderClientCertSubject, merchant1.subject}, {gateway.HeaderClientCertSubject, merchant2.subject}}, 401, "credentials_ambiguous"},
		{"KeyIdNotUTF8", "GET", "/v1/payments", [][2]string{{gateway.HeaderAPIKeyID, "key-merchant-\xe9"}}, 403, "credential_unknown"},
		{"SubjectNotUTF8", "POST", "/v1/payments", [][2]string{{gateway.HeaderClientCertSubject, "CN=\xff"}}, 403, "credential_unknown"},
		{"TwoContentTypes", "POST", "/v1/payments", [][2]string{{"Content-Type", "application/json"}, {"Content-Type", "text/plain"}}, 415, "unsupported_media_type"},
		{"ContentEncoding", "POST", "/v1/payments", [][2]string{{"Content-Encoding", "gzip"}}, 415, "unsupported_media_type"},
		{"BadEscapeInQuery", "GET", "/v1/payments?limit=2&cursor=MDFh%", nil, 400, "query_invalid"},
		{"SemicolonInQuery", "GET", "/v1/payments?limit=2;x", nil, 400, "query_invalid"},
		{"PaddedCursor", "GET", "/v1/payments?cursor=" + url.QueryEscape("MDE5MGE4ZTQtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAw=="), nil, 400, "cursor_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(paymentBody(100))
			}
			req, _ := http.NewRequest(tc.method, a.URL+tc.path, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "ambiguous")
			setHeaders(req, merchant1.headers())
			for _, h := range tc.headers {
				req.Header.Del(h[0])
			}
			for _, h := range tc.headers {
				req.Header.Add(h[0], h[1])
			}
			r := do(t, req)
			if r.status != tc.status || decode[apihttp.Problem](t, r).Code != tc.code {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	t.Run("AnnouncedTooLarge", func(t *testing.T) {
		conn, err := net.Dial("tcp", a.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: big\r\n"+
			"%s: %s\r\n%s: %s\r\n%s: %s\r\nContent-Length: 99999999999\r\n\r\n{",
			gateway.HeaderAPIKeyID, merchant1.keyID, gateway.HeaderClientCertSubject, merchant1.subject, gateway.HeaderClientCertIssuer, merchant1.issuer)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second)) // well inside the read timeout
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer before the body arrived: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d, want 413 at once", resp.StatusCode)
		}
	})
}

// Nothing a client sends reaches the logs or a problem's detail unless it
// is known to be harmless: the route is logged, not the path; a request id
// that is no id is replaced; problems do not repeat ids, paths or names
// back.
func TestClientInputIsNotEchoed(t *testing.T) {
	a := newAPI(t)
	pan := "4111111111111111"
	req, _ := http.NewRequest("GET", a.URL+"/v1/payments/"+pan, nil)
	setHeaders(req, merchant1.headers())
	req.Header.Set(gateway.HeaderRequestID, "5555555555554444")
	r1 := do(t, req)
	r2 := a.post(t, "echo", strings.Replace(paymentBody(1), `{`, `{"`+pan+`":1,`, 1))
	r3 := a.get(t, "/v1/"+pan)
	for _, r := range []response{r1, r2, r3} {
		if strings.Contains(string(r.body), pan) || strings.Contains(r.header.Get(gateway.HeaderRequestID), "5555555555554444") {
			t.Errorf("echoed: %d %s (request id %s)", r.status, r.body, r.header.Get(gateway.HeaderRequestID))
		}
	}
	if logs := a.logs.String(); strings.Contains(logs, pan) || strings.Contains(logs, "5555555555554444") {
		t.Errorf("logged: %s", logs)
	}
	if logs := a.logs.String(); !strings.Contains(logs, `"route":"GET /v1/payments/{id}"`) {
		t.Errorf("the route is not logged: %s", logs)
	}
}

// Media types are compared as RFC 9110 says: case-insensitive, with an
// optional UTF-8 charset; the currencies' minor units are what ISO 4217
// says, active codes of recent years included.
func TestAcceptedVariants(t *testing.T) {
	a := newAPI(t)
	for i, tc := range []struct{ contentType, currency string }{
		{"application/json", "SGD"},
		{"APPLICATION/JSON", "SGD"},
		{"application/json; charset=UTF-8", "SGD"},
		{"Application/Json;charset=utf-8", "JPY"},
		{"application/json", "VES"}, {"application/json", "MRU"}, {"application/json", "SLE"}, {"application/json", "ZWG"},
		{"application/json", "BHD"},
	} {
		r := a.post(t, fmt.Sprint("variant-", i), strings.Replace(paymentBody(100), "SGD", tc.currency, 1), "Content-Type", tc.contentType)
		if r.status != http.StatusCreated {
			t.Errorf("%s, %s: %d %s, want 201", tc.contentType, tc.currency, r.status, r.body)
		}
	}
}

// No client input makes a 500: ids in other spellings are no payment's
// (PostgreSQL reads only the canonical form), unknown paths and methods
// answer problems like every other error.
func TestRoutingProblems(t *testing.T) {
	a := newAPI(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/payments/urn:uuid:0190a8e4-0000-7000-8000-000000000000", 404, "payment_not_found", ""},
		{"GET", "/v1/payments/{0190a8e4-0000-7000-8000-000000000000}", 404, "payment_not_found", ""},
		{"GET", "/v1/payments/0190a8e400007000800000000000000", 404, "payment_not_found", ""},
		{"GET", "/v1/payments/0190A8E4-0000-7000-8000-000000000000", 404, "payment_not_found", ""},
		{"GET", "/v1/nothing-here", 404, "not_found", ""},
		{"GET", "/", 404, "not_found", ""},
		{"DELETE", "/v1/payments/0190a8e4-0000-7000-8000-000000000000", 405, "method_not_allowed", "GET, HEAD"},
		{"PUT", "/v1/payments", 405, "method_not_allowed", "GET, HEAD, POST"},
	} {
		req, _ := http.NewRequest(tc.method, a.URL+tc.path, nil)
		setHeaders(req, merchant1.headers())
		r := do(t, req)
		if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" || decode[apihttp.Problem](t, r).Code != tc.code {
			t.Errorf("%s %s: %d %q %s, want %d %s", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body, tc.status, tc.code)
		}
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// A body that does not arrive within the server's read timeout is a 408,
// not a malformed body.
func TestSlowBodyTimesOut(t *testing.T) {
	srv := httptest.NewUnstartedServer(apihttp.NewHandler(failing{}, anyone{}, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := paymentBody(100)
	fmt.Fprintf(conn, "POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: k\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || decode[apihttp.Problem](t, response{body: raw}).Code != "request_timeout" {
		t.Errorf("got %d %s, want 408 request_timeout", resp.StatusCode, raw)
	}
}

// stalling blocks until the request's context ends, then fails as the
// database driver does: a client that hung up is not an internal error.
type stalling struct{ failing }

func (stalling) Payment(ctx context.Context, _, _ string) (payments.Payment, error) {
	<-ctx.Done()
	return payments.Payment{}, ctx.Err()
}

func TestClientDisconnectIsNotAnError(t *testing.T) {
	logs := &lockedWriter{w: &bytes.Buffer{}}
	srv := httptest.NewServer(apihttp.NewHandler(stalling{}, anyone{}, slog.New(slog.NewJSONHandler(logs, nil))))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/payments/0190a8e4-0000-7000-8000-000000000000", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `"status":499`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := logs.String()
	if !strings.Contains(got, `"status":499`) || strings.Contains(got, `"level":"ERROR"`) {
		t.Errorf("logs %s, want the request logged with status 499 and no ERROR", got)
	}
}

// Every request acts for the merchant its credentials belong to: never one
// a body names, never another's payments, nothing without both credentials.
func TestTenancy(t *testing.T) {
	a := newAPI(t)
	created := a.post(t, `"t-1"`, paymentBody(100))
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	id := decode[payments.Payment](t, created).ID

	t.Run("MerchantIdMayBeLeftOut", func(t *testing.T) {
		r := a.post(t, `"t-2"`, strings.Replace(paymentBody(100), `"merchantId":"merchant-1",`, "", 1))
		if r.status != http.StatusCreated || decode[payments.Payment](t, r).MerchantID != "merchant-1" {
			t.Errorf("got %d %s, want merchant-1's payment", r.status, r.body)
		}
	})
	t.Run("ErrBodyNamesAnotherMerchant", func(t *testing.T) {
		r := a.post(t, `"t-3"`, paymentBody(100), merchant2.headers()...)
		if r.status != http.StatusForbidden || decode[apihttp.Problem](t, r).Code != "merchant_mismatch" {
			t.Errorf("merchant 2 creating for merchant-1: %d %s, want 403 merchant_mismatch", r.status, r.body)
		}
	})
	t.Run("ErrAnotherMerchantsPaymentIsNotFound", func(t *testing.T) {
		r := a.get(t, "/v1/payments/"+id, merchant2)
		if r.status != http.StatusNotFound || decode[apihttp.Problem](t, r).Code != "payment_not_found" {
			t.Errorf("merchant 2 reading merchant 1's payment: %d %s, want 404", r.status, r.body)
		}
		if r := a.get(t, "/v1/payments/"+id, merchant1Again); r.status != http.StatusOK {
			t.Errorf("merchant 1 with its other key: %d %s", r.status, r.body)
		}
	})
	for _, tc := range []struct {
		name   string
		creds  credentials
		status int
		code   string
	}{
		{"ErrNoAPIKey", credentials{"", merchant1.subject, merchant1.issuer}, 401, "credentials_missing"},
		{"ErrNoCertificate", credentials{merchant1.keyID, "", ""}, 401, "credentials_missing"},
		{"ErrUnknownAPIKey", credentials{"key-nobody", merchant1.subject, merchant1.issuer}, 403, "credential_unknown"},
		{"ErrKeyAndCertificateOfTwoMerchants", credentials{merchant1.keyID, merchant2.subject, merchant2.issuer}, 403, "credentials_mismatch"},
		{"ErrCertificateOfAnotherIssuer", credentials{merchant1.keyID, merchant1.subject, "CN=someone else's CA"}, 403, "credentials_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []response{
				a.get(t, "/v1/payments/"+id, tc.creds), a.get(t, "/v1/payments", tc.creds),
				a.post(t, `"t-x"`, paymentBody(100), tc.creds.headers()...),
			} {
				if r.status != tc.status || decode[apihttp.Problem](t, r).Code != tc.code {
					t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
				}
				if wa := r.header.Get("WWW-Authenticate"); (tc.status == 401) != (wa != "") {
					t.Errorf("status %d with WWW-Authenticate %q", r.status, wa)
				}
			}
		})
	}
	if n := a.count(t, `SELECT count(*) FROM payments.payments`); n != 2 {
		t.Errorf("%d payments, want the two merchant 1 made", n)
	}
}

// A payment's history is the caller's: created by the request's API key
// and request id, chained by hashes; another merchant's is not found.
func TestPaymentHistory(t *testing.T) {
	a := newAPI(t)
	created := a.post(t, `"h-1"`, paymentBody(1250), gateway.HeaderRequestID, "req-history-1")
	id := decode[payments.Payment](t, created).ID
	r := a.get(t, "/v1/payments/"+id+"/events")
	if r.status != http.StatusOK {
		t.Fatalf("GET events: %d %s", r.status, r.body)
	}
	h := decode[apihttp.PaymentHistory](t, r)
	if h.PaymentID != id || len(h.Events) != 1 {
		t.Fatalf("history %+v", h)
	}
	e := h.Events[0]
	if e.Seq != 1 || e.Type != payments.EventCreated || e.Actor != "api-key:"+merchant1.keyID || e.RequestID != "req-history-1" ||
		!strings.Contains(string(e.Details), `"amount":1250`) || strings.Contains(string(e.Details), token) || len(e.Hash) != 64 {
		t.Errorf("event %+v", e)
	}
	// A replay changes nothing, so it records nothing.
	a.post(t, `"h-1"`, paymentBody(1250))
	if r := a.get(t, "/v1/payments/"+id+"/events"); len(decode[apihttp.PaymentHistory](t, r).Events) != 1 {
		t.Errorf("a replay was recorded: %s", r.body)
	}
	for _, tc := range []struct {
		path string
		as   credentials
	}{{"/v1/payments/" + id + "/events", merchant2}, {"/v1/payments/0190a8e4-0000-7000-8000-000000000000/events", merchant1}, {"/v1/payments/x/events", merchant1}} {
		if r := a.get(t, tc.path, tc.as); r.status != http.StatusNotFound {
			t.Errorf("GET %s as %s: %d %s, want 404", tc.path, tc.as.keyID, r.status, r.body)
		}
	}
}

// GET /v1/payments pages through the caller's payments, newest first, and
// only the caller's.
func TestListPayments(t *testing.T) {
	a := newAPI(t)
	var created []string
	for i := range 25 {
		r := a.post(t, fmt.Sprint("list-", i), paymentBody(100+i))
		if r.status != http.StatusCreated {
			t.Fatalf("create %d: %d %s", i, r.status, r.body)
		}
		created = append(created, decode[payments.Payment](t, r).ID)
	}
	a.post(t, "theirs", strings.Replace(paymentBody(1), "merchant-1", "merchant-2", 1), merchant2.headers()...)

	var listed []string
	path, pages := "/v1/payments?limit=10", 0
	for {
		r := a.get(t, path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		page := decode[apihttp.PaymentList](t, r)
		pages++
		for _, p := range page.Payments {
			if p.MerchantID != "merchant-1" {
				t.Errorf("listed %s's payment", p.MerchantID)
			}
			listed = append(listed, p.ID)
		}
		if page.NextCursor == "" {
			break
		}
		path = "/v1/payments?limit=10&cursor=" + page.NextCursor
	}
	slices.Reverse(created)
	if !slices.Equal(listed, created) || pages != 3 {
		t.Errorf("listed %d payments in %d pages, want the 25 created, newest first, in 3", len(listed), pages)
	}
	if page := decode[apihttp.PaymentList](t, a.get(t, "/v1/payments")); len(page.Payments) != payments.DefaultPageSize {
		t.Errorf("default page: %d payments, want %d", len(page.Payments), payments.DefaultPageSize)
	}
	if r := a.get(t, "/v1/payments", merchant2); len(decode[apihttp.PaymentList](t, r).Payments) != 1 {
		t.Errorf("merchant 2's list: %s", r.body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "limit=1&limit=2", "cursor=nope", "cursor=" + created[0]} {
		r := a.get(t, "/v1/payments?"+q)
		if code := decode[apihttp.Problem](t, r).Code; r.status != 400 || (code != "limit_invalid" && code != "cursor_invalid") {
			t.Errorf("?%s: %d %s, want 400", q, r.status, r.body)
		}
	}
}

func TestIdempotency(t *testing.T) {
	t.Run("SameKeySameBodyReplays", func(t *testing.T) {
		a := newAPI(t)
		first := a.post(t, `"order-42"`, paymentBody(500))
		second := a.post(t, `"order-42"`, paymentBody(500))
		if first.status != 201 || second.status != 201 || !bytes.Equal(first.body, second.body) {
			t.Fatalf("first %d %s, second %d %s", first.status, first.body, second.status, second.body)
		}
		if second.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
			t.Error("replay not marked")
		}
		if n := a.count(t, `SELECT count(*) FROM payments.payments`); n != 1 {
			t.Errorf("%d payments, want 1", n)
		}
	})

	t.Run("ErrSameKeyDifferentBody", func(t *testing.T) {
		a := newAPI(t)
		a.post(t, `"order-43"`, paymentBody(500))
		r := a.post(t, `"order-43"`, paymentBody(501))
		if r.status != http.StatusUnprocessableEntity || decode[apihttp.Problem](t, r).Code != "idempotency_key_reused" {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})

	t.Run("KeysAreScopedToTheMerchant", func(t *testing.T) {
		a := newAPI(t)
		body := strings.Replace(paymentBody(500), `"merchantId":"merchant-1",`, "", 1)
		first := a.post(t, `"k"`, body)
		// The merchant's rotated API key replays; another merchant's same
		// key is its own payment.
		rotated := a.post(t, `"k"`, body, merchant1Again.headers()...)
		other := a.post(t, `"k"`, body, merchant2.headers()...)
		if first.status != 201 || !bytes.Equal(rotated.body, first.body) || rotated.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("rotated key: %d %s, want the replay of %s", rotated.status, rotated.body, first.body)
		}
		if other.status != 201 || other.header.Get("Idempotent-Replayed") != "" || decode[payments.Payment](t, other).MerchantID != "merchant-2" {
			t.Errorf("other merchant: %d %s, want its own payment", other.status, other.body)
		}
		if n := a.count(t, `SELECT count(*) FROM payments.payments`); n != 2 {
			t.Errorf("%d payments, want one per merchant", n)
		}
	})

	t.Run("FiftyConcurrentDuplicatesMakeOnePayment", func(t *testing.T) {
		a := newAPI(t)
		var wg sync.WaitGroup
		bodies := make([][]byte, 50)
		statuses := make([]int, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := a.post(t, `"burst-1"`, paymentBody(777))
				statuses[i], bodies[i] = r.status, r.body
			}()
		}
		wg.Wait()
		for i := range 50 {
			if statuses[i] != 201 || !bytes.Equal(bodies[i], bodies[0]) {
				t.Fatalf("request %d: %d %s; want the one payment's 201", i, statuses[i], bodies[i])
			}
		}
		if n := a.count(t, `SELECT count(*) FROM payments.payments`); n != 1 {
			t.Errorf("%d payments, want exactly 1", n)
		}
		if n := a.count(t, `SELECT count(*) FROM payments.payment_events WHERE event_type = 'created'`); n != 1 {
			t.Errorf("%d created events (outbox messages), want exactly 1", n)
		}
	})
}

// While the database is down, requests fail with 503 and a Retry-After, not
// 500; every payment acknowledged with 201, before or after, is stored.
func TestDatabaseOutage(t *testing.T) {
	a := newAPI(t)
	var acknowledged []string
	create := func(key string) response {
		r := a.post(t, `"`+key+`"`, paymentBody(100))
		if r.status == http.StatusCreated {
			acknowledged = append(acknowledged, decode[payments.Payment](t, r).ID)
		}
		return r
	}
	for i := range 5 {
		if r := create(fmt.Sprint("before-", i)); r.status != 201 {
			t.Fatalf("before the outage: %d %s", r.status, r.body)
		}
	}

	if err := server.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			server.Resume()
		}
	}()
	for i := range 5 {
		r := create(fmt.Sprint("during-", i))
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
			decode[apihttp.Problem](t, r).Code != "database_unavailable" {
			t.Errorf("during the outage: %d %s, want 503 database_unavailable", r.status, r.body)
		}
	}
	if r := a.get(t, "/healthz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("healthz during the outage: %d", r.status)
	}

	if err := server.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	deadline := time.Now().Add(20 * time.Second)
	for a.get(t, "/healthz").status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the API did not recover after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A retry with the same key after the outage succeeds once.
	for i := range 5 {
		if r := create(fmt.Sprint("during-", i)); r.status != 201 {
			t.Fatalf("retry after the outage: %d %s", r.status, r.body)
		}
	}
	for _, id := range acknowledged {
		if n := a.count(t, `SELECT count(*) FROM payments.payments WHERE id = $1`, id); n != 1 {
			t.Errorf("acknowledged payment %s is not stored", id)
		}
	}
	if len(acknowledged) != 10 {
		t.Errorf("%d payments acknowledged, want 10", len(acknowledged))
	}
}

// failing is a service whose every call fails with an internal error.
type failing struct{}

func (failing) CreatePayment(context.Context, payments.Actor, payments.Idempotency, payments.NewPayment) (payments.Result, error) {
	return payments.Result{}, errors.New("pq: relation payments_secret_table does not exist")
}
func (failing) Payment(context.Context, string, string) (payments.Payment, error) { panic("boom") }
func (failing) Payments(context.Context, string, payments.PageRequest) (payments.PaymentPage, error) {
	return payments.PaymentPage{}, errors.New("pq: relation payments_secret_table does not exist")
}
func (failing) History(context.Context, string, string) ([]payments.Event, error) {
	return nil, errors.New("pq: relation payments_secret_table does not exist")
}
func (failing) Ping(context.Context) error { return nil }

// anyone takes every caller for merchant 1.
type anyone struct{}

func (anyone) Merchant(context.Context, payments.Caller) (string, error) { return "merchant-1", nil }

func TestInternalErrorsAreNotEchoed(t *testing.T) {
	logs := &bytes.Buffer{}
	srv := httptest.NewServer(apihttp.NewHandler(failing{}, anyone{}, slog.New(slog.NewJSONHandler(logs, nil))))
	defer srv.Close()
	a := &api{Server: srv}
	for _, r := range []response{a.post(t, "k", paymentBody(1)), a.get(t, "/v1/payments/0190a8e4-0000-7000-8000-000000000000"), a.get(t, "/v1/payments")} {
		if r.status != 500 || strings.Contains(string(r.body), "payments_secret_table") || strings.Contains(string(r.body), "boom") ||
			decode[apihttp.Problem](t, r).Detail != "internal error" {
			t.Errorf("got %d %s", r.status, r.body)
		}
	}
	if !strings.Contains(logs.String(), "payments_secret_table") {
		t.Error("the internal error was not logged")
	}
}
