//! What an agent does with an escalation: claim it, reply, write an internal
//! note, wait for the customer, hand it back to the bot, resolve it, pass it
//! to a colleague.
//!
//! Each action is one write transaction over the store: the escalation row
//! is locked (PostgreSQL) or the writer lock held (SQLite), the action is
//! checked against its state and holder, and the change, its history event
//! and any outbox rows commit together. Each returns an outcome enum the
//! HTTP layer maps to an answer; only storage failures are errors.
//!
//! Replies respect the messaging window (`META.md`): inside it the text goes
//! out free-form; outside it Messenger and Instagram take it with the
//! `HUMAN_AGENT` tag for 7 days after the customer's last message, and
//! WhatsApp needs an approved re-engagement template first, the agent's text
//! waiting in the outbox (state `held`) until the customer answers and
//! [`release_held_messages`] makes it due.

mod reply;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::plan::schedule_followup;
use crate::escalation::Policies;
use crate::store::escalations::{add_event, set_state};
use crate::store::escalations::{assign_escalation, claim_escalation, lock_escalation};
use crate::store::release_held;
use crate::store::timers;
use crate::store::{self, EscalationRow, EscalationState, Owner, Store, WriteTx};

pub use reply::{
    AgentReply, HUMAN_AGENT_TAG, MAX_TEXT_CHARS, ReplyAnswer, ReplyDelivery, ReplyOutcome,
    TemplateChoice, reply,
};

/// Who acts: the agent's name (as in `[[auth.tokens]]`) and whether they may
/// act on escalations another agent holds (admins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub may_override: bool,
}

/// Why an action did not apply to the escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    /// The escalation is closed.
    Resolved,
    /// Another agent holds it.
    HeldBy(String),
}

/// The outcome of an action other than claim and reply.
#[derive(Debug, Clone)]
pub enum ActionOutcome<T = EscalationRow> {
    Done(T),
    Refused(Refusal),
}

/// The outcome of a claim.
#[derive(Debug, Clone)]
pub enum ClaimOutcome {
    /// This claim took it.
    Claimed(EscalationRow),
    /// The caller already held it (a repeated claim changes nothing).
    AlreadyYours(EscalationRow),
    Refused(Refusal),
}

/// The effect of marking an escalation as waiting for the customer.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub escalation: EscalationRow,
    /// When the follow-up reminder fires if the customer stays silent.
    pub followup_at: DateTime<Utc>,
}

/// How an escalation is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Resolved,
    HandedBack,
}

impl Closing {
    fn event(self) -> &'static str {
        match self {
            Closing::Resolved => "resolved",
            Closing::HandedBack => "handed_back",
        }
    }
}

/// Whether `actor` may act on `row`: it is open and unheld, theirs, or they
/// may override.
fn check(row: Option<EscalationRow>, actor: &Actor) -> Result<EscalationRow, Refusal> {
    let row = row.ok_or(Refusal::NotFound)?;
    if row.state == EscalationState::Resolved {
        return Err(Refusal::Resolved);
    }
    match &row.assigned_to {
        Some(holder) if *holder != actor.name && !actor.may_override => {
            Err(Refusal::HeldBy(holder.clone()))
        }
        _ => Ok(row),
    }
}

/// The escalation as the transaction left it (it is locked, so it exists).
async fn reread(tx: &mut WriteTx, id: i64) -> anyhow::Result<EscalationRow> {
    store::escalations::escalation_in(&mut tx.tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("escalation {id} vanished inside its own transaction"))
}

