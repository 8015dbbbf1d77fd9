-- +goose Up
-- Application tables live in their own schema: the application role is
-- granted this schema only, never goose's version table in public.
CREATE SCHEMA payments;

CREATE TABLE payments.payments (
    id                   uuid        PRIMARY KEY,
    merchant_id          text        NOT NULL CHECK (length(merchant_id) BETWEEN 1 AND 64),
    amount_minor         bigint      NOT NULL CHECK (amount_minor > 0),
    currency             char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_method_token text        NOT NULL,
    reference            text        NOT NULL,
    status               text        NOT NULL DEFAULT 'pending'
                                     CHECK (status IN ('pending', 'processing', 'settled', 'declined')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per Idempotency-Key (scoped by the API key that sent it), written in
-- the same transaction as the payment it created.
CREATE TABLE payments.idempotency_keys (
    api_key_id      text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_hash    bytea       NOT NULL,
    payment_id      uuid        REFERENCES payments.payments (id),
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, idempotency_key)
);

-- Transactional outbox: a payment and its event commit together; the relay
-- publishes unsent rows to SQS and marks them sent.
CREATE TABLE payments.outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id uuid        NOT NULL REFERENCES payments.payments (id),
    event_type text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX outbox_unsent ON payments.outbox (id) WHERE sent_at IS NULL;

-- +goose Down
DROP SCHEMA payments CASCADE;
