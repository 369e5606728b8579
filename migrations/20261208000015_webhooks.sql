-- Signed webhooks (app::webhooks, delivered by the worker's server::webhooks): an admin registers an endpoint
-- for some event types; each event is fanned out to the endpoints that want it in the same transaction as the
-- change itself (one delivery row per endpoint), and the worker posts it, signed, retrying with backoff.
CREATE TABLE webhook_endpoints (
    id                uuid PRIMARY KEY,
    url               text NOT NULL CHECK (char_length(url) BETWEEN 8 AND 2000),
    description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    events            text[] NOT NULL CHECK (cardinality(events) > 0 AND events <@ ARRAY[
                          'product.created', 'product.updated', 'product.deleted',
                          'order.paid', 'order.fulfilled', 'order.cancelled', 'journey.closed']),
    -- The HMAC-SHA256 key: the worker needs it in clear to sign, the admin to give it to the receiver.
    secret            text NOT NULL CHECK (char_length(secret) >= 32),
    enabled           boolean NOT NULL DEFAULT true,
    -- Why the worker (or an admin) turned it off.
    disabled_reason   text,
    -- Attempts that failed since the last success; the worker disables the endpoint past a limit.
    failures_in_a_row integer NOT NULL DEFAULT 0 CHECK (failures_in_a_row >= 0),
    created_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The same for every endpoint that receives the event, so a receiver can drop a repeat.
    event_id        uuid NOT NULL,
    event           text NOT NULL,
    -- The body as sent: { "id", "type", "created_at", "data" }.
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- When this round of attempts began (the event, or the admin's replay): retries stop a fixed time after.
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

-- Every attempt: the answer's status (none when the request never got one), how long it took, and the error.
CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code  integer CHECK (status_code BETWEEN 100 AND 599),
    latency_ms   integer NOT NULL CHECK (latency_ms >= 0),
    error        text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
