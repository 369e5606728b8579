-- Transactional email (issue 20, item 3): the order confirmation when an order is paid, one message per shipment
-- (with its carrier and tracking number), one per refund the gateway confirmed, and the cancellation. Each is
-- written here in the transaction of the change itself (never sent inside the request), once per event (the
-- unique index), to the shopper's address as it was then; the worker renders and sends it over SMTP, retrying with
-- backoff, and records every attempt's outcome on the row.

CREATE TABLE emails (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('order_confirmation', 'shipment', 'refund', 'cancellation')),
    order_id        uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- The shipment or the refund (a `payments` row) the message is about; none for the order's own messages.
    about_id        uuid,
    recipient       text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 320),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the next attempt is due; while one is under way, when its lease runs out.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    -- The subject line as sent.
    subject         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE UNIQUE INDEX emails_once ON emails (kind, order_id, COALESCE(about_id, '00000000-0000-0000-0000-000000000000'));
CREATE INDEX emails_due_idx ON emails (next_attempt_at) WHERE status = 'pending';
CREATE INDEX emails_order_idx ON emails (order_id, created_at);
