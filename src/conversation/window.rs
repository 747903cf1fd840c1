//! The messaging window rules of META.md as pure functions of time.
//!
//! WhatsApp and Messenger accept free-form messages for 24 hours after the
//! customer's last message. After that WhatsApp takes only templates and
//! Messenger only `MESSAGE_TAG` (`HUMAN_AGENT` up to 7 days after the last
//! customer message). A click-to-WhatsApp ad answered within 24 hours opens a
//! 72-hour free entry point window (free pricing; free-form still needs the
//! 24-hour window). A window error from Meta closes the window whatever the
//! clock says, until the customer writes again.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::channels::model::Channel;

/// Customer service window length.
pub const SERVICE_WINDOW: Duration = Duration::hours(24);
/// Messenger `HUMAN_AGENT` tag limit after the customer's last message.
pub const HUMAN_AGENT_WINDOW: Duration = Duration::days(7);
/// Free entry point window opened by replying to a click-to-WhatsApp ad.
pub const FREE_ENTRY_WINDOW: Duration = Duration::hours(72);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    /// Free-form messages are allowed.
    Open,
    /// Only templates (WhatsApp) or tagged messages (Messenger).
    Closed,
    /// The customer never wrote: nothing free-form was ever allowed.
    NeverOpened,
}

/// The window of one conversation at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub state: WindowState,
    /// When the customer service window closes (or closed).
    pub closes_at: Option<DateTime<Utc>>,
    /// Meta reported the window closed before our clock did.
    pub closed_by_error: bool,
    /// Messenger: `HUMAN_AGENT` tagged replies are allowed until then.
    pub human_agent_until: Option<DateTime<Utc>>,
    /// WhatsApp: the free entry point window, if one is running.
    pub free_entry_until: Option<DateTime<Utc>>,
}

impl Window {
    /// Computes the window from the stored facts.
    pub fn at(
        channel: Channel,
        last_customer_message_at: Option<DateTime<Utc>>,
        window_error_at: Option<DateTime<Utc>>,
        free_entry_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Window {
        let Some(last) = last_customer_message_at else {
            return Window {
                state: WindowState::NeverOpened,
                closes_at: None,
                closed_by_error: false,
                human_agent_until: None,
                free_entry_until: None,
            };
        };
        let closes_at = last + SERVICE_WINDOW;
        let closed_by_error = window_error_at.is_some_and(|e| e >= last) && now < closes_at;
        let state = if now < closes_at && !closed_by_error {
            WindowState::Open
        } else {
            WindowState::Closed
        };
        Window {
            state,
            closes_at: Some(closes_at),
            closed_by_error,
            human_agent_until: channel
                .is_messenger_platform()
                .then_some(last + HUMAN_AGENT_WINDOW),
            free_entry_until: free_entry_until.filter(|until| *until > now),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == WindowState::Open
    }

    /// Messenger: may a human agent still reply with the `HUMAN_AGENT` tag?
    pub fn allows_human_agent_tag(&self, now: DateTime<Utc>) -> bool {
        self.human_agent_until.is_some_and(|until| now < until)
    }

    /// Time left before the window closes, if it is open.
    pub fn time_left(&self, now: DateTime<Utc>) -> Option<Duration> {
        match (self.state, self.closes_at) {
            (WindowState::Open, Some(closes)) => Some(closes - now),
            _ => None,
        }
    }
}

/// Whether a Graph API error code means "outside the allowed window"
/// (WhatsApp 131047; Messenger code 10 with subcode 2018278).
pub fn is_window_error(channel: Channel, code: i64, subcode: Option<i64>) -> bool {
    match channel {
        Channel::Whatsapp => code == 131047,
        Channel::Messenger | Channel::Instagram => code == 10 && subcode == Some(2018278),
        Channel::Sandbox => false,
    }
}

/// The free entry point window opened by a reply at `replied_at` to an ad
/// referral received at `referral_at`, if the reply came in time.
pub fn free_entry_after_reply(
    referral_at: DateTime<Utc>,
    replied_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    (replied_at >= referral_at && replied_at - referral_at < SERVICE_WINDOW)
        .then(|| replied_at + FREE_ENTRY_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn open_for_24_hours_after_the_last_customer_message() {
        let w = Window::at(Channel::Whatsapp, Some(t(0)), None, None, t(23));
        assert!(w.is_open());
        assert_eq!(w.closes_at, Some(t(24)));
        assert_eq!(w.time_left(t(23)), Some(Duration::hours(1)));
        let w = Window::at(Channel::Whatsapp, Some(t(0)), None, None, t(24));
        assert_eq!(w.state, WindowState::Closed);
    }

    #[test]
    fn never_opened_without_a_customer_message() {
        let w = Window::at(Channel::Whatsapp, None, None, None, t(0));
        assert_eq!(w.state, WindowState::NeverOpened);
    }

    #[test]
    fn a_window_error_closes_it_until_the_customer_writes_again() {
        let w = Window::at(Channel::Whatsapp, Some(t(0)), Some(t(2)), None, t(3));
        assert_eq!(w.state, WindowState::Closed);
        assert!(w.closed_by_error);
        // The customer wrote after the error: open again.
        let w = Window::at(Channel::Whatsapp, Some(t(4)), Some(t(2)), None, t(5));
        assert!(w.is_open());
    }

    #[test]
    fn messenger_human_agent_tag_lasts_seven_days() {
        let w = Window::at(Channel::Messenger, Some(t(0)), None, None, t(30));
        assert_eq!(w.state, WindowState::Closed);
        assert!(w.allows_human_agent_tag(t(30)));
        assert!(!w.allows_human_agent_tag(t(24 * 7)));
        let wa = Window::at(Channel::Whatsapp, Some(t(0)), None, None, t(30));
        assert!(!wa.allows_human_agent_tag(t(30)));
    }

    #[test]
    fn window_errors_are_recognised_per_channel() {
        assert!(is_window_error(Channel::Whatsapp, 131047, None));
        assert!(!is_window_error(Channel::Whatsapp, 131026, None));
        assert!(is_window_error(Channel::Messenger, 10, Some(2018278)));
        assert!(!is_window_error(Channel::Messenger, 10, None));
    }

    #[test]
    fn free_entry_point_needs_a_reply_within_24_hours() {
        assert_eq!(free_entry_after_reply(t(0), t(5)), Some(t(77)));
        assert_eq!(free_entry_after_reply(t(0), t(25)), None);
    }
}
