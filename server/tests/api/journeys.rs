//! Journeys: events → worker → visit summary → closed visit → PDF for its owner, 404 for anyone else; bounded
//! reports, a closer that survives bad visits, and downloads that render once.

use crate::helpers::{
    shopper::{visit_of, FIREFOX},
    test_settings, TestApp,
};
use cartograph::journey::closer::{close_due_visits, close_next_visit, Closing, ClosingRules};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Posts `events` as one batch from an ordinary browser; the endpoint takes them.
async fn post(app: &TestApp, events: &[&str]) {
    let body = format!(r#"{{"v":1,"events":[{}]}}"#, events.join(","));
    let response = app.post_events(&body).await;
    assert_eq!(response.status(), 202);
}

fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("journey-{}.pdf", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils)");
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn app_with_fast_closing() -> TestApp {
    TestApp::builder()
        .with_settings(|settings| settings.visits.sweep = Duration::from_secs(1))
        .with_worker()
        .spawn()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_visit_is_closed_and_its_journey_is_the_owners_alone() {
    let app = app_with_fast_closing().await;
    let visit = app.visit().await;
    post(
        &app,
        &[
            r#"{"type":"page_view","path":"/","id":"j1"}"#,
            r#"{"type":"search","path":"/products?q=tent","query":"tent","results":1,"id":"j2"}"#,
            r#"{"type":"page_view","path":"/products?q=tent","referrer":"/","id":"j3"}"#,
            r#"{"type":"page_view","path":"/product/ridgeline-2-tent","referrer":"/products?q=tent","id":"j4"}"#,
            r#"{"type":"cart_add","path":"/product/ridgeline-2-tent","product_id":1,"quantity":1,"id":"j5"}"#,
            r#"{"type":"page_view","path":"/cart","id":"j6"}"#,
        ],
    )
    .await;
    // Signing in links this anonymous visit to the account.
    app.sign_in("journey-owner", "/").await;
    let stored =
        app.wait_for_count(&format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'"), 6).await;
    assert_eq!(stored, 6);
    let summary: (i32, i32, bool) =
        sqlx::query_as(&format!("SELECT page_views, cart_adds, paid FROM visits WHERE visit_id = '{visit}'"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(summary, (4, 1, false));

    // While the visit is open, its owner gets it rendered on demand, marked in progress.
    let open = app.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(open.headers()["cache-control"], "private, no-store");

    // Sign-out closes the visit and starts a new one.
    let logout = app.client.post(app.url("/auth/logout")).send().await.unwrap();
    let next_visit = visit_of(&logout).expect("a new visit after sign-out");
    assert_ne!(next_visit, visit);
    let closed = app.wait_for_count(&format!("SELECT count(*) FROM journey_pdfs WHERE visit_id = '{visit}'"), 1).await;
    assert_eq!(closed, 1, "the worker closed the visit and stored its journey");

    app.sign_in("journey-owner", "/").await;
    let response = app.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"cartograph-journey-") && disposition.ends_with(".pdf\""),
        "{disposition}"
    );
    assert_eq!(response.headers()["cache-control"], "private, max-age=3600");
    let text = pdf_text(&response.bytes().await.unwrap());
    let positions: Vec<usize> = ["Home", "Catalog", "Product", "Cart"]
        .iter()
        .map(|label| text.find(label).unwrap_or_else(|| panic!("{label} missing from the journey text")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "pages appear in visit order: {positions:?}");

    let mine: serde_json::Value = app.call("my_journeys", &[]).await.json().await.unwrap();
    assert!(mine.as_array().unwrap().iter().any(|j| j["visit_id"] == visit.as_str() && j["closed"] == true));

    let stranger = app.another_browser();
    assert_eq!(stranger.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap().status(), 404);
    stranger.sign_in("someone-else", "/").await;
    assert_eq!(stranger.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap().status(), 404);
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(stranger.client.get(app.url(&format!("/journeys/{unknown}.pdf"))).send().await.unwrap().status(), 404);
    assert_eq!(stranger.call("admin_visits", &[("outcome", "")]).await.status(), 403);

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    assert_eq!(admin.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap().status(), 200);
    let all: serde_json::Value =
        admin.call("admin_visits", &[("outcome", "abandoned cart")]).await.json().await.unwrap();
    assert!(all.as_array().unwrap().iter().any(|j| j["visit_id"] == visit.as_str()), "{all}");
}

/// The tracker's version 2 signals travel the same endpoint, broker and worker as every event, and the journey
/// says what each measured; a version 1 batch from a page with an older tracker is still taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frustration_and_quality_signals_reach_the_journey_report() {
    let app = app_with_fast_closing().await;
    let visit = app.visit().await;
    post(&app, &[r#"{"type":"page_view","path":"/","id":"s0"}"#]).await;
    let signals = [
        r#"{"type":"page_view","path":"/product/ridgeline-2-tent","referrer":"/","id":"s1"}"#,
        r#"{"type":"rage_click","path":"/product/ridgeline-2-tent","element":"img","label":"Ridgeline 2 Tent","clicks":5,"id":"s2"}"#,
        r#"{"type":"dead_click","path":"/product/ridgeline-2-tent","element":"img","label":"","id":"s3"}"#,
        r#"{"type":"web_vitals","path":"/product/ridgeline-2-tent","lcp_ms":1840,"cls_milli":12,"inp_ms":null,"id":"s4"}"#,
        r#"{"type":"quick_back","path":"/product/ridgeline-2-tent","duration_ms":2300,"id":"s5"}"#,
        r#"{"type":"page_leave","path":"/product/ridgeline-2-tent","duration_ms":2300,"scroll_depth_pct":40,"id":"s6"}"#,
    ];
    let body = format!(r#"{{"v":2,"events":[{}]}}"#, signals.join(","));
    let response = app.post_events(&body).await;
    assert_eq!(response.status(), 202);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["accepted"], 6, "{answer}");
    // The same signals in a version 1 batch are refused one by one, with the reason; the rest of it is taken.
    let old = format!(r#"{{"v":1,"events":[{},{}]}}"#, r#"{"type":"page_view","path":"/cart","id":"s7"}"#, signals[1]);
    let answer: serde_json::Value = app.post_events(&old).await.json().await.unwrap();
    assert_eq!(answer["accepted"], 1, "{answer}");
    let stored = format!("SELECT count(*) FROM clickstream_events WHERE visit_id = '{visit}'");
    assert_eq!(app.wait_for_count(&stored, 8).await, 8);
    let types: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT event_type FROM clickstream_events WHERE visit_id = '{visit}' ORDER BY received_at, seq"
    ))
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        types,
        ["page_view", "page_view", "rage_click", "dead_click", "web_vitals", "quick_back", "page_leave", "page_view"]
    );

    // Its shopper signs in (which makes the anonymous visit theirs) and downloads it, rendered on demand.
    app.sign_in("signals-owner", "/").await;
    let response = app.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = pdf_text(&response.bytes().await.unwrap());
    for shown in [
        "FRUSTRATIONS",
        "Rage click",
        "Ridgeline 2 Tent (5 clicks)",
        "Dead click",
        "Quick back",
        "left after 2.3 s",
        "Web Vitals",
        "LCP 1840 ms \u{b7} CLS 0.012",
    ] {
        assert!(text.contains(shown), "{shown:?} missing from the journey:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_visit_is_closed_by_the_sweep() {
    let app = TestApp::builder().with_worker().spawn().await;
    let visit = app.visit().await;
    // Two events: a visit with fewer gets no document.
    post(
        &app,
        &[r#"{"type":"page_view","path":"/","id":"idle-1"}"#, r#"{"type":"page_view","path":"/cart","id":"idle-2"}"#],
    )
    .await;
    app.wait_for_count(&format!("SELECT count(*) FROM visits WHERE visit_id = '{visit}' AND events = 2"), 1).await;
    let not_yet = ClosingRules {
        idle: Duration::from_secs(1800),
        sign_out_grace: Duration::from_secs(5),
        every: Duration::from_secs(1),
    };
    assert_eq!(close_due_visits(&app.pool, not_yet).await.unwrap(), 0, "a fresh visit stays open");
    sqlx::query(&format!("UPDATE visits SET last_event_at = now() - interval '31 minutes' WHERE visit_id = '{visit}'"))
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(close_due_visits(&app.pool, not_yet).await.unwrap(), 1);
    let pdf: Vec<u8> = sqlx::query_scalar(&format!("SELECT pdf FROM journey_pdfs WHERE visit_id = '{visit}'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
}

/// A worker task in this process, aborted part-way (`JoinHandle::abort`); a worker process killed with `kill -9`
/// is `faults::a_sigkilled_worker_process_mid_batch_loses_and_duplicates_nothing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_worker_task_mid_stream_loses_and_duplicates_nothing() {
    let settings = test_settings().await;
    let app = TestApp::builder().with_test_settings(settings.clone()).spawn().await;
    app.client.get(app.url("/")).send().await.unwrap();
    for batch in 0..30 {
        let events: Vec<String> = (0..10)
            .map(|i| format!(r#"{{"type":"page_view","path":"/k/{batch}/{i}","id":"k-{batch}-{i}"}}"#))
            .collect();
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        post(&app, &refs).await;
    }
    // A first worker is killed part-way through the stream…
    let first_stop = cartograph::shutdown::Shutdown::default();
    let first = tokio::spawn(cartograph::worker::run(settings.clone(), first_stop.clone()));
    app.wait_for_count("SELECT count(*) FROM clickstream_events", 40).await;
    first.abort();
    let _ = first.await;
    let partial: i64 =
        sqlx::query_scalar("SELECT count(*) FROM clickstream_events").fetch_one(&app.pool).await.unwrap();
    // …and a replacement in the same group picks up from the last stored offset.
    app.spawn_worker();
    let total = app.wait_for_count("SELECT count(*) FROM clickstream_events", 300).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM clickstream_events").fetch_one(&app.pool).await.unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT sum(events)::bigint FROM visits").fetch_one(&app.pool).await.unwrap();
    println!("worker killed after {partial} of 300 events; {total_after} stored in the end");
    assert_eq!((total, total_after), (300, 300), "nothing lost, nothing stored twice");
    assert_eq!(counted, 300, "the visit summary counted every event exactly once");
}

// ---------------------------------------------------------------------------------------------------------------
// Bounded visits and renders
// ---------------------------------------------------------------------------------------------------------------

/// The rules the tests close with: 30 minutes idle, 5 s after a sign-out.
fn closing_rules() -> ClosingRules {
    ClosingRules {
        idle: Duration::from_secs(1800),
        sign_out_grace: Duration::from_secs(5),
        every: Duration::from_secs(1),
    }
}

/// An app with a worker that stores events but sweeps visits only every `sweep_secs`.
async fn app_with_worker_sweeping_every(sweep_secs: u64) -> TestApp {
    TestApp::builder()
        .with_settings(|settings| settings.visits.sweep = Duration::from_secs(sweep_secs))
        .with_worker()
        .spawn()
        .await
}

/// Loads a page (which issues the visit cookie) and posts `events`, each on a path starting with `marker`;
/// returns the visit the worker stored them under.
async fn visit_with_events(app: &TestApp, marker: &str, events: usize) -> Uuid {
    app.client.get(app.url("/")).send().await.unwrap();
    let events: Vec<String> =
        (0..events).map(|i| format!(r#"{{"type":"page_view","path":"/{marker}/{i}","id":"{marker}-{i}"}}"#)).collect();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    post(app, &refs).await;
    let query = format!("SELECT count(*) FROM clickstream_events WHERE path LIKE '/{marker}/%'");
    assert_eq!(app.wait_for_count(&query, refs.len() as i64).await, refs.len() as i64, "the events were stored");
    sqlx::query_scalar(&format!("SELECT visit_id FROM clickstream_events WHERE path LIKE '/{marker}/%' LIMIT 1"))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Inserts a visit of `events` stored events (page views and clicks), idle for `idle_minutes`, straight into the
/// database as the worker would have stored them.
async fn insert_visit(pool: &sqlx::PgPool, events: i32, idle_minutes: i32) -> Uuid {
    let visit = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO visits (visit_id, started_at, last_event_at, events, page_views, user_agent)
         VALUES ($1, now() - interval '3 hours', now() - make_interval(mins => $3), $2, $2 / 2, $4)",
    )
    .bind(visit)
    .bind(events)
    .bind(idle_minutes)
    .bind(FIREFOX)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, user_agent, payload)
         SELECT gen_random_uuid(), $1, CASE WHEN i % 2 = 0 THEN 'page_view' ELSE 'click' END,
                '/products?q=item-' || (i / 2), now() - interval '3 hours' + make_interval(secs => i), i, $3,
                CASE WHEN i % 2 = 0 THEN '{\"type\":\"page_view\"}'::jsonb
                     ELSE '{\"type\":\"click\",\"label\":\"Next page\"}'::jsonb END
         FROM generate_series(0, $2 - 1) AS i",
    )
    .bind(visit)
    .bind(events)
    .bind(FIREFOX)
    .execute(pool)
    .await
    .unwrap();
    visit
}

/// Adds one stored event to a visit, `secs` seconds after it started.
async fn insert_event(pool: &sqlx::PgPool, visit: Uuid, secs: i32, kind: &str, path: &str, payload: serde_json::Value) {
    sqlx::query(
        "INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, payload)
         SELECT gen_random_uuid(), $1, $2, $3, started_at + make_interval(secs => $4), $4, $5 FROM visits WHERE visit_id = $1",
    )
    .bind(visit)
    .bind(kind)
    .bind(path)
    .bind(secs)
    .bind(payload)
    .execute(pool)
    .await
    .unwrap();
}

async fn stored_pdf(app: &TestApp, visit: Uuid) -> Option<Vec<u8>> {
    sqlx::query_scalar("SELECT pdf FROM journey_pdfs WHERE visit_id = $1")
        .bind(visit)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

fn pdf_pages(pdf: &[u8]) -> usize {
    let path = std::env::temp_dir().join(format!("journey-{}.pdf", Uuid::new_v4().simple()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("qpdf").arg("--show-npages").arg(&path).output().expect("qpdf");
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a page count")
}

async fn download(app: &TestApp, visit: Uuid) -> reqwest::Response {
    app.client.get(app.url(&format!("/journeys/{visit}.pdf"))).send().await.unwrap()
}

/// Ends every test here: an ordinary event posted now is stored within a few seconds, and the closer still closes
/// an ordinary visit and stores its journey.
async fn the_pipeline_still_works(app: &TestApp) {
    let shopper = app.another_browser();
    shopper.client.get(app.url("/")).send().await.unwrap();
    let marker = format!("ordinary-{}", Uuid::new_v4().simple());
    post(
        &shopper,
        &[
            &format!(r#"{{"type":"page_view","path":"/{marker}/0","id":"{marker}-0"}}"#),
            &format!(r#"{{"type":"page_view","path":"/{marker}/1","id":"{marker}-1"}}"#),
        ],
    )
    .await;
    let query = format!("SELECT count(*) FROM clickstream_events WHERE path LIKE '/{marker}/%'");
    assert_eq!(
        app.wait_for_count_within(&query, 2, Duration::from_secs(10)).await,
        2,
        "an ordinary event is still stored"
    );
    let visit: Uuid =
        sqlx::query_scalar(&format!("SELECT visit_id FROM clickstream_events WHERE path LIKE '/{marker}/%' LIMIT 1"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE visits SET last_event_at = now() - interval '31 minutes' WHERE visit_id = $1")
        .bind(visit)
        .execute(&app.pool)
        .await
        .unwrap();
    close_due_visits(&app.pool, closing_rules()).await.expect("the closer runs");
    let closed = app.wait_for_count(&format!("SELECT count(*) FROM journey_pdfs WHERE visit_id = '{visit}'"), 1).await;
    assert_eq!(closed, 1, "the closer still closes an ordinary visit and stores its journey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_and_bot_visits_get_no_pdf_unless_an_admin_asks() {
    let app = app_with_worker_sweeping_every(3600).await;
    let tiny_owner = app.another_browser();
    tiny_owner.sign_in("tiny-owner", "/").await;
    let tiny = visit_with_events(&tiny_owner, &format!("tiny-{}", Uuid::new_v4().simple()), 1).await;
    let bot_owner = app.another_browser();
    bot_owner.sign_in("bot-owner", "/").await;
    let bot = visit_with_events(&bot_owner, &format!("bot-{}", Uuid::new_v4().simple()), 3).await;
    // The worker flags bots by their user agent; here the flag is set directly.
    sqlx::query("UPDATE visits SET bot = true WHERE visit_id = $1").bind(bot).execute(&app.pool).await.unwrap();

    // Open: no download offered, none served.
    for (owner, visit) in [(&tiny_owner, tiny), (&bot_owner, bot)] {
        let mine: serde_json::Value = owner.call("my_journeys", &[]).await.json().await.unwrap();
        let listed = mine.as_array().unwrap().iter().find(|j| j["visit_id"] == visit.to_string().as_str()).cloned();
        let listed = listed.unwrap_or_else(|| panic!("{visit} missing from {mine}"));
        assert_eq!(listed["has_document"], false, "{listed}");
        assert_eq!(download(owner, visit).await.status(), 404);
    }

    sqlx::query("UPDATE visits SET last_event_at = now() - interval '31 minutes' WHERE visit_id = ANY($1)")
        .bind(vec![tiny, bot])
        .execute(&app.pool)
        .await
        .unwrap();
    let mut closings = std::collections::HashMap::new();
    while let Some(closed) = close_next_visit(&app.pool, closing_rules()).await.unwrap() {
        closings.insert(closed.visit_id, closed.closing);
    }
    assert_eq!(
        (closings.get(&tiny), closings.get(&bot)),
        (Some(&Closing::WithoutDocument), Some(&Closing::WithoutDocument))
    );
    let closed_without: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM visits v WHERE v.visit_id = ANY($1) AND v.closed_at IS NOT NULL AND v.render_error IS NULL
           AND NOT EXISTS (SELECT 1 FROM journey_pdfs p WHERE p.visit_id = v.visit_id)",
    )
    .bind(vec![tiny, bot])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(closed_without, 2, "both closed, neither with a stored document");

    let admin = app.another_browser();
    admin.sign_in("admin", "/").await;
    for (owner, visit) in [(&tiny_owner, tiny), (&bot_owner, bot)] {
        assert_eq!(download(owner, visit).await.status(), 404, "the owner gets no PDF");
        let mine: serde_json::Value = owner.call("my_journeys", &[]).await.json().await.unwrap();
        assert!(mine.as_array().unwrap().iter().all(|j| j["has_document"] == false), "{mine}");
        let response = download(&admin, visit).await;
        assert_eq!(response.status(), 200, "an admin gets one rendered on demand");
        let text = pdf_text(&response.bytes().await.unwrap());
        assert!(text.contains(&format!("Visit {}", &visit.simple().to_string()[..8])), "{text}");
    }
    the_pipeline_still_works(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_whose_journey_fails_is_marked_and_the_closer_moves_on() {
    let app = app_with_worker_sweeping_every(3600).await;
    // Three due visits, oldest first: one whose document the store refuses, one whose events break an assumption
    // of the query that loads them (a cart add naming no product id), and an ordinary one.
    let refused = insert_visit(&app.pool, 6, 50).await;
    let poisoned = insert_visit(&app.pool, 6, 45).await;
    insert_event(
        &app.pool,
        poisoned,
        30,
        "cart_add",
        "/cart",
        serde_json::json!({"type": "cart_add", "product_id": "none"}),
    )
    .await;
    let ordinary = insert_visit(&app.pool, 6, 40).await;
    // The store refusing a document, as a full disk or a size limit would: a trigger in this test's database.
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION refuse_journey() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the journey store refused visit %', NEW.visit_id; END $$;
         CREATE TRIGGER refuse_journey BEFORE INSERT ON journey_pdfs FOR EACH ROW
         WHEN (NEW.visit_id = '{refused}') EXECUTE FUNCTION refuse_journey();"
    ))
    .execute(&app.pool)
    .await
    .unwrap();

    let first = close_next_visit(&app.pool, closing_rules()).await.unwrap().expect("a due visit");
    assert_eq!(first.visit_id, refused);
    assert!(
        matches!(&first.closing, Closing::Failed(error) if error.contains("the journey store refused")),
        "{first:?}"
    );
    let second = close_next_visit(&app.pool, closing_rules()).await.unwrap().expect("a due visit");
    assert_eq!(second.visit_id, poisoned);
    assert!(
        matches!(&second.closing, Closing::Failed(error) if error.contains("loading the visit's events")),
        "{second:?}"
    );
    let third = close_next_visit(&app.pool, closing_rules()).await.unwrap().expect("a due visit");
    assert_eq!((third.visit_id, third.closing), (ordinary, Closing::Rendered));

    for visit in [refused, poisoned] {
        let (closed, error, failed_at): (bool, Option<String>, bool) = sqlx::query_as(
            "SELECT closed_at IS NOT NULL, render_error, render_failed_at IS NOT NULL FROM visits WHERE visit_id = $1",
        )
        .bind(visit)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        println!("closed {visit} with: {}", error.as_deref().unwrap_or_default());
        assert!(closed && failed_at && error.is_some(), "{visit} is closed and marked with its error");
        assert!(stored_pdf(&app, visit).await.is_none());
    }
    assert!(stored_pdf(&app, ordinary).await.is_some_and(|pdf| pdf.starts_with(b"%PDF")));
    assert_eq!(close_due_visits(&app.pool, closing_rules()).await.unwrap(), 0, "a failed visit is not retried");
    the_pipeline_still_works(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requested_closes_come_first() {
    let app = app_with_worker_sweeping_every(3600).await;
    let idle: Vec<Uuid> = [
        insert_visit(&app.pool, 3, 90).await,
        insert_visit(&app.pool, 3, 60).await,
        insert_visit(&app.pool, 3, 40).await,
    ]
    .into();
    // Signed out a minute ago, still within its idle window: due because a close was asked for.
    let signed_out = insert_visit(&app.pool, 3, 1).await;
    sqlx::query("UPDATE visits SET close_requested_at = now() - interval '1 minute' WHERE visit_id = $1")
        .bind(signed_out)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut order = Vec::new();
    while let Some(closed) = close_next_visit(&app.pool, closing_rules()).await.unwrap() {
        assert_eq!(closed.closing, Closing::Rendered);
        order.push(closed.visit_id);
    }
    assert_eq!(order, [vec![signed_out], idle].concat(), "the sign-out first, then the longest idle");
    the_pipeline_still_works(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_downloads_of_an_open_visit_render_once() {
    let app = app_with_worker_sweeping_every(3600).await;
    app.sign_in("parallel-owner", "/").await;
    let visit = visit_with_events(&app, &format!("parallel-{}", Uuid::new_v4().simple()), 40).await;
    let downloads = (0..8).map(|_| {
        let client = app.client.clone();
        let url = app.url(&format!("/journeys/{visit}.pdf"));
        tokio::spawn(async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "private, no-store");
            let timing = response.headers()["server-timing"].to_str().unwrap().to_string();
            (timing, response.bytes().await.unwrap().to_vec())
        })
    });
    let answers: Vec<(String, Vec<u8>)> =
        futures::future::join_all(downloads).await.into_iter().map(Result::unwrap).collect();
    let timings: Vec<&str> = answers.iter().map(|(timing, _)| timing.as_str()).collect();
    println!("parallel downloads: {timings:?}");
    assert_eq!(timings.iter().filter(|t| t.contains("\"rendered\"")).count(), 1, "one render: {timings:?}");
    assert_eq!(timings.iter().filter(|t| t.contains("\"cached\"")).count(), 7, "{timings:?}");
    assert!(answers.iter().all(|(_, pdf)| pdf == &answers[0].1), "every download got the same document");
    the_pipeline_still_works(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_copies_of_checkout_and_payment_do_not_decide_the_outcome() {
    let app = app_with_worker_sweeping_every(3600).await;
    let order = Uuid::new_v4();
    let mut visits = Vec::new();
    for origin in [None, Some("server")] {
        let visit = insert_visit(&app.pool, 4, 40).await;
        let mut checkout = serde_json::json!({"type": "checkout_begin", "order_id": order});
        let mut payment = serde_json::json!({"type": "payment_result", "order_id": order, "outcome": "succeeded"});
        if let Some(origin) = origin {
            checkout["origin"] = origin.into();
            payment["origin"] = origin.into();
        }
        insert_event(
            &app.pool,
            visit,
            20,
            "cart_add",
            "/product/ridgeline-2-tent",
            serde_json::json!({"type": "cart_add", "product_id": 1, "quantity": 1}),
        )
        .await;
        insert_event(&app.pool, visit, 30, "checkout_begin", "/cart", checkout).await;
        insert_event(&app.pool, visit, 40, "payment_result", "/checkout", payment).await;
        visits.push(visit);
    }
    assert_eq!(close_due_visits(&app.pool, closing_rules()).await.unwrap(), 2);
    let forged = pdf_text(&stored_pdf(&app, visits[0]).await.expect("a document"));
    assert!(forged.contains("Abandoned cart") && forged.contains("Stopped at cart"), "{forged}");
    assert!(
        !forged.contains("Bought") && !forged.contains("Checkout begin"),
        "the browser's copies are dropped: {forged}"
    );
    let recorded = pdf_text(&stored_pdf(&app, visits[1]).await.expect("a document"));
    assert!(recorded.contains("Bought") && recorded.contains("Completed: paid"), "{recorded}");
    the_pipeline_still_works(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_past_the_cap_closes_with_a_bounded_report() {
    let app = app_with_worker_sweeping_every(3600).await;
    // Past the ingest cap and past what a report loads: a visit stored before the cap, or under a raised one.
    let visit = insert_visit(&app.pool, 12_000, 40).await;
    let started = Instant::now();
    assert_eq!(close_due_visits(&app.pool, closing_rules()).await.unwrap(), 1);
    let took = started.elapsed();
    let pdf = stored_pdf(&app, visit).await.expect("a document");
    let pages = pdf_pages(&pdf);
    println!("12,000-event visit closed in {took:?}: {pages} pages, {} KiB", pdf.len() / 1024);
    assert!(pages <= cartograph::journey::MAX_PAGES, "{pages} pages");
    let text = pdf_text(&pdf);
    assert!(text.contains("and 11,001 more events not shown"), "{text}");
    assert!(text.contains("12,000 (the summary counts the first 10,000)"), "{text}");
    let event_count: i32 = sqlx::query_scalar("SELECT event_count FROM journey_pdfs WHERE visit_id = $1")
        .bind(visit)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(event_count, 10_000);
    the_pipeline_still_works(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closer_closes_many_small_visits_quickly() {
    let app = app_with_worker_sweeping_every(3600).await;
    const VISITS: i64 = 200;
    sqlx::query(
        "WITH v AS (
             INSERT INTO visits (visit_id, started_at, last_event_at, events, page_views, user_agent)
             SELECT gen_random_uuid(), now() - interval '1 hour', now() - interval '40 minutes', 4, 2, $2
             FROM generate_series(1, $1) RETURNING visit_id, started_at)
         INSERT INTO clickstream_events (event_id, visit_id, event_type, path, received_at, seq, user_agent, payload)
         SELECT gen_random_uuid(), v.visit_id, e.kind, e.path, v.started_at + make_interval(secs => e.seq * 7), e.seq, $2,
                jsonb_build_object('type', e.kind)
         FROM v, (VALUES (0, 'page_view', '/'), (1, 'click', '/'), (2, 'page_view', '/products?q=tent'),
                         (3, 'page_leave', '/products?q=tent')) AS e (seq, kind, path)",
    )
    .bind(VISITS)
    .bind(FIREFOX)
    .execute(&app.pool)
    .await
    .unwrap();
    let started = Instant::now();
    let closed = close_due_visits(&app.pool, closing_rules()).await.unwrap();
    let took = started.elapsed();
    println!(
        "closer: {closed} small visits in {:.2} s = {:.1} visits/s (debug build, one worker)",
        took.as_secs_f64(),
        closed as f64 / took.as_secs_f64()
    );
    assert_eq!(closed, VISITS as u64);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM journey_pdfs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, VISITS);
    the_pipeline_still_works(&app).await;
}
