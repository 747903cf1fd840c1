//! Escalations: a conversation handed to people, with its deadline, state,
//! assigned agent and event history. At most one open escalation per
//! conversation (a partial unique index).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use super::{Backend, Store, from_ms, to_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationState {
    Waiting,
    Assigned,
    WaitingCustomer,
    Resolved,
}

impl EscalationState {
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationState::Waiting => "waiting",
            EscalationState::Assigned => "assigned",
            EscalationState::WaitingCustomer => "waiting_customer",
            EscalationState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<EscalationState> {
        Some(match s {
            "waiting" => EscalationState::Waiting,
            "assigned" => EscalationState::Assigned,
            "waiting_customer" => EscalationState::WaitingCustomer,
            "resolved" => EscalationState::Resolved,
            _ => return None,
        })
    }
}

/// One escalation as stored.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationRow {
    pub id: i64,
    pub conversation_id: i64,
    pub turn_id: Option<i64>,
    pub queue: String,
    pub priority: String,
    pub reason: String,
    pub triage_class: Option<String>,
    pub triage_confidence: Option<f64>,
    pub triage_reason: Option<String>,
    pub state: EscalationState,
    pub assigned_to: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub deadline_bound: String,
    pub window_closes_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A new escalation.
#[derive(Debug, Clone)]
pub struct NewEscalation {
    pub conversation_id: i64,
    pub turn_id: Option<i64>,
    pub queue: String,
    pub priority: String,
    pub reason: String,
    pub triage_class: Option<String>,
    pub triage_confidence: Option<f64>,
    pub triage_reason: Option<String>,
    pub sla_due_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub deadline_bound: String,
    pub window_closes_at: Option<DateTime<Utc>>,
}

/// An entry of an escalation's history.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: Option<String>,
    pub detail: Option<serde_json::Value>,
}

pub(crate) const COLUMNS: &str = "id, conversation_id, turn_id, queue, priority, reason, triage_class, \
     triage_confidence, triage_reason, state, assigned_to, created_at, sla_due_at, deadline_at, deadline_bound, \
     window_closes_at, first_response_at, resolved_at";

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<EscalationRow> {
    use sqlx::Row;
    let state: String = row.try_get("state")?;
    Ok(EscalationRow {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        turn_id: row.try_get("turn_id")?,
        queue: row.try_get("queue")?,
        priority: row.try_get("priority")?,
        reason: row.try_get("reason")?,
        triage_class: row.try_get("triage_class")?,
        triage_confidence: row.try_get("triage_confidence")?,
        triage_reason: row.try_get("triage_reason")?,
        state: EscalationState::parse(&state).unwrap_or(EscalationState::Waiting),
        assigned_to: row.try_get("assigned_to")?,
        created_at: from_ms(row.try_get("created_at")?),
        sla_due_at: from_ms(row.try_get("sla_due_at")?),
        deadline_at: from_ms(row.try_get("deadline_at")?),
        deadline_bound: row.try_get("deadline_bound")?,
        window_closes_at: row
            .try_get::<Option<i64>, _>("window_closes_at")?
            .map(from_ms),
        first_response_at: row
            .try_get::<Option<i64>, _>("first_response_at")?
            .map(from_ms),
        resolved_at: row.try_get::<Option<i64>, _>("resolved_at")?.map(from_ms),
    })
}

/// Inside a transaction: the open escalation of a conversation, if any.
pub async fn open_escalation_in(
    conn: &mut AnyConnection,
    conversation_id: i64,
) -> sqlx::Result<Option<EscalationRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM escalations WHERE conversation_id = $1 AND state <> 'resolved'"
    ))
    .bind(conversation_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inside a transaction: opens an escalation and records the event.
pub async fn insert_escalation(
    conn: &mut AnyConnection,
    new: &NewEscalation,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO escalations (conversation_id, turn_id, queue, priority, reason, triage_class, triage_confidence, \
             triage_reason, state, created_at, sla_due_at, deadline_at, deadline_bound, window_closes_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $9, $10, $11, $12, $13, $9) RETURNING id",
    )
    .bind(new.conversation_id)
    .bind(new.turn_id)
    .bind(&new.queue)
    .bind(&new.priority)
    .bind(&new.reason)
    .bind(new.triage_class.as_deref())
    .bind(new.triage_confidence)
    .bind(new.triage_reason.as_deref())
    .bind(to_ms(now))
    .bind(to_ms(new.sla_due_at))
    .bind(to_ms(new.deadline_at))
    .bind(&new.deadline_bound)
    .bind(new.window_closes_at.map(to_ms))
    .fetch_one(&mut *conn)
    .await?;
    add_event(
        conn,
        id,
        "created",
        None,
        Some(
            serde_json::json!({"queue": new.queue, "priority": new.priority, "reason": new.reason}),
        ),
        now,
    )
    .await?;
    Ok(id)
}

