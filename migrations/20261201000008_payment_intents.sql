-- Payments that cannot be double-charged or abused.
--
-- A charge (or refund) is first committed as an intent row, `charging` (`refunding`), then the gateway is called
-- outside any transaction, then the row is settled in a second one. A row left in flight by a crash or a timeout
-- is settled by the worker, which asks the gateway what became of the request's idempotency key.
ALTER TABLE payments DROP CONSTRAINT payments_outcome_check;
ALTER TABLE payments ADD CONSTRAINT payments_outcome_check
    CHECK (outcome IN ('charging', 'succeeded', 'declined', 'rejected', 'failed', 'refunding', 'refunded'));
-- The key the gateway saw (stable across retries), and a keyed hash of the card number (never the number).
ALTER TABLE payments ADD COLUMN gateway_key text;
ALTER TABLE payments ADD COLUMN card_fingerprint text;
ALTER TABLE payments ADD COLUMN settled_at timestamptz;
UPDATE payments SET settled_at = created_at;

-- One gateway call in flight per order: a reload during a charge cannot start a second one.
CREATE UNIQUE INDEX payments_one_in_flight_per_order ON payments (order_id) WHERE outcome IN ('charging', 'refunding');
-- At most one refund per order, whatever happens above.
CREATE UNIQUE INDEX payments_one_refund_per_order ON payments (order_id) WHERE outcome IN ('refunding', 'refunded');
CREATE INDEX payments_in_flight_idx ON payments (created_at) WHERE outcome IN ('charging', 'refunding');
-- The failed-attempt throttles count a user's and a card's recent declines and refusals (`rejected`); an outage
-- of the gateway (`failed`) is nobody's attempt and does not count.
CREATE INDEX payments_failures_by_user_idx ON payments (user_id, created_at) WHERE outcome IN ('declined', 'rejected');
CREATE INDEX payments_failures_by_card_idx ON payments (card_fingerprint, created_at)
    WHERE outcome IN ('declined', 'rejected') AND card_fingerprint IS NOT NULL;

-- The built-in test gateway keeps its books as a real provider does: durably, shared by the web and worker
-- processes, each charge and refund found again by its idempotency key. It takes no money.
CREATE TABLE test_gateway_charges (
    idempotency_key text PRIMARY KEY,
    outcome         text NOT NULL CHECK (outcome IN ('approved', 'declined')),
    reference       text,
    reason          text,
    amount_cents    bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE test_gateway_refunds (
    idempotency_key  text PRIMARY KEY,
    charge_reference text NOT NULL,
    reference        text NOT NULL,
    amount_cents     bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- An outage of the test gateway, switched by an operator (or a test) with SQL: no shopper can cause one.
-- `errors`: every call answers "unavailable" and takes nothing; `hangs`: no call answers.
CREATE TABLE test_gateway_outage (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    mode     text NOT NULL DEFAULT 'none' CHECK (mode IN ('none', 'errors', 'hangs'))
);
INSERT INTO test_gateway_outage DEFAULT VALUES;
