// Package http is the payment API over HTTP: routes, request decoding,
// RFC 9457 problem responses, and the mapping of domain error codes to
// status codes (which happens here and nowhere else).
package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/openapi"
	"github.com/fintech/payments-platform/payments"
)

// MaxBodyBytes bounds a request body: a payment is a few hundred bytes.
const MaxBodyBytes = 16 << 10

// statusClientClosedRequest is what the request log says of a request whose
// client disconnected before the answer (nginx's convention; never sent).
const statusClientClosedRequest = 499

// Handler serves the payment API.
type Handler struct {
	service   payments.Service
	merchants payments.Merchants
	log       *slog.Logger
	mux       *http.ServeMux
}

// NewHandler routes the API to service. Every payment route acts for the
// merchant that merchants finds for the request's credentials.
func NewHandler(service payments.Service, merchants payments.Merchants, log *slog.Logger) *Handler {
	h := &Handler{service: service, merchants: merchants, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/payments", h.forMerchant(h.createPayment))
	h.mux.HandleFunc("GET /v1/payments", h.forMerchant(h.listPayments))
	h.mux.HandleFunc("GET /v1/payments/{id}", h.forMerchant(h.getPayment))
	h.mux.HandleFunc("GET /v1/payments/{id}/events", h.forMerchant(h.paymentHistory))
	h.mux.HandleFunc("GET "+openapi.Path, h.document)
	h.mux.HandleFunc("GET /healthz", h.health)
	return h
}

// document serves the API's OpenAPI document, the contract every answer
// of this handler is tested against.
func (h *Handler) document(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openapi.Document)
}

// caller is who a request is from: the merchant, and the API key it used.
type caller struct{ merchantID, apiKeyID string }

// actor is the caller as a payment's history records it.
func (c caller) actor(r *http.Request) payments.Actor {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return payments.Actor{Credential: "api-key:" + c.apiKeyID, RequestID: id}
}

// merchantHandler serves a request for the caller it identified.
type merchantHandler func(w http.ResponseWriter, r *http.Request, c caller)

// forMerchant identifies the caller's merchant from the credentials API
// Gateway forwards (gateway's headers, which it sets, replacing a client's),
// before anything else: a request without them is a 401, with another's
// or unknown ones a 403. Each header must come exactly once: were a
// client's value ever passed on next to API Gateway's, the request is
// refused rather than read by whichever value comes first.
func (h *Handler) forMerchant(next merchantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var credentials [3]string
		for i, name := range []string{gateway.HeaderAPIKeyID, gateway.HeaderClientCertSubject, gateway.HeaderClientCertIssuer} {
			switch values := r.Header.Values(name); len(values) {
			case 0:
			case 1:
				credentials[i] = values[0]
			default:
				h.problem(r.Context(), w, payments.Errorf(payments.EUNAUTHORIZED, "credentials_ambiguous", "the request carries %s more than once", name))
				return
			}
		}
		merchantID, err := h.merchants.Merchant(r.Context(), payments.Caller{
			APIKeyID: credentials[0], CertificateSubject: credentials[1], CertificateIssuer: credentials[2],
		})
		if err != nil {
			h.problem(r.Context(), w, err)
			return
		}
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.merchantID = merchantID
		}
		next(w, r, caller{merchantID: merchantID, apiKeyID: credentials[0]})
	}
}