/// Inside a transaction: appends to the history.
pub async fn add_event(
    conn: &mut AnyConnection,
    escalation_id: i64,
    kind: &str,
    actor: Option<&str>,
    detail: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO escalation_events (escalation_id, at, kind, actor, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(escalation_id)
        .bind(to_ms(now))
        .bind(kind)
        .bind(actor)
        .bind(detail.map(|d| d.to_string()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inside a transaction: moves the deadline (the window moved).
pub async fn update_deadline(
    conn: &mut AnyConnection,
    id: i64,
    deadline_at: DateTime<Utc>,
    bound: &str,
    window_closes_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE escalations SET deadline_at = $1, deadline_bound = $2, window_closes_at = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(to_ms(deadline_at))
    .bind(bound)
    .bind(window_closes_at.map(to_ms))
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inside a transaction: changes state (and the agent, when given).
pub async fn set_state(
    conn: &mut AnyConnection,
    id: i64,
    state: EscalationState,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let resolved_at = (state == EscalationState::Resolved).then(|| to_ms(now));
    sqlx::query("UPDATE escalations SET state = $1, resolved_at = COALESCE($2, resolved_at), updated_at = $3 WHERE id = $4")
        .bind(state.as_str())
        .bind(resolved_at)
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inside a transaction: records the first agent response time (once).
pub async fn mark_first_response(
    conn: &mut AnyConnection,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE escalations SET first_response_at = $1 WHERE id = $2 AND first_response_at IS NULL",
    )
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// `select` (whose escalations table is aliased `alias`, e.g. `e.` or `""`)
/// restricted by `filter` and ordered by deadline; bind with [`bind_filter`].
pub(crate) fn filtered_sql(select: &str, alias: &str, filter: &EscalationFilter) -> String {
    let mut sql = format!("{select} WHERE 1 = 1");
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if filter.queue.is_some() {
        sql.push_str(&format!(" AND {alias}queue = {}", next()));
    }
    match filter.state {
        Some(_) => sql.push_str(&format!(" AND {alias}state = {}", next())),
        None if !filter.include_resolved => {
            sql.push_str(&format!(" AND {alias}state <> 'resolved'"))
        }
        None => {}
    }
    sql.push_str(&format!(
        " ORDER BY {alias}deadline_at, {alias}id LIMIT {}",
        next()
    ));
    sql
}

/// Binds the parameters of [`filtered_sql`] in its order.
pub(crate) fn bind_filter<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    filter: &EscalationFilter,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    if let Some(queue) = &filter.queue {
        query = query.bind(queue.clone());
    }
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    query.bind(if filter.limit > 0 { filter.limit } else { 100 })
}

/// id, at, kind, actor, detail (JSON) of an escalation event.
type EventRow = (i64, i64, String, Option<String>, Option<String>);

/// Filters for the agents' list.
#[derive(Debug, Clone, Default)]
pub struct EscalationFilter {
    pub queue: Option<String>,
    pub state: Option<EscalationState>,
    /// Include resolved escalations (only when `state` is not given).
    pub include_resolved: bool,
    pub limit: i64,
}

impl Store {
    pub async fn escalation(&self, id: i64) -> sqlx::Result<Option<EscalationRow>> {
        let mut conn = self.pool().acquire().await?;
        escalation_in(&mut conn, id).await
    }

    /// Escalations ordered by deadline, soonest first.
    pub async fn list_escalations(
        &self,
        filter: &EscalationFilter,
    ) -> sqlx::Result<Vec<EscalationRow>> {
        let sql = filtered_sql(&format!("SELECT {COLUMNS} FROM escalations"), "", filter);
        let rows = bind_filter(sqlx::query(&sql), filter)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn escalation_events(
        &self,
        escalation_id: i64,
    ) -> sqlx::Result<Vec<EscalationEvent>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, at, kind, actor, detail FROM escalation_events WHERE escalation_id = $1 ORDER BY id",
        )
        .bind(escalation_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, at, kind, actor, detail)| EscalationEvent {
                id,
                at: from_ms(at),
                kind,
                actor,
                detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
            })
            .collect())
    }
}

/// Inside a transaction: one escalation by id.
pub async fn escalation_in(
    conn: &mut AnyConnection,
    id: i64,
) -> sqlx::Result<Option<EscalationRow>> {
    escalation_by_id(conn, id, "").await
}

/// One escalation by id, `suffix` appended to the query (a row lock): the
/// one query every "escalation by id" goes through.
pub(super) async fn escalation_by_id(
    conn: &mut AnyConnection,
    id: i64,
    suffix: &str,
) -> sqlx::Result<Option<EscalationRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM escalations WHERE id = $1{suffix}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inside a transaction: whether the escalation's history has an event of
/// `kind` with exactly this `detail` (one record per fact).
pub async fn has_event(
    conn: &mut AnyConnection,
    escalation_id: i64,
    kind: &str,
    detail: &serde_json::Value,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM escalation_events WHERE escalation_id = $1 AND kind = $2 AND detail = $3 LIMIT 1",
    )
    .bind(escalation_id)
    .bind(kind)
    .bind(detail.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Inside a write transaction: reads an escalation, locking its row on
/// PostgreSQL so concurrent actions on it run one after the other (SQLite
/// already serializes writers).
pub async fn lock_escalation(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
) -> sqlx::Result<Option<EscalationRow>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    escalation_by_id(conn, id, lock).await
}

/// Inside a write transaction: the compare-and-set claim. Only a `waiting`
/// escalation nobody else holds is taken, in one statement, so of two
/// concurrent claims exactly one changes the row. Returns the rows changed.
pub async fn claim_escalation(
    conn: &mut AnyConnection,
    id: i64,
    agent: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE escalations SET state = 'assigned', assigned_to = $1, updated_at = $2 \
         WHERE id = $3 AND state = 'waiting' AND (assigned_to IS NULL OR assigned_to = $1)",
    )
    .bind(agent)
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Inside a write transaction: sets the agent and the state together.
pub async fn assign_escalation(
    conn: &mut AnyConnection,
    id: i64,
    agent: &str,
    state: EscalationState,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE escalations SET assigned_to = $1, state = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(agent)
    .bind(state.as_str())
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
