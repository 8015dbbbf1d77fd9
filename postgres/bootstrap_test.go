package postgres_test

import (
	"context"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

// migrationVersions are the versions of the embedded migrations, in order.
func migrationVersions(t *testing.T) []int64 {
	t.Helper()
	entries, err := fs.ReadDir(postgres.Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, e := range entries {
		v, err := strconv.ParseInt(strings.SplitN(e.Name(), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions
}

// Rows written before the API refused card numbers lose them: a token that
// is a PAN is redacted, and no ledger account is named after a token.
func TestMigrationRemovesCardNumbers(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Open(t, server.NewDatabase(t))
	provider, err := goose.NewProvider(goose.DialectPostgres, db, postgres.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO payments.payments (id, merchant_id, amount_minor, currency, payment_method_token, reference)
			VALUES ('0190a8e4-0000-7000-8000-000000000001', 'm', 100, 'SGD', '4111-1111-1111-1111', 'r'),
			       ('0190a8e4-0000-7000-8000-000000000002', 'm', 100, 'SGD', 'tok_4f9a8b7c6d', 'r')`,
		`INSERT INTO payments.ledger_entries (payment_id, account, amount_minor, currency)
			VALUES ('0190a8e4-0000-7000-8000-000000000001', 'customer:4111-1111-1111-1111', -100, 'SGD'),
			       ('0190a8e4-0000-7000-8000-000000000001', 'merchant:m', 100, 'SGD')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := provider.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	var tokens, accounts string
	if err := db.QueryRowContext(ctx, `SELECT string_agg(payment_method_token, ',' ORDER BY id) FROM payments.payments`).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT string_agg(account, ',' ORDER BY account) FROM payments.ledger_entries`).Scan(&accounts); err != nil {
		t.Fatal(err)
	}
	if tokens != "redacted_card_number,tok_4f9a8b7c6d" || accounts != "acquirer_receivable,merchant:m" {
		t.Errorf("tokens %s, accounts %s", tokens, accounts)
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := pgtest.Open(t, server.NewDatabase(t))
		got, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.DefaultRoles)
		if err != nil {
			t.Fatal(err)
		}
		want := migrationVersions(t)
		if !slices.Equal(got.Applied, want) || got.Version != want[len(want)-1] || !got.RoleCreated {
			t.Errorf("first run: %+v", got)
		}
		var members int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_auth_members m
			JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
			WHERE r.rolname = 'rds_iam' AND u.rolname = 'payments_app'`).Scan(&members); err != nil || members != 1 {
			t.Errorf("payments_app is not granted rds_iam: %d, %v", members, err)
		}
		var canLogin, hasPassword bool
		if err := db.QueryRowContext(ctx, `SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'payments_app'`).
			Scan(&canLogin, &hasPassword); err != nil || !canLogin || hasPassword {
			t.Errorf("payments_app: login=%v password=%v err=%v; want IAM-only login", canLogin, hasPassword, err)
		}
	})

	t.Run("SecondRunChangesNothing", func(t *testing.T) {
		db := pgtest.Open(t, server.NewDatabase(t))
		if _, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.DefaultRoles); err != nil {
			t.Fatal(err)
		}
		got, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.DefaultRoles)
		if err != nil {
			t.Fatal(err)
		}
		if want := migrationVersions(t); len(got.Applied) != 0 || got.Version != want[len(want)-1] || got.RoleCreated {
			t.Errorf("second run changed something: %+v", got)
		}
	})

	t.Run("AppRoleUsesOnlyThePaymentsSchema", func(t *testing.T) {
		db := pgtest.Open(t, server.NewDatabase(t))
		if _, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.DefaultRoles); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			role, privilege, table string
			want                   bool
		}{
			{"payments_app", "INSERT", "payments.payments", true},
			{"payments_app", "UPDATE", "payments.outbox", true},
			{"payments_app", "DELETE", "payments.payments", false},
			{"payments_app", "SELECT", "public.goose_db_version", false},
			// The registry: the application reads it, the registrar alone
			// writes it, and the registrar touches nothing else.
			{"payments_app", "SELECT", "payments.merchant_api_keys", true},
			{"payments_app", "INSERT", "payments.merchant_api_keys", false},
			{"payments_app", "UPDATE", "payments.merchants", false},
			{"payments_registrar", "INSERT", "payments.merchants", true},
			{"payments_registrar", "DELETE", "payments.merchant_api_keys", true},
			{"payments_registrar", "SELECT", "payments.payments", false},
			{"payments_registrar", "INSERT", "payments.idempotency_keys", false},
		} {
			var got bool
			if err := db.QueryRowContext(ctx, `SELECT has_table_privilege($1, $2, $3)`, c.role, c.table, c.privilege).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s: %s on %s: %v, want %v", c.role, c.privilege, c.table, got, c.want)
			}
		}
	})

	t.Run("ErrFailingMigration", func(t *testing.T) {
		db := pgtest.Open(t, server.NewDatabase(t))
		migrations := fstest.MapFS{
			"00001_ok.sql":     {Data: []byte("-- +goose Up\nCREATE TABLE ok (id int);\n")},
			"00002_broken.sql": {Data: []byte("-- +goose Up\nCREATE TABLE broken (id int);\nALTER TABLE missing ADD COLUMN x int;\n")},
		}
		got, err := postgres.Bootstrap(ctx, db, migrations, postgres.DefaultRoles)
		if err == nil {
			t.Fatal("a failing migration was reported as success")
		}
		if !strings.Contains(err.Error(), `relation "missing" does not exist`) {
			t.Errorf("error does not carry the database's message: %v", err)
		}
		if !slices.Equal(got.Applied, []int64{1}) {
			t.Errorf("applied %v, want only the good migration", got.Applied)
		}
		var broken bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass('public.broken') IS NOT NULL`).Scan(&broken); err != nil || broken {
			t.Errorf("the failed migration was not rolled back: %v %v", broken, err)
		}
	})

	t.Run("ErrRoleName", func(t *testing.T) {
		db := pgtest.Open(t, server.NewDatabase(t))
		if _, err := postgres.Bootstrap(ctx, db, postgres.Migrations(), postgres.Roles{App: `app"; DROP TABLE x; --`, Registrar: "r"}); err == nil {
			t.Error("an unsafe role name was accepted")
		}
	})
}

func TestTLSConfigTrustsTheRDSRoots(t *testing.T) {
	cfg, err := postgres.TLSConfig("payments-db-dev.cluster-abc.ap-southeast-1.rds.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || cfg.InsecureSkipVerify || cfg.ServerName == "" {
		t.Errorf("TLS config does not verify the server: %+v", cfg)
	}
}
