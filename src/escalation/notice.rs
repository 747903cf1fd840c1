//! What to tell the customer on escalation, as decisions (not words).
//!
//! Two questions, both pure functions of the queue's hours, the clock and
//! the window: is anyone on before the window closes (if not, the customer
//! gets an out-of-hours notice with the opening hours, asking them to write
//! again then, which reopens the window), and when will a person answer (the
//! acknowledgement says so). The words live in [`super::text`] and
//! [`super::wording`], so they can change without touching these rules.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::deadline::Deadline;
use super::hours::BusinessHours;

/// Whether an agent will be on at some moment in `[now, window_closes_at)`.
pub fn agent_on_before(
    hours: &BusinessHours,
    now: DateTime<Utc>,
    window_closes_at: DateTime<Utc>,
) -> bool {
    hours.open_between(now, window_closes_at)
}

/// The out-of-hours notice for a case: nobody will be on before the window
/// closes, so the customer should write again when the queue opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutOfHoursNotice {
    /// When agents are next on (`None` only for a schedule with no opening
    /// in the next ten years, which validation rules out).
    pub next_open: Option<DateTime<Utc>>,
    pub window_closes_at: DateTime<Utc>,
}

/// Decides whether a case arriving at `now` gets an out-of-hours notice.
///
/// It does when the queue is closed now and opens neither before the window
/// bound (close minus `margin`, the same bound as the deadline's) nor at
/// all. A queue open right now never sends one, even with the window about
/// to close: a person may still answer in time. No window (`None`), no notice.
pub fn out_of_hours_notice(
    hours: &BusinessHours,
    now: DateTime<Utc>,
    window_closes_at: Option<DateTime<Utc>>,
    margin: Duration,
) -> Option<OutOfHoursNotice> {
    let closes = window_closes_at?;
    if hours.is_open(now) || agent_on_before(hours, now, closes - margin) {
        return None;
    }
    Some(OutOfHoursNotice {
        next_open: hours.next_open(now),
        window_closes_at: closes,
    })
}

/// When a person will answer, as the acknowledgement should say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "at", rename_all = "snake_case")]
pub enum ExpectedReply {
    /// Agents are on: a person answers by the deadline.
    By(DateTime<Utc>),
    /// Agents are off: a person answers from the next opening.
    From(DateTime<Utc>),
    /// The deadline is already past, or the queue never opens.
    AsSoonAsPossible,
}

/// What the acknowledgement of a case with `deadline` promises at `now`.
pub fn expected_reply(
    deadline: &Deadline,
    hours: &BusinessHours,
    now: DateTime<Utc>,
) -> ExpectedReply {
    if hours.is_open(now) {
        return if deadline.at > now {
            ExpectedReply::By(deadline.at)
        } else {
            ExpectedReply::AsSoonAsPossible
        };
    }
    match hours.next_open(now) {
        Some(open) => ExpectedReply::From(open),
        None => ExpectedReply::AsSoonAsPossible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::config::QueuePolicy;
    use crate::escalation::deadline::{Priority, SlaPolicy, deadline};
    use crate::escalation::hours::Period;
    use chrono::TimeZone;
    use chrono_tz::America::Mexico_City;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Mexico_City
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn office() -> QueuePolicy {
        let day = || vec![Period::parse("09:00-19:00").unwrap()];
        QueuePolicy {
            name: "support".into(),
            hours: BusinessHours::new(
                Mexico_City,
                std::array::from_fn(|i| if i < 5 { day() } else { vec![] }),
                [],
            )
            .unwrap(),
            sla: SlaPolicy::from_minutes(15, 240),
        }
    }

    const HOUR: Duration = Duration::hours(1);

    #[test]
    fn saturday_cases_get_the_notice_with_monday_opening() {
        let q = office();
        let now = local(2026, 3, 7, 11, 0); // Saturday
        let closes = now + Duration::hours(24);
        assert!(!agent_on_before(&q.hours, now, closes));
        assert_eq!(
            out_of_hours_notice(&q.hours, now, Some(closes), HOUR),
            Some(OutOfHoursNotice {
                next_open: Some(local(2026, 3, 9, 9, 0)),
                window_closes_at: closes,
            })
        );
    }

    #[test]
    fn no_notice_when_someone_comes_in_before_the_window_closes() {
        let q = office();
        // Monday 20:00: the window closes Tuesday 20:00, agents come at 09:00.
        let now = local(2026, 3, 9, 20, 0);
        assert!(agent_on_before(&q.hours, now, now + Duration::hours(24)));
        assert_eq!(
            out_of_hours_notice(&q.hours, now, Some(now + Duration::hours(24)), HOUR),
            None
        );
        // Open now, window closing in 30 minutes: still no notice.
        let now = local(2026, 3, 9, 12, 0);
        assert_eq!(
            out_of_hours_notice(&q.hours, now, Some(now + Duration::minutes(30)), HOUR),
            None
        );
        assert_eq!(out_of_hours_notice(&q.hours, now, None, HOUR), None);
    }

    #[test]
    fn opening_only_inside_the_margin_is_too_late() {
        let q = office();
        // Sunday 09:30: the window closes Monday 09:30, 30 min of agents before it.
        let now = local(2026, 3, 8, 9, 30);
        let closes = now + Duration::hours(24);
        assert!(agent_on_before(&q.hours, now, closes));
        let notice = out_of_hours_notice(&q.hours, now, Some(closes), HOUR).unwrap();
        assert_eq!(notice.next_open, Some(local(2026, 3, 9, 9, 0)));
    }

    #[test]
    fn the_promise_is_the_deadline_when_open_and_the_opening_when_closed() {
        let q = office();
        let now = local(2026, 3, 9, 11, 0);
        let d = deadline(
            now,
            Priority::High,
            &q,
            Some(now + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(
            expected_reply(&d, &q.hours, now),
            ExpectedReply::By(local(2026, 3, 9, 11, 15))
        );
        let now = local(2026, 3, 7, 2, 0);
        let d = deadline(
            now,
            Priority::High,
            &q,
            Some(now + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(
            expected_reply(&d, &q.hours, now),
            ExpectedReply::From(local(2026, 3, 9, 9, 0))
        );
        // Reminded after the deadline passed.
        let late = local(2026, 3, 9, 10, 0);
        assert_eq!(
            expected_reply(&d, &q.hours, late),
            ExpectedReply::AsSoonAsPossible
        );
    }

    /// The out-of-hours message the pipeline's case plan composes: notice and
    /// wording together.
    mod out_of_hours_message {
        use super::*;
        use crate::escalation::{
            EscalationConfig, Policies, QueuePolicy, Wording, out_of_hours_text,
        };
        use crate::vocab::Lang;
        use chrono::TimeZone;

        /// The out-of-hours notice for a case created at `now` in `queue`, in the
        /// customer's language, or `None` when an agent will be on before the
        /// window bound (`window_closes_at` minus `policies.window_margin`; pass
        /// `agent_window_closes_at`) or there is no window.
        fn out_of_hours_message(
            queue: &QueuePolicy,
            policies: &Policies,
            window_closes_at: Option<DateTime<Utc>>,
            lang: Lang,
            now: DateTime<Utc>,
        ) -> Option<String> {
            let notice =
                out_of_hours_notice(&queue.hours, now, window_closes_at, policies.window_margin)?;
            Some(out_of_hours_text(
                &notice,
                &queue.hours,
                now,
                Wording::builtin(lang),
            ))
        }

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
}
