//! The `cos-local` binary: reads the options, sets up logging, and runs the server.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cos_local::config::{Config, Options};

fn main() -> ExitCode {
    let options = Options::parse();
    let config = match Config::load(options) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cos-local: {error}");
            return ExitCode::from(2);
        }
    };

    let filter = config
        .log
        .as_deref()
        .map(EnvFilter::try_new)
        .unwrap_or_else(|| {
            EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info"))
        });
    let filter = match filter {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!("cos-local: the log filter is not valid: {error}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cos-local: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cos_local::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(cause = %message, "cos-local stopped");
            eprintln!("cos-local: {message}");
            ExitCode::FAILURE
        }
    }
}
