-- The admin back office: uploaded product images, the catalog outbox and shoppers' notifications.

-- An uploaded image replaces the generated SVG when present; the type is checked from the file's own bytes.
ALTER TABLE products
    ADD COLUMN image_upload      bytea CHECK (octet_length(image_upload) <= 1048576),
    ADD COLUMN image_upload_type text CHECK (image_upload_type IN ('image/png', 'image/jpeg', 'image/webp')),
    ADD CONSTRAINT products_image_upload_typed CHECK ((image_upload IS NULL) = (image_upload_type IS NULL));

-- Catalog changes, written in the same transaction as the change itself and relayed to `catalog.v1` in id order.
CREATE TABLE catalog_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    product_id   bigint NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX catalog_outbox_unpublished_idx ON catalog_outbox (id) WHERE published_at IS NULL;

-- What a shopper (or admin) is told about catalog changes. One notification of a kind per user per event: replays are no-ops.
CREATE TABLE notifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id     uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('price_dropped', 'back_in_stock', 'unavailable', 'catalog_change')),
    product_slug text,
    message      text NOT NULL CHECK (length(message) <= 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    UNIQUE (user_id, event_id, kind)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
