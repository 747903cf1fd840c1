//! The `[escalation]` configuration section and its check at start.
//!
//! The section is read as plain strings and numbers (so a mistake is
//! reported by [`EscalationConfig::validate`] with the exact key, e.g.
//! `escalation.queues[1].hours.mon[0]`, rather than by serde somewhere in a
//! nested value) and then compiled by [`EscalationConfig::policies`] into the
//! typed [`Policies`] the rest of escalation works with. Validation *is*
//! compilation, so what passes at start is exactly what runs.
//!
//! Every field has a default, so an empty configuration works: with no
//! `[[escalation.queues]]` there is one queue named `default_queue`
//! (`support`) open 24/7 in UTC, so the default service always has agents
//! "on" and deadlines are plain SLA minutes, bounded by the window.
//!
//! ```toml
//! [escalation]
//! default_queue = "support"
//! window_margin_minutes = 60      # deadline = window close minus this
//! keepalive_before_minutes = 90   # keep-alive this long before the window closes
//! followup_after_minutes = 1440   # remind the customer after a day of silence
//! sla_warning_before_minutes = 10 # warn agents this long before a deadline (0: never)
//! sla = { urgent_minutes = 15, normal_minutes = 240 }
//!
//! [[escalation.queues]]
//! name = "support"
//! time_zone = "America/Mexico_City"
//! holidays = ["2026-12-25", "2027-01-01"]
//! sla = { urgent_minutes = 10 }   # optional, per priority, else the global one
//! [escalation.queues.hours]       # days left out are closed
//! mon = ["09:00-19:00"]
//! tue = ["09:00-19:00"]
//! wed = ["09:00-19:00"]
//! thu = ["09:00-19:00"]
//! fri = ["09:00-19:00"]
//! sat = ["09:00-14:00", "16:00-18:00"]
//!
//! [[escalation.templates]]
//! name = "case_reopen"
//! language = "es_MX"
//! category = "utility"
//! purpose = "reengagement"
//! body_params = ["customer_name"]
//! ```
//!
//! Periods are `HH:MM-HH:MM` on a 24-hour clock and may not cross midnight:
//! a night shift is `mon = ["22:00-24:00"]` plus `tue = ["00:00-06:00"]`
//! (adjacent periods join into one).

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::Deserialize;

use super::deadline::{Priority, SlaPolicy};
use super::hours::{BusinessHours, Period, PeriodError, ScheduleError};
use super::templates::{Template, TemplateConfig, validate_templates};

/// Queues and policies (`[escalation]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Queue for cases whose article names no queue.
    /// `VENTANA_ESCALATION__DEFAULT_QUEUE`.
    pub default_queue: String,
    /// The deadline is at the latest this long before the window closes, so
    /// an agent's reply still goes out as a free-form message.
    /// `VENTANA_ESCALATION__WINDOW_MARGIN_MINUTES`.
    pub window_margin_minutes: u32,
    /// A keep-alive message goes out this long before the window closes
    /// while a case waits. `VENTANA_ESCALATION__KEEPALIVE_BEFORE_MINUTES`.
    pub keepalive_before_minutes: u32,
    /// A follow-up reminder goes out after this long without a customer
    /// reply to an agent. `VENTANA_ESCALATION__FOLLOWUP_AFTER_MINUTES`.
    pub followup_after_minutes: u32,
    /// Agents are warned (a notification) this long before a case's
    /// deadline; 0 turns warnings off.
    /// `VENTANA_ESCALATION__SLA_WARNING_BEFORE_MINUTES`.
    pub sla_warning_before_minutes: u32,
    /// First-response SLA per priority, counted in business hours.
    pub sla: SlaConfig,
    /// Named queues with their hours (`[[escalation.queues]]`).
    pub queues: Vec<QueueConfig>,
    /// Approved WhatsApp templates (`[[escalation.templates]]`).
    pub templates: Vec<TemplateConfig>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            default_queue: "support".to_owned(),
            window_margin_minutes: 60,
            keepalive_before_minutes: 90,
            followup_after_minutes: 24 * 60,
            sla_warning_before_minutes: 10,
            sla: SlaConfig::default(),
            queues: Vec::new(),
            templates: Vec::new(),
        }
    }
}

