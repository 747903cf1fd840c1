//! In-process fakes of the outside APIs (Graph API, OpenAI-compatible
//! server) used by the tests and benchmarks.

pub mod fake_graph;
pub mod fake_openai;
pub mod hang_up;
