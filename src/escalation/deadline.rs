//! When a case must be answered: the SLA and the messaging window, combined.
//!
//! A case has two limits. The SLA (first response per priority) is counted
//! in the queue's business hours. The window is Meta's: an agent's free-form
//! reply must go out before it closes, so the bound is its closing time minus
//! a safety margin (the reply may wait in the outbox, be paced, be retried).
//! The deadline is the earlier of the two, as a pure function of the facts,
//! so the scheduler, the agent API and tests all get the same answer.
//!
//! One refinement of "the earlier of the two": agents act only in business
//! hours, so a window bound at 03:00 on a Sunday is really the close of the
//! last open period before it (Friday 19:00). And when no open time at all
//! lies before the bound (a case arriving on Saturday for a Monday-to-Friday
//! queue), or the bound is already past, the window cannot be met: the
//! deadline is the SLA due time and [`WindowOutlook`] says why, so the
//! scheduler plans a re-engagement template instead of an alarm nobody sees.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::config::QueuePolicy;
use crate::conversation::window::{Window, WindowState};
pub use crate::vocab::Priority;

/// First-response time per priority, in business time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    high: Duration,
    normal: Duration,
}

impl SlaPolicy {
    pub fn from_minutes(high: u32, normal: u32) -> SlaPolicy {
        SlaPolicy {
            high: Duration::minutes(i64::from(high)),
            normal: Duration::minutes(i64::from(normal)),
        }
    }

    pub fn first_response(&self, priority: Priority) -> Duration {
        match priority {
            Priority::High => self.high,
            Priority::Normal => self.normal,
        }
    }
}

/// Which limit set the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineBound {
    Sla,
    Window,
}

/// Whether an agent can answer inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowOutlook {
    /// There is open time before the window bound.
    CanBeMet,
    /// The bound was already past when the case was created: the window is
    /// closed or closes within the margin.
    AlreadyClosing,
    /// No open time between the case and the bound: no agent will be on.
    NoAgentBefore,
    /// No window was given (nothing to protect).
    NoWindow,
}

/// The deadline of one case and how it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// When the first response is due.
    pub at: DateTime<Utc>,
    /// Which limit `at` comes from.
    pub bound: DeadlineBound,
    /// Creation plus the SLA, counted in business hours.
    pub sla_due: DateTime<Utc>,
    /// The window's closing time minus the margin, if there is a window.
    pub window_bound: Option<DateTime<Utc>>,
    pub window: WindowOutlook,
}

impl Deadline {
    /// Whether an agent's reply can still go out as a free-form message.
    pub fn window_can_be_met(&self) -> bool {
        self.window == WindowOutlook::CanBeMet
    }
}

/// The deadline of a case created at `created_at` in `queue`.
///
/// `window_closes_at` is when an agent's reply stops being possible (see
/// [`agent_window_closes_at`]); `margin` is `escalation.window_margin_minutes`.
pub fn deadline(
    created_at: DateTime<Utc>,
    priority: Priority,
    queue: &QueuePolicy,
    window_closes_at: Option<DateTime<Utc>>,
    margin: Duration,
) -> Deadline {
    let sla_due = queue
        .hours
        .add_business_time(created_at, queue.sla.first_response(priority));
    let sla = |window_bound, window| Deadline {
        at: sla_due,
        bound: DeadlineBound::Sla,
        sla_due,
        window_bound,
        window,
    };
    let Some(closes_at) = window_closes_at else {
        return sla(None, WindowOutlook::NoWindow);
    };
    let window_bound = closes_at - margin;
    if window_bound <= created_at {
        return sla(Some(window_bound), WindowOutlook::AlreadyClosing);
    }
    // Agents act in open hours only: the usable bound is the last open
    // moment before it.
    let Some(last_open) = queue.hours.last_open_before(created_at, window_bound) else {
        return sla(Some(window_bound), WindowOutlook::NoAgentBefore);
    };
    if sla_due <= last_open {
        return sla(Some(window_bound), WindowOutlook::CanBeMet);
    }
    Deadline {
        at: last_open,
        bound: DeadlineBound::Window,
        sla_due,
        window_bound: Some(window_bound),
        window: WindowOutlook::CanBeMet,
    }
}

