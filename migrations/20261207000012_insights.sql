-- Insights for admins (app::insights), kept by the worker in each event's transaction, like the visit summary:
-- a redelivered event counts nothing twice. Days are UTC days of the server's receive time. A bot's events
-- count in none of these.

-- The visit summary learns the product stage of the funnel, the last page, and the search waiting for a product
-- view (a search "led to a click" when a product view follows it in the visit before the next search).
-- (Only a search that found products waits: "no click" is counted among those.) `furthest_stage` is the funnel's
-- one definition: 1 browse, 2 product, 3 cart, 4 checkout, 5 paid (reaching a stage implies those before it).
ALTER TABLE visits
    ADD COLUMN product_views       integer NOT NULL DEFAULT 0,
    ADD COLUMN last_path           text,
    ADD COLUMN pending_search      text,
    ADD COLUMN pending_search_day  date;
ALTER TABLE visits ADD COLUMN furthest_stage smallint GENERATED ALWAYS AS (
    CASE WHEN paid THEN 5 WHEN checkouts > 0 THEN 4 WHEN cart_adds > 0 THEN 3 WHEN product_views > 0 THEN 2
         WHEN page_views > 0 THEN 1 ELSE 0 END
) STORED;
CREATE INDEX visits_insights_idx ON visits (started_at) WHERE NOT bot;

-- Searches per day and query (lower case, spaces folded): how many, how many found nothing, and how many a
-- product view followed.
CREATE TABLE search_stats (
    day                 date NOT NULL,
    query               text NOT NULL,
    searches            integer NOT NULL DEFAULT 0,
    without_results     integer NOT NULL DEFAULT 0,
    followed_by_product integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, query)
);

-- Page views and frustration signals per day and page (the path without its query).
CREATE TABLE page_stats (
    day         date NOT NULL,
    page        text NOT NULL,
    page_views  integer NOT NULL DEFAULT 0,
    rage_clicks integer NOT NULL DEFAULT 0,
    dead_clicks integer NOT NULL DEFAULT 0,
    quick_backs integer NOT NULL DEFAULT 0,
    errors      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, page)
);

-- Web Vitals per day and page as histograms: how many page views measured a value in each bucket (LCP and INP in
-- steps of 50 ms, CLS in steps of 0.01, each bucket named by its lower bound). A percentile over any range of days
-- is read from the summed buckets.
CREATE TABLE page_vitals (
    day    date NOT NULL,
    page   text NOT NULL,
    metric text NOT NULL CHECK (metric IN ('lcp', 'cls', 'inp')),
    bucket integer NOT NULL CHECK (bucket >= 0),
    count  integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (day, page, metric, bucket)
);

-- What was stored before this migration, counted as the worker would have.
UPDATE visits v SET
    product_views = s.product_views,
    last_path = s.last_path
FROM (
    SELECT visit_id,
           count(*) FILTER (WHERE event_type = 'product_view') AS product_views,
           (array_agg(path ORDER BY received_at DESC, seq DESC) FILTER (WHERE event_type = 'page_view'))[1] AS last_path
    FROM clickstream_events GROUP BY visit_id
) s
WHERE s.visit_id = v.visit_id;

-- A search that found products is followed by a product view when one comes after it in the visit, before the
-- visit's next search.
WITH ordered AS (
    SELECT e.visit_id, e.event_type, e.received_at, e.payload,
           count(*) FILTER (WHERE e.event_type = 'search')
               OVER (PARTITION BY e.visit_id ORDER BY e.received_at, e.seq) AS nth
    FROM clickstream_events e JOIN visits v ON v.visit_id = e.visit_id AND NOT v.bot
    WHERE e.event_type IN ('search', 'product_view')
),
searches AS (
    SELECT (array_agg(received_at) FILTER (WHERE event_type = 'search'))[1] AS at,
           (array_agg(payload) FILTER (WHERE event_type = 'search'))[1] AS search,
           bool_or(event_type = 'product_view') AS followed_any
    FROM ordered WHERE nth > 0 GROUP BY visit_id, nth
)
INSERT INTO search_stats (day, query, searches, without_results, followed_by_product)
SELECT (at AT TIME ZONE 'UTC')::date, lower(regexp_replace(btrim(search ->> 'query'), '\s+', ' ', 'g')),
       count(*), count(*) FILTER (WHERE search ->> 'results' = '0'),
       count(*) FILTER (WHERE followed_any AND search ->> 'results' <> '0')
FROM searches WHERE btrim(search ->> 'query') <> ''
GROUP BY 1, 2;

INSERT INTO page_stats (day, page, page_views, rage_clicks, dead_clicks, quick_backs, errors)
SELECT (e.received_at AT TIME ZONE 'UTC')::date, split_part(e.path, '?', 1),
       count(*) FILTER (WHERE e.event_type = 'page_view'),
       count(*) FILTER (WHERE e.event_type = 'rage_click'),
       count(*) FILTER (WHERE e.event_type = 'dead_click'),
       count(*) FILTER (WHERE e.event_type = 'quick_back'),
       count(*) FILTER (WHERE e.event_type = 'error')
FROM clickstream_events e JOIN visits v ON v.visit_id = e.visit_id AND NOT v.bot
WHERE e.event_type IN ('page_view', 'rage_click', 'dead_click', 'quick_back', 'error')
GROUP BY 1, 2;
