-- Variants (issue 19): a product has up to three option groups (Size: S, M, L; Colour: Sand, Slate) and variants,
-- each with its own SKU, price (or the product's), stock and archived flag. A product without options has one
-- variant, its default, with no option values.
--
-- What this does to existing data: every product gets its default variant, holding the product's whole stock under
-- the SKU of its slug in capitals (`ridgeline-2-tent` -> `RIDGELINE-2-TENT`) and the product's price; every order
-- line (carts and placed orders alike) points at its product's default variant. Nothing is deleted and no figure
-- changes: a product's stock stays what it was, and from here on it is the sum of its on-sale variants' stock.

CREATE TABLE product_options (
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   smallint NOT NULL CHECK (position BETWEEN 0 AND 2),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    choices    text[] NOT NULL CHECK (cardinality(choices) BETWEEN 1 AND 20),
    PRIMARY KEY (product_id, position),
    UNIQUE (product_id, name)
);

CREATE TABLE variants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku         text NOT NULL UNIQUE CHECK (sku ~ '^[A-Z0-9][A-Z0-9._-]{0,99}$'),
    -- One choice per option group, in the groups' order; empty for a product without options.
    options     text[] NOT NULL DEFAULT '{}',
    -- NULL: the product's price.
    price_cents bigint CHECK (price_cents > 0),
    stock       integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    position    integer NOT NULL DEFAULT 0,
    archived_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, options),
    -- Lets an order line name its variant and product together (so they cannot disagree).
    UNIQUE (id, product_id)
);
CREATE INDEX variants_product_idx ON variants (product_id, position, id);

INSERT INTO variants (product_id, sku, stock) SELECT id, upper(slug), stock FROM products ORDER BY id;

ALTER TABLE order_lines ADD COLUMN variant_id bigint;
UPDATE order_lines l SET variant_id = v.id FROM variants v WHERE v.product_id = l.product_id;
ALTER TABLE order_lines
    ALTER COLUMN variant_id SET NOT NULL,
    DROP CONSTRAINT order_lines_pkey,
    ADD PRIMARY KEY (order_id, variant_id),
    ADD CONSTRAINT order_lines_variant_fkey FOREIGN KEY (variant_id, product_id) REFERENCES variants (id, product_id);
CREATE INDEX order_lines_variant_idx ON order_lines (variant_id);

-- A product's stock is the sum of its on-sale variants' stock, kept by the variants themselves: every change of a
-- variant's stock or archived flag moves the product's figure by the difference (an increment, so concurrent
-- changes add up). A variant starts with no stock (stock arrives by update), except the default variant a new
-- product is created with, which takes the stock the product was inserted with.
CREATE FUNCTION variants_move_product_stock() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta integer := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.stock <> 0 AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'a new variant starts with no stock; give it stock by updating it'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'variant_starts_empty';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.archived_at IS NULL THEN
        delta := NEW.stock;
    END IF;
    IF OLD.archived_at IS NULL THEN
        delta := delta - OLD.stock;
    END IF;
    IF delta <> 0 THEN
        UPDATE products SET stock = stock + delta WHERE id = OLD.product_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER variants_move_product_stock AFTER INSERT OR UPDATE OF stock, archived_at OR DELETE ON variants
    FOR EACH ROW EXECUTE FUNCTION variants_move_product_stock();

-- Only the variants write a product's stock.
CREATE FUNCTION products_stock_from_variants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a product''s stock is the sum of its variants'' stock; change a variant''s'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'product_stock_from_variants';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER products_stock_from_variants BEFORE UPDATE OF stock ON products
    FOR EACH ROW WHEN (NEW.stock IS DISTINCT FROM OLD.stock) EXECUTE FUNCTION products_stock_from_variants();

-- A new product comes with its default variant, holding the stock it was created with.
CREATE FUNCTION products_default_variant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO variants (product_id, sku, stock) VALUES (NEW.id, upper(NEW.slug), NEW.stock);
    RETURN NULL;
END;
$$;
CREATE TRIGGER products_default_variant AFTER INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION products_default_variant();
