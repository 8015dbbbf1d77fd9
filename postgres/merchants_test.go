package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var (
	acmeCert  = gateway.Certificate{Subject: "CN=acme,O=Acme", Issuer: "CN=payments CA"}
	otherCert = gateway.Certificate{Subject: "CN=globex,O=Globex", Issuer: "CN=payments CA"}
)

func newRegistry(t *testing.T, ttl time.Duration) *postgres.MerchantRegistry {
	t.Helper()
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.NewMerchantRegistry(pool, ttl)
}

func caller(key string, cert gateway.Certificate) payments.Caller {
	return payments.Caller{APIKeyID: key, CertificateSubject: cert.Subject, CertificateIssuer: cert.Issuer}
}

func wantReason(t *testing.T, err error, code, reason string) {
	t.Helper()
	var e *payments.Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		t.Errorf("got %v, want %s (%s)", err, code, reason)
	}
}

// A request is the merchant's whose API key and certificate are both
// registered to it; anything less is refused.
func TestMerchantRegistry(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, 0)
	for _, step := range []error{
		r.Register(ctx, "acme", acmeCert), r.Register(ctx, "acme", acmeCert), // again: no change
		r.Register(ctx, "globex", otherCert),
		r.AddAPIKey(ctx, "acme", "key-acme-1"), r.AddAPIKey(ctx, "acme", "key-acme-2"), r.AddAPIKey(ctx, "acme", "key-acme-1"),
		r.AddAPIKey(ctx, "globex", "key-globex"),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}

	t.Run("OK", func(t *testing.T) {
		for _, key := range []string{"key-acme-1", "key-acme-2"} {
			if got, err := r.Merchant(ctx, caller(key, acmeCert)); err != nil || got != "acme" {
				t.Errorf("%s: %q, %v", key, got, err)
			}
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		for _, c := range []payments.Caller{{}, caller("", acmeCert), caller("key-acme-1", gateway.Certificate{}), {APIKeyID: "k", CertificateSubject: "CN=acme"}} {
			_, err := r.Merchant(ctx, c)
			wantReason(t, err, payments.EUNAUTHORIZED, "credentials_missing")
		}
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		_, err := r.Merchant(ctx, caller("key-nobody", acmeCert))
		wantReason(t, err, payments.EFORBIDDEN, "credential_unknown")
	})
	t.Run("ErrAnotherMerchantsCertificate", func(t *testing.T) {
		_, err := r.Merchant(ctx, caller("key-acme-1", otherCert))
		wantReason(t, err, payments.EFORBIDDEN, "credentials_mismatch")
	})
	t.Run("ErrSameSubjectOtherIssuer", func(t *testing.T) {
		_, err := r.Merchant(ctx, caller("key-acme-1", gateway.Certificate{Subject: acmeCert.Subject, Issuer: "CN=another CA"}))
		wantReason(t, err, payments.EFORBIDDEN, "credentials_mismatch")
	})
	t.Run("ErrConflicts", func(t *testing.T) {
		wantReason(t, r.Register(ctx, "acme", otherCert), payments.ECONFLICT, "merchant_certificate_differs")
		wantReason(t, r.Register(ctx, "initech", acmeCert), payments.ECONFLICT, "certificate_in_use")
		wantReason(t, r.AddAPIKey(ctx, "globex", "key-acme-1"), payments.ECONFLICT, "api_key_in_use")
		wantReason(t, r.AddAPIKey(ctx, "nobody", "key-x"), payments.ENOTFOUND, "merchant_not_found")
		wantReason(t, r.Register(ctx, "bad id", acmeCert), payments.EINVALID, "merchant_id_invalid")
	})
	t.Run("RetiredKeysStopWorking", func(t *testing.T) {
		n, err := r.RetainAPIKeys(ctx, "acme", []string{"key-acme-2"})
		if err != nil || n != 1 {
			t.Fatalf("retained: %d, %v", n, err)
		}
		_, err = r.Merchant(ctx, caller("key-acme-1", acmeCert))
		wantReason(t, err, payments.EFORBIDDEN, "credential_unknown")
		if ok, err := r.HasAPIKey(ctx, "acme", "key-acme-2"); !ok || err != nil {
			t.Errorf("key-acme-2 lost: %v", err)
		}
	})
	t.Run("OffboardedMerchantsStopWorking", func(t *testing.T) {
		if removed, err := r.Remove(ctx, "globex"); !removed || err != nil {
			t.Fatalf("remove: %v %v", removed, err)
		}
		_, err := r.Merchant(ctx, caller("key-globex", otherCert))
		wantReason(t, err, payments.EFORBIDDEN, "credential_unknown")
		if removed, err := r.Remove(ctx, "globex"); removed || err != nil {
			t.Errorf("second remove: %v %v", removed, err)
		}
	})
}

// An answer is reused for the ttl and no longer: a retired credential stops
// working within it.
func TestMerchantRegistryCache(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t, time.Hour)
	if err := errors.Join(r.Register(ctx, "acme", acmeCert), r.AddAPIKey(ctx, "acme", "k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Merchant(ctx, caller("k1", acmeCert)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RetainAPIKeys(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.HasAPIKey(ctx, "acme", "k1"); ok || err != nil {
		t.Fatalf("k1 not forgotten: %v", err)
	}
	if got, err := r.Merchant(ctx, caller("k1", acmeCert)); err != nil || got != "acme" {
		t.Errorf("within the ttl: %q, %v; want the cached answer", got, err)
	}
	fresh := newRegistry(t, 0)
	if err := errors.Join(fresh.Register(ctx, "acme", acmeCert), fresh.AddAPIKey(ctx, "acme", "k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Merchant(ctx, caller("k1", acmeCert)); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.RetainAPIKeys(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	_, err := fresh.Merchant(ctx, caller("k1", acmeCert))
	wantReason(t, err, payments.EFORBIDDEN, "credential_unknown")
}
