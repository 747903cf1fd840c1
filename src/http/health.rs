//! `/healthz` (alive), `/readyz` (database reachable, sender not halted) and
//! `/metrics` (Prometheus text format).
//!
//! `/readyz` is public (load balancers call it without credentials), so it
//! says only which part is not ready; why (Meta's error text, with account
//! details) is shown only to a caller with an admin token.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::auth::caller_from_headers;
use crate::config::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let admin = caller_from_headers(&headers, &state.config.auth.tokens)
        .is_some_and(|caller| caller.role == Role::Admin);
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
        "sender": match sender.as_deref() {
            None => "ok".to_owned(),
            Some(reason) if admin => format!("halted: {reason}"),
            Some(_) => "halted".to_owned(),
        },
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
