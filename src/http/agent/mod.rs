//! `/api/escalations` and `/api/conversations`: the agent API (bearer token,
//! role `agent`; `admin` may do everything, also act on escalations another
//! agent holds). Documented in `api/openapi.json`, served at
//! `GET /api/openapi.json`.
//!
//! Handlers are thin: check the role, convert the request into a domain
//! value, call an action of [`crate::case::actions`] (one write
//! transaction each), map its outcome to an answer. Refusals are 404 (no
//! such escalation), 409 (resolved, held by another agent, window closed
//! without a template, Messenger's 7 days over) or 422 (bad template).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

mod views;

use views::{
    ConversationView, EscalationDetail, EscalationView, ListParams, NoteBody, ReassignBody,
    ReplyBody, Source, WaitingAnswer,
};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::case::actions::{
    self, ActionOutcome, Actor, AgentReply, ClaimOutcome, Refusal, ReplyAnswer, ReplyOutcome,
    TemplateChoice, Waiting,
};
use crate::config::Role;
use crate::store::agent::ThreadEntry;
use crate::store::idempotency::IdempotencyKey;
use crate::store::{EscalationFilter, EscalationRow};

/// The OpenAPI description of this API, kept beside the code it describes.
pub const OPENAPI: &str = include_str!("../../../api/openapi.json");
/// Most escalations one list returns.
pub(super) const MAX_LIST: i64 = 500;

const OPENAPI_PATH: &str = "/api/openapi.json";
const ESCALATIONS: &str = "/api/escalations";
const ESCALATION: &str = "/api/escalations/{id}";
const CLAIM: &str = "/api/escalations/{id}/claim";
const REPLY: &str = "/api/escalations/{id}/reply";
const NOTE: &str = "/api/escalations/{id}/note";
const WAITING_FOR_CUSTOMER: &str = "/api/escalations/{id}/waiting-for-customer";
const HAND_BACK: &str = "/api/escalations/{id}/hand-back";
const RESOLVE: &str = "/api/escalations/{id}/resolve";
const REASSIGN: &str = "/api/escalations/{id}/reassign";
const CONVERSATION: &str = "/api/conversations/{id}";

/// Every (method, path) [`router`] serves, for the check that the OpenAPI
/// document describes them all.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", OPENAPI_PATH),
    ("get", ESCALATIONS),
    ("get", ESCALATION),
    ("post", CLAIM),
    ("post", REPLY),
    ("post", NOTE),
    ("post", WAITING_FOR_CUSTOMER),
    ("post", HAND_BACK),
    ("post", RESOLVE),
    ("post", REASSIGN),
    ("get", CONVERSATION),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(OPENAPI_PATH, get(openapi))
        .route(ESCALATIONS, get(list))
        .route(ESCALATION, get(read))
        .route(CLAIM, post(claim))
        .route(REPLY, post(reply))
        .route(NOTE, post(note))
        .route(WAITING_FOR_CUSTOMER, post(wait_for_customer))
        .route(HAND_BACK, post(hand_back))
        .route(RESOLVE, post(resolve))
        .route(REASSIGN, post(reassign))
        .route(CONVERSATION, get(conversation))
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        name: caller.name.clone(),
        may_override: caller.role == Role::Admin,
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotFound => ApiError::NotFound,
        Refusal::Resolved => ApiError::Conflict {
            message: "the escalation is resolved".into(),
            details: json!({ "reason": "resolved" }),
        },
        Refusal::HeldBy(agent) => ApiError::Conflict {
            message: format!("the escalation is held by {agent}"),
            details: json!({ "reason": "held_by_another_agent", "assigned_to": agent }),
        },
    }
}

