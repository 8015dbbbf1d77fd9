-- +goose Up
-- A payment's history: one row per change (created, processing, settled,
-- declined), written in the same statement as the change it records, by
-- whom (merchant and credential), in which request, when, and what changed.
-- The table is append-only: the application role may insert and read it,
-- nobody may update, delete or truncate it (a trigger refuses even the
-- owner, who must drop the trigger first: pgaudit logs that).
--
-- Each payment's events form a hash chain: hash = sha256(previous hash ||
-- the event's canonical text), the first event's previous hash 32 zero
-- bytes. Chains are per payment, so writes to different payments never
-- wait for each other; a payment's writes are already serialized by its
-- row. audit.Canonical in Go computes the same text and hash, and the
-- audit function signs digests of the chains into an Object Lock bucket,
-- out of the database's reach (cmd/audit).
CREATE TABLE payments.payment_events (
    -- id orders events across payments: anchors cover ranges of ids.
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id  uuid        NOT NULL REFERENCES payments.payments (id),
    seq         integer     NOT NULL CHECK (seq >= 1),
    event_type  text        NOT NULL CHECK (event_type IN ('created', 'processing', 'settled', 'declined')),
    merchant_id text        NOT NULL,
    -- actor: the credential that made the change ("api-key:<id>") or the
    -- component ("processor"); request_id: the API request or SQS message.
    actor       text        NOT NULL,
    request_id  text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    -- details: JSON exactly as hashed (text, not jsonb, which would
    -- normalize it).
    details     text        NOT NULL,
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    UNIQUE (payment_id, seq)
);

-- +goose StatementBegin
CREATE FUNCTION payments.event_hash(previous bytea, payment_id uuid, event_type text, merchant_id text,
                                    actor text, request_id text, occurred_at timestamptz, details text)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(coalesce(previous, decode(repeat('00', 32), 'hex')) || convert_to(concat_ws(E'\n',
        payment_id::text, event_type, merchant_id, actor, request_id,
        to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), details), 'UTF8'))
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION payments.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER payment_events_append_only BEFORE UPDATE OR DELETE ON payments.payment_events
    FOR EACH ROW EXECUTE FUNCTION payments.refuse_change();
CREATE TRIGGER payment_events_no_truncate BEFORE TRUNCATE ON payments.payment_events
    FOR EACH STATEMENT EXECUTE FUNCTION payments.refuse_change();

-- Payments made before there was a history get the events their state
-- implies, recorded as the migration's, at the times the rows say.
INSERT INTO payments.payment_events (payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash)
SELECT id, 1, 'created', merchant_id, 'migration', 'migration-00005', created_at, '{}',
       payments.event_hash(NULL, id, 'created', merchant_id, 'migration', 'migration-00005', created_at, '{}')
FROM payments.payments;
INSERT INTO payments.payment_events (payment_id, seq, event_type, merchant_id, actor, request_id, occurred_at, details, hash)
SELECT p.id, 2, p.status, p.merchant_id, 'migration', 'migration-00005', p.updated_at, '{}',
       payments.event_hash(e.hash, p.id, p.status, p.merchant_id, 'migration', 'migration-00005', p.updated_at, '{}')
FROM payments.payments p JOIN payments.payment_events e ON e.payment_id = p.id AND e.seq = 1
WHERE p.status <> 'pending';

-- +goose Down
DROP TABLE payments.payment_events;
DROP FUNCTION payments.refuse_change();
DROP FUNCTION payments.event_hash(bytea, uuid, text, text, text, text, timestamptz, text);
