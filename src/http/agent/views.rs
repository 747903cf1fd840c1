//! What the agent API reads and answers: request bodies and query
//! parameters, and the views of escalations and conversations.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::MAX_LIST;
use crate::channels::model::Channel;
use crate::conversation::Window;
use crate::http::error::ApiError;
use crate::store::agent::{QueueItem, ThreadEntry};
use crate::store::{EscalationEvent, EscalationFilter, EscalationRow, EscalationState, Owner};

/// One escalation as the agents' list shows it.
#[derive(Debug, Serialize)]
pub(super) struct EscalationView {
    pub(super) id: i64,
    pub(super) conversation_id: i64,
    pub(super) channel: Channel,
    pub(super) customer_name: Option<String>,
    pub(super) queue: String,
    pub(super) priority: String,
    pub(super) state: EscalationState,
    pub(super) assigned_to: Option<String>,
    pub(super) reason: String,
    pub(super) triage_class: Option<String>,
    pub(super) triage_confidence: Option<f64>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) sla_due_at: DateTime<Utc>,
    pub(super) deadline_at: DateTime<Utc>,
    pub(super) deadline_bound: String,
    /// Seconds to the deadline (negative: overdue).
    pub(super) time_left_seconds: i64,
    /// When the 24-hour customer service window closes (or closed).
    pub(super) window_closes_at: Option<DateTime<Utc>>,
    /// Seconds of free-form replies left; `null` when the window is closed.
    pub(super) window_time_left_seconds: Option<i64>,
    pub(super) window: Window,
    pub(super) first_response_at: Option<DateTime<Utc>>,
    pub(super) resolved_at: Option<DateTime<Utc>>,
    pub(super) last_message_preview: Option<String>,
}

impl EscalationView {
    pub(super) fn new(item: QueueItem, now: DateTime<Utc>) -> Self {
        let window = Window::at(
            item.channel,
            item.last_customer_message_at,
            item.window_error_at,
            item.free_entry_until,
            now,
        );
        let e = item.escalation;
        EscalationView {
            id: e.id,
            conversation_id: e.conversation_id,
            channel: item.channel,
            customer_name: item.customer_name,
            queue: e.queue,
            priority: e.priority,
            state: e.state,
            assigned_to: e.assigned_to,
            reason: e.reason,
            triage_class: e.triage_class,
            triage_confidence: e.triage_confidence,
            created_at: e.created_at,
            sla_due_at: e.sla_due_at,
            deadline_at: e.deadline_at,
            deadline_bound: e.deadline_bound,
            time_left_seconds: (e.deadline_at - now).num_seconds(),
            window_closes_at: window.closes_at,
            window_time_left_seconds: window.time_left(now).map(|d| d.num_seconds()),
            window,
            first_response_at: e.first_response_at,
            resolved_at: e.resolved_at,
            last_message_preview: item.last_message_preview,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct EscalationDetail {
    #[serde(flatten)]
    pub(super) escalation: EscalationView,
    pub(super) events: Vec<EscalationEvent>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ListParams {
    pub(super) queue: Option<String>,
    pub(super) state: Option<String>,
    #[serde(default)]
    pub(super) include_resolved: bool,
    pub(super) limit: Option<i64>,
}

impl TryFrom<ListParams> for EscalationFilter {
    type Error = ApiError;

    fn try_from(p: ListParams) -> Result<Self, ApiError> {
        let state = match p.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(EscalationState::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "state: {s:?} is not one of waiting, assigned, waiting_customer, resolved"
                ))
            })?),
        };
        Ok(EscalationFilter {
            queue: p.queue.filter(|q| !q.is_empty()),
            state,
            include_resolved: p.include_resolved,
            limit: p.limit.unwrap_or(100).clamp(1, MAX_LIST),
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
pub(super) struct ReplyBody {
    pub(super) text: String,
    pub(super) template: Option<TemplateBody>,
}

#[derive(Debug, Deserialize, Serialize)]
pub(super) struct TemplateBody {
    pub(super) name: String,
    pub(super) language: String,
    #[serde(default)]
    pub(super) params: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct NoteBody {
    pub(super) text: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ReassignBody {
    pub(super) agent: String,
}

#[derive(Debug, Serialize)]
pub(super) struct WaitingAnswer {
    pub(super) escalation: EscalationRow,
    pub(super) followup_at: DateTime<Utc>,
}

/// A conversation with everything an agent needs to answer it.
#[derive(Debug, Serialize)]
pub(super) struct ConversationView {
    pub(super) id: i64,
    pub(super) channel: Channel,
    pub(super) customer_id: String,
    pub(super) customer_name: Option<String>,
    pub(super) lang: Option<String>,
    pub(super) owner: Owner,
    pub(super) window: Window,
    pub(super) window_time_left_seconds: Option<i64>,
    pub(super) escalations: Vec<EscalationRow>,
    /// Knowledge articles the bot's replies drew on, with their titles.
    pub(super) sources: Vec<Source>,
    pub(super) thread: Vec<ThreadEntry>,
}

#[derive(Debug, Serialize)]
pub(super) struct Source {
    pub(super) id: String,
    pub(super) title: Option<String>,
}
