-- Promotions and coupon codes (issue 19): a promotion takes a percentage or a fixed amount off the order or off
-- its matching lines, when its conditions hold (a minimum subtotal, some of its products or categories in the
-- cart, a first order), within a date window, up to a total and a per-customer number of uses. One with a code
-- applies when the shopper enters the code (any case); one without applies by itself. The rules are in
-- `app::promotions`, which prices every cart and every checkout.
--
-- Uses are not a counter that could drift: an order's discounts are rows of `order_discounts`, and a promotion's
-- uses are its rows whose order is paid or fulfilled; a row whose order awaits payment holds a use (as the order
-- holds its stock), and one whose order was cancelled or expired no longer counts. Checkout locks each promotion
-- row it applies before counting, so two shoppers racing for the last use cannot both get it.
--
-- Existing data is untouched: no order had a discount, so every placed order's total stays what it was.

CREATE TABLE promotions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    -- In capitals (shoppers' codes are matched in any case); NULL: an automatic promotion.
    code               text UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{2,31}$'),
    -- What it takes off: a percentage (1 to 100) or an amount in minor units of `currency`…
    kind               text NOT NULL CHECK (kind IN ('percent', 'fixed')),
    amount             bigint NOT NULL,
    currency           text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    -- …off the whole order, or off each matching line (a fixed amount: off each matching unit).
    target             text NOT NULL CHECK (target IN ('order', 'lines')),
    -- Conditions: every one given must hold.
    min_subtotal_cents bigint NOT NULL DEFAULT 0 CHECK (min_subtotal_cents BETWEEN 0 AND 100000000),
    product_ids        bigint[] NOT NULL DEFAULT '{}' CHECK (cardinality(product_ids) <= 100),
    category_slugs     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(category_slugs) <= 50),
    first_order_only   boolean NOT NULL DEFAULT false,
    starts_at          timestamptz,
    ends_at            timestamptz,
    usage_limit        integer CHECK (usage_limit BETWEEN 1 AND 1000000),
    per_customer_limit integer CHECK (per_customer_limit BETWEEN 1 AND 1000),
    archived_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'percent' AND amount BETWEEN 1 AND 100) OR (kind = 'fixed' AND amount BETWEEN 1 AND 100000000)),
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at),
    -- Matching lines need something to match.
    CHECK (target = 'order' OR cardinality(product_ids) + cardinality(category_slugs) > 0)
);

-- The promotions a cart can get: the automatic ones on offer (few), and a code looked up by itself.
CREATE INDEX promotions_automatic_idx ON promotions (id) WHERE code IS NULL AND archived_at IS NULL;

-- The code a shopper applied to their cart (one per cart); kept on the placed order for its record.
ALTER TABLE orders ADD COLUMN coupon_promotion_id bigint REFERENCES promotions (id);

-- Each discount an order got at checkout, as it read then: a later change to the promotion never alters a placed
-- order. Its total is the order's subtotal less these rows.
CREATE TABLE order_discounts (
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    promotion_id bigint NOT NULL REFERENCES promotions (id),
    position     smallint NOT NULL,
    label        text NOT NULL,
    code         text,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (order_id, promotion_id)
);
CREATE INDEX order_discounts_promotion_idx ON order_discounts (promotion_id);

ALTER TABLE orders ADD COLUMN subtotal_cents bigint CHECK (subtotal_cents >= 0);
ALTER TABLE orders ADD CONSTRAINT orders_total_not_negative CHECK (total_cents >= 0);
-- A placed order's subtotal is what its lines came to (every order placed before this had no discount).
UPDATE orders SET subtotal_cents = total_cents WHERE status <> 'cart';
