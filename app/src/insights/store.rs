//! The insight aggregates: written by the worker as it stores each event, read by the insights page.

use super::{
    normalize_query, page_of, AbandonedCart, DayRange, Funnel, Insights, PageTrouble, PageVitals, SearchOutcome, Stage,
    LIST_ROWS,
};
use crate::tracking::schema::{ClickstreamRecord, EventKind};
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};

/// The search a visit made last, while it waits for a product view (only a search that found products waits).
pub type PendingSearch = Option<(String, NaiveDate)>;

/// What a newly stored event adds to the aggregates, in its transaction. `pending` is the visit's waiting search
/// as it was before this event (the visit summary keeps it; the caller read it with the visit's lock). A bot's
/// event adds nothing.
pub async fn record(
    conn: &mut PgConnection,
    record: &ClickstreamRecord,
    pending: PendingSearch,
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
        sqlx::query!(
            r#"
            INSERT INTO page_stats (day, page, page_views, rage_clicks, dead_clicks, quick_backs, errors)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (day, page) DO UPDATE SET
                page_views = page_stats.page_views + EXCLUDED.page_views,
                rage_clicks = page_stats.rage_clicks + EXCLUDED.rage_clicks,
                dead_clicks = page_stats.dead_clicks + EXCLUDED.dead_clicks,
                quick_backs = page_stats.quick_backs + EXCLUDED.quick_backs,
                errors = page_stats.errors + EXCLUDED.errors
            "#,
            day as _,
            page,
            views,
            rage,
            dead,
            quick,
            errors,
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
            if let Some((query, day)) = pending {
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
            // Buckets of 50 ms, and of 0.01 for CLS (10 thousandths).
            let buckets = [("lcp", *lcp_ms, 50), ("cls", *cls_milli, 10), ("inp", *inp_ms, 50)];
            for (metric, value, width) in buckets {
                let Some(value) = value else { continue };
                let bucket = i32::try_from(value / width * width).unwrap_or(i32::MAX);
                sqlx::query!(
                    r#"
                    INSERT INTO page_vitals (day, page, metric, bucket, count) VALUES ($1, $2, $3, $4, 1)
                    ON CONFLICT (day, page, metric, bucket) DO UPDATE SET count = page_vitals.count + 1
                    "#,
                    day as _,
                    page,
                    metric,
                    bucket,
                )
                .execute(&mut *conn)
                .await?;
            }
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
        trouble: trouble(pool, range).await?,
        vitals: vitals(pool, range).await?,
        no_results: searches(pool, range, false).await?,
        no_click: searches(pool, range, true).await?,
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
