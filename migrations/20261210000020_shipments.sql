-- Shipments (issue 20, item 1): an admin ships some or all of a paid order's units, with a carrier and a tracking
-- number when there are any; the order becomes `fulfilled` when every unit has shipped. A line can never ship more
-- units than were ordered: the shipping function checks it under the order's lock, and the trigger below refuses it
-- whatever writes the rows.
--
-- Existing data: orders fulfilled before shipments have none (they were shipped whole, by the old button).

CREATE TABLE shipments (
    id         uuid PRIMARY KEY,
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    carrier    text CHECK (length(carrier) BETWEEN 1 AND 60),
    tracking   text CHECK (tracking ~ '^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$'),
    shipped_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_order_idx ON shipments (order_id, created_at);

CREATE TABLE shipment_lines (
    shipment_id uuid NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    order_id    uuid NOT NULL,
    variant_id  bigint NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (shipment_id, variant_id),
    FOREIGN KEY (order_id, variant_id) REFERENCES order_lines (order_id, variant_id) ON DELETE CASCADE
);
CREATE INDEX shipment_lines_line_idx ON shipment_lines (order_id, variant_id);

CREATE FUNCTION shipment_within_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ordered integer;
    shipped integer;
BEGIN
    SELECT quantity INTO ordered FROM order_lines WHERE order_id = NEW.order_id AND variant_id = NEW.variant_id;
    SELECT COALESCE(sum(quantity), 0) INTO shipped FROM shipment_lines
    WHERE order_id = NEW.order_id AND variant_id = NEW.variant_id;
    IF shipped > ordered THEN
        RAISE EXCEPTION 'shipping % of variant % when % were ordered', shipped, NEW.variant_id, ordered
            USING ERRCODE = 'check_violation', CONSTRAINT = 'shipment_within_order';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER shipment_within_order AFTER INSERT OR UPDATE ON shipment_lines
    FOR EACH ROW EXECUTE FUNCTION shipment_within_order();
