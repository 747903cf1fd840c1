//! The scheduler: every deadline of an escalation is a `timers` row, fired
//! by a worker that claims due rows with a lease, so a restart loses none and
//! several instances share the work without firing one twice.
//!
//! - [`plan`]: which timers a case needs (SLA warning and breach, keep-alive
//!   before the window closes, follow-up), as pure functions, and the calls
//!   the pipeline and the agent API make inside their own transactions:
//!   [`schedule_escalation_timers`], [`reschedule_for_window`],
//!   [`schedule_followup`];
//! - [`worker`]: the [`Scheduler`] that fires due timers, each in one
//!   transaction with its effects (history event, notification, outbox row);
//! - [`texts`]: the keep-alive and follow-up wording (`prompts/<lang>/`);
//! - [`notify`]: the [`Notifier`] that delivers `notifications` rows as
//!   signed HTTP POSTs to the business's own systems;
//! - [`out_of_hours_message`]: the notice the pipeline sends when nobody is
//!   on before the window closes.

pub mod notify;
pub mod plan;
pub mod texts;
pub mod worker;

use chrono::{DateTime, Utc};

use crate::escalation::{Policies, QueuePolicy, Wording, out_of_hours_notice, out_of_hours_text};
use crate::triage::Lang;

pub use notify::{
    NotificationEvent, NotificationsConfig, Notifier, escalation_payload, queue_notification,
};
pub use plan::{
    TimerKind, plan_escalation_timers, reschedule_for_window, schedule_escalation_timers,
    schedule_followup,
};
pub use texts::SchedulerTexts;
pub use worker::{Fired, Scheduler};

/// The out-of-hours notice for a case created at `now` in `queue`, in the
/// customer's language, or `None` when an agent will be on before the
/// window bound (`window_closes_at` minus `policies.window_margin`; pass
/// [`crate::escalation::agent_window_closes_at`]) or there is no window.
pub fn out_of_hours_message(
    queue: &QueuePolicy,
    policies: &Policies,
    window_closes_at: Option<DateTime<Utc>>,
    lang: Lang,
    now: DateTime<Utc>,
) -> Option<String> {
    let notice = out_of_hours_notice(&queue.hours, now, window_closes_at, policies.window_margin)?;
    Some(out_of_hours_text(
        &notice,
        &queue.hours,
        now,
        Wording::builtin(lang),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::EscalationConfig;
    use chrono::{Duration, TimeZone};

    fn policies() -> Policies {
        let config: EscalationConfig = toml::from_str(
            r#"
default_queue = "support"
[[queues]]
name = "support"
time_zone = "America/Mexico_City"
hours = { mon = ["09:00-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-18:00"] }
"#,
        )
        .unwrap();
        config.policies().unwrap()
    }

    fn mexico(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        chrono_tz::America::Mexico_City
            .with_ymd_and_hms(2026, 3, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn out_of_hours_on_saturday_names_the_hours_and_monday() {
        let policies = policies();
        let queue = policies.queue("support").unwrap();
        // Saturday 7 March 2026, 10:00: closed all weekend, window closes Sunday.
        let now = mexico(7, 10, 0);
        let text = out_of_hours_message(
            queue,
            &policies,
            Some(now + Duration::hours(24)),
            Lang::Es,
            now,
        )
        .unwrap();
        assert!(text.contains("el lunes a partir de las 9:00"), "{text}");
        let en = out_of_hours_message(
            queue,
            &policies,
            Some(now + Duration::hours(24)),
            Lang::En,
            now,
        )
        .unwrap();
        assert!(
            en.starts_with("Nobody from our team is available right now."),
            "{en}"
        );
        assert!(en.contains("on Monday from 9:00"), "{en}");
    }

    #[test]
    fn no_notice_when_someone_is_on_before_the_window_closes_or_without_a_window() {
        let policies = policies();
        let queue = policies.queue("support").unwrap();
        // Monday 8:00: opens at 9:00, the window closes Tuesday.
        let now = mexico(9, 8, 0);
        assert_eq!(
            out_of_hours_message(
                queue,
                &policies,
                Some(now + Duration::hours(24)),
                Lang::Es,
                now
            ),
            None
        );
        // Open right now.
        let now = mexico(9, 12, 0);
        assert_eq!(
            out_of_hours_message(
                queue,
                &policies,
                Some(now + Duration::hours(2)),
                Lang::Es,
                now
            ),
            None
        );
        // Saturday, but no window to protect.
        let now = mexico(7, 10, 0);
        assert_eq!(
            out_of_hours_message(queue, &policies, None, Lang::Es, now),
            None
        );
    }
}
