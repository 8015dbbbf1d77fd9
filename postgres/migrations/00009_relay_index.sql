-- +goose NO TRANSACTION
-- +goose Up
-- The relay's index (00008): created events past its position, in
-- transaction order. Built CONCURRENTLY, outside a transaction, so that
-- payments are created while it is built. A build that failed leaves an
-- invalid index and no recorded version: the next deployment runs this
-- again, dropping what the failed build left first.
DROP INDEX CONCURRENTLY IF EXISTS payments.payment_events_unrelayed;
CREATE INDEX CONCURRENTLY payment_events_unrelayed ON payments.payment_events (xact, id)
    WHERE event_type = 'created' AND xact IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS payments.payment_events_unrelayed;
