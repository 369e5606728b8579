//! Where journeys come from and where their documents go.

use super::{JourneyEvent, VisitInfo};
use sqlx::PgPool;
use std::future::Future;
use uuid::Uuid;

/// Keeps rendered journey PDFs. PostgreSQL is plenty at this size; an object store fits behind the same trait.
pub trait JourneyStore: Send + Sync {
    /// Stores (or replaces) a visit's document.
    fn save(&self, visit: Uuid, pdf: Vec<u8>, event_count: i32)
        -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    /// A visit's stored document, if one was rendered.
    fn load(&self, visit: Uuid) -> impl Future<Output = Result<Option<Vec<u8>>, sqlx::Error>> + Send;
}

/// Journey PDFs in the `journey_pdfs` table.
#[derive(Clone)]
pub struct PgJourneyStore {
    pub pool: PgPool,
}

impl JourneyStore for PgJourneyStore {
    async fn save(&self, visit: Uuid, pdf: Vec<u8>, event_count: i32) -> Result<(), sqlx::Error> {
        sqlx::query!(
            r#"INSERT INTO journey_pdfs (visit_id, pdf, event_count) VALUES ($1, $2, $3)
               ON CONFLICT (visit_id) DO UPDATE SET pdf = EXCLUDED.pdf, event_count = EXCLUDED.event_count, rendered_at = now()"#,
            visit,
            pdf,
            event_count
        )
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn load(&self, visit: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
        sqlx::query_scalar!("SELECT pdf FROM journey_pdfs WHERE visit_id = $1", visit).fetch_optional(&self.pool).await
    }
}

/// The most events loaded for one report: twice the default cap on a visit's events
/// (`Settings::visit_max_events`), so only a visit stored before the cap, or a raised cap, has more.
pub const MAX_LOADED_EVENTS: i64 = 10_000;

/// A visit's events as far as a report loads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitEvents {
    /// The first [`MAX_LOADED_EVENTS`] events, oldest first.
    pub events: Vec<JourneyEvent>,
    /// Events past those: counted, not loaded.
    pub not_loaded: u64,
}

/// A visit's stored events, oldest first and at most [`MAX_LOADED_EVENTS`], with a label for each (click text,
/// query, product name…) and how many more there are.
///
/// `checkout_begin` and `payment_result` decide the outcome, so only the server's own copies count (recorded by the
/// checkout and payment server functions with `"origin":"server"`); a copy posted from the browser is dropped.
pub async fn load_events(pool: &PgPool, visit: Uuid) -> Result<VisitEvents, sqlx::Error> {
    let events = sqlx::query_as!(
        JourneyEvent,
        r#"
        SELECT e.event_id, e.event_type, e.path, e.received_at AS "received_at: chrono::DateTime<chrono::Utc>", e.seq,
               CASE e.event_type
                   WHEN 'rage_click' THEN concat(COALESCE(NULLIF(e.payload->>'label', ''), e.payload->>'element'),
                                                 ' (', e.payload->>'clicks', ' clicks)')
                   WHEN 'dead_click' THEN COALESCE(NULLIF(e.payload->>'label', ''), e.payload->>'element')
                   WHEN 'quick_back' THEN concat('left after ',
                                                 round((e.payload->>'duration_ms')::numeric / 1000, 1), ' s')
                   WHEN 'web_vitals' THEN concat_ws(' · ', 'LCP ' || (e.payload->>'lcp_ms') || ' ms',
                                                    'CLS ' || round((e.payload->>'cls_milli')::numeric / 1000, 3),
                                                    'INP ' || (e.payload->>'inp_ms') || ' ms')
                   WHEN 'rec_impression' THEN concat(e.payload->>'slot', ' (', e.payload->>'products', ' products)')
                   WHEN 'coupon_applied' THEN e.payload->>'code'
                   WHEN 'coupon_rejected' THEN concat(e.payload->>'code', ' refused: ',
                                                      replace(e.payload->>'reason', '_', ' '))
                   WHEN 'tax_shown' THEN concat(e.payload->>'country', ': ',
                                                round((e.payload->>'tax_cents')::numeric / 100, 2))
                   WHEN 'shipping_selected' THEN concat(e.payload->>'method', ', ',
                                                        round((e.payload->>'shipping_cents')::numeric / 100, 2))
                   ELSE COALESCE(p.name, e.payload->>'label', e.payload->>'query', e.payload->>'slug',
                                 e.payload->>'outcome', e.payload->>'message')
               END AS label
        FROM clickstream_events e
        LEFT JOIN products p ON e.event_type IN ('cart_add', 'cart_remove')
                            AND p.id = (e.payload->>'product_id')::bigint
        WHERE e.visit_id = $1
          AND (e.event_type NOT IN ('checkout_begin', 'payment_result') OR e.payload->>'origin' = 'server')
        ORDER BY e.received_at, e.seq
        LIMIT $2
        "#,
        visit,
        MAX_LOADED_EVENTS
    )
    .fetch_all(pool)
    .await?;
    let not_loaded = if (events.len() as i64) < MAX_LOADED_EVENTS {
        0
    } else {
        let total = sqlx::query_scalar!(
            r#"
            SELECT count(*) AS "count!" FROM clickstream_events e
            WHERE e.visit_id = $1
              AND (e.event_type NOT IN ('checkout_begin', 'payment_result') OR e.payload->>'origin' = 'server')
            "#,
            visit
        )
        .fetch_one(pool)
        .await?;
        u64::try_from(total - events.len() as i64).unwrap_or_default()
    };
    Ok(VisitEvents { events, not_loaded })
}

