-- +goose Up
-- pgaudit records what the application cannot: DDL and role changes of
-- every session (pgaudit.log, set in the cluster's parameter group) and,
-- object by object, every write to the payment tables by anyone, the
-- application and administrators alike. Object auditing logs the
-- statements on the relations granted to the role named by pgaudit.role
-- (rds_pgaudit, as Aurora documents it), so it covers these tables and not
-- every statement of every role. The extension exists only where the
-- server loads the library (Aurora; tests with Debian's pgaudit package).
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgaudit') THEN
        CREATE EXTENSION IF NOT EXISTS pgaudit;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_pgaudit') THEN
        CREATE ROLE rds_pgaudit NOLOGIN;
    END IF;
END
$$;
-- +goose StatementEnd
GRANT INSERT, UPDATE, DELETE ON payments.payments, payments.ledger_entries, payments.payment_events,
    payments.merchants, payments.merchant_api_keys, payments.idempotency_keys TO rds_pgaudit;

-- +goose Down
REVOKE ALL ON payments.payments, payments.ledger_entries, payments.payment_events,
    payments.merchants, payments.merchant_api_keys, payments.idempotency_keys FROM rds_pgaudit;
