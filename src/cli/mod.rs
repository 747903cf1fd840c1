//! The command line: `serve`, `chat`, `kb`, `eval`, `token`.
