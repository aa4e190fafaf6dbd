//! `cos-local-load`: a load run of cos-local beside a plain-file baseline, in one go.
//!
//! Starts the release build of cos-local on a loopback port with a scratch data
//! directory, then, round after round and for each object size, times concurrent signed
//! PUTs and GETs against it and the same work on plain files, and prints a markdown
//! table of throughput and latency percentiles with the ratios between the two.
//!
//! # Layout
//!
//! - `workload`: sizes, payloads, keys and the plan every phase follows.
//! - `cos`: the cos-local process and its signed HTTP phases.
//! - `files`: the plain-file phases.
//! - `stats`: tallies and percentiles.
//! - `report`: the markdown.
//! - `machine`: CPU, kernel, load average, file system.

mod cos;
mod error;
mod files;
mod machine;
mod report;
mod stats;
mod workload;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cos::CosLocal;
use crate::error::BenchError;
use crate::files::FileStore;
use crate::report::{Row, Settings};
use crate::stats::PhaseResult;
use crate::workload::{Op, Plan, Workload};

/// Disk each object size may use per target: keys per client are chosen to fit it.
const DISK_BUDGET: usize = 512 * 1024 * 1024;

/// The most keys a client cycles through, whatever the size.
const MAX_KEYS_PER_CLIENT: usize = 256;

/// Load run of cos-local: concurrent signed PUT and GET of small and large objects on
/// loopback, beside the same work on plain files.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Concurrent clients (and threads for the plain files).
    #[arg(long, default_value_t = 32)]
    clients: usize,

    /// Object sizes in bytes, one phase pair each.
    #[arg(long = "size", value_name = "BYTES", default_values_t = [4096, 8 * 1024 * 1024])]
    sizes: Vec<usize>,

    /// Seconds each phase keeps starting operations.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,

    /// At most this many operations per client per phase.
    #[arg(long, default_value_t = 100_000)]
    max_ops: u64,

    /// Interleaved rounds; each target's best round is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,

    /// The cos-local binary [default: beside this one].
    #[arg(long, value_name = "PATH")]
    cos_local: Option<PathBuf>,

    /// Where the scratch directory goes (both targets' data, removed at the end).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    dir: PathBuf,

    /// Also write the results document to this file.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("cos-local-load: some operations failed; see the Errors line");
            ExitCode::FAILURE
        }
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("cos-local-load: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The whole run. `Ok(false)` when it finished but some operations failed.
fn run(args: &Args) -> Result<bool, BenchError> {
    let scratch = tempfile::Builder::new()
        .prefix("cos-local-load-")
        .tempdir_in(&args.dir)
        .map_err(|source| BenchError::Scratch {
            dir: args.dir.clone(),
            source,
        })?;
    let file_root = scratch.path().join("files");
    std::fs::create_dir(&file_root).map_err(|source| BenchError::Scratch {
        dir: scratch.path().to_owned(),
        source,
    })?;
    let mut machine = machine::describe(scratch.path());

    let binary = match &args.cos_local {
        Some(path) => path.clone(),
        None => cos::default_binary()?,
    };
    let server = CosLocal::start(&binary, &scratch.path().join("cos"))?;
    eprintln!(
        "cos-local {} (pid {}) from {}",
        server.origin(),
        server.pid(),
        binary.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    let clients = (0..args.clients)
        .map(|_| server.client())
        .collect::<Result<Vec<_>, _>>()?;
    let store = FileStore::new(&file_root);

    let plan = Plan {
        workers: args.clients.max(1),
        phase: Duration::from_secs_f64(args.seconds.max(0.0)),
        max_ops_per_worker: args.max_ops.max(1),
    };
    let workloads: Vec<Workload> = args
        .sizes
        .iter()
        .map(|&size| Workload::new(size, keys_per_client(size, plan.workers)))
        .collect();
    let mut rounds = Vec::with_capacity(args.rounds);
    let mut errors = Vec::new();
    for round in 1..=args.rounds.max(1) {
        let mut rows = Vec::new();
        for workload in &workloads {
            // cos-local first, then the files, each PUT then GET, so the two targets of a
            // row run back to back under much the same load from the rest of the machine.
            let (cos_put, cos_written) =
                runtime.block_on(cos::put_phase(&clients, workload, &plan));
            let cos_get = runtime.block_on(cos::get_phase(&clients, workload, &plan, &cos_written));
            let (file_put, file_written) = store.put_phase(workload, &plan);
            let file_get = store.get_phase(workload, &plan, &file_written);

            for (op, cos, files) in [(Op::Put, cos_put, file_put), (Op::Get, cos_get, file_get)] {
                let row = tally_row(round, workload, op, cos, files, &mut errors);
                rows.push(row);
            }
        }
        rounds.push(rows);
    }
    drop(clients);
    drop(server);
    machine.load_after = machine::load_average();

    let settings = Settings {
        workers: plan.workers,
        phase_seconds: plan.phase.as_secs_f64(),
        max_ops_per_worker: plan.max_ops_per_worker,
        rounds: rounds.len(),
        keys: workloads
            .iter()
            .map(|w| (w.label.clone(), w.slots))
            .collect(),
    };
    let text = report::document(&rounds, &settings, &machine, &errors);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| BenchError::Output {
            path: PathBuf::from("standard output"),
            source,
        })?;
    if let Some(path) = &args.write {
        write_results(path, &text)?;
    }
    Ok(errors.is_empty())
}

/// Summarises one size and operation of a round, reports it on stderr as it goes, and
/// notes its failures.
fn tally_row(
    round: usize,
    workload: &Workload,
    op: Op,
    mut cos: PhaseResult,
    mut files: PhaseResult,
    errors: &mut Vec<String>,
) -> Row {
    let row = Row {
        size: workload.label.clone(),
        op,
        cos: cos.summary(),
        files: files.summary(),
    };
    eprintln!(
        "round {round} {:>7} {}  cos-local {:>9} ops/s p99 {:>10} ({:.1} s)  \
         files {:>9} ops/s p99 {:>10} ({:.1} s)",
        row.size,
        op.label(),
        report::rate(row.cos.ops_per_sec),
        report::latency(row.cos.p99),
        cos.elapsed.as_secs_f64(),
        report::rate(row.files.ops_per_sec),
        report::latency(row.files.p99),
        files.elapsed.as_secs_f64(),
    );
    for (target, result) in [("cos-local", &cos), ("files", &files)] {
        if result.errors > 0 {
            errors.push(format!(
                "round {round} {} {} on {target}: {} failed, first: {}",
                workload.label,
                op.label(),
                result.errors,
                result.first_error.as_deref().unwrap_or("unknown")
            ));
        }
    }
    row
}

/// Keys each client cycles through: as many as fit the disk budget, within bounds.
fn keys_per_client(size: usize, workers: usize) -> usize {
    (DISK_BUDGET / size.max(1) / workers.max(1)).clamp(1, MAX_KEYS_PER_CLIENT)
}

fn write_results(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|source| BenchError::Output {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_per_client_fit_the_disk_budget() {
        assert_eq!(keys_per_client(4096, 32), MAX_KEYS_PER_CLIENT);
        assert_eq!(keys_per_client(8 * 1024 * 1024, 32), 2);
        assert_eq!(keys_per_client(1024 * 1024 * 1024, 32), 1);
    }

    #[test]
    fn the_defaults_are_32_clients_of_4_kib_and_8_mib() {
        let args = Args::parse_from(["cos-local-load"]);

        assert_eq!(args.clients, 32);
        assert_eq!(args.sizes, [4096, 8 * 1024 * 1024]);
        assert_eq!(args.write, None);
    }
}
