//! The insight aggregates: written by the worker as it stores each event, read by the insights page.

use super::paths::{Flow, PathLink, TopPath, NODES_PER_STEP};
use super::{
    normalize_query, page_of, AbandonedCart, DayRange, Funnel, Insights, PageTrouble, PageVitals, SearchOutcome,
    SlotPerformance, Stage, LIST_ROWS, PATH_PAGES,
};
use crate::recommend::Slot;
use crate::tracking::schema::{ClickstreamRecord, EventKind};
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};

/// The search a visit made last, while it waits for a product view (only a search that found products waits).
pub type PendingSearch = Option<(String, NaiveDate)>;

/// What the aggregates need of a visit's summary as it was before an event (the caller reads it with the
/// visit's lock; a new visit has none of it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VisitBefore {
    /// The search waiting for a product view.
    pub pending: PendingSearch,
    /// The visit's path so far, and the day it counts under.
    pub path: Vec<String>,
    pub path_day: Option<NaiveDate>,
    /// The day the visit started.
    pub started: Option<NaiveDate>,
}

/// A page view's step along its visit's path: the path before and after, under the day the visit started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    pub day: NaiveDate,
    pub was: Vec<String>,
    pub grown: Vec<String>,
}

impl PathStep {
    /// The step `record` makes: a shopper's page view of another page than the path's last, while the path is
    /// shorter than [`PATH_PAGES`] (a bot's makes none).
    pub fn of(record: &ClickstreamRecord, before: &VisitBefore) -> Option<PathStep> {
        if record.bot || !matches!(record.event, EventKind::PageView { .. }) || before.path.len() >= PATH_PAGES {
            return None;
        }
        let page = page_of(&record.path);
        if before.path.last().is_some_and(|last| last == page) {
            return None;
        }
        let day = before.path_day.or(before.started).unwrap_or_else(|| record.received_at.date_naive());
        let mut grown = before.path.clone();
        grown.push(page.to_string());
        Some(PathStep { day, was: before.path.clone(), grown })
    }
}