fn done<T>(outcome: ActionOutcome<T>) -> Result<T, ApiError> {
    match outcome {
        ActionOutcome::Done(value) => Ok(value),
        ActionOutcome::Refused(refusal) => Err(refused(refusal)),
    }
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn list(
    caller: Caller,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<EscalationView>>, ApiError> {
    caller.require(Role::Agent)?;
    let filter = EscalationFilter::try_from(params)?;
    let now = state.clock.now();
    let items = state.store.agent_queue(&filter).await?;
    Ok(Json(
        items
            .into_iter()
            .map(|i| EscalationView::new(i, now))
            .collect(),
    ))
}

async fn read(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<EscalationDetail>, ApiError> {
    caller.require(Role::Agent)?;
    let item = state
        .store
        .queue_item(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let events = state.store.escalation_events(id).await?;
    Ok(Json(EscalationDetail {
        escalation: EscalationView::new(item, state.clock.now()),
        events,
    }))
}

async fn claim(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<EscalationRow>, ApiError> {
    caller.require(Role::Agent)?;
    match actions::claim(&state.store, id, &actor(&caller), state.clock.now()).await? {
        ClaimOutcome::Claimed(row) => {
            tracing::info!(escalation_id = id, agent = %caller.name, "escalation claimed");
            Ok(Json(row))
        }
        ClaimOutcome::AlreadyYours(row) => Ok(Json(row)),
        ClaimOutcome::Refused(refusal) => Err(refused(refusal)),
    }
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(
    headers: &HeaderMap,
    caller: &Caller,
    route: &str,
    body: &impl Serialize,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key: 1 to 255 visible ASCII characters".into())
        })?;
    let digest = Sha256::digest(format!(
        "{route}\n{}",
        serde_json::to_string(body).unwrap_or_default()
    ));
    Ok(Some(IdempotencyKey {
        principal: caller.name.clone(),
        key: key.to_owned(),
        request_hash: hex::encode(digest),
    }))
}

async fn reply(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Result<Json<ReplyBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Agent)?;
    let body = json_body(body)?;
    let idempotency = idempotency_key(&headers, &caller, &format!("reply {id}"), &body)?;
    let template = body.template.map(|t| TemplateChoice {
        name: t.name,
        language: t.language,
        params: t.params,
    });
    let reply = AgentReply::new(&body.text, template).map_err(ApiError::Unprocessable)?;
    let outcome = actions::reply(
        &state.store,
        &state.policies,
        id,
        &actor(&caller),
        &reply,
        idempotency.as_ref(),
        state.clock.now(),
    )
    .await?;
    match outcome {
        ReplyOutcome::Sent { escalation, delivery } => {
            state.signals.outbox.notify_one();
            tracing::info!(escalation_id = id, agent = %caller.name, "agent reply queued");
            Ok(Json(ReplyAnswer {
                escalation: &escalation,
                delivery: &delivery,
            })
            .into_response())
        }
        ReplyOutcome::Replayed(first) => {
            tracing::info!(escalation_id = id, agent = %caller.name, "agent reply repeated with its idempotency key: nothing sent");
            Ok(([("idempotent-replayed", "true")], Json(first)).into_response())
        }
        ReplyOutcome::KeyReused => Err(ApiError::Unprocessable(
            "Idempotency-Key: already used for another request".into(),
        )),
        ReplyOutcome::TemplateRequired {
            window_closed_at,
            templates,
        } => Err(ApiError::Conflict {
            message: "the WhatsApp window is closed: choose a re-engagement template".into(),
            details: json!({
                "reason": "template_required",
                "window_closed_at": window_closed_at,
                "templates": templates,
            }),
        }),
        ReplyOutcome::InvalidTemplate(reason) => Err(ApiError::Unprocessable(reason)),
        ReplyOutcome::WindowExpired { human_agent_until } => Err(ApiError::Conflict {
            message: "more than 7 days since the customer's last message: nothing may be sent until they write".into(),
            details: json!({ "reason": "human_agent_window_expired", "human_agent_until": human_agent_until }),
        }),
        ReplyOutcome::Refused(refusal) => Err(refused(refusal)),
    }
}

async fn note(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<EscalationRow>, ApiError> {
    caller.require(Role::Agent)?;
    let body = json_body(body)?;
    let text = body.text.trim();
    if text.is_empty() {
        return Err(ApiError::Unprocessable("text: a note needs text".into()));
    }
    let outcome = actions::note(&state.store, id, &actor(&caller), text, state.clock.now()).await?;
    Ok(Json(done(outcome)?))
}

async fn wait_for_customer(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<WaitingAnswer>, ApiError> {
    caller.require(Role::Agent)?;
    let outcome = actions::wait_for_customer(
        &state.store,
        &state.policies,
        id,
        &actor(&caller),
        state.clock.now(),
    )
    .await?;
    let Waiting {
        escalation,
        followup_at,
    } = done(outcome)?;
    Ok(Json(WaitingAnswer {
        escalation,
        followup_at,
    }))
}

async fn hand_back(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<EscalationRow>, ApiError> {
    caller.require(Role::Agent)?;
    let outcome = actions::hand_back(&state.store, id, &actor(&caller), state.clock.now()).await?;
    Ok(Json(done(outcome)?))
}

async fn resolve(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<EscalationRow>, ApiError> {
    caller.require(Role::Agent)?;
    let outcome = actions::resolve(&state.store, id, &actor(&caller), state.clock.now()).await?;
    Ok(Json(done(outcome)?))
}

async fn reassign(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<ReassignBody>, JsonRejection>,
) -> Result<Json<EscalationRow>, ApiError> {
    caller.require(Role::Agent)?;
    let body = json_body(body)?;
    let to = known_agent(&state, &body.agent)?;
    let outcome =
        actions::reassign(&state.store, id, &actor(&caller), &to, state.clock.now()).await?;
    Ok(Json(done(outcome)?))
}

/// The name of a configured token that may take escalations.
fn known_agent(state: &AppState, name: &str) -> Result<String, ApiError> {
    state
        .config
        .auth
        .tokens
        .iter()
        .find(|t| t.name == name.trim() && matches!(t.role, Role::Agent | Role::Admin))
        .map(|t| t.name.clone())
        .ok_or_else(|| {
            ApiError::Unprocessable(format!("agent: {name:?} is not a configured agent"))
        })
}

async fn conversation(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ConversationView>, ApiError> {
    caller.require(Role::Agent)?;
    let conversation = state
        .store
        .conversation(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let escalations = state.store.escalations_of_conversation(id).await?;
    let thread = state.store.conversation_thread(id).await?;
    let now = state.clock.now();
    let window = conversation.window(now);
    Ok(Json(ConversationView {
        id: conversation.id,
        channel: conversation.channel,
        customer_id: conversation.customer_id,
        customer_name: conversation.customer_name,
        lang: conversation.lang,
        owner: conversation.owner,
        window_time_left_seconds: window.time_left(now).map(|d| d.num_seconds()),
        window,
        escalations,
        sources: sources(&state, &thread),
        thread,
    }))
}

/// The distinct articles the thread's turns used, in first-use order.
fn sources(state: &AppState, thread: &[ThreadEntry]) -> Vec<Source> {
    let mut seen = Vec::<String>::new();
    for entry in thread {
        if let ThreadEntry::Turn { articles, .. } = entry {
            for id in articles {
                if !seen.contains(id) {
                    seen.push(id.clone());
                }
            }
        }
    }
    seen.into_iter()
        .map(|id| Source {
            title: state.knowledge.article(&id).map(|a| a.title.clone()),
            id,
        })
        .collect()
}
