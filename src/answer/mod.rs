//! answer (being built).
