-- +goose Up
-- The history's created event is the payment's outbox message: the create
-- statement no longer writes an outbox row, and the relay publishes created
-- events in the order of the transactions that wrote them, past a position
-- it keeps in relay_position (docs/CAPACITY.md, "History and pgaudit": the
-- history's row replaces the outbox's, so the history costs the create
-- transaction nothing over what it cost before the history).
--
-- xact is the writing transaction's id. An event whose xact is below the
-- oldest transaction still running (pg_snapshot_xmin) can no longer appear
-- or vanish, so the relay reads, in (xact, id) order, only below that
-- horizon and never passes an event that is still to commit: a cursor on id
-- alone would, since ids are drawn before their transactions commit, in any
-- order. Events written before this migration have no xact: the outbox table
-- relayed them (and relays what is left of them).
ALTER TABLE payments.payment_events ADD COLUMN xact xid8;
-- Set as a default only now, so that the existing rows are not rewritten.
ALTER TABLE payments.payment_events ALTER COLUMN xact SET DEFAULT pg_current_xact_id();
CREATE INDEX payment_events_unrelayed ON payments.payment_events (xact, id)
    WHERE event_type = 'created' AND xact IS NOT NULL;

-- One row: how far the relay has published. Relays (one per API task) take
-- turns through its row lock.
CREATE TABLE payments.relay_position (
    relay text   PRIMARY KEY,
    xact  xid8   NOT NULL,
    id    bigint NOT NULL
);
INSERT INTO payments.relay_position VALUES ('payments', '0', 0);

-- +goose Down
DROP TABLE payments.relay_position;
DROP INDEX payments.payment_events_unrelayed;
ALTER TABLE payments.payment_events DROP COLUMN xact;
