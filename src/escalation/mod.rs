//! Escalation: queues, priorities, SLA policies, business hours and deadlines.
//!
//! (Being built.)

use serde::Deserialize;

/// Queues and policies (`[escalation]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EscalationConfig {}

impl EscalationConfig {
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