// ServeHTTP adds a request id, recovers panics, and logs one line per request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// API Gateway's request id (a UUID); anything else a client sends is
	// replaced, so that no client input reaches the logs as an id.
	id := r.Header.Get(gateway.HeaderRequestID)
	if !requestIDPattern.MatchString(id) || payments.IsCardNumber(id) {
		id = newRequestID()
	}
	w.Header().Set(gateway.HeaderRequestID, id)
	info := &requestInfo{}
	ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey{}, id), requestInfoKey{}, info)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "panic", "requestId", id, "panic", p)
			h.problem(ctx, rec, &payments.Error{Code: payments.EINTERNAL, Reason: "internal_error", Message: "internal error"})
		}
		// Never the body: it holds the payment method token.
		// The route, not the path: a path is client input (it could hold
		// a card number); the payment id is logged only when it is one.
		route, paymentID := r.Pattern, r.PathValue("id")
		if route == "" {
			route = "(no route)"
		}
		if !payments.IsPaymentID(paymentID) {
			paymentID = ""
		}
		h.log.InfoContext(ctx, "request", "requestId", id, "method", sanitizedMethod(r.Method), "route", route, "paymentId", paymentID,
			"status", rec.status, "durationMs", time.Since(start).Milliseconds(),
			"merchantId", info.merchantID, "apiKeyId", r.Header.Get(gateway.HeaderAPIKeyID))
	}()
	r = r.WithContext(ctx)
	// A path in another spelling ("//", "/./", a trailing "/") names no
	// resource: a problem, not the mux's redirect to a cleaned path.
	if _, pattern := h.mux.Handler(r); pattern == "" || path.Clean(r.URL.Path) != r.URL.Path {
		h.unrouted(rec, r)
		return
	}
	h.mux.ServeHTTP(rec, r)
}

// unrouted answers a request no route matches as a problem, like every
// other error: 404, or 405 with the Allow header the mux computes.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	fallback, pattern := h.mux.Handler(r)
	probe := &headerProbe{header: http.Header{}}
	if pattern == "" {
		fallback.ServeHTTP(probe, r)
	}
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		h.problem(r.Context(), w, payments.Errorf(payments.EINVALID, "method_not_allowed", "this method is not allowed on this resource; allowed: %s", probe.header.Get("Allow")))
		return
	}
	h.problem(r.Context(), w, payments.Errorf(payments.ENOTFOUND, "not_found", "no such resource"))
}

// headerProbe records what the mux's own 404 or 405 handler would answer,
// and discards its text/plain body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }

type requestIDKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// sanitizedMethod is the method if it is one HTTP defines, else "other".
func sanitizedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "other"
}

