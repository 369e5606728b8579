-- Orders (a cart is an order in status 'cart'), stock reservation, payments with idempotency keys.

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    -- An anonymous cart belongs to a visit; a signed-in shopper's orders belong to the user.
    visit_id         uuid,
    user_id          uuid REFERENCES users (id) ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'cart'
                     CHECK (status IN ('cart', 'pending_payment', 'paid', 'fulfilled', 'cancelled', 'expired')),
    currency         text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    total_cents      bigint CHECK (total_cents >= 0),
    shipping_name    text,
    shipping_line1   text,
    shipping_line2   text,
    shipping_city    text,
    shipping_postcode text,
    shipping_country text,
    reserved_until   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (visit_id IS NOT NULL OR user_id IS NOT NULL),
    -- Leaving 'cart' fixes the total and the address.
    CHECK (status = 'cart' OR (total_cents IS NOT NULL AND shipping_name IS NOT NULL AND user_id IS NOT NULL))
);
CREATE UNIQUE INDEX orders_one_cart_per_user ON orders (user_id) WHERE status = 'cart' AND user_id IS NOT NULL;
CREATE UNIQUE INDEX orders_one_cart_per_visit ON orders (visit_id) WHERE status = 'cart' AND user_id IS NULL;
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
CREATE INDEX orders_expiry_idx ON orders (reserved_until) WHERE status = 'pending_payment';

CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       bigint NOT NULL REFERENCES products (id),
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    -- Snapshotted at checkout; a cart line always shows the current price.
    unit_price_cents bigint CHECK (unit_price_cents > 0),
    added_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, product_id)
);

-- The order state machine, enforced by the database: an illegal transition is an error, never an update.
CREATE TABLE order_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO order_transitions (from_status, to_status) VALUES
    ('cart', 'pending_payment'),
    ('pending_payment', 'paid'),
    ('pending_payment', 'expired'),
    ('pending_payment', 'cancelled'),
    ('paid', 'fulfilled'),
    ('paid', 'cancelled');

CREATE TABLE order_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    note        text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

CREATE FUNCTION orders_guard_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'cart' THEN
            RAISE EXCEPTION 'an order starts as a cart, not %', NEW.status USING ERRCODE = 'check_violation',
                CONSTRAINT = 'order_transition';
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM order_transitions WHERE from_status = OLD.status AND to_status = NEW.status) THEN
            RAISE EXCEPTION 'illegal order transition % -> %', OLD.status, NEW.status USING ERRCODE = 'check_violation',
                CONSTRAINT = 'order_transition';
        END IF;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER orders_guard_transition BEFORE INSERT OR UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_guard_transition();

-- Every state an order enters is recorded, with the note the transaction set (if any).
CREATE FUNCTION orders_record_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO order_status_history (order_id, from_status, to_status) VALUES (NEW.id, NULL, NEW.status);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO order_status_history (order_id, from_status, to_status, note)
        VALUES (NEW.id, OLD.status, NEW.status, NULLIF(current_setting('cartograph.transition_note', true), ''));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_record_transition AFTER INSERT OR UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_record_transition();

-- zero2prod's idempotency shape: the first request with a key processes, later ones replay its response.
CREATE TABLE idempotency (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 8 AND 128),
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);

CREATE TABLE payments (
    id                uuid PRIMARY KEY,
    order_id          uuid NOT NULL REFERENCES orders (id),
    user_id           uuid NOT NULL REFERENCES users (id),
    idempotency_key   text NOT NULL,
    outcome           text NOT NULL CHECK (outcome IN ('succeeded', 'declined', 'failed', 'refunded')),
    amount_cents      bigint NOT NULL CHECK (amount_cents >= 0),
    card_last4        text,
    gateway_reference text,
    reason            text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_idx ON payments (order_id, created_at);
-- At most one successful charge per order, whatever happens above.
CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id) WHERE outcome = 'succeeded';

-- Fuzzy matching for short or misspelt searches (pg_trgm is a trusted extension).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);
