-- Hostile traffic: records set aside with their raw bytes, bot visits, outbox rows that can never be published,
-- and the commerce events the server records itself.

-- The raw record as the broker delivered it; `payload` keeps a readable copy with control characters escaped.
ALTER TABLE clickstream_rejects ADD COLUMN raw bytea;
CREATE INDEX clickstream_rejects_stored_idx ON clickstream_rejects (stored_at);

-- A visit whose user agent looks like a bot or a headless browser gets no journey PDF unless an admin asks.
ALTER TABLE visits ADD COLUMN bot boolean NOT NULL DEFAULT false;

-- A row the broker refuses for good (too large, invalid) is marked and skipped; the rows behind it go on.
ALTER TABLE catalog_outbox ADD COLUMN failed_at timestamptz, ADD COLUMN error text;
DROP INDEX catalog_outbox_unpublished_idx;
CREATE INDEX catalog_outbox_unpublished_idx ON catalog_outbox (id) WHERE published_at IS NULL AND failed_at IS NULL;

-- `checkout_begin` and `payment_result`, recorded by the checkout and payment server functions (never trusted
-- from the browser) and relayed to `clickstream.v1` under the shopper's visit.
CREATE TABLE clickstream_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id     uuid NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    failed_at    timestamptz,
    error        text
);
CREATE INDEX clickstream_outbox_unpublished_idx ON clickstream_outbox (id) WHERE published_at IS NULL AND failed_at IS NULL;
