-- +goose Up
-- Card numbers never enter the system (PCI DSS requirement 3). Before the
-- API refused them, a primary account number could be sent as the payment
-- method token, and the ledger named the payer's account after the token:
-- both are rewritten, so no PAN stays at rest.
UPDATE payments.ledger_entries SET account = 'acquirer_receivable' WHERE account LIKE 'customer:%';
UPDATE payments.payments SET payment_method_token = 'redacted_card_number'
 WHERE regexp_replace(payment_method_token, '[ -]', '', 'g') ~ '^[0-9]{13,19}$';

-- +goose Down
-- Nothing to undo: the numbers are gone for good, as they should be.