/// What the report needs about a visit, and whether it is closed.
pub struct VisitRecord {
    pub info: VisitInfo,
    pub closed: bool,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Whether the visit gets a journey PDF without an admin asking: two events or more, and not a bot.
    pub gets_document: bool,
}

/// Whether a visit is worth a journey PDF: one with fewer than two events, or a bot's, is not (it would only cost
/// a render and a stored document); an admin may still ask for one.
pub fn gets_document(events: i32, bot: bool) -> bool {
    events >= 2 && !bot
}

/// The visit, if `reader` may see it: its owner (by events or by sign-in link), or anyone when `admin`.
/// Anyone else gets `None`, exactly as for a visit that does not exist.
pub async fn visit_for_reader(
    pool: &PgPool,
    visit: Uuid,
    reader: Uuid,
    admin: bool,
) -> Result<Option<VisitRecord>, sqlx::Error> {
    let row = sqlx::query!(
        r#"
        SELECT v.visit_id, v.user_agent, v.closed_at IS NOT NULL AS "closed!", v.events, v.bot,
               v.started_at AS "started_at: chrono::DateTime<chrono::Utc>", u.name AS "shopper?"
        FROM visits v
        LEFT JOIN visit_users vu ON vu.visit_id = v.visit_id
        LEFT JOIN users u ON u.id = COALESCE(v.user_id, vu.user_id)
        WHERE v.visit_id = $1 AND ($3 OR v.user_id = $2 OR vu.user_id = $2)
        "#,
        visit,
        reader,
        admin
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| VisitRecord {
        info: VisitInfo {
            visit_id: row.visit_id,
            shopper: row.shopper,
            device: describe_device(row.user_agent.as_deref()),
            in_progress: !row.closed,
            events_not_loaded: 0,
        },
        closed: row.closed,
        started_at: row.started_at,
        gets_document: gets_document(row.events, row.bot),
    }))
}

/// "Firefox on Linux", "Chrome on Android", … from a user agent.
pub fn describe_device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else { return "unknown device".into() };
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("HeadlessChrome") {
        "Headless Chrome"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        "a browser"
    };
    let os = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        "an unknown system"
    };
    format!("{browser} on {os}")
}

#[cfg(test)]
mod device_tests {
    use super::describe_device;

    #[test]
    fn devices_are_described_briefly() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
        assert_eq!(describe_device(Some(firefox)), "Firefox on Linux");
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/140.0 Mobile Safari/537.36";
        assert_eq!(describe_device(Some(android)), "Chrome on Android");
        assert_eq!(describe_device(None), "unknown device");
    }
}
