//! Signs the benchmark request in a loop and reports the rate, for `bench/sign_throughput.py`.
//!
//! `sign_loop <sign|bare|presign> [seconds]` runs for about `seconds` (default 2) and prints
//! one JSON line: `{"what", "count", "seconds", "output"}`, where `output` is the last
//! result (the `Authorization` value, the bare hex signature, or the URL) so the caller can
//! check that it timed the same work as the official SDKs.

// A command-line tool whose one job is to print its measurement.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "../benches/fixture/mod.rs"]
mod fixture;

use fixture::{SECRET_KEY, bare_signature_work, creds, endpoint, get_request, put_request, window};

/// Operations between two looks at the clock, so reading it costs nothing measurable.
const BATCH: u64 = 1_000;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_default();
    let seconds = match args.next().map(|s| s.parse::<f64>()) {
        None => 2.0,
        Some(Ok(s)) if s > 0.0 && s.is_finite() => s,
        Some(_) => {
            eprintln!("usage: sign_loop <sign|bare|presign> [seconds]");
            return ExitCode::FAILURE;
        }
    };
    let budget = Duration::from_secs_f64(seconds);

    let creds = creds();
    let window = window();
    let result = match what.as_str() {
        "sign" => run(budget, || {
            put_request()
                .sign(black_box(&creds), black_box(window))
                .map(|signed| signed.authorization)
        }),
        "presign" => {
            let endpoint = endpoint();
            run(budget, || {
                get_request().presign(
                    black_box(&endpoint),
                    true,
                    black_box(&creds),
                    black_box(window),
                )
            })
        }
        "bare" => {
            let http_string = match put_request().sign(&creds, window) {
                Ok(signed) => signed.http_string,
                Err(err) => {
                    eprintln!("the fixture request does not sign: {err}");
                    return ExitCode::FAILURE;
                }
            };
            let key_time = window.to_string();
            run(budget, || {
                let hex = bare_signature_work(
                    black_box(SECRET_KEY.as_bytes()),
                    black_box(key_time.as_bytes()),
                    black_box(http_string.as_bytes()),
                );
                Ok(String::from_utf8_lossy(&hex).into_owned())
            })
        }
        _ => {
            eprintln!("usage: sign_loop <sign|bare|presign> [seconds]");
            return ExitCode::FAILURE;
        }
    };

    match result {
        Ok((count, elapsed, output)) => {
            let report = serde_json::json!({
                "what": what,
                "count": count,
                "seconds": elapsed.as_secs_f64(),
                "output": output,
            });
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("signing failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Calls `op` in batches until `budget` has passed; returns the count, the time taken and
/// the last output.
fn run<E>(
    budget: Duration,
    mut op: impl FnMut() -> Result<String, E>,
) -> Result<(u64, Duration, String), E> {
    // One untimed call, so first-use costs (page faults, lazy CPU feature detection) stay
    // out of the figure.
    let mut last = op()?;
    let start = Instant::now();
    let mut count = 0;
    loop {
        for _ in 0..BATCH {
            last = black_box(op()?);
        }
        count += BATCH;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return Ok((count, elapsed, last));
        }
    }
}
