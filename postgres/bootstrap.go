// Package postgres implements the domain's services on PostgreSQL (payments,
// their processing and history, the merchant registry, the outbox relay),
// and holds the database bootstrap run at deploy time (migrations and
// roles), connection pools with IAM authentication, and TLS to Aurora.
package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	_ "embed" // the RDS CA bundle
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/postgres/migrations"
)

// Migrations returns the schema migrations (package migrations).
func Migrations() fs.FS { return migrations.FS }

//go:embed rds-ca-ap-southeast-1.pem
var rdsCABundle []byte

// TLSConfig verifies the server against the RDS root CAs of ap-southeast-1
// (RSA2048, RSA4096 and ECC384 G1), and its host name.
func TLSConfig(host string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rdsCABundle) {
		return nil, errors.New("postgres: the embedded RDS CA bundle holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}, nil
}

// BootstrapResult says what a bootstrap changed.
type BootstrapResult struct {
	// Applied lists the migration versions applied by this run.
	Applied []int64
	// Version is the schema version after the run.
	Version int64
	// RoleCreated is true when the application role did not exist before.
	RoleCreated bool
}

// Roles are the database roles Bootstrap creates, each logging in with IAM
// only.
type Roles struct {
	// App is the services' role: reads and writes payments, reads the
	// merchant registry.
	App string
	// Registrar is the merchant-key manager's role: writes the merchant
	// registry and nothing else.
	Registrar string
	// Auditor is the audit function's role: reads payments' histories and
	// nothing else.
	Auditor string
}

// DefaultRoles are the roles' names everywhere: infra grants rds-db:connect
// for them and the services log in as them.
var DefaultRoles = Roles{App: database.AppRole, Registrar: database.RegistrarRole, Auditor: database.AuditorRole}

// registryTables are written by the registrar alone.
const registryTables = "payments.merchants, payments.merchant_api_keys"

var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Bootstrap brings a database to the current schema and makes sure the
// application role exists, authenticates with IAM (rds_iam, which Aurora
// provides) and may use the payments schema and nothing else. It is
// idempotent: a second run applies nothing and creates nothing. A failing
// migration is rolled back and returned as an error carrying the database's
// message.
func Bootstrap(ctx context.Context, db *sql.DB, migrations fs.FS, roles Roles) (BootstrapResult, error) {
	var res BootstrapResult
	for _, role := range []string{roles.App, roles.Registrar, roles.Auditor} {
		if !roleName.MatchString(role) {
			return res, fmt.Errorf("bootstrap: role %q is not a plain lower-case identifier", role)
		}
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations)
	if err != nil {
		return res, fmt.Errorf("bootstrap: load migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if partial := (*goose.PartialError)(nil); errors.As(err, &partial) {
		results = partial.Applied // the migrations before the failing one
	}
	for _, r := range results {
		if r.Error == nil && !r.Empty {
			res.Applied = append(res.Applied, r.Source.Version)
		}
	}
	if err != nil {
		return res, fmt.Errorf("bootstrap: migrate: %w", err)
	}
	if res.Version, err = provider.GetDBVersion(ctx); err != nil {
		return res, fmt.Errorf("bootstrap: read schema version: %w", err)
	}
	app := pgx.Identifier{roles.App}.Sanitize()
	if res.RoleCreated, err = ensureRole(ctx, db, roles.App,
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA payments TO "+app,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA payments TO "+app,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA payments GRANT SELECT, INSERT, UPDATE ON TABLES TO "+app,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA payments GRANT USAGE, SELECT ON SEQUENCES TO "+app,
		// The application reads the registry; only the registrar writes it.
		"REVOKE INSERT, UPDATE ON "+registryTables+" FROM "+app,
		// A payment's history is appended to, never changed.
		"REVOKE UPDATE ON payments.payment_events FROM "+app,
		// No transaction outlives the audit's settling time (EventLog).
		"ALTER ROLE "+app+" SET statement_timeout = '30s'",
		"ALTER ROLE "+app+" SET idle_in_transaction_session_timeout = '30s'",
	); err != nil {
		return res, fmt.Errorf("bootstrap: application role: %w", err)
	}
	if _, err = ensureRole(ctx, db, roles.Registrar,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON "+registryTables+" TO "+pgx.Identifier{roles.Registrar}.Sanitize(),
	); err != nil {
		return res, fmt.Errorf("bootstrap: registrar role: %w", err)
	}
	// Whoever bootstraps is the cluster's administrator: its own writes
	// and functions are audited too, not only its DDL and role changes.
	if _, err = db.ExecContext(ctx, `ALTER ROLE CURRENT_USER SET pgaudit.log = 'write, ddl, role, function'`); err != nil {
		return res, fmt.Errorf("bootstrap: audit the administrator: %w", err)
	}
	if _, err = ensureRole(ctx, db, roles.Auditor,
		"GRANT SELECT ON payments.payment_events TO "+pgx.Identifier{roles.Auditor}.Sanitize(),
	); err != nil {
		return res, fmt.Errorf("bootstrap: auditor role: %w", err)
	}
	return res, nil
}

// ensureRole creates role if it does not exist (IAM login only, the
// payments schema on its search path and usable) and applies grants.
func ensureRole(ctx context.Context, db *sql.DB, role string, grants ...string) (created bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return false, err
	}
	r := pgx.Identifier{role}.Sanitize()
	statements := []string{
		// No password: the role can only log in with an IAM token.
		"GRANT rds_iam TO " + r,
		"ALTER ROLE " + r + " SET search_path = payments",
		"GRANT USAGE ON SCHEMA payments TO " + r,
	}
	statements = append(statements, grants...)
	if !exists {
		statements = append([]string{"CREATE ROLE " + r + " LOGIN"}, statements...)
	}
	for _, s := range statements {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return false, fmt.Errorf("%s: %w", s, err)
		}
	}
	return !exists, tx.Commit()
}