/// Takes a waiting escalation. Of concurrent claims exactly one wins: the
/// claim is a single compare-and-set update on `state = 'waiting'`.
pub async fn claim(
    store: &Store,
    id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<ClaimOutcome> {
    let mut tx = store.begin_write().await?;
    if claim_escalation(&mut tx.tx, id, &actor.name, now).await? == 1 {
        add_event(&mut tx.tx, id, "claimed", Some(&actor.name), None, now).await?;
        let row = reread(&mut tx, id).await?;
        tx.commit().await?;
        return Ok(ClaimOutcome::Claimed(row));
    }
    let row = lock_escalation(&mut tx.tx, store.backend(), id).await?;
    let outcome = match row {
        None => ClaimOutcome::Refused(Refusal::NotFound),
        Some(row) if row.state == EscalationState::Resolved => {
            ClaimOutcome::Refused(Refusal::Resolved)
        }
        Some(row) => match row.assigned_to.clone() {
            Some(holder) if holder == actor.name => ClaimOutcome::AlreadyYours(row),
            Some(holder) => ClaimOutcome::Refused(Refusal::HeldBy(holder)),
            // Open but unheld outside `waiting` (e.g. waiting for the
            // customer after a hand-over): take it without changing state.
            None => {
                assign_escalation(&mut tx.tx, id, &actor.name, row.state, now).await?;
                add_event(&mut tx.tx, id, "claimed", Some(&actor.name), None, now).await?;
                let row = reread(&mut tx, id).await?;
                tx.commit().await?;
                return Ok(ClaimOutcome::Claimed(row));
            }
        },
    };
    Ok(outcome)
}

/// An internal note for colleagues (never sent to the customer); any agent
/// may add one, also to a resolved escalation.
pub async fn note(
    store: &Store,
    id: i64,
    actor: &Actor,
    text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<ActionOutcome> {
    let mut tx = store.begin_write().await?;
    let Some(row) = lock_escalation(&mut tx.tx, store.backend(), id).await? else {
        return Ok(ActionOutcome::Refused(Refusal::NotFound));
    };
    add_event(
        &mut tx.tx,
        id,
        "note",
        Some(&actor.name),
        Some(serde_json::json!({ "text": text })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ActionOutcome::Done(row))
}

/// The shape of every agent action on one case: lock the escalation, check
/// that `actor` may act on it, run `act` (its change and history event),
/// re-read the row and commit, all in one write transaction. `act` gets
/// the locked row and returns what the action reports besides the row.
async fn act_on_case<T>(
    store: &Store,
    id: i64,
    actor: &Actor,
    act: impl AsyncFnOnce(&mut WriteTx, &EscalationRow) -> anyhow::Result<T>,
) -> anyhow::Result<ActionOutcome<(EscalationRow, T)>> {
    let mut tx = store.begin_write().await?;
    let row = match check(
        lock_escalation(&mut tx.tx, store.backend(), id).await?,
        actor,
    ) {
        Ok(row) => row,
        Err(refusal) => return Ok(ActionOutcome::Refused(refusal)),
    };
    let extra = act(&mut tx, &row).await?;
    let escalation = reread(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ActionOutcome::Done((escalation, extra)))
}

impl<T> ActionOutcome<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> ActionOutcome<U> {
        match self {
            ActionOutcome::Done(value) => ActionOutcome::Done(f(value)),
            ActionOutcome::Refused(refusal) => ActionOutcome::Refused(refusal),
        }
    }
}

/// The agent waits for the customer's answer: state `waiting_customer` and a
/// follow-up reminder after `policies.followup_after`.
pub async fn wait_for_customer(
    store: &Store,
    policies: &Policies,
    id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<ActionOutcome<Waiting>> {
    let outcome = act_on_case(store, id, actor, async |tx, row| {
        let holder = row.assigned_to.as_deref().unwrap_or(&actor.name);
        assign_escalation(
            &mut tx.tx,
            id,
            holder,
            EscalationState::WaitingCustomer,
            now,
        )
        .await?;
        let followup_at = now + policies.followup_after;
        schedule_followup(&mut tx.tx, id, row.conversation_id, followup_at, now).await?;
        let detail = serde_json::json!({ "followup_at": followup_at });
        add_event(
            &mut tx.tx,
            id,
            "waiting_customer",
            Some(&actor.name),
            Some(detail),
            now,
        )
        .await?;
        Ok(followup_at)
    })
    .await?;
    Ok(outcome.map(|(escalation, followup_at)| Waiting {
        escalation,
        followup_at,
    }))
}

/// Returns the conversation to the bot: the escalation closes with event
/// `handed_back` and the bot answers the customer's next message.
pub async fn hand_back(
    store: &Store,
    id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<ActionOutcome> {
    close(store, id, actor, Closing::HandedBack, now).await
}

/// Closes the case: the conversation returns to the bot, and the customer's
/// next message starts a fresh triage (and, if needed, a new escalation).
pub async fn resolve(
    store: &Store,
    id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<ActionOutcome> {
    close(store, id, actor, Closing::Resolved, now).await
}

async fn close(
    store: &Store,
    id: i64,
    actor: &Actor,
    closing: Closing,
    now: DateTime<Utc>,
) -> anyhow::Result<ActionOutcome> {
    let outcome = act_on_case(store, id, actor, async |tx, row| {
        set_state(&mut tx.tx, id, EscalationState::Resolved, now).await?;
        store::set_owner(&mut tx.tx, row.conversation_id, Owner::Bot).await?;
        timers::cancel_for_escalation(&mut tx.tx, id, &[]).await?;
        add_event(
            &mut tx.tx,
            id,
            closing.event(),
            Some(&actor.name),
            None,
            now,
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(outcome.map(|(escalation, ())| escalation))
}

/// Passes the escalation to another agent (the holder, anyone while it is
/// unheld, or an admin). A waiting escalation becomes assigned.
pub async fn reassign(
    store: &Store,
    id: i64,
    actor: &Actor,
    to: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<ActionOutcome> {
    let outcome = act_on_case(store, id, actor, async |tx, row| {
        let state = match row.state {
            EscalationState::Waiting => EscalationState::Assigned,
            other => other,
        };
        assign_escalation(&mut tx.tx, id, to, state, now).await?;
        let detail = serde_json::json!({ "from": row.assigned_to, "to": to });
        add_event(
            &mut tx.tx,
            id,
            "reassigned",
            Some(&actor.name),
            Some(detail),
            now,
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(outcome.map(|(escalation, ())| escalation))
}

/// Called by the pipeline, inside its transaction, when a customer writes in
/// a conversation: agent messages held behind a re-engagement template
/// become due now (the window is open again). Returns how many; the caller
/// wakes the sender after committing when it is more than zero.
pub async fn release_held_messages(
    conn: &mut AnyConnection,
    conversation_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    release_held(conn, conversation_id, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: EscalationState, assigned_to: Option<&str>) -> EscalationRow {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        EscalationRow {
            id: 1,
            conversation_id: 1,
            turn_id: None,
            queue: "support".into(),
            priority: "normal".into(),
            reason: "human".into(),
            triage_class: None,
            triage_confidence: None,
            triage_reason: None,
            state,
            assigned_to: assigned_to.map(str::to_owned),
            created_at: t,
            sla_due_at: t,
            deadline_at: t,
            deadline_bound: "sla".into(),
            window_closes_at: None,
            first_response_at: None,
            resolved_at: None,
        }
    }

    fn actor(name: &str, may_override: bool) -> Actor {
        Actor {
            name: name.into(),
            may_override,
        }
    }

    #[test]
    fn only_the_holder_or_an_admin_acts_on_a_held_escalation() {
        let held = || Some(row(EscalationState::Assigned, Some("ana")));
        assert!(check(held(), &actor("ana", false)).is_ok());
        assert_eq!(
            check(held(), &actor("luis", false)).unwrap_err(),
            Refusal::HeldBy("ana".into())
        );
        assert!(check(held(), &actor("root", true)).is_ok());
        assert!(
            check(
                Some(row(EscalationState::Waiting, None)),
                &actor("luis", false)
            )
            .is_ok()
        );
        assert_eq!(
            check(
                Some(row(EscalationState::Resolved, None)),
                &actor("root", true)
            )
            .unwrap_err(),
            Refusal::Resolved
        );
        assert_eq!(
            check(None, &actor("ana", false)).unwrap_err(),
            Refusal::NotFound
        );
    }
}
