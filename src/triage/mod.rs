//! triage (being built).