// requestInfo is what the request log line says beyond the request itself:
// the merchant it acted for, once known.
type (
	requestInfo    struct{ merchantID string }
	requestInfoKey struct{}
)

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (h *Handler) createPayment(w http.ResponseWriter, r *http.Request, c caller) {
	ctx := r.Context()
	if err := requireJSON(r.Header); err != nil {
		h.problem(ctx, w, err)
		return
	}
	key, err := IdempotencyKey(r.Header)
	if err != nil {
		h.problem(ctx, w, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		h.problem(ctx, w, err)
		return
	}
	p, err := DecodeNewPayment(body, c.merchantID)
	if err != nil {
		h.problem(ctx, w, err)
		return
	}
	res, err := h.service.CreatePayment(ctx, c.actor(r), payments.Idempotency{Key: key, Fingerprint: p.Fingerprint()}, p)
	if err != nil {
		h.problem(ctx, w, err)
		return
	}
	w.Header().Set("Location", "/v1/payments/"+res.Payment.ID)
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	h.json(w, http.StatusCreated, res.Payment)
}

func (h *Handler) getPayment(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	if !payments.IsPaymentID(id) {
		h.problem(r.Context(), w, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no such payment: a payment id is a UUID such as 0192f0c1-9c4e-7d2a-8b3f-5a6e7c8d9e0f"))
		return
	}
	p, err := h.service.Payment(r.Context(), c.merchantID, id)
	if err != nil {
		h.problem(r.Context(), w, err)
		return
	}
	h.json(w, http.StatusOK, p)
}

// PaymentHistory is the body of GET /v1/payments/{id}/events: what
// happened to the payment, oldest first, each event chained to the one
// before by its hash.
type PaymentHistory struct {
	PaymentID string           `json:"paymentId"`
	Events    []payments.Event `json:"events"`
}

func (h *Handler) paymentHistory(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	if !payments.IsPaymentID(id) {
		h.problem(r.Context(), w, payments.Errorf(payments.ENOTFOUND, "payment_not_found", "no such payment: a payment id is a UUID such as 0192f0c1-9c4e-7d2a-8b3f-5a6e7c8d9e0f"))
		return
	}
	events, err := h.service.History(r.Context(), c.merchantID, id)
	if err != nil {
		h.problem(r.Context(), w, err)
		return
	}
	h.json(w, http.StatusOK, PaymentHistory{PaymentID: strings.ToLower(id), Events: events})
}

// PaymentList is the body of GET /v1/payments: a page of the caller's
// payments, newest first, and the cursor of the next page (absent on the
// last).
type PaymentList struct {
	Payments   []payments.Payment `json:"payments"`
	NextCursor string             `json:"nextCursor,omitempty"`
}

func (h *Handler) listPayments(w http.ResponseWriter, r *http.Request, c caller) {
	page, err := PageRequest(r.URL.RawQuery)
	if err != nil {
		h.problem(r.Context(), w, err)
		return
	}
	result, err := h.service.Payments(r.Context(), c.merchantID, page)
	if err != nil {
		h.problem(r.Context(), w, err)
		return
	}
	list := PaymentList{Payments: result.Payments}
	if list.Payments == nil {
		list.Payments = []payments.Payment{}
	}
	if result.Next != "" {
		list.NextCursor = encodeCursor(result.Next)
	}
	h.json(w, http.StatusOK, list)
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.service.Ping(ctx); err != nil {
		h.problem(r.Context(), w, err)
		return
	}
	h.json(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Problem is an RFC 9457 problem-details body, with the stable reason in
// "code".
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"requestId,omitempty"`
}

// statusOf maps a domain error code to an HTTP status.
func statusOf(e *payments.Error) int {
	switch e.Code {
	case payments.EINVALID:
		switch e.Reason {
		case "body_too_large":
			return http.StatusRequestEntityTooLarge
		case "unsupported_media_type":
			return http.StatusUnsupportedMediaType
		case "request_timeout":
			return http.StatusRequestTimeout
		case "method_not_allowed":
			return http.StatusMethodNotAllowed
		}
		return http.StatusBadRequest
	case payments.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case payments.EFORBIDDEN:
		return http.StatusForbidden
	case payments.ENOTFOUND:
		return http.StatusNotFound
	case payments.ECONFLICT:
		if e.Reason == "idempotency_key_reused" {
			return http.StatusUnprocessableEntity // draft-ietf-httpapi-idempotency-key-header
		}
		return http.StatusConflict
	case payments.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problem writes err as a problem. Internal errors are logged with their
// text and shown to the client only as "internal error".
func (h *Handler) problem(ctx context.Context, w http.ResponseWriter, err error) {
	var e *payments.Error
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away before the answer: nothing failed here, and
		// nobody reads what is written. Logged as nginx's 499.
		h.log.InfoContext(ctx, "client closed the request", "requestId", ctx.Value(requestIDKey{}))
		if rec, ok := w.(*statusRecorder); ok {
			rec.status = statusClientClosedRequest
		}
		return
	}
	if !errors.As(err, &e) {
		h.log.ErrorContext(ctx, "internal error", "requestId", ctx.Value(requestIDKey{}), "error", err)
		e = &payments.Error{Code: payments.EINTERNAL, Reason: "internal_error", Message: "internal error"}
	} else if e.Code == payments.EUNAVAILABLE {
		h.log.WarnContext(ctx, "dependency unavailable", "requestId", ctx.Value(requestIDKey{}), "error", err)
		w.Header().Set("Retry-After", "1")
	}
	status := statusOf(e)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `ApiKey realm="payments"`)
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{
		Type: "/problems/" + e.Reason, Title: http.StatusText(status), Status: status,
		Detail: e.Message, Code: e.Reason, RequestID: id,
	})
}
