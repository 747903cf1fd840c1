//! `/healthz` (alive), `/readyz` (database reachable, sender not halted) and
//! `/metrics` (Prometheus text format).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => None,
        Err(e) => {
            tracing::warn!(error = ?e, "readiness: database unreachable");
            Some("unreachable")
        }
    };
    let sender = state.sender_health.halted().await;
    let ready = database.is_none() && sender.is_none();
    let body = json!({
        "ready": ready,
        "database": database.unwrap_or("ok"),
        "sender": sender.as_deref().map_or("ok".to_owned(), |reason| format!("halted: {reason}")),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render_metrics(),
    )
        .into_response()
}
