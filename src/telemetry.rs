//! Tracing and metrics.
//!
//! Logs are readable in a terminal by default and JSON in production
//! (`log_format = "json"`); spans carry conversation and provider ids, and
//! customers' message text is never logged at info level. Metrics go to one
//! process-wide Prometheus recorder rendered at `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Qdrant Edge logs internal start-up notices at warn level; only its errors matter here.
const DEFAULT_FILTER: &str = "info,qdrant_edge=error";
const QUIET_FILTER: &str = "warn,qdrant_edge=error";

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Acknowledgement latency buckets: the target is milliseconds.
const ACK_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// First response by an agent: minutes to a day.
const FIRST_RESPONSE_BUCKETS: &[f64] = &[
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

/// Deliveries per group commit of webhook intake (at most 256 by default).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the metrics recorder once per process and returns its handle.
pub fn metrics_handle() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("ventana_first_response_seconds".into()),
                FIRST_RESPONSE_BUCKETS,
            )
            .expect("static buckets are valid")
            .set_buckets_for_metric(
                Matcher::Full("ventana_intake_batch_deliveries".into()),
                BATCH_BUCKETS,
            )
            .expect("static buckets are valid")
            .set_buckets(ACK_BUCKETS)
            .expect("static buckets are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once")
    })
}

pub fn render_metrics() -> String {
    metrics_handle().render()
}

/// Sets up logging; `RUST_LOG` overrides the default `info` level.
pub fn init_tracing(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Logging for interactive commands: warnings and errors only, unless `RUST_LOG` says otherwise.
pub fn init_tracing_quiet() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(QUIET_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .compact()
        .try_init();
}

/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}
