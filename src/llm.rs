//! OpenAI-compatible LLM client (being built).
