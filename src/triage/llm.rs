//! LLM triage (being built).
