-- Recommendations (app::recommend), kept by the worker as it stores each event, in the event's transaction: a
-- redelivered event is a duplicate and counts nothing twice.
--
-- `viewed`: a shopper's (not a bot's) visit viewed the product; a pair counts the visits that viewed both.
-- `bought`: a paid order held the product; a pair counts the paid orders that held both.

-- The products each visit viewed, once each: what a new view in the visit pairs with, and a returning
-- shopper's history. Kept as long as the visit is.
CREATE TABLE visit_products (
    visit_id   uuid NOT NULL REFERENCES visits (visit_id) ON DELETE CASCADE,
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    viewed_at  timestamptz NOT NULL,
    PRIMARY KEY (visit_id, product_id)
);

-- How many visits viewed each product, or how many paid orders held it.
CREATE TABLE product_signals (
    kind       text NOT NULL CHECK (kind IN ('viewed', 'bought')),
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    count      integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (kind, product_id)
);
CREATE INDEX product_signals_top_idx ON product_signals (kind, count DESC, product_id);

-- How many visits viewed both products of a pair, or how many paid orders held both; each pair is kept in both
-- directions, so a product's partners are one index range.
CREATE TABLE product_pairs (
    kind       text NOT NULL CHECK (kind IN ('viewed', 'bought')),
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    other_id   bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    count      integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (kind, product_id, other_id),
    CHECK (product_id <> other_id)
);

-- The paid orders already counted: a second `payment_result` for one order counts nothing again.
CREATE TABLE counted_orders (
    order_id uuid PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE
);

-- What was stored before this migration counts as if the worker had kept these tables all along.
-- (The worker counts a visit's first 50 products; so does this.)
INSERT INTO visit_products (visit_id, product_id, viewed_at)
SELECT visit_id, product_id, viewed_at
FROM (
    SELECT e.visit_id, p.id AS product_id, min(e.received_at) AS viewed_at,
           row_number() OVER (PARTITION BY e.visit_id ORDER BY min(e.received_at), p.id) AS nth
    FROM clickstream_events e
    JOIN visits v ON v.visit_id = e.visit_id AND NOT v.bot
    JOIN products p ON p.id = CASE WHEN e.payload ->> 'product_id' ~ '^[0-9]{1,18}$'
                                   THEN (e.payload ->> 'product_id')::bigint END
    WHERE e.event_type = 'product_view' AND e.payload ->> 'origin' IS DISTINCT FROM 'server'
    GROUP BY e.visit_id, p.id
) viewed
WHERE nth <= 50;

WITH paid_lines AS (
    SELECT DISTINCT l.order_id, l.product_id
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    WHERE o.status IN ('paid', 'fulfilled')
       OR (o.status = 'cancelled' AND EXISTS (
               SELECT 1 FROM order_status_history h WHERE h.order_id = o.id AND h.to_status = 'paid'))
),
counted AS (
    INSERT INTO counted_orders (order_id) SELECT DISTINCT order_id FROM paid_lines RETURNING 1
),
signals AS (
    INSERT INTO product_signals (kind, product_id, count)
    SELECT 'viewed', product_id, count(*) FROM visit_products GROUP BY product_id
    UNION ALL
    SELECT 'bought', product_id, count(*) FROM paid_lines GROUP BY product_id
    RETURNING 1
)
INSERT INTO product_pairs (kind, product_id, other_id, count)
SELECT 'viewed', a.product_id, b.product_id, count(*)
FROM visit_products a JOIN visit_products b ON b.visit_id = a.visit_id AND b.product_id <> a.product_id
GROUP BY a.product_id, b.product_id
UNION ALL
SELECT 'bought', a.product_id, b.product_id, count(*)
FROM paid_lines a JOIN paid_lines b ON b.order_id = a.order_id AND b.product_id <> a.product_id
GROUP BY a.product_id, b.product_id;
