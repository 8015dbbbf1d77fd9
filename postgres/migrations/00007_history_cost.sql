-- +goose Up
-- What the history costs the payment it records, measured by make
-- bench-api (docs/CAPACITY.md, "History and pgaudit"):
--
-- event_hash is STABLE, as the functions in its body are (to_char is), so
-- that the planner inlines it into the INSERT; declared IMMUTABLE it was
-- run through the SQL-function executor for every row, a fifth of the
-- create transaction.
ALTER FUNCTION payments.event_hash(bytea, uuid, text, text, text, text, timestamptz, text) STABLE;

-- The history stands alone: it is the record of what happened to a
-- payment and outlives the payment row (a retention purge must not cascade
-- into it, nor be blocked by it). Its foreign key also locked the payment
-- row (FOR KEY SHARE) for every event; the chains and the anchors, not a
-- constraint, prove that no event was added or lost.
ALTER TABLE payments.payment_events DROP CONSTRAINT payment_events_payment_id_fkey;

-- pgaudit records what the application cannot record itself. The
-- application's inserts into the history are the history; into the
-- idempotency keys, a cache of responses. Changing or deleting either is
-- what matters (a trigger refuses it on the history, and pgaudit logs the
-- attempt at its permission check, before the trigger runs). The payment,
-- ledger and merchant tables stay audited for every write.
REVOKE INSERT ON payments.payment_events, payments.idempotency_keys FROM rds_pgaudit;

-- +goose Down
GRANT INSERT ON payments.payment_events, payments.idempotency_keys TO rds_pgaudit;
ALTER TABLE payments.payment_events ADD CONSTRAINT payment_events_payment_id_fkey
    FOREIGN KEY (payment_id) REFERENCES payments.payments (id);
ALTER FUNCTION payments.event_hash(bytea, uuid, text, text, text, text, timestamptz, text) IMMUTABLE;