/// When an agent's reply stops being possible in this conversation:
/// Messenger and Instagram allow a `HUMAN_AGENT` tagged reply for 7 days,
/// WhatsApp only the 24-hour window. A window Meta closed early (error
/// 131047) counts as closing `now`; a conversation the customer never opened
/// has no window.
pub fn agent_window_closes_at(window: &Window, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(until) = window.human_agent_until {
        return Some(until);
    }
    match window.state {
        WindowState::Open => window.closes_at,
        WindowState::Closed => window.closes_at.map(|closes| closes.min(now)),
        WindowState::NeverOpened => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::model::Channel;
    use crate::escalation::hours::{BusinessHours, Period};
    use crate::vocab::TriageClass;
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::America::{Mexico_City, Santiago};
    use chrono_tz::Europe::Madrid;
    use chrono_tz::Tz;

    fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("unambiguous local time")
            .with_timezone(&Utc)
    }

    /// Default SLA (15 min urgent, 4 h normal) on `days` (Monday first).
    fn queue(zone: Tz, days: &[bool; 7], period: &str, holidays: &[NaiveDate]) -> QueuePolicy {
        let period = Period::parse(period).unwrap();
        let week = std::array::from_fn(|i| if days[i] { vec![period] } else { vec![] });
        QueuePolicy {
            name: "support".into(),
            hours: BusinessHours::new(zone, week, holidays.iter().copied()).unwrap(),
            sla: SlaPolicy::from_minutes(15, 240),
        }
    }

    const MON_FRI: [bool; 7] = [true, true, true, true, true, false, false];
    const MON_SAT: [bool; 7] = [true, true, true, true, true, true, false];
    const HOUR: Duration = Duration::hours(1);

    #[test]
    fn urgent_on_saturday_night_waits_for_monday_and_misses_the_window() {
        let q = queue(Mexico_City, &MON_FRI, "09:00-19:00", &[]);
        let created = local(Mexico_City, 2026, 3, 7, 2, 0); // Saturday 02:00
        let d = deadline(
            created,
            Priority::High,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(d.sla_due, local(Mexico_City, 2026, 3, 9, 9, 15));
        assert_eq!(d.at, d.sla_due);
        assert_eq!(d.bound, DeadlineBound::Sla);
        assert_eq!(d.window_bound, Some(local(Mexico_City, 2026, 3, 8, 1, 0)));
        assert_eq!(d.window, WindowOutlook::NoAgentBefore);
        assert!(!d.window_can_be_met());
    }

    #[test]
    fn urgent_in_office_hours_is_fifteen_minutes() {
        let q = queue(Mexico_City, &MON_FRI, "09:00-19:00", &[]);
        let created = local(Mexico_City, 2026, 3, 9, 11, 50);
        let d = deadline(
            created,
            Priority::High,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(
            (d.at, d.bound, d.window),
            (
                local(Mexico_City, 2026, 3, 9, 12, 5),
                DeadlineBound::Sla,
                WindowOutlook::CanBeMet
            )
        );
    }

    #[test]
    fn a_long_sla_loses_to_the_window_minus_the_margin() {
        let mut q = queue(Mexico_City, &MON_FRI, "09:00-19:00", &[]);
        q.sla = SlaPolicy::from_minutes(60, 12 * 60);
        // Monday 15:00; window closes Tuesday 15:00. SLA: 4 h Monday + 8 h Tuesday.
        let created = local(Mexico_City, 2026, 3, 9, 15, 0);
        let d = deadline(
            created,
            Priority::Normal,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(d.sla_due, local(Mexico_City, 2026, 3, 10, 17, 0));
        assert_eq!(d.at, local(Mexico_City, 2026, 3, 10, 14, 0));
        assert_eq!(d.bound, DeadlineBound::Window);
        assert_eq!(d.window, WindowOutlook::CanBeMet);
    }

    #[test]
    fn a_window_closing_at_night_means_before_the_office_closes() {
        let q = queue(Mexico_City, &MON_FRI, "09:00-19:00", &[]);
        // Friday 18:00: SLA 1 h Friday + 3 h Monday; window closes Saturday 18:00.
        let created = local(Mexico_City, 2026, 3, 13, 18, 0);
        let d = deadline(
            created,
            Priority::Normal,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(d.sla_due, local(Mexico_City, 2026, 3, 16, 12, 0));
        assert_eq!(d.window_bound, Some(local(Mexico_City, 2026, 3, 14, 17, 0)));
        assert_eq!(
            (d.at, d.bound),
            (
                local(Mexico_City, 2026, 3, 13, 19, 0),
                DeadlineBound::Window
            )
        );
        // Tuesday 23:30: window closes Wednesday 23:30; SLA is Wednesday 13:00.
        let created = local(Mexico_City, 2026, 3, 10, 23, 30);
        let d = deadline(
            created,
            Priority::Normal,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(
            (d.at, d.bound),
            (local(Mexico_City, 2026, 3, 11, 13, 0), DeadlineBound::Sla)
        );
    }

    #[test]
    fn a_window_already_closing_leaves_the_sla() {
        let q = queue(Mexico_City, &MON_FRI, "09:00-19:00", &[]);
        let created = local(Mexico_City, 2026, 3, 9, 10, 0);
        let closes = created + Duration::minutes(30);
        let d = deadline(created, Priority::Normal, &q, Some(closes), HOUR);
        assert_eq!(
            (d.at, d.bound, d.window),
            (
                local(Mexico_City, 2026, 3, 9, 14, 0),
                DeadlineBound::Sla,
                WindowOutlook::AlreadyClosing
            )
        );
        let d = deadline(created, Priority::Normal, &q, None, HOUR);
        assert_eq!(
            (d.at, d.window),
            (
                local(Mexico_City, 2026, 3, 9, 14, 0),
                WindowOutlook::NoWindow
            )
        );
    }

    #[test]
    fn holidays_are_not_business_time() {
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        let q = queue(Mexico_City, &MON_FRI, "09:00-19:00", &[christmas]);
        // Thursday 24 December 18:00: 1 h Thursday, Friday is Christmas, 3 h Monday.
        let created = local(Mexico_City, 2026, 12, 24, 18, 0);
        let d = deadline(created, Priority::Normal, &q, None, HOUR);
        assert_eq!(d.sla_due, local(Mexico_City, 2026, 12, 28, 12, 0));
        // With the window, Thursday's close is the last chance.
        let d = deadline(
            created,
            Priority::Normal,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(
            (d.at, d.bound),
            (
                local(Mexico_City, 2026, 12, 24, 19, 0),
                DeadlineBound::Window
            )
        );
        // Urgent at 10:00 on Christmas itself: Monday 09:15, window unreachable.
        let created = local(Mexico_City, 2026, 12, 25, 10, 0);
        let d = deadline(
            created,
            Priority::High,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(
            (d.at, d.window),
            (
                local(Mexico_City, 2026, 12, 28, 9, 15),
                WindowOutlook::NoAgentBefore
            )
        );
    }

    #[test]
    fn madrid_spring_forward_counts_real_hours() {
        let q = queue(Madrid, &MON_FRI, "09:00-19:00", &[]);
        // Friday 27 March 18:00 CET: 1 h Friday + 3 h Monday 30 March (CEST).
        let created = local(Madrid, 2026, 3, 27, 18, 0);
        let d = deadline(created, Priority::Normal, &q, None, HOUR);
        assert_eq!(d.sla_due, local(Madrid, 2026, 3, 30, 12, 0));
        // A 24/7 queue on the night of the change: 01:30 CET + 1 h is 03:30 CEST.
        let mut q = queue(Madrid, &[true; 7], "00:00-24:00", &[]);
        q.sla = SlaPolicy::from_minutes(60, 240);
        let created = local(Madrid, 2026, 3, 29, 1, 30);
        let d = deadline(
            created,
            Priority::High,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        assert_eq!(d.at, local(Madrid, 2026, 3, 29, 3, 30));
        // The window closes 24 real hours later: 02:30 CEST on Monday.
        assert_eq!(d.window_bound, Some(local(Madrid, 2026, 3, 30, 1, 30)));
    }

    #[test]
    fn madrid_fall_back_adds_an_hour_to_the_night() {
        let q = queue(Madrid, &[true; 7], "00:00-24:00", &[]);
        // Sunday 25 October 01:30 CEST + 4 h is 04:30 CET (02:xx happens twice).
        let created = local(Madrid, 2026, 10, 25, 1, 30);
        let d = deadline(created, Priority::Normal, &q, None, HOUR);
        assert_eq!(d.at, local(Madrid, 2026, 10, 25, 4, 30));
        assert_eq!(d.at - created, Duration::hours(4));
    }

    #[test]
    fn santiago_window_closes_an_hour_earlier_on_the_local_clock() {
        // Chile leaves summer time on Sunday 5 April 2026 at 00:00 (-03 → -04).
        let q = queue(Santiago, &MON_SAT, "08:00-20:00", &[]);
        let created = local(Santiago, 2026, 4, 4, 19, 30); // Saturday
        let d = deadline(
            created,
            Priority::Normal,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        // 24 h later the local clock reads 18:30, minus the margin 17:30.
        assert_eq!(d.window_bound, Some(local(Santiago, 2026, 4, 5, 17, 30)));
        // SLA: 30 min Saturday, 3 h 30 min Monday.
        assert_eq!(d.sla_due, local(Santiago, 2026, 4, 6, 11, 30));
        assert_eq!(
            (d.at, d.bound),
            (local(Santiago, 2026, 4, 4, 20, 0), DeadlineBound::Window)
        );
    }

    #[test]
    fn several_periods_a_day_pause_the_sla() {
        let mut q = queue(Mexico_City, &MON_FRI, "09:00-14:00", &[]);
        let lunch = || {
            vec![
                Period::parse("09:00-14:00").unwrap(),
                Period::parse("16:00-19:00").unwrap(),
            ]
        };
        let week = std::array::from_fn(|i| if i < 5 { lunch() } else { vec![] });
        q.hours = BusinessHours::new(Mexico_City, week, []).unwrap();
        let created = local(Mexico_City, 2026, 3, 9, 13, 0);
        let d = deadline(
            created,
            Priority::Normal,
            &q,
            Some(created + Duration::hours(24)),
            HOUR,
        );
        // 1 h before lunch, 3 h after it.
        assert_eq!(
            (d.at, d.bound),
            (local(Mexico_City, 2026, 3, 9, 19, 0), DeadlineBound::Sla)
        );
    }

    #[test]
    fn the_agent_window_is_seven_days_on_messenger() {
        let last = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let now = last + Duration::hours(30);
        let wa = Window::at(Channel::Whatsapp, Some(last), None, None, now);
        assert_eq!(
            agent_window_closes_at(&wa, now),
            Some(last + Duration::hours(24))
        );
        let fb = Window::at(Channel::Messenger, Some(last), None, None, now);
        assert_eq!(
            agent_window_closes_at(&fb, now),
            Some(last + Duration::days(7))
        );
        // Meta closed the WhatsApp window early: it counts as closing now.
        let early = last + Duration::hours(2);
        let wa = Window::at(
            Channel::Whatsapp,
            Some(last),
            Some(last + Duration::hours(1)),
            None,
            early,
        );
        assert_eq!(agent_window_closes_at(&wa, early), Some(early));
        let never = Window::at(Channel::Whatsapp, None, None, None, now);
        assert_eq!(agent_window_closes_at(&never, now), None);
    }

    #[test]
    fn priorities_follow_triage() {
        assert_eq!(Priority::for_class(TriageClass::Urgent), Priority::High);
        assert_eq!(Priority::for_class(TriageClass::Human), Priority::Normal);
        assert_eq!(Priority::High.as_str(), "high");
    }
}
