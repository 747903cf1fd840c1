//! The `ventana` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let _faults = ventana::faults::setup();
    let cli = ventana::cli::Cli::parse();
    match ventana::cli::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ventana: {error:#}");
            ExitCode::FAILURE
        }
    }
}
