-- Shipping zones and methods (issue 20, item 1): a zone is a set of destination countries (a country is in at most
-- one zone), or "everywhere else" (at most one such zone: the countries no other zone names). Each zone offers
-- methods: a flat rate, or a base plus a price per started kilogram of the order's weight; either may be free from
-- a threshold of the goods' total (after discounts); each with a delivery estimate in business days. Checkout
-- offers the active methods of the address's zone; the chosen one is stored on the order (its name, price, tax and
-- estimate as chosen), so a later change to the method never alters a placed order. An address in no zone cannot
-- check out, and is told so before any stock is taken.
--
-- Shipping is taxed at the destination's standard rate, included in its price or added to it as the products are
-- (`CARTOGRAPH_PRICES_INCLUDE_TAX`).
--
-- Existing data: one zone "Everywhere" (everywhere else) with one free method, so a shop upgraded to this version
-- ships where it shipped before, at the price it charged before (none), until its merchant sets real rates; every
-- product weighs 0 g until its weight is entered. Placed orders keep NULL shipping (placed before shipping was
-- charged).

ALTER TABLE products ADD COLUMN weight_grams integer NOT NULL DEFAULT 0 CHECK (weight_grams BETWEEN 0 AND 1000000);

CREATE TABLE shipping_zones (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 80),
    everywhere_else boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX shipping_zones_one_everywhere_else ON shipping_zones (everywhere_else) WHERE everywhere_else;

CREATE TABLE shipping_zone_countries (
    -- The primary key keeps a country in one zone.
    country text PRIMARY KEY CHECK (country ~ '^[A-Z]{2}$'),
    zone_id bigint NOT NULL REFERENCES shipping_zones (id) ON DELETE CASCADE
);
CREATE INDEX shipping_zone_countries_zone_idx ON shipping_zone_countries (zone_id);

CREATE TABLE shipping_methods (
    id              bigserial PRIMARY KEY,
    zone_id         bigint NOT NULL REFERENCES shipping_zones (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    currency        text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    -- The flat price, or the base of a weight-based one (minor units).
    price_cents     bigint NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000),
    -- NULL: a flat rate; otherwise each started kilogram of the order adds this.
    per_kg_cents    bigint CHECK (per_kg_cents BETWEEN 0 AND 100000000),
    -- Free when the goods come to at least this, after discounts (NULL: never free).
    free_over_cents bigint CHECK (free_over_cents BETWEEN 1 AND 100000000000),
    min_days        integer NOT NULL CHECK (min_days BETWEEN 0 AND 90),
    max_days        integer NOT NULL CHECK (max_days BETWEEN 0 AND 90),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (zone_id, name),
    CHECK (min_days <= max_days)
);

-- What each line came to after its discounts, with its tax when tax is added to prices: what refunding the whole
-- line gives back (NULL for lines placed before this version).
ALTER TABLE order_lines ADD COLUMN amount_cents bigint CHECK (amount_cents >= 0);

-- What the order's shipping was when it was placed.
ALTER TABLE orders ADD COLUMN shipping_method_id bigint REFERENCES shipping_methods (id) ON DELETE SET NULL;
ALTER TABLE orders ADD COLUMN shipping_method text CHECK (length(shipping_method) BETWEEN 1 AND 80);
ALTER TABLE orders ADD COLUMN shipping_cents bigint CHECK (shipping_cents >= 0);
ALTER TABLE orders ADD COLUMN shipping_tax_rate_bp integer CHECK (shipping_tax_rate_bp BETWEEN 0 AND 10000);
ALTER TABLE orders ADD COLUMN shipping_tax_cents bigint CHECK (shipping_tax_cents >= 0);
ALTER TABLE orders ADD COLUMN delivery_min_days integer CHECK (delivery_min_days >= 0);
ALTER TABLE orders ADD COLUMN delivery_max_days integer CHECK (delivery_max_days >= delivery_min_days);
ALTER TABLE orders ADD CONSTRAINT orders_shipping_whole
    CHECK ((shipping_method IS NULL) = (shipping_cents IS NULL) AND (shipping_cents IS NULL) = (delivery_min_days IS NULL));

INSERT INTO shipping_zones (name, everywhere_else) VALUES ('Everywhere', true);
INSERT INTO shipping_methods (zone_id, name, price_cents, min_days, max_days)
SELECT id, 'Standard delivery', 0, 3, 7 FROM shipping_zones WHERE everywhere_else;
