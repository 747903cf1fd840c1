//! `GET` and `POST` on `/webhooks/whatsapp` and `/webhooks/messenger`.
//!
//! Raw bytes first: the signature is checked on the exact body Meta signed,
//! then the body is parsed and normalized, then the delivery is handed to
//! the group-commit writer (`store::intake_batch`), which commits it with
//! the other deliveries waiting at that moment in one transaction, and only
//! then does Meta get its 200.

use std::collections::HashMap;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::channels::model::Channel;
use crate::channels::signature::verify_signature;
use crate::channels::{ParseError, parse_webhook};
use crate::store::NewDelivery;

/// Meta's payloads are at most 3 MB; anything above 4 MB is refused with 413.
pub const MAX_WEBHOOK_BODY: usize = 4 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(verify_whatsapp).post(receive_whatsapp),
        )
        .route(
            "/webhooks/messenger",
            get(verify_messenger).post(receive_messenger),
        )
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY))
}

async fn verify_whatsapp(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    verify(&state, &q)
}

async fn verify_messenger(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    verify(&state, &q)
}

/// The subscription handshake: echo the challenge when the token matches.
fn verify(state: &AppState, q: &HashMap<String, String>) -> Response {
    let expected = state.config.meta.verify_token.as_ref();
    let mode_ok = q.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = match (expected, q.get("hub.verify_token")) {
        (Some(expected), Some(given)) => {
            bool::from(expected.expose_secret().as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    };
    match q.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok => {
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!("webhook verification refused");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

async fn receive_whatsapp(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(state, Channel::Whatsapp, headers, body).await
}

async fn receive_messenger(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(state, Channel::Messenger, headers, body).await
}

async fn receive(state: AppState, endpoint: Channel, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let response = match accept(&state, endpoint, &headers, &body).await {
        Ok(()) => (StatusCode::OK, "EVENT_RECEIVED").into_response(),
        Err(rejection) => {
            metrics::counter!("ventana_webhook_rejected_total", "reason" => rejection.reason())
                .increment(1);
            rejection.into_response()
        }
    };
    metrics::histogram!("ventana_webhook_ack_seconds", "channel" => endpoint.as_str())
        .record(started.elapsed().as_secs_f64());
    response
}

/// Why a delivery was not acknowledged.
#[derive(Debug)]
enum Rejection {
    NoSecret,
    Signature,
    Parse(ParseError),
    Storage(anyhow::Error),
}

impl Rejection {
    fn reason(&self) -> &'static str {
        match self {
            Rejection::NoSecret => "no_app_secret",
            Rejection::Signature => "signature",
            Rejection::Parse(ParseError::NotJson(_)) => "not_json",
            Rejection::Parse(_) => "not_webhook",
            Rejection::Storage(_) => "storage",
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::NoSecret => (
                StatusCode::SERVICE_UNAVAILABLE,
                "webhooks are refused: no app secret is configured",
            )
                .into_response(),
            Rejection::Signature => (StatusCode::UNAUTHORIZED, "invalid signature").into_response(),
            Rejection::Parse(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
            Rejection::Storage(e) => {
                tracing::error!(error = ?e, "could not store a webhook delivery");
                (StatusCode::INTERNAL_SERVER_ERROR, "not stored, retry later").into_response()
            }
        }
    }
}

async fn accept(
    state: &AppState,
    endpoint: Channel,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), Rejection> {
    let secret = state
        .config
        .meta
        .app_secret
        .as_ref()
        .ok_or(Rejection::NoSecret)?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    verify_signature(secret.expose_secret().as_bytes(), signature, body)
        .map_err(|_| Rejection::Signature)?;
    let events = parse_webhook(endpoint, body).map_err(Rejection::Parse)?;
    let delivery = NewDelivery {
        channel: endpoint,
        received_at: state.clock.now(),
        // The signature check passed on these bytes and parsing proved them JSON.
        body: String::from_utf8_lossy(body).into_owned(),
        events,
    };
    let outcome = state
        .store
        .ingest_queued(delivery)
        .await
        .map_err(Rejection::Storage)?;
    crate::faults::crash_point("webhook-after-commit");
    for (channel, kind) in &outcome.stored {
        metrics::counter!("ventana_webhook_events_total", "channel" => *channel, "kind" => *kind)
            .increment(1);
    }
    if outcome.duplicates > 0 {
        metrics::counter!("ventana_webhook_duplicates_total").increment(outcome.duplicates as u64);
    }
    tracing::debug!(
        channel = endpoint.as_str(),
        stored = outcome.stored.len(),
        duplicates = outcome.duplicates,
        "webhook delivery committed"
    );
    if !outcome.conversations_to_process.is_empty() {
        state.signals.inbox.notify_one();
    }
    Ok(())
}
