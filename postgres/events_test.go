package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/fintech/payments-platform/audit"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

// history is a migrated database with a payment service, a processor and
// the event log, plus a superuser connection for tampering.
type history struct {
	pool      *pgxpool.Pool
	admin     *sql.DB
	service   *postgres.PaymentService
	processor *postgres.PaymentProcessor
	log       *postgres.EventLog
}

func newHistory(t *testing.T) history {
	t.Helper()
	dsn := server.NewDatabase(t)
	admin := pgtest.Open(t, dsn)
	if _, err := postgres.Bootstrap(context.Background(), admin, postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := postgres.NewEventLog(pool)
	log.SettleAfter = 0 // the tests anchor what they just wrote
	return history{pool: pool, admin: admin, service: postgres.NewPaymentService(pool, pool),
		processor: postgres.NewPaymentProcessor(pool, payments.RulesAcquirer{}), log: log}
}

// pay creates and processes n payments of the merchant; tokens starting
// tok_decline are declined.
func (h history) pay(t *testing.T, merchant string, n int, token string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		p := payments.NewPayment{MerchantID: merchant, Amount: int64(100 + i), Currency: "SGD", PaymentMethodToken: token, Reference: fmt.Sprint("order ", i)}
		res, err := h.service.CreatePayment(context.Background(), payments.Actor{Credential: "api-key:k1", RequestID: fmt.Sprint("req-", i)},
			payments.Idempotency{Key: fmt.Sprint(merchant, "-", token, "-", i), Fingerprint: p.Fingerprint()}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.processor.Process(context.Background(), res.Payment.ID, payments.Actor{Credential: "processor", RequestID: fmt.Sprint("msg-", i)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Payment.ID)
	}
	return ids
}

// The database's event_hash and audit.Hash agree on every event the
// platform writes, so that the chains the database writes verify in Go.
func TestEventHashAgreesWithGo(t *testing.T) {
	h := newHistory(t)
	h.pay(t, "acme", 3, "tok_approve_1")
	h.pay(t, "acme", 2, "tok_decline_1")
	var n int
	err := h.log.Chains(context.Background(), func(chain []audit.Event) error {
		n++
		if b := audit.VerifyChain(chain); b != nil {
			t.Errorf("chain of %s: %v", chain[0].PaymentID, b)
		}
		want := []string{payments.EventCreated, payments.EventProcessing, payments.EventSettled}
		if strings.Contains(chain[len(chain)-1].Type, "declined") {
			want[2] = payments.EventDeclined
		}
		for i, e := range chain {
			if i < len(want) && e.Type != want[i] {
				t.Errorf("%s event %d is %s, want %s", e.PaymentID, e.Seq, e.Type, want[i])
			}
		}
		if len(chain) != 3 || chain[0].Actor != "api-key:k1" || chain[1].Actor != "processor" || !strings.HasPrefix(chain[1].RequestID, "msg-") {
			t.Errorf("chain %+v", chain)
		}
		return nil
	})
	if err != nil || n != 5 {
		t.Fatalf("%d chains, %v", n, err)
	}
	// Every character the canonical text may hold, through both.
	for _, details := range []string{`{}`, `{"reference":"commande n°42 — 注文\n\"quoted\""}`} {
		at := time.Date(2026, 11, 29, 5, 6, 7, 123456000, time.FixedZone("SGT", 8*3600))
		e := audit.Event{PaymentID: "0190a8e4-0000-7000-8000-000000000001", Type: "created", MerchantID: "acme", Actor: "api-key:k", RequestID: "r", OccurredAt: at, Details: details}
		var got []byte
		if err := h.admin.QueryRow(`SELECT payments.event_hash(NULL, $1, $2, $3, $4, $5, $6, $7)`,
			e.PaymentID, e.Type, e.MerchantID, e.Actor, e.RequestID, e.OccurredAt, e.Details).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := audit.Hash(nil, e); string(got) != string(want) {
			t.Errorf("details %q: the database hashes %x, Go %x", details, got, want)
		}
	}
}

// The history is append-only: the application role may not change or
// remove an event, and the table refuses even its owner.
func TestHistoryIsAppendOnly(t *testing.T) {
	h := newHistory(t)
	h.pay(t, "acme", 1, "tok_approve_1")
	for _, stmt := range []string{
		`UPDATE payments.payment_events SET details = '{"amount":1}'`,
		`DELETE FROM payments.payment_events`,
		`TRUNCATE payments.payment_events`,
	} {
		if _, err := h.pool.Exec(context.Background(), stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
		if _, err := h.admin.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s as the owner: %v, want the trigger's refusal", stmt, err)
		}
	}
	var appMayUpdate bool
	if err := h.admin.QueryRow(`SELECT has_table_privilege('payments_app', 'payments.payment_events', 'UPDATE')`).Scan(&appMayUpdate); err != nil || appMayUpdate {
		t.Errorf("payments_app may update the history: %v %v", appMayUpdate, err)
	}
}

// Tampering is found: an edited event breaks its chain at that event; an
// administrator who recomputes the whole chain still breaks the anchor
// signed before; a removed event, a missing anchor and a forged signature
// are found too.
func TestTamperingIsFound(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	ids := h.pay(t, "acme", 4, "tok_approve_1")
	signer, err := audit.NewLocalSigner()
	if err != nil {
		t.Fatal(err)
	}
	anchors := audit.DirAnchors(t.TempDir())
	now := time.Now()
	if a, err := audit.AnchorNext(ctx, "test", h.log, anchors, signer, now); err != nil || a == nil || a.Events != 12 {
		t.Fatalf("anchor: %+v, %v", a, err)
	}
	h.pay(t, "globex", 1, "tok_approve_1")
	if a, err := audit.AnchorNext(ctx, "test", h.log, anchors, signer, now); err != nil || a == nil || a.Events != 3 || a.Previous == "" {
		t.Fatalf("second anchor: %+v, %v", a, err)
	}
	if a, err := audit.AnchorNext(ctx, "test", h.log, anchors, signer, now); err != nil || a != nil {
		t.Fatalf("nothing new, yet anchored %+v, %v", a, err)
	}
	if r, err := audit.Verify(ctx, h.log, anchors, signer); err != nil || !r.OK() || r.Payments != 5 || r.Events != 15 || r.Anchors != 2 {
		t.Fatalf("untouched: %+v, %v", r, err)
	}

	tamper := func(t *testing.T, stmts ...string) {
		t.Helper()
		stmts = append(append([]string{`ALTER TABLE payments.payment_events DISABLE TRIGGER payment_events_append_only`}, stmts...),
			`ALTER TABLE payments.payment_events ENABLE TRIGGER payment_events_append_only`)
		for _, s := range stmts {
			if _, err := h.admin.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	verify := func(t *testing.T) audit.Report {
		t.Helper()
		r, err := audit.Verify(ctx, h.log, anchors, signer)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("EditedEventBreaksItsChain", func(t *testing.T) {
		tamper(t, fmt.Sprintf(`UPDATE payments.payment_events SET details = '{"fee":1}' WHERE payment_id = '%s' AND seq = 3`, ids[1]))
		r := verify(t)
		if r.OK() || r.Broken[0].PaymentID != ids[1] || r.Broken[0].Seq != 3 {
			t.Fatalf("report %+v, want payment %s broken at event 3 first", r, ids[1])
		}
	})
	t.Run("RecomputedChainBreaksTheAnchor", func(t *testing.T) {
		// The administrator recomputes event 3's hash (the chain's last):
		// the chain verifies, the anchor does not.
		tamper(t, fmt.Sprintf(`UPDATE payments.payment_events e SET hash = payments.event_hash(p.hash, e.payment_id, e.event_type, e.merchant_id, e.actor, e.request_id, e.occurred_at, e.details)
			FROM payments.payment_events p WHERE e.payment_id = '%s' AND e.seq = 3 AND p.payment_id = e.payment_id AND p.seq = 2`, ids[1]))
		r := verify(t)
		if len(r.Broken) != 1 || r.Broken[0].Anchor == "" || !strings.Contains(r.Broken[0].Reason, "even if its chain was recomputed") {
			t.Fatalf("report %+v, want only the first anchor broken", r)
		}
	})
	t.Run("RemovedEventIsFound", func(t *testing.T) {
		tamper(t, fmt.Sprintf(`DELETE FROM payments.payment_events WHERE payment_id = '%s' AND seq = 2`, ids[2]))
		r := verify(t)
		found := false
		for _, b := range r.Broken {
			found = found || b.PaymentID == ids[2] && strings.Contains(b.Reason, "missing")
		}
		if !found {
			t.Fatalf("report %+v, want payment %s's missing event", r, ids[2])
		}
	})
	t.Run("ForgedOrMissingAnchorIsFound", func(t *testing.T) {
		other, _ := audit.NewLocalSigner()
		r, err := audit.Verify(ctx, h.log, anchors, other)
		if err != nil || r.OK() || !strings.Contains(r.Broken[len(r.Broken)-1].Reason, "signature") {
			t.Fatalf("verified with another key: %+v, %v", r, err)
		}
		list, _ := anchors.List(ctx)
		r, err = audit.Verify(ctx, h.log, onlyLast{anchors, list[len(list)-1]}, signer)
		found := false
		for _, b := range r.Broken {
			found = found || strings.Contains(b.Reason, "an anchor is missing")
		}
		if err != nil || !found {
			t.Fatalf("first anchor removed: %+v, %v", r, err)
		}
	})
}

// onlyLast lists only the last anchor, as if the others had been removed.
type onlyLast struct {
	audit.Anchors
	last audit.Anchor
}

func (o onlyLast) List(context.Context) ([]audit.Anchor, error) { return []audit.Anchor{o.last}, nil }

// Payments made before the history existed get the events their state
// implies, and those chains verify like any other.
func TestMigrationBackfillsHistory(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Open(t, server.NewDatabase(t))
	provider, err := goose.NewProvider(goose.DialectPostgres, db, postgres.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO payments.payments (id, merchant_id, amount_minor, currency, payment_method_token, reference, status)
		VALUES ('0190a8e4-0000-7000-8000-000000000001', 'acme', 100, 'SGD', 'tok_12345678', 'r', 'pending'),
		       ('0190a8e4-0000-7000-8000-000000000002', 'acme', 100, 'SGD', 'tok_12345678', 'r', 'settled')`); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT id, payment_id::text, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash
		FROM payments.payment_events ORDER BY payment_id, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	chains := map[string][]audit.Event{}
	for rows.Next() {
		var e audit.Event
		if err := rows.Scan(&e.ID, &e.PaymentID, &e.Seq, &e.Type, &e.MerchantID, &e.Actor, &e.RequestID, &e.OccurredAt, &e.Details, &e.Hash); err != nil {
			t.Fatal(err)
		}
		chains[e.PaymentID] = append(chains[e.PaymentID], e)
	}
	if len(chains["0190a8e4-0000-7000-8000-000000000001"]) != 1 || len(chains["0190a8e4-0000-7000-8000-000000000002"]) != 2 {
		t.Fatalf("chains %+v: want created for the pending payment, created and settled for the settled one", chains)
	}
	for id, chain := range chains {
		if b := audit.VerifyChain(chain); b != nil {
			t.Errorf("%s: %v", id, b)
		}
	}
}

// pgaudit logs every write to the payment tables (object auditing), the
// application's included, and an attempt to change the history (which the
// trigger then refuses), never a statement's parameters.
func TestPgAuditLogsWritesToPaymentTables(t *testing.T) {
	if !server.PgAudit() {
		t.Skip("pgaudit is not installed (make postgres installs Debian's postgresql-<version>-pgaudit)")
	}
	h := newHistory(t)
	var installed bool
	if err := h.admin.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgaudit')`).Scan(&installed); err != nil || !installed {
		t.Fatalf("the migrations did not create the pgaudit extension: %v", err)
	}
	h.pay(t, "audited", 1, "tok_audit_secret_token")
	if _, err := h.admin.Exec(`UPDATE payments.payment_events SET details = '{}' WHERE seq = 1`); err == nil {
		t.Fatal("the history was changed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := server.Log()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(log, "AUDIT: OBJECT,") && strings.Contains(log, ",WRITE,INSERT,TABLE,payments.payments,") &&
			strings.Contains(log, ",WRITE,UPDATE,TABLE,payments.payment_events,") {
			if strings.Contains(log, "tok_audit_secret_token") {
				t.Error("pgaudit logged a statement parameter (the token)")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no object audit record of the payment writes in the server log")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
