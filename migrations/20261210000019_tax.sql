-- Value-added tax (issue 20, item 2): each product is in a tax category (standard, reduced or zero), each
-- destination country has a rate per category, and checkout computes every line's tax from its amount after
-- discounts, rounded per line to the cent, with prices entered tax-inclusive (the EU's way, the default) or
-- tax-exclusive (`CARTOGRAPH_PRICES_INCLUDE_TAX`). The rate and the tax are stored on each order line and the
-- order, so a later rate change never alters a placed order. A country without rates (outside the EU, say) is
-- charged no tax; a zero-rated product none anywhere.
--
-- Existing data: every product is in the standard category; placed orders keep NULL tax (they were placed
-- before tax was computed, and show none).

ALTER TABLE products ADD COLUMN tax_category text NOT NULL DEFAULT 'standard'
    CHECK (tax_category IN ('standard', 'reduced', 'zero'));

CREATE TABLE tax_rates (
    country  text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    category text NOT NULL CHECK (category IN ('standard', 'reduced', 'zero')),
    -- Basis points: 1900 is 19 %.
    rate_bp  integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (country, category)
);

-- EU rates for the demo's countries as of 2026 (standard, one reduced rate each).
INSERT INTO tax_rates (country, category, rate_bp) VALUES
    ('AT', 'standard', 2000), ('AT', 'reduced', 1000),
    ('BE', 'standard', 2100), ('BE', 'reduced', 600),
    ('DE', 'standard', 1900), ('DE', 'reduced', 700),
    ('ES', 'standard', 2100), ('ES', 'reduced', 1000),
    ('FR', 'standard', 2000), ('FR', 'reduced', 550),
    ('IE', 'standard', 2300), ('IE', 'reduced', 1350),
    ('IT', 'standard', 2200), ('IT', 'reduced', 1000),
    ('NL', 'standard', 2100), ('NL', 'reduced', 900),
    ('PL', 'standard', 2300), ('PL', 'reduced', 800),
    ('SE', 'standard', 2500), ('SE', 'reduced', 1200);

ALTER TABLE order_lines ADD COLUMN tax_rate_bp integer CHECK (tax_rate_bp BETWEEN 0 AND 10000);
ALTER TABLE order_lines ADD COLUMN tax_cents bigint CHECK (tax_cents >= 0);
ALTER TABLE orders ADD COLUMN tax_cents bigint CHECK (tax_cents >= 0);
-- Whether the order's prices included its tax (its total is then its subtotal less discounts) or the tax was
-- added to them; NULL for an order placed before tax.
ALTER TABLE orders ADD COLUMN prices_include_tax boolean;
