//! `server-load`: runs one of the business server's speed measurements and prints its table
//! as Markdown. Build it in release beside the binaries it runs:
//!
//! ```text
//! cargo build --release -p server-load -p cosigner-local -p cos-local -p authorizer …
//! target/release/server-load issue-upload
//! target/release/server-load cold-start
//! target/release/server-load end-to-end --terminals 8,32 --seconds 15
//! ```

// A command-line tool for people: what it prints on standard output is its answer.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use cosigner_api::cause_chain;
use server_load::cold_start::{self, ColdStartOptions};
use server_load::end_to_end::{self, LoadOptions};
use server_load::handler::{self, HandlerOptions};
use server_load::{BenchError, stats};

/// Speed of the business server on this machine, each figure beside its baseline.
#[derive(Debug, Parser)]
#[command(name = "server-load")]
struct Options {
    #[command(subcommand)]
    command: Measure,
}

#[derive(Debug, Subcommand)]
enum Measure {
    /// Warm `POST /v1/uploads` through `dispatch` beside the bare `TransactWriteItems`,
    /// against `moto_server` on loopback, one request at a time.
    IssueUpload {
        /// Counted rounds; each runs the handler, the transaction and the read once.
        #[arg(long, default_value_t = 1000)]
        rounds: usize,
        /// Rounds run first and not counted.
        #[arg(long, default_value_t = 50)]
        warmup: usize,
    },
    /// Exec to first poll and to first answer of release function binaries, and the
    /// binaries' sizes.
    ColdStart {
        /// The folder of the release binaries; by default this program's own.
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Timed starts per function.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// A variable to add to the functions' environment, as NAME=VALUE (repeatable), to
        /// try a setting such as SSL_CERT_DIR.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = name_value)]
        extra_env: Vec<(String, String)>,
    },
    /// N concurrent terminals through `cosigner-local dev` beside the floor of `cos-local`
    /// alone.
    EndToEnd {
        /// The folder of the release `cosigner-local` and `cos-local`; by default this
        /// program's own.
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Numbers of concurrent terminals, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "8,32")]
        terminals: Vec<usize>,
        /// Seconds per counted phase (at most 15: this is a bounded run).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=15))]
        seconds: u64,
        /// Seconds of warm-up before each phase, not counted.
        #[arg(long, default_value_t = 2)]
        warmup_seconds: u64,
        /// Object size in bytes.
        #[arg(long, default_value_t = 64 * 1024)]
        size: usize,
    },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let options = Options::parse();
    match run(options.command).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("server-load: {}", cause_chain(&err));
            ExitCode::FAILURE
        }
    }
}

async fn run(measure: Measure) -> Result<String, BenchError> {
    let machine = format!(
        "{} cores available to this process (shared with everything else running); \
         load average at the start: {}.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        stats::load_average()
    );
    let body = match measure {
        Measure::IssueUpload { rounds, warmup } => {
            handler::log_like_lambda();
            let report = handler::measure(HandlerOptions { rounds, warmup }).await?;
            format!("## Warm POST /v1/uploads\n\n{}", report.markdown())
        }
        Measure::ColdStart {
            bin_dir,
            runs,
            extra_env,
        } => {
            let bin_dir = bin_dir.map_or_else(own_dir, Ok)?;
            let settings: Vec<String> = extra_env.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let options = ColdStartOptions {
                bin_dir,
                runs,
                extra_env,
            };
            let report = cold_start::measure(&options).await?;
            let with = if settings.is_empty() {
                String::new()
            } else {
                format!(" (with {})", settings.join(" "))
            };
            format!("## Cold start{with}\n\n{}", report.markdown())
        }
        Measure::EndToEnd {
            bin_dir,
            terminals,
            seconds,
            warmup_seconds,
            size,
        } => {
            let bin_dir = bin_dir.map_or_else(own_dir, Ok)?;
            let options = LoadOptions {
                bin_dir,
                terminals,
                phase: Duration::from_secs(seconds),
                warmup: Duration::from_secs(warmup_seconds),
                size,
            };
            let report = end_to_end::measure(&options).await?;
            format!("## End-to-end load\n\n{}", report.markdown())
        }
    };
    Ok(format!("{machine}\n\n{body}"))
}

/// Parses `NAME=VALUE`.
fn name_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// The folder this program runs from: `target/release` when built in release.
fn own_dir() -> Result<PathBuf, BenchError> {
    std::env::current_exe()
        .map_err(|e| BenchError::io("cannot tell where this program is", e))?
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| BenchError::Stack("this program has no folder".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_splits_at_its_first_equals_sign() {
        let parsed = name_value("SSL_CERT_DIR=/a=b");

        assert_eq!(parsed, Ok(("SSL_CERT_DIR".into(), "/a=b".into())));
    }

    #[test]
    fn a_setting_without_a_name_or_an_equals_sign_is_refused() {
        let no_equals = name_value("SSL_CERT_DIR");
        let no_name = name_value("=value");

        assert!(no_equals.is_err());
        assert!(no_name.is_err());
    }
}
