//! Escalation: queues, priorities, SLA policies, business hours, deadlines,
//! and what the customer is told when a case goes to a person.
//!
//! This is the pure core: no storage, no clock, no I/O. Everything takes
//! the instants it needs (`now`, the case's creation, the window's close)
//! so the scheduler, the agent API and tests compute the same answers.
//!
//! - [`config`]: the `[escalation]` section, checked and compiled into [`Policies`];
//! - [`hours`]: business hours of a queue over UTC instants (time zones, DST, holidays);
//! - [`deadline`]: the first-response deadline, the earlier of SLA and window;
//! - [`notice`]: out-of-hours notice and "when will a person answer" decisions;
//! - [`text`] and [`wording`]: those decisions in Spanish, Portuguese and English;
//! - [`templates`]: approved WhatsApp templates, their selection and parameters.

pub mod config;
pub mod deadline;
pub mod hours;
pub mod notice;
pub mod templates;
pub mod text;
pub mod wording;

pub use config::{EscalationConfig, Policies, QueueConfig, QueuePolicy, SlaConfig};
pub use deadline::{
    Deadline, DeadlineBound, Priority, SlaPolicy, WindowOutlook, agent_window_closes_at, deadline,
};
pub use hours::{BusinessHours, Period};
pub use notice::{
    ExpectedReply, OutOfHoursNotice, agent_on_before, expected_reply, out_of_hours_notice,
};
pub use templates::{
    BodyParameter, Template, TemplateCategory, TemplateError, TemplatePurpose, templates_for,
};
pub use text::{
    describe_opening_hours, expected_reply_phrase, expected_reply_text, out_of_hours_text,
};
pub use wording::Wording;
