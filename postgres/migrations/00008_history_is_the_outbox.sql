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
--
-- Both ALTERs change the catalog only (no rewrite: the default is set after
-- the column exists, for new rows), but take the table's exclusive lock:
-- rather than queue behind a long transaction and block every payment
-- behind it, they give up after 5 s and the deployment fails (run it again).
-- The index is built by 00009, without blocking writes.
SET LOCAL lock_timeout = '5s';
ALTER TABLE payments.payment_events ADD COLUMN xact xid8;
ALTER TABLE payments.payment_events ALTER COLUMN xact SET DEFAULT pg_current_xact_id();

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
ALTER TABLE payments.payment_events DROP COLUMN xact;
