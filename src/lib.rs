//! ventana: an auto-responder for WhatsApp Cloud API and Messenger.
//!
//! Meta's webhooks come in through [`http`], are checked and normalized by
//! [`channels`] and committed to the [`store`] before Meta gets its 200. The
//! [`pipeline`] worker takes each conversation's new messages in order,
//! [`triage`] classifies them, [`answer`] replies from the [`knowledge`] base
//! or [`escalation`] hands the case to a person, and every outbound message
//! leaves through the outbox and the sender in [`sender`]. The
//! [`conversation`] module owns the 24-hour window; [`scheduler`] fires the
//! timers that keep it open. [`startup`] wires it all into one application
//! that `main` and the tests build the same way.

/// jemalloc instead of glibc's malloc, for the binary, its tests and its
/// benchmarks alike (so the benchmarks measure what the service runs). At
/// 10,000 articles, glibc's free lists took about a tenth of the query
/// time (Qdrant allocates large per-query buffers) and its per-thread
/// arenas kept freed memory: `BENCHMARKS.md`, "Allocator".
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at start (`_RJEM_MALLOC_CONF` in the
/// environment overrides them). Freed pages go back to the system after
/// about 100 ms, from jemalloc's own background thread, instead of after
/// jemalloc's default 10 s: a knowledge-base build frees large transient
/// buffers (each sealed segment's in-RAM index) and held them while the
/// next ones were made, about 40 MB of the 10,000-article peak
/// (`BENCHMARKS.md`, "Allocator"). Back-to-back work (queries, intake)
/// reuses its buffers well within 100 ms, so it does not pay for this.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8] =
    b"background_thread:true,max_background_threads:1,dirty_decay_ms:100,muzzy_decay_ms:0\0";

pub mod answer;
pub mod case;
pub mod channels;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod corpus;
pub mod escalation;
pub mod faults;
pub mod http;
pub mod knowledge;
pub mod llm;
pub mod notify;
pub mod pipeline;
pub mod prompts;
pub mod scheduler;
pub mod sender;
pub mod startup;
pub mod store;
#[cfg(test)]
mod structure_tests;
pub(crate) mod telemetry;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod triage;
pub mod vocab;
pub mod wakeups;
pub(crate) mod worker;
