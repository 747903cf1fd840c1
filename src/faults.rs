//! Crash points for the crash-safety tests.
//!
//! Built on the `fail` crate: a point does nothing unless the process was
//! started with `FAILPOINTS=<name>=return`, in which case the process aborts
//! right there, the way a power cut or OOM kill would stop it. The tests use
//! this to kill the service between a commit and its response, or between a
//! Graph API send and recording it.

/// Aborts the process if the named fail point is enabled.
pub fn crash_point(name: &str) {
    if fail::eval(name, |_| ()).is_some() {
        tracing::error!(point = name, "fail point reached: aborting");
        std::process::abort();
    }
}

/// Reads `FAILPOINTS` from the environment; call once at start.
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}
