-- +goose Up
-- Every request acts for the merchant its credentials belong to: the API
-- key (by the id API Gateway reports) and the client certificate of the
-- mutual-TLS handshake (by subject and issuer) must both be the same
-- merchant's. The registry is written by the merchant-key manager alone
-- (role payments_registrar); the application reads it.
CREATE TABLE payments.merchants (
    id                  text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    client_cert_subject text        NOT NULL CHECK (client_cert_subject <> ''),
    client_cert_issuer  text        NOT NULL CHECK (client_cert_issuer <> ''),
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- One certificate identifies one merchant.
    UNIQUE (client_cert_issuer, client_cert_subject)
);

-- A merchant's API keys: the current one and, for one rotation period, the
-- previous one. Offboarding a merchant removes its keys with it.
CREATE TABLE payments.merchant_api_keys (
    api_key_id  text        PRIMARY KEY CHECK (api_key_id <> ''),
    merchant_id text        NOT NULL REFERENCES payments.merchants (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merchant_api_keys_merchant ON payments.merchant_api_keys (merchant_id);

-- Idempotency keys were scoped to the API key; they are scoped to the
-- merchant now, so that a retry with the rotated key still replays. Rows
-- written before keep the API key id they were scoped to (a scope no
-- merchant's requests use unless its id equals that key id by chance).
ALTER TABLE payments.idempotency_keys RENAME COLUMN api_key_id TO merchant_id;

-- A merchant's payments, newest first (ids are UUIDv7: time-ordered).
CREATE INDEX payments_merchant_newest ON payments.payments (merchant_id, id DESC);

-- +goose Down
DROP INDEX payments.payments_merchant_newest;
ALTER TABLE payments.idempotency_keys RENAME COLUMN merchant_id TO api_key_id;
DROP TABLE payments.merchant_api_keys;
DROP TABLE payments.merchants;
