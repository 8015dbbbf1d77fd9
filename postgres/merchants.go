package postgres

import (
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/payments"
)

// MerchantRegistry is the registry of merchants and their credentials:
// which client certificate and which API keys belong to which merchant. The
// API reads it (Merchant, as the application role); the merchant-key
// manager and local tooling write it (as the registrar role).
type MerchantRegistry struct {
	pool *pgxpool.Pool
	// ttl bounds how long an answer is reused: a key retired or a merchant
	// offboarded stops working within it (API Gateway refuses a deleted key
	// at once anyway).
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	known map[payments.Caller]knownCaller
}

type knownCaller struct {
	merchant string
	expires  time.Time
}

// MerchantAnswerTTL is how long the API reuses the registry's answer for a
// caller: one database read per caller and task every 30 seconds instead of
// one per request, and a retired key or an offboarded merchant refused
// within 30 seconds.
const MerchantAnswerTTL = 30 * time.Second

// maxCredentialBytes bounds an API key id or a certificate's name.
const maxCredentialBytes = 1024

// maxKnownCallers bounds the cache: a few credentials per merchant.
const maxKnownCallers = 10_000

var _ payments.Merchants = (*MerchantRegistry)(nil)

// NewMerchantRegistry reads and writes the registry in pool, reusing a
// caller's merchant for ttl (0: never).
func NewMerchantRegistry(pool *pgxpool.Pool, ttl time.Duration) *MerchantRegistry {
	return &MerchantRegistry{pool: pool, ttl: ttl, now: time.Now, known: map[payments.Caller]knownCaller{}}
}

// Merchant implements payments.Merchants: one indexed read, or none while
// the answer is fresh.
func (r *MerchantRegistry) Merchant(ctx context.Context, caller payments.Caller) (string, error) {
	if caller.APIKeyID == "" || caller.CertificateSubject == "" || caller.CertificateIssuer == "" {
		return "", payments.Errorf(payments.EUNAUTHORIZED, "credentials_missing",
			"a request needs an API key (x-api-key) and a client certificate (mutual TLS)")
	}
	// No registered credential is longer or other than UTF-8 text (the
	// database would refuse the comparison as an error).
	for _, c := range []string{caller.APIKeyID, caller.CertificateSubject, caller.CertificateIssuer} {
		if len(c) > maxCredentialBytes || !utf8.ValidString(c) {
			return "", payments.Errorf(payments.EFORBIDDEN, "credential_unknown", "the credentials belong to no merchant")
		}
	}
	now := r.now()
	r.mu.Lock()
	k, ok := r.known[caller]
	r.mu.Unlock()
	if ok && now.Before(k.expires) {
		return k.merchant, nil
	}
	var merchant string
	var certificateMatches bool
	err := r.pool.QueryRow(ctx, `SELECT k.merchant_id, m.client_cert_subject = $2 AND m.client_cert_issuer = $3
		FROM payments.merchant_api_keys k JOIN payments.merchants m ON m.id = k.merchant_id
		WHERE k.api_key_id = $1`, caller.APIKeyID, caller.CertificateSubject, caller.CertificateIssuer).Scan(&merchant, &certificateMatches)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", payments.Errorf(payments.EFORBIDDEN, "credential_unknown", "the API key belongs to no merchant")
	case err != nil:
		return "", classify(err)
	case !certificateMatches:
		return "", payments.Errorf(payments.EFORBIDDEN, "credentials_mismatch",
			"the API key and the client certificate do not belong to the same merchant")
	}
	if r.ttl > 0 {
		r.mu.Lock()
		if len(r.known) >= maxKnownCallers {
			clear(r.known)
		}
		r.known[caller] = knownCaller{merchant: merchant, expires: now.Add(r.ttl)}
		r.mu.Unlock()
	}
	return merchant, nil
}

// Register records a merchant and its client certificate. Registering the
// same merchant with the same certificate again changes nothing; another
// certificate for a registered merchant, or a certificate another merchant
// holds, is a conflict.
func (r *MerchantRegistry) Register(ctx context.Context, merchantID string, cert gateway.Certificate) error {
	if err := payments.ValidateMerchantID(merchantID); err != nil {
		return err
	}
	_, err := r.pool.Exec(ctx, `INSERT INTO payments.merchants (id, client_cert_subject, client_cert_issuer)
		VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, merchantID, cert.Subject, cert.Issuer)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: the certificate
		return payments.Errorf(payments.ECONFLICT, "certificate_in_use", "another merchant is registered with the certificate %q issued by %q", cert.Subject, cert.Issuer)
	}
	if err != nil {
		return classify(err)
	}
	var stored gateway.Certificate
	if err := r.pool.QueryRow(ctx, `SELECT client_cert_subject, client_cert_issuer FROM payments.merchants WHERE id = $1`, merchantID).
		Scan(&stored.Subject, &stored.Issuer); err != nil {
		return classify(err)
	}
	if stored != cert {
		return payments.Errorf(payments.ECONFLICT, "merchant_certificate_differs",
			"merchant %s is registered with the certificate %q issued by %q: offboard it first to change it", merchantID, stored.Subject, stored.Issuer)
	}
	return nil
}

// AddAPIKey records an API key of a registered merchant; recording it again
// changes nothing.
func (r *MerchantRegistry) AddAPIKey(ctx context.Context, merchantID, apiKeyID string) error {
	tag, err := r.pool.Exec(ctx, `INSERT INTO payments.merchant_api_keys (api_key_id, merchant_id) VALUES ($1, $2)
		ON CONFLICT (api_key_id) DO UPDATE SET merchant_id = EXCLUDED.merchant_id WHERE merchant_api_keys.merchant_id = EXCLUDED.merchant_id`,
		apiKeyID, merchantID)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		return payments.Errorf(payments.ENOTFOUND, "merchant_not_found", "merchant %s is not registered", merchantID)
	case err != nil:
		return classify(err)
	case tag.RowsAffected() == 0:
		return payments.Errorf(payments.ECONFLICT, "api_key_in_use", "API key %s belongs to another merchant", apiKeyID)
	}
	return nil
}

// HasAPIKey reports whether the API key is recorded as the merchant's.
func (r *MerchantRegistry) HasAPIKey(ctx context.Context, merchantID, apiKeyID string) (bool, error) {
	var ok bool
	err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payments.merchant_api_keys WHERE api_key_id = $1 AND merchant_id = $2)`,
		apiKeyID, merchantID).Scan(&ok)
	return ok, classify(err)
}

// RetainAPIKeys forgets the merchant's API keys other than keep, and
// returns how many it forgot.
func (r *MerchantRegistry) RetainAPIKeys(ctx context.Context, merchantID string, keep []string) (int64, error) {
	// A nil keep is NULL to the database, and "= ANY (NULL)" is NULL: it
	// would keep everything instead of nothing.
	tag, err := r.pool.Exec(ctx, `DELETE FROM payments.merchant_api_keys
		WHERE merchant_id = $1 AND NOT (api_key_id = ANY (coalesce($2::text[], '{}')))`, merchantID, keep)
	if err != nil {
		return 0, classify(err)
	}
	return tag.RowsAffected(), nil
}

// Remove forgets a merchant and its API keys: its credentials stop working
// (within the readers' ttl). Its payments stay. It reports whether the
// merchant was registered.
func (r *MerchantRegistry) Remove(ctx context.Context, merchantID string) (bool, error) {
	tag, err := r.pool.Exec(ctx, `DELETE FROM payments.merchants WHERE id = $1`, merchantID)
	if err != nil {
		return false, classify(err)
	}
	return tag.RowsAffected() == 1, nil
}
