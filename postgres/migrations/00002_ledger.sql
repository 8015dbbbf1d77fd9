-- +goose Up
-- Double-entry ledger: every settled payment posts entries that sum to zero
-- (customer pays, merchant and fees receive), in the transaction that
-- settles it.
CREATE TABLE payments.ledger_entries (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id   uuid        NOT NULL REFERENCES payments.payments (id),
    account      text        NOT NULL,
    amount_minor bigint      NOT NULL CHECK (amount_minor <> 0),
    currency     char(3)     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- One posting per account and payment: a redelivered message can never
    -- post twice, even if the state check were bypassed.
    UNIQUE (payment_id, account)
);

ALTER TABLE payments.payments
    ADD COLUMN settled_at     timestamptz,
    ADD COLUMN decline_reason text;

-- +goose Down
ALTER TABLE payments.payments DROP COLUMN settled_at, DROP COLUMN decline_reason;
DROP TABLE payments.ledger_entries;