/// What a newly stored event adds to the aggregates, in its transaction: `before` is its visit's summary as it
/// was, `step` the step it made along the visit's path (the caller keeps the path in the summary; see
/// [`PathStep::of`]). A bot's event adds nothing. One statement per event at most, so the worker's store step
/// stays close to what it cost before the aggregates.
pub async fn record(
    conn: &mut PgConnection,
    record: &ClickstreamRecord,
    before: &VisitBefore,
    step: Option<&PathStep>,
) -> Result<(), sqlx::Error> {
    if record.bot {
        return Ok(());
    }
    let day = record.received_at.date_naive();
    let page = page_of(&record.path);
    // (page views, rage clicks, dead clicks, quick backs, errors)
    let counts = match &record.event {
        EventKind::PageView { .. } => Some((1, 0, 0, 0, 0)),
        EventKind::RageClick { .. } => Some((0, 1, 0, 0, 0)),
        EventKind::DeadClick { .. } => Some((0, 0, 1, 0, 0)),
        EventKind::QuickBack { .. } => Some((0, 0, 0, 1, 0)),
        EventKind::Error { .. } => Some((0, 0, 0, 0, 1)),
        _ => None,
    };
    if let Some((views, rage, dead, quick, errors)) = counts {
        // The page's counts, and a page view's step: the visit moves from its path's count to the longer one's.
        sqlx::query!(
            r#"
            WITH page AS (
                INSERT INTO page_stats (day, page, page_views, rage_clicks, dead_clicks, quick_backs, errors)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (day, page) DO UPDATE SET
                    page_views = page_stats.page_views + EXCLUDED.page_views,
                    rage_clicks = page_stats.rage_clicks + EXCLUDED.rage_clicks,
                    dead_clicks = page_stats.dead_clicks + EXCLUDED.dead_clicks,
                    quick_backs = page_stats.quick_backs + EXCLUDED.quick_backs,
                    errors = page_stats.errors + EXCLUDED.errors
            ),
            left_path AS (
                UPDATE path_stats SET visits = visits - 1
                WHERE $10::text[] IS NOT NULL AND day = $8 AND pages = $9
            )
            INSERT INTO path_stats (day, pages, visits) SELECT $8, $10, 1 WHERE $10::text[] IS NOT NULL
            ON CONFLICT (day, pages) DO UPDATE SET visits = path_stats.visits + 1
            "#,
            day as _,
            page,
            views,
            rage,
            dead,
            quick,
            errors,
            step.map(|step| step.day) as _,
            step.map(|step| step.was.as_slice()),
            step.map(|step| step.grown.as_slice()),
        )
        .execute(&mut *conn)
        .await?;
    }
    match &record.event {
        EventKind::Search { query, results } => {
            let query = normalize_query(query);
            if !query.is_empty() {
                sqlx::query!(
                    r#"
                    INSERT INTO search_stats (day, query, searches, without_results) VALUES ($1, $2, 1, $3)
                    ON CONFLICT (day, query) DO UPDATE SET
                        searches = search_stats.searches + 1,
                        without_results = search_stats.without_results + EXCLUDED.without_results
                    "#,
                    day as _,
                    query,
                    i32::from(*results == 0),
                )
                .execute(&mut *conn)
                .await?;
            }
        }
        EventKind::ProductView { .. } => {
            if let Some((query, day)) = &before.pending {
                sqlx::query!(
                    r#"
                    UPDATE search_stats SET followed_by_product = followed_by_product + 1
                    WHERE day = $1 AND query = $2
                    "#,
                    day as _,
                    query,
                )
                .execute(&mut *conn)
                .await?;
            }
        }
        EventKind::WebVitals { lcp_ms, cls_milli, inp_ms } => {
            // Buckets of 50 ms, and of 0.01 for CLS (10 thousandths); the measured ones in one statement.
            let measured: Vec<(&str, i32)> = [("lcp", *lcp_ms, 50), ("cls", *cls_milli, 10), ("inp", *inp_ms, 50)]
                .into_iter()
                .filter_map(|(metric, value, width)| Some((metric, i32::try_from(value? / width * width).ok()?)))
                .collect();
            let (metrics, buckets): (Vec<&str>, Vec<i32>) = measured.into_iter().unzip();
            sqlx::query!(
                r#"
                INSERT INTO page_vitals (day, page, metric, bucket, count)
                SELECT $1, $2, metric, bucket, 1 FROM unnest($3::text[], $4::int[]) AS m (metric, bucket)
                ORDER BY metric
                ON CONFLICT (day, page, metric, bucket) DO UPDATE SET count = page_vitals.count + 1
                "#,
                day as _,
                page,
                &metrics as &[&str],
                &buckets,
            )
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Everything the page shows for `range`.
pub async fn insights(pool: &PgPool, range: DayRange) -> Result<Insights, sqlx::Error> {
    Ok(Insights {
        range,
        funnel: funnel(pool, range).await?,
        flow: Flow::of(&path_links(pool, range).await?, NODES_PER_STEP),
        paths: top_paths(pool, range).await?,
        trouble: trouble(pool, range).await?,
        vitals: vitals(pool, range).await?,
        no_results: searches(pool, range, false).await?,
        no_click: searches(pool, range, true).await?,
        slots: slots(pool, range).await?,
        abandoned: abandoned(pool, range).await?,
    })
}

/// Visits that started in the range, by the furthest stage they reached, counted into every stage up to it.
async fn funnel(pool: &PgPool, range: DayRange) -> Result<Funnel, sqlx::Error> {
    let (from, until) = range.bounds();
    let rows = sqlx::query!(
        r#"
        SELECT furthest_stage AS "stage!", count(*) AS "visits!"
        FROM visits
        WHERE NOT bot AND started_at >= $1 AND started_at < $2 AND furthest_stage > 0
        GROUP BY furthest_stage
        "#,
        from as _,
        until as _,
    )
    .fetch_all(pool)
    .await?;
    let reached = Stage::ALL
        .iter()
        .map(|stage| rows.iter().filter(|row| row.stage >= stage.number()).map(|row| row.visits).sum())
        .collect();
    Ok(Funnel { reached })
}

/// Each step of the paths of visits that started in the range: its page, the next one (none at the path's
/// end), and the visits that took it.
async fn path_links(pool: &PgPool, range: DayRange) -> Result<Vec<PathLink>, sqlx::Error> {
    sqlx::query_as!(
        PathLink,
        r#"
        SELECT step AS "step!", pages[step] AS "source!", pages[step + 1] AS target,
               sum(visits)::bigint AS "visits!"
        FROM path_stats, generate_series(1, cardinality(pages)) AS step
        WHERE day BETWEEN $1 AND $2 AND visits > 0
        GROUP BY 1, 2, 3
        "#,
        range.from as _,
        range.to as _,
    )
    .fetch_all(pool)
    .await
}

/// The paths most visits made, most first.
async fn top_paths(pool: &PgPool, range: DayRange) -> Result<Vec<TopPath>, sqlx::Error> {
    sqlx::query_as!(
        TopPath,
        r#"
        SELECT pages AS "pages!", sum(visits)::bigint AS "visits!"
        FROM path_stats
        WHERE day BETWEEN $1 AND $2
        GROUP BY pages
        HAVING sum(visits) > 0
        ORDER BY 2 DESC, pages
        LIMIT $3
        "#,
        range.from as _,
        range.to as _,
        LIST_ROWS,
    )
    .fetch_all(pool)
    .await
}

/// Every slot's impressions, clicks, orders and revenue in the range (a slot without any: zeros).
async fn slots(pool: &PgPool, range: DayRange) -> Result<Vec<SlotPerformance>, sqlx::Error> {
    let shown = sqlx::query!(
        r#"
        SELECT slot, sum(impressions)::bigint AS "impressions!", sum(clicks)::bigint AS "clicks!"
        FROM rec_slot_stats WHERE day BETWEEN $1 AND $2 GROUP BY slot
        "#,
        range.from as _,
        range.to as _,
    )
    .fetch_all(pool)
    .await?;
    let paid = sqlx::query!(
        r#"
        SELECT slot, currency, sum(orders)::bigint AS "orders!", sum(revenue_cents)::bigint AS "revenue!"
        FROM rec_slot_revenue WHERE day BETWEEN $1 AND $2 GROUP BY slot, currency ORDER BY slot, currency
        "#,
        range.from as _,
        range.to as _,
    )
    .fetch_all(pool)
    .await?;
    Ok(Slot::ALL
        .into_iter()
        .map(|slot| {
            let name = slot.as_str();
            let shown = shown.iter().find(|row| row.slot == name);
            let paid = paid.iter().filter(|row| row.slot == name);
            SlotPerformance {
                slot,
                impressions: shown.map_or(0, |row| row.impressions),
                clicks: shown.map_or(0, |row| row.clicks),
                orders: paid.clone().map(|row| row.orders).sum(),
                revenue: paid.map(|row| (row.currency.clone(), row.revenue)).collect(),
            }
        })
        .collect())
}

/// The pages with the most frustration signals.
async fn trouble(pool: &PgPool, range: DayRange) -> Result<Vec<PageTrouble>, sqlx::Error> {
    sqlx::query_as!(
        PageTrouble,
        r#"
        SELECT page, sum(page_views)::bigint AS "page_views!", sum(rage_clicks)::bigint AS "rage_clicks!",
               sum(dead_clicks)::bigint AS "dead_clicks!", sum(quick_backs)::bigint AS "quick_backs!",
               sum(errors)::bigint AS "errors!"
        FROM page_stats
        WHERE day BETWEEN $1 AND $2
        GROUP BY page
        HAVING sum(rage_clicks + dead_clicks + quick_backs + errors) > 0
        ORDER BY sum(rage_clicks + dead_clicks + quick_backs + errors) DESC, page
        LIMIT $3
        "#,
        range.from as _,
        range.to as _,
        LIST_ROWS,
    )
    .fetch_all(pool)
    .await
}

/// Each page's vitals at the 75th percentile, worst LCP first.
async fn vitals(pool: &PgPool, range: DayRange) -> Result<Vec<PageVitals>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        WITH buckets AS (
            SELECT page, metric, bucket, sum(count) AS n
            FROM page_vitals WHERE day BETWEEN $1 AND $2
            GROUP BY page, metric, bucket
        ),
        running AS (
            SELECT page, metric, bucket, n,
                   sum(n) OVER (PARTITION BY page, metric ORDER BY bucket) AS below,
                   sum(n) OVER (PARTITION BY page, metric) AS total
            FROM buckets
        )
        SELECT page AS "page!", metric AS "metric!",
               min(bucket) FILTER (WHERE below * 4 >= total * 3) AS "p75!", max(total)::bigint AS "samples!"
        FROM running
        GROUP BY page, metric
        "#,
        range.from as _,
        range.to as _,
    )
    .fetch_all(pool)
    .await?;
    let mut pages: Vec<PageVitals> = Vec::new();
    for row in rows {
        let at = match pages.iter().position(|page| page.page == row.page) {
            Some(at) => at,
            None => {
                pages.push(PageVitals { page: row.page, lcp_ms: None, cls_milli: None, inp_ms: None, samples: 0 });
                pages.len() - 1
            }
        };
        let page = &mut pages[at];
        let p75 = Some(i64::from(row.p75));
        match row.metric.as_str() {
            "lcp" => page.lcp_ms = p75,
            "cls" => page.cls_milli = p75,
            _ => page.inp_ms = p75,
        }
        page.samples = page.samples.max(row.samples);
    }
    pages.sort_by(|a, b| b.lcp_ms.cmp(&a.lcp_ms).then_with(|| a.page.cmp(&b.page)));
    pages.truncate(LIST_ROWS as usize);
    Ok(pages)
}

/// Queries whose searches found nothing (`no_click` false), or found products and no product view followed
/// (`no_click` true); most first.
async fn searches(pool: &PgPool, range: DayRange, no_click: bool) -> Result<Vec<SearchOutcome>, sqlx::Error> {
    sqlx::query_as!(
        SearchOutcome,
        r#"
        SELECT query AS "query!", searches AS "searches!", count AS "count!"
        FROM (
            SELECT query, sum(searches)::bigint AS searches,
                   CASE WHEN $3 THEN sum(searches - without_results - followed_by_product)
                        ELSE sum(without_results) END::bigint AS count
            FROM search_stats WHERE day BETWEEN $1 AND $2
            GROUP BY query
        ) totals
        WHERE count > 0
        ORDER BY count DESC, query
        LIMIT $4
        "#,
        range.from as _,
        range.to as _,
        no_click,
        LIST_ROWS,
    )
    .fetch_all(pool)
    .await
}

/// The latest closed visits in the range that added to their cart and never paid, with the last page they saw.
async fn abandoned(pool: &PgPool, range: DayRange) -> Result<Vec<AbandonedCart>, sqlx::Error> {
    let (from, until) = range.bounds();
    let rows = sqlx::query!(
        r#"
        SELECT v.visit_id, v.started_at AS "started_at: chrono::DateTime<chrono::Utc>", u.name AS "shopper?",
               v.cart_adds, v.last_path
        FROM visits v
        LEFT JOIN visit_users vu ON vu.visit_id = v.visit_id
        LEFT JOIN users u ON u.id = COALESCE(v.user_id, vu.user_id)
        WHERE NOT v.bot AND v.started_at >= $1 AND v.started_at < $2
          AND v.cart_adds > 0 AND NOT v.paid AND v.closed_at IS NOT NULL
        ORDER BY v.started_at DESC
        LIMIT $3
        "#,
        from as _,
        until as _,
        LIST_ROWS,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AbandonedCart {
            visit_id: row.visit_id,
            started_at: row.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            shopper: row.shopper,
            cart_adds: row.cart_adds,
            last_page: row.last_path,
        })
        .collect())
}
