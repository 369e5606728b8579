//! Prometheus metrics: one recorder per process, `/metrics` in the text format, the HTTP latency middleware,
//! and the worker's own small listener (the worker has no other HTTP server).
//!
//! Code anywhere records through the `metrics` facade (`counter!`, `histogram!`, `gauge!`); the names are
//! listed in [`names`] and described for `# HELP` lines in [`describe`].

use axum::{
    extract::{MatchedPath, Request},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::{sync::OnceLock, time::Instant};

/// Every metric this process exports.
pub mod names {
    pub const HTTP_REQUEST_DURATION: &str = "cartograph_http_request_duration_seconds";
    pub const EVENTS_ACCEPTED: &str = "cartograph_clickstream_events_accepted_total";
    pub const EVENTS_REJECTED: &str = "cartograph_clickstream_events_rejected_total";
    pub const BATCHES: &str = "cartograph_clickstream_batches_total";
    pub const PRODUCER_QUEUE_DEPTH: &str = "cartograph_producer_queue_depth";
    pub const CONSUMER_LAG: &str = "cartograph_consumer_lag";
    pub const ASSIGNED_PARTITIONS: &str = "cartograph_consumer_assigned_partitions";
    pub const LIVE_SETTING: &str = "cartograph_live_setting";
    pub const LIVE_RELOADS: &str = "cartograph_live_reloads_total";
    pub const JOURNEY_PDFS: &str = "cartograph_journey_pdfs_rendered_total";
    pub const JOURNEY_RENDER: &str = "cartograph_journey_render_seconds";
    pub const STORAGE_RETRIES: &str = "cartograph_worker_storage_retries_total";
    pub const STORAGE_FAILING: &str = "cartograph_worker_storage_failing";
    pub const RECORDS_SET_ASIDE: &str = "cartograph_worker_records_set_aside_total";
    pub const RETENTION_DELETED: &str = "cartograph_retention_deleted_total";
    pub const WEBHOOK_ATTEMPTS: &str = "cartograph_webhook_attempts_total";
    /// Recorded by the app crate, which owns these names.
    pub const PAYMENTS: &str = app::orders::payment::PAYMENTS_METRIC;
    pub const BREAKER_STATE: &str = app::resilience::BREAKER_STATE_METRIC;
}

/// Request latency buckets, in seconds: from a cached page to the request timeout.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0];
/// Journey render buckets, in seconds: a short visit to a 10,000-event one.
const RENDER_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first use and returns the handle that renders it. Tests start many
/// apps in one process: they share this recorder.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(names::HTTP_REQUEST_DURATION.into()), LATENCY_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(Matcher::Full(names::JOURNEY_RENDER.into()), RENDER_BUCKETS)
                })
                .expect("bucket lists are non-empty constants")
                .build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(%error, "another metrics recorder is installed; /metrics will stay empty");
            }
            describe();
            handle
        })
        .clone()
}

/// `# HELP` and unit lines for every metric.
fn describe() {
    use names::*;
    describe_histogram!(HTTP_REQUEST_DURATION, Unit::Seconds, "HTTP request latency by matched route and status class");
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook delivery attempts by outcome (delivered, failed, refused)");
    describe_counter!(EVENTS_ACCEPTED, "Clickstream events acknowledged by the broker");
    describe_counter!(
        EVENTS_REJECTED,
        "Clickstream inputs sent to the bad topic, by reason (malformed, invalid, visit_full, batch_refused)"
    );
    describe_counter!(
        BATCHES,
        "Clickstream batches by how the endpoint answered (accepted, visit_full, refused, no_visit, rate_limited, overloaded, unavailable)"
    );
    describe_gauge!(PRODUCER_QUEUE_DEPTH, "Messages in the producer's queue or awaiting the broker's acknowledgement");
    describe_gauge!(CONSUMER_LAG, "Messages behind the partition's end, by consumer group, topic and partition");
    describe_gauge!(LIVE_SETTING, "The live settings in force, by name (banner: 1 when one is shown)");
    describe_counter!(LIVE_RELOADS, "Changes of the live file, by outcome (applied, refused)");
    describe_gauge!(ASSIGNED_PARTITIONS, "Partitions this process's member of the consumer group holds, by group");
    describe_counter!(JOURNEY_PDFS, "Journey PDFs rendered");
    describe_histogram!(JOURNEY_RENDER, Unit::Seconds, "Time to render one journey PDF");
    describe_counter!(STORAGE_RETRIES, "Worker writes that failed transiently and were retried, by consumer");
    describe_gauge!(
        STORAGE_FAILING,
        "1 while a consumer's writes keep failing transiently (the worker is then not ready)"
    );
    describe_counter!(
        RECORDS_SET_ASIDE,
        "Records that can never be stored, set aside in clickstream_rejects, by consumer"
    );
    describe_counter!(RETENTION_DELETED, "Rows deleted by retention, by table");
    describe_counter!(PAYMENTS, "Charge attempts by outcome (approved, declined, failed, timeout, breaker_open)");
    describe_gauge!(BREAKER_STATE, "Circuit breaker state: 0 closed, 1 open, 2 half-open");
}

/// The text exposition of everything recorded so far.
pub fn render() -> Response {
    let handle = install();
    // Without the exporter's own listener nobody else drains histogram samples: do it at each scrape.
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// The route a request matched, handed from the inner route layer to the outer latency layer.
#[derive(Clone)]
struct RouteLabel(String);

/// Route layer: notes the matched route pattern (`/product/{slug}`, never the raw path) on the response.
pub async fn remember_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| RouteLabel(path.as_str().to_string()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Outer layer: records each request's latency by route and status class (`2xx`, `4xx`…). Requests no route
/// matched (static files, unknown paths, the fallback) share the route label `unmatched`.
pub async fn record_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let route =
        response.extensions().get::<RouteLabel>().map(|route| route.0.clone()).unwrap_or_else(|| "unmatched".into());
    let status = format!("{}xx", response.status().as_u16() / 100);
    metrics::histogram!(names::HTTP_REQUEST_DURATION, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_series_appear_in_the_text_exposition() {
        let handle = install();
        metrics::counter!(names::PAYMENTS, "outcome" => "unit_test").increment(2);
        metrics::histogram!(names::JOURNEY_RENDER).record(0.02);
        let text = handle.render();
        assert!(text.contains(r#"cartograph_payments_total{outcome="unit_test"} 2"#), "{text}");
        assert!(text.contains("# HELP cartograph_payments_total"), "{text}");
        assert!(
            text.contains(r#"cartograph_journey_render_seconds_bucket{le="0.025"}"#),
            "histograms have buckets: {text}"
        );
    }
}