/// First-response time per priority (`[escalation.sla]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Priority `high` (triage class urgent).
    pub urgent_minutes: u32,
    /// Priority `normal` (triage class human).
    pub normal_minutes: u32,
}

impl Default for SlaConfig {
    fn default() -> Self {
        Self {
            urgent_minutes: 15,
            normal_minutes: 240,
        }
    }
}

/// A queue's override of the SLA; a priority left out uses `[escalation.sla]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaOverride {
    pub urgent_minutes: Option<u32>,
    pub normal_minutes: Option<u32>,
}

/// One queue (`[[escalation.queues]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// What articles' `queue` and the agent API call it.
    pub name: String,
    /// IANA zone of the hours and holidays, e.g. `America/Mexico_City`
    /// (default `UTC`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Open periods per weekday; a day left out is closed.
    #[serde(default)]
    pub hours: WeekConfig,
    /// Closed days, `YYYY-MM-DD`, in the queue's zone.
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub sla: SlaOverride,
}

/// Periods per weekday, each `HH:MM-HH:MM`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeekConfig {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

impl WeekConfig {
    /// Days Monday first, with their key names.
    fn days(&self) -> [(&'static str, &[String]); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

/// One queue, compiled: its hours and SLA.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePolicy {
    pub name: String,
    pub hours: BusinessHours,
    pub sla: SlaPolicy,
}

/// The compiled `[escalation]` section: queues by name, templates and margins.
#[derive(Debug, Clone)]
pub struct Policies {
    queues: BTreeMap<String, QueuePolicy>,
    default_queue: String,
    pub window_margin: Duration,
    pub keepalive_before: Duration,
    pub followup_after: Duration,
    /// How long before a deadline agents are warned; zero: never.
    pub sla_warning_before: Duration,
    pub templates: Vec<Template>,
}

impl Policies {
    /// The queue with this name, if configured.
    pub fn queue(&self, name: &str) -> Option<&QueuePolicy> {
        self.queues.get(name)
    }

    /// The queue an article asked for, or the default queue when it named
    /// none or one that does not exist (the knowledge check reports those).
    pub fn route(&self, requested: Option<&str>) -> &QueuePolicy {
        requested
            .and_then(|name| self.queues.get(name))
            .unwrap_or_else(|| self.default_queue())
    }

    pub fn default_queue(&self) -> &QueuePolicy {
        &self.queues[&self.default_queue]
    }

    /// Names of all queues, sorted.
    pub fn queue_names(&self) -> impl Iterator<Item = &str> {
        self.queues.keys().map(String::as_str)
    }
}

impl EscalationConfig {
    /// Checks the section; the error names the exact key.
    pub fn validate(&self) -> Result<(), String> {
        self.policies().map(|_| ())
    }

    /// Compiles the section into [`Policies`]; the error names the exact key.
    pub fn policies(&self) -> Result<Policies, String> {
        let default_queue = self.default_queue.trim();
        if !is_queue_name(default_queue) {
            return Err(format!(
                "escalation.default_queue: {:?} must be a non-empty name without spaces",
                self.default_queue
            ));
        }
        for (key, minutes) in [
            ("sla.urgent_minutes", self.sla.urgent_minutes),
            ("sla.normal_minutes", self.sla.normal_minutes),
            ("keepalive_before_minutes", self.keepalive_before_minutes),
            ("followup_after_minutes", self.followup_after_minutes),
        ] {
            if minutes == 0 {
                return Err(format!("escalation.{key}: must be at least 1"));
            }
        }
        // The window is 24 h; a margin or keep-alive that long leaves no time.
        for (key, minutes) in [
            ("window_margin_minutes", self.window_margin_minutes),
            ("keepalive_before_minutes", self.keepalive_before_minutes),
            (
                "sla_warning_before_minutes",
                self.sla_warning_before_minutes,
            ),
        ] {
            if minutes >= 24 * 60 {
                return Err(format!(
                    "escalation.{key}: must be less than 1440 (the 24 h window)"
                ));
            }
        }

        let mut queues = BTreeMap::new();
        for (i, queue) in self.queues.iter().enumerate() {
            let policy = compile_queue(i, queue, self.sla)?;
            if queues.contains_key(&policy.name) {
                return Err(format!(
                    "escalation.queues[{i}].name: {:?} is defined twice",
                    policy.name
                ));
            }
            queues.insert(policy.name.clone(), policy);
        }
        if queues.is_empty() {
            queues.insert(
                default_queue.to_owned(),
                QueuePolicy {
                    name: default_queue.to_owned(),
                    hours: BusinessHours::always_open(chrono_tz::UTC),
                    sla: SlaPolicy::from_minutes(self.sla.urgent_minutes, self.sla.normal_minutes),
                },
            );
        } else if !queues.contains_key(default_queue) {
            let names: Vec<&str> = queues.keys().map(String::as_str).collect();
            return Err(format!(
                "escalation.default_queue: {default_queue:?} is not one of the configured queues ({})",
                names.join(", ")
            ));
        }

        let templates = validate_templates(&self.templates)?;
        Ok(Policies {
            queues,
            default_queue: default_queue.to_owned(),
            window_margin: minutes(self.window_margin_minutes),
            keepalive_before: minutes(self.keepalive_before_minutes),
            followup_after: minutes(self.followup_after_minutes),
            sla_warning_before: minutes(self.sla_warning_before_minutes),
            templates,
        })
    }
}

fn minutes(m: u32) -> Duration {
    Duration::minutes(i64::from(m))
}

/// Queue names appear in article front matter and URLs: no blanks.
fn is_queue_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace)
}

