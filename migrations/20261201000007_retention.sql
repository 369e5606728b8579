-- Retention: the worker deletes old rows in small batches, oldest first; these indexes find them without a scan.
-- (`clickstream_rejects (stored_at)` exists since migration 05; the session table belongs to tower-sessions.)

CREATE INDEX clickstream_events_received_idx ON clickstream_events (received_at);
-- Open visits are never deleted, so they stay out of the index.
CREATE INDEX visits_closed_idx ON visits (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX orders_anonymous_cart_idx ON orders (updated_at) WHERE status = 'cart' AND user_id IS NULL;
CREATE INDEX idempotency_created_idx ON idempotency (created_at);
