//! Structured logs with `tracing` (`RUST_LOG` filters them), and, when an OTLP endpoint is configured, the same
//! spans exported as OpenTelemetry traces over OTLP/HTTP (protobuf).

use crate::config::LogFormat;
use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing_subscriber::{fmt, prelude::*, registry::LookupSpan, EnvFilter, Layer};

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes the spans still buffered.
#[must_use = "call shutdown() at exit, or buffered spans are lost"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is buffered and stops the exporter. Blocks up to the exporter's timeout: call it from a
    /// blocking context.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces {
            if let Err(error) = traces.shutdown() {
                tracing::warn!(%error, "could not flush the last traces");
            }
        }
    }
}

/// Installs the global subscriber once (later calls, in tests, are ignored), exporting traces to
/// `otlp_endpoint` (the collector's base URL; `/v1/traces` is appended) when given.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>, service: &'static str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn,rdkafka=warn"));
    let traces = otlp_endpoint.map(|endpoint| tracer_provider(endpoint, service)).transpose()?;
    let registry = tracing_subscriber::registry().with(filter).with(traces.as_ref().map(trace_layer));
    let _ = match format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(%endpoint, "exporting traces over OTLP");
    }
    Ok(Telemetry { traces })
}

/// A batching OTLP/HTTP trace pipeline to `endpoint` for the service `service`.
pub fn tracer_provider(endpoint: &str, service: &'static str) -> anyhow::Result<SdkTracerProvider> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.as_str())
        .build()
        .with_context(|| format!("cannot export traces to {url} (CARTOGRAPH_OTLP_ENDPOINT)"))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn trace_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("cartograph"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spans_reach_an_otlp_http_collector_when_flushed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let collector = format!("http://{}", listener.local_addr().unwrap());
        let (received, mut requests) = tokio::sync::mpsc::unbounded_channel::<(String, Bytes)>();
        let app = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| {
                let content_type =
                    headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let _ = received.send((content_type, body));
                async {}
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let provider = tracer_provider(&collector, "cartograph-test").unwrap();
        let subscriber = tracing_subscriber::registry().with(trace_layer(&provider));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("otlp_test_checkout", order = 42);
            let _entered = span.enter();
            tracing::info!("inside the span");
        });
        tokio::task::spawn_blocking(move || provider.shutdown()).await.unwrap().expect("flushed");

        let (content_type, body) =
            tokio::time::timeout(Duration::from_secs(10), requests.recv()).await.expect("a POST /v1/traces").unwrap();
        assert_eq!(content_type, "application/x-protobuf");
        let name = b"otlp_test_checkout";
        assert!(body.windows(name.len()).any(|window| window == name), "the span is in the export");
        assert!(body.windows(b"cartograph-test".len()).any(|w| w == b"cartograph-test"), "and the service name");
    }
}
