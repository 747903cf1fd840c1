//! Durable state on SQLite (embedded default) or PostgreSQL.

/// The database handle (placeholder).
#[derive(Clone, Debug)]
pub struct Store {}
