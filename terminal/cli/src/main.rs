//! `cosigner`: parses the command line, runs it, prints the one error line, and exits with
//! the documented code.

use std::process::ExitCode;

use clap::Parser as _;

use cosigner_cli::cli::Cli;
use cosigner_cli::config::Env;
use cosigner_cli::error::exit;

fn main() -> ExitCode {
    // Usage errors exit with 2 from here, help and version with 0.
    let cli = Cli::parse();
    let env = Env::from_process();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cosigner could not start: {err}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(cosigner_cli::run(cli, env)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            eprintln!("{}", failure.line());
            ExitCode::from(failure.exit_code())
        }
    }
}
