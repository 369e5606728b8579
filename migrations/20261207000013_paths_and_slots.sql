-- The insights' top paths and recommendation slots (app::insights, app::recommend), kept by the worker in each
-- event's transaction like the other aggregates: a redelivered event counts nothing twice, a bot's counts nowhere.

-- A visit's path: the pages of its first page views (the path without its query; a page shown again straight
-- after itself is one step), at most five, counted under the day the visit started.
ALTER TABLE visits
    ADD COLUMN path_pages text[] NOT NULL DEFAULT '{}',
    ADD COLUMN path_day   date;

-- Visits per day and path. A visit is counted under the path it has made so far: each step moves it from its
-- old path to the longer one. The flow diagram's links are read from these (a path of n pages is n - 1 links
-- and an exit).
CREATE TABLE path_stats (
    day    date NOT NULL,
    pages  text[] NOT NULL CHECK (cardinality(pages) BETWEEN 1 AND 5),
    visits integer NOT NULL DEFAULT 0 CHECK (visits >= 0),
    PRIMARY KEY (day, pages)
);

-- Per day and slot: how often a slot of recommendations was shown (the browser's `rec_impression`) and how
-- often a product in it was clicked (a `click` labelled `rec-<slot>`).
CREATE TABLE rec_slot_stats (
    day         date NOT NULL,
    slot        text NOT NULL,
    impressions integer NOT NULL DEFAULT 0,
    clicks      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, slot)
);

-- The products a visit opened from a slot (a `product_view` whose page carries `?rec=<slot>`); the first slot
-- that led to a product keeps it.
CREATE TABLE rec_opened (
    visit_id   uuid NOT NULL REFERENCES visits (visit_id) ON DELETE CASCADE,
    product_id bigint NOT NULL,
    slot       text NOT NULL,
    PRIMARY KEY (visit_id, product_id)
);

-- Revenue attributed to a slot: per day of payment, slot and currency, the paid orders that held a product the
-- paying visit had opened from the slot, and what those lines cost.
CREATE TABLE rec_slot_revenue (
    day           date NOT NULL,
    slot          text NOT NULL,
    currency      text NOT NULL,
    orders        integer NOT NULL DEFAULT 0,
    revenue_cents bigint NOT NULL DEFAULT 0 CHECK (revenue_cents >= 0),
    PRIMARY KEY (day, slot, currency)
);

-- What was stored before this migration, counted as the worker would have.
WITH views AS (
    SELECT e.visit_id, e.received_at, e.seq, split_part(split_part(e.path, '?', 1), '#', 1) AS page
    FROM clickstream_events e JOIN visits v ON v.visit_id = e.visit_id AND NOT v.bot
    WHERE e.event_type = 'page_view'
),
steps AS (
    SELECT visit_id, page, received_at, seq,
           lag(page) OVER (PARTITION BY visit_id ORDER BY received_at, seq) AS before
    FROM views
),
numbered AS (
    SELECT visit_id, page, row_number() OVER (PARTITION BY visit_id ORDER BY received_at, seq) AS n
    FROM steps WHERE before IS DISTINCT FROM page
)
UPDATE visits v SET path_pages = p.pages, path_day = (v.started_at AT TIME ZONE 'UTC')::date
FROM (SELECT visit_id, array_agg(page ORDER BY n) AS pages FROM numbered WHERE n <= 5 GROUP BY visit_id) p
WHERE p.visit_id = v.visit_id;

INSERT INTO path_stats (day, pages, visits)
SELECT path_day, path_pages, count(*) FROM visits WHERE path_day IS NOT NULL GROUP BY 1, 2;

INSERT INTO rec_slot_stats (day, slot, clicks)
SELECT (e.received_at AT TIME ZONE 'UTC')::date, substr(e.payload ->> 'label', 5), count(*)
FROM clickstream_events e JOIN visits v ON v.visit_id = e.visit_id AND NOT v.bot
WHERE e.event_type = 'click'
  AND e.payload ->> 'label' IN ('rec-viewed-together', 'rec-bought-together', 'rec-picked-for-you', 'rec-popular')
GROUP BY 1, 2;

INSERT INTO rec_opened (visit_id, product_id, slot)
SELECT DISTINCT ON (e.visit_id, (e.payload ->> 'product_id')::bigint)
       e.visit_id, (e.payload ->> 'product_id')::bigint, substring(e.path FROM '[?&]rec=([a-z-]+)')
FROM clickstream_events e JOIN visits v ON v.visit_id = e.visit_id AND NOT v.bot
WHERE e.event_type = 'product_view'
  AND substring(e.path FROM '[?&]rec=([a-z-]+)') IN ('viewed-together', 'bought-together', 'picked-for-you', 'popular')
ORDER BY e.visit_id, (e.payload ->> 'product_id')::bigint, e.received_at, e.seq;

INSERT INTO rec_slot_revenue (day, slot, currency, orders, revenue_cents)
SELECT paid.day, r.slot, o.currency, count(DISTINCT o.id), sum(l.quantity * l.unit_price_cents)
FROM (
    SELECT DISTINCT ON ((e.payload ->> 'order_id')::uuid)
           (e.payload ->> 'order_id')::uuid AS order_id, e.visit_id, (e.received_at AT TIME ZONE 'UTC')::date AS day
    FROM clickstream_events e
    WHERE e.event_type = 'payment_result' AND e.payload ->> 'origin' = 'server'
      AND e.payload ->> 'outcome' = 'succeeded'
    ORDER BY (e.payload ->> 'order_id')::uuid, e.received_at
) paid
JOIN orders o ON o.id = paid.order_id
JOIN order_lines l ON l.order_id = o.id
JOIN rec_opened r ON r.visit_id = paid.visit_id AND r.product_id = l.product_id
GROUP BY 1, 2, 3;