fn compile_queue(i: usize, queue: &QueueConfig, global: SlaConfig) -> Result<QueuePolicy, String> {
    let key = format!("escalation.queues[{i}]");
    let name = queue.name.trim();
    if !is_queue_name(name) {
        return Err(format!(
            "{key}.name: {:?} must be a non-empty name without spaces",
            queue.name
        ));
    }
    let zone: Tz = queue.time_zone.trim().parse().map_err(|_| {
        format!(
            "{key}.time_zone: {:?} is not an IANA time zone (e.g. America/Mexico_City)",
            queue.time_zone
        )
    })?;

    let mut week: [Vec<Period>; 7] = Default::default();
    for ((day, texts), periods) in queue.hours.days().into_iter().zip(week.iter_mut()) {
        for (j, text) in texts.iter().enumerate() {
            let period = Period::parse(text).map_err(|e| match e {
                PeriodError::Malformed => format!("{key}.hours.{day}[{j}]: {text:?} is not HH:MM-HH:MM"),
                PeriodError::Inverted => format!(
                    "{key}.hours.{day}[{j}]: {text:?} ends before it starts (periods may not cross midnight; \
                     split them at 24:00)"
                ),
            })?;
            periods.push(period);
        }
    }

    let mut holidays = HashSet::new();
    for (j, text) in queue.holidays.iter().enumerate() {
        let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{key}.holidays[{j}]: {text:?} is not a date YYYY-MM-DD"))?;
        if !holidays.insert(date) {
            return Err(format!("{key}.holidays[{j}]: {text:?} is listed twice"));
        }
    }

    let hours = BusinessHours::new(zone, week, holidays).map_err(|e| match e {
        ScheduleError::Overlap { weekday } => {
            let day = queue.hours.days()[weekday.num_days_from_monday() as usize].0;
            format!("{key}.hours.{day}: periods overlap")
        }
        ScheduleError::NeverOpen => format!(
            "{key}.hours: no open period on any day (e.g. mon = [\"09:00-18:00\"]); \
             the queue would never answer"
        ),
    })?;

    let urgent = queue.sla.urgent_minutes.unwrap_or(global.urgent_minutes);
    let normal = queue.sla.normal_minutes.unwrap_or(global.normal_minutes);
    for (priority, m) in [(Priority::High, urgent), (Priority::Normal, normal)] {
        if m == 0 {
            let field = match priority {
                Priority::High => "urgent_minutes",
                Priority::Normal => "normal_minutes",
            };
            return Err(format!("{key}.sla.{field}: must be at least 1"));
        }
    }
    Ok(QueuePolicy {
        name: name.to_owned(),
        hours,
        sla: SlaPolicy::from_minutes(urgent, normal),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::templates::{TemplateCategory, TemplatePurpose};
    use chrono::{TimeZone, Utc};

    const EXAMPLE: &str = r#"
[escalation]
default_queue = "support"
window_margin_minutes = 45
keepalive_before_minutes = 120
followup_after_minutes = 720
sla = { urgent_minutes = 20, normal_minutes = 180 }

[[escalation.queues]]
name = "support"
time_zone = "America/Mexico_City"
holidays = ["2026-12-25", "2027-01-01"]
[escalation.queues.hours]
mon = ["09:00-19:00"]
tue = ["09:00-19:00"]
wed = ["09:00-19:00"]
thu = ["09:00-19:00"]
fri = ["09:00-19:00"]
sat = ["09:00-14:00", "16:00-18:00"]

[[escalation.queues]]
name = "billing"
time_zone = "America/Sao_Paulo"
sla = { urgent_minutes = 10 }
hours = { mon = ["08:00-12:00", "13:00-17:00"], fri = ["08:00-12:00"] }

[[escalation.templates]]
name = "case_reopen"
language = "es_MX"
category = "utility"
purpose = "reengagement"
body_params = ["customer_name"]

[[escalation.templates]]
name = "case_reopen"
language = "pt_BR"
category = "utility"
purpose = "reengagement"
body_params = ["customer_name"]
"#;

    /// Reads TOML text (and environment pairs) the way `Config::load_from` does.
    fn load(toml: &str, env: &[(&str, &str)]) -> Result<EscalationConfig, String> {
        let env: config::Map<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let raw = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("VENTANA")
                    .prefix_separator("_")
                    .separator("__")
                    .source(Some(env)),
            )
            .build()
            .map_err(|e| e.to_string())?;
        #[derive(Deserialize)]
        struct Root {
            #[serde(default)]
            escalation: EscalationConfig,
        }
        let root: Root = raw.try_deserialize().map_err(|e| e.to_string())?;
        Ok(root.escalation)
    }

    fn error_of(toml: &str) -> String {
        load(toml, &[]).unwrap().validate().unwrap_err()
    }

    #[test]
    fn the_full_example_parses_and_compiles() {
        let config = load(EXAMPLE, &[]).unwrap();
        let policies = config.policies().unwrap();
        assert_eq!(policies.window_margin, Duration::minutes(45));
        assert_eq!(policies.keepalive_before, Duration::minutes(120));
        assert_eq!(policies.followup_after, Duration::minutes(720));
        assert_eq!(
            policies.queue_names().collect::<Vec<_>>(),
            ["billing", "support"]
        );

        let support = policies.queue("support").unwrap();
        assert_eq!(support.hours.zone(), chrono_tz::America::Mexico_City);
        assert_eq!(support.hours.periods(chrono::Weekday::Sat).len(), 2);
        assert!(
            support
                .hours
                .is_holiday(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap())
        );
        assert_eq!(
            support.sla.first_response(Priority::High),
            Duration::minutes(20)
        );

        // The billing queue overrides only the urgent SLA.
        let billing = policies.route(Some("billing"));
        assert_eq!(
            billing.sla.first_response(Priority::High),
            Duration::minutes(10)
        );
        assert_eq!(
            billing.sla.first_response(Priority::Normal),
            Duration::minutes(180)
        );
        // Monday 12:30 in São Paulo is the lunch break.
        let lunch = chrono_tz::America::Sao_Paulo
            .with_ymd_and_hms(2026, 3, 2, 12, 30, 0)
            .unwrap();
        assert!(!billing.hours.is_open(lunch.with_timezone(&Utc)));

        assert_eq!(policies.route(Some("nope")).name, "support");
        assert_eq!(policies.route(None).name, "support");
        assert_eq!(policies.templates.len(), 2);
        assert_eq!(policies.templates[0].category, TemplateCategory::Utility);
        assert_eq!(policies.templates[1].purpose, TemplatePurpose::Reengagement);
    }

    #[test]
    fn an_empty_section_is_one_support_queue_open_all_the_time() {
        let config = load("", &[]).unwrap();
        let policies = config.policies().unwrap();
        let support = policies.default_queue();
        assert_eq!(support.name, "support");
        assert_eq!(support.hours, BusinessHours::always_open(chrono_tz::UTC));
        assert_eq!(
            support.sla.first_response(Priority::High),
            Duration::minutes(15)
        );
        assert_eq!(
            support.sla.first_response(Priority::Normal),
            Duration::minutes(240)
        );
        assert_eq!(policies.window_margin, Duration::minutes(60));
        assert_eq!(policies.keepalive_before, Duration::minutes(90));
        assert_eq!(policies.sla_warning_before, Duration::minutes(10));
    }

    #[test]
    fn environment_overrides_scalar_keys() {
        let config = load(
            "",
            &[
                ("VENTANA_ESCALATION__WINDOW_MARGIN_MINUTES", "30"),
                ("VENTANA_ESCALATION__SLA__URGENT_MINUTES", "5"),
                ("VENTANA_ESCALATION__DEFAULT_QUEUE", "help"),
            ],
        )
        .unwrap();
        let policies = config.policies().unwrap();
        assert_eq!(policies.window_margin, Duration::minutes(30));
        assert_eq!(policies.default_queue().name, "help");
        assert_eq!(
            policies.default_queue().sla.first_response(Priority::High),
            Duration::minutes(5)
        );
    }

    #[test]
    fn the_whole_configuration_loads_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let config = crate::config::Config::load_from(Some(&path), Vec::new()).unwrap();
        assert_eq!(config.escalation.queues.len(), 2);
        let bad = EXAMPLE.replace("\"09:00-14:00\", \"16:00-18:00\"", "\"9-14\"");
        std::fs::write(&path, bad).unwrap();
        let err = crate::config::Config::load_from(Some(&path), Vec::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("escalation.queues[0].hours.sat[0]"),
            "{err}"
        );
    }

    fn queue(body: &str) -> String {
        format!(
            "[[escalation.queues]]\nname = \"support\"\nhours = {{ mon = [\"09:00-18:00\"] }}\n[[escalation.queues]]\n{body}"
        )
    }

    #[test]
    fn mistakes_name_the_exact_key() {
        let cases = [
            (
                queue("name = \"b\"\nhours = { mon = [\"9-19\"] }"),
                "escalation.queues[1].hours.mon[0]: \"9-19\" is not HH:MM-HH:MM",
            ),
            (
                queue("name = \"b\"\nhours = { tue = [\"09:00-12:00\", \"19:00-02:00\"] }"),
                "escalation.queues[1].hours.tue[1]: \"19:00-02:00\" ends before it starts",
            ),
            (
                queue("name = \"b\"\nhours = { wed = [\"09:00-13:00\", \"12:00-18:00\"] }"),
                "escalation.queues[1].hours.wed: periods overlap",
            ),
            (
                queue(
                    "name = \"b\"\ntime_zone = \"Mars/Olympus\"\nhours = { mon = [\"09:00-18:00\"] }",
                ),
                "escalation.queues[1].time_zone: \"Mars/Olympus\" is not an IANA time zone",
            ),
            (
                queue("name = \"support\"\nhours = { mon = [\"09:00-18:00\"] }"),
                "escalation.queues[1].name: \"support\" is defined twice",
            ),
            (
                queue(
                    "name = \"b\"\nhours = { mon = [\"09:00-18:00\"] }\nholidays = [\"25/12/2026\"]",
                ),
                "escalation.queues[1].holidays[0]: \"25/12/2026\" is not a date YYYY-MM-DD",
            ),
            (
                queue("name = \"b\""),
                "escalation.queues[1].hours: no open period",
            ),
            (
                queue(
                    "name = \"b\"\nhours = { mon = [\"09:00-18:00\"] }\nsla = { normal_minutes = 0 }",
                ),
                "escalation.queues[1].sla.normal_minutes: must be at least 1",
            ),
            (
                "[escalation]\ndefault_queue = \"sales\"\n".to_owned()
                    + &queue("name = \"b\"\nhours = { mon = [\"09:00-18:00\"] }"),
                "escalation.default_queue: \"sales\" is not one of the configured queues (b, support)",
            ),
            (
                "[escalation]\nwindow_margin_minutes = 1440\n".to_owned(),
                "escalation.window_margin_minutes: must be less than 1440",
            ),
            (
                "[escalation]\nsla_warning_before_minutes = 2000\n".to_owned(),
                "escalation.sla_warning_before_minutes: must be less than 1440",
            ),
        ];
        for (toml, expected) in cases {
            let err = error_of(&toml);
            assert!(
                err.starts_with(expected),
                "expected {expected:?}, got {err:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load(
            "[[escalation.queues]]\nname = \"a\"\nhours = { monday = [\"09:00-18:00\"] }",
            &[],
        )
        .unwrap_err();
        assert!(err.contains("monday"), "{err}");
    }
}
