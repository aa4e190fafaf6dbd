//! Cold starts: a release binary of a function started the way Lambda starts a custom
//! runtime, under `runtime-harness`'s Runtime API, with its configuration and secrets in
//! the environment (`COS_CREDENTIALS=env`, `APP_SECRETS=env`). Two times per start: exec to
//! the first `GET /runtime/invocation/next` (the end of the init phase), and exec to the
//! answer of one event being posted back.
//!
//! Also the size of every function's release binary, as the release profile builds it
//! (stripped).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use cosigner_runtime_harness::{
    Function, Invocation, LocalStack, bearer_for, fixture, gateway_event,
};

use crate::BenchError;
use crate::stats::{Samples, Summary, load_average, millis};

/// Every function the deployment ships, in the order of `functions/README.md`.
pub const FUNCTIONS: [&str; 11] = [
    "authorizer",
    "issue-upload",
    "sign-parts",
    "complete-upload",
    "abort-upload",
    "on-object-created",
    "list-files",
    "get-file",
    "delete-file",
    "me",
    "sweep",
];

/// The functions whose cold start is timed: the authorizer (no AWS call at all), `me` (one
/// table read), and `issue-upload` (a read and a transaction), each answering one event.
pub const TIMED: [&str; 3] = ["authorizer", "me", "issue-upload"];

/// The longest a cold start may take, exec to first answer, at the median.
const TARGET: Duration = Duration::from_millis(20);

/// The caller of the timed events.
const USER: &str = "user-alice";

/// How many starts, and where the binaries are.
#[derive(Debug, Clone)]
pub struct ColdStartOptions {
    /// The folder of the release binaries (`<target>/release`).
    pub bin_dir: PathBuf,
    /// Timed starts per function (one more is made first, untimed, so the binary is in the
    /// page cache as it would be on a warm Lambda host).
    pub runs: usize,
    /// Variables added to (or replacing) the functions' environment, to try a setting.
    pub extra_env: Vec<(String, String)>,
}

/// One function's starts.
#[derive(Debug, Clone)]
pub struct Starts {
    /// The function.
    pub function: &'static str,
    /// Exec to the first poll for an event.
    pub to_first_poll: Summary,
    /// Exec to the first answer posted.
    pub to_answer: Summary,
}

/// A binary's size.
#[derive(Debug, Clone)]
pub struct BinarySize {
    /// The function.
    pub function: &'static str,
    /// As built, in bytes.
    pub built: u64,
}

/// What the measurement found.
#[derive(Debug, Clone)]
pub struct ColdStartReport {
    /// One entry per timed function.
    pub starts: Vec<Starts>,
    /// Every function's binary.
    pub sizes: Vec<BinarySize>,
    /// The load average before and after.
    pub load: (String, String),
}

/// Times the starts and measures the binaries.
///
/// # Errors
///
/// [`BenchError::MissingBinary`] for a function that is not built in release, or any
/// failure to start a function or to get its answer.
pub async fn measure(options: &ColdStartOptions) -> Result<ColdStartReport, BenchError> {
    let load_before = load_average();
    let mut sizes = Vec::new();
    for function in FUNCTIONS {
        sizes.push(binary_size(&options.bin_dir, function)?);
    }
    let mut starts = Vec::new();
    for function in TIMED {
        starts.push(time_starts(options, function).await?);
    }
    Ok(ColdStartReport {
        starts,
        sizes,
        load: (load_before, load_average()),
    })
}

fn binary(bin_dir: &Path, function: &str) -> Result<PathBuf, BenchError> {
    let path = bin_dir.join(function);
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::MissingBinary(path))
    }
}

fn binary_size(bin_dir: &Path, function: &'static str) -> Result<BinarySize, BenchError> {
    let path = binary(bin_dir, function)?;
    let built = std::fs::metadata(&path)
        .map_err(|e| BenchError::io(format!("cannot read {}", path.display()), e))?
        .len();
    Ok(BinarySize { function, built })
}

async fn time_starts(
    options: &ColdStartOptions,
    function: &'static str,
) -> Result<Starts, BenchError> {
    let exe = binary(&options.bin_dir, function)?;
    let exe = exe.to_string_lossy().into_owned();
    let stack = if function == "authorizer" {
        LocalStack::without_aws()
    } else {
        LocalStack::start(function).await
    };
    // Each `issue-upload` start leaves a pending upload behind; the cap must not end the run.
    let mut overrides = vec![("MAX_PENDING_UPLOADS", "100000")];
    overrides.extend(
        options
            .extra_env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let env = stack.env_with(&overrides);
    let event = event_for(function);

    let mut to_first_poll = Samples::new();
    let mut to_answer = Samples::new();
    for run in 0..=options.runs {
        // Limitation: the clock starts just before the harness binds its Runtime API port
        // and spawns the binary, so exec to answer carries that bind (tens of microseconds);
        // exec to first poll is the harness's own measure from the spawn.
        let started = Instant::now();
        let mut instance = Function::start(&exe, function, &env).await;
        let outcome = instance.invoke(event.clone()).await;
        let answered = started.elapsed();
        let first_poll = instance.cold_start();
        let logs = instance.stop().await;
        check_answer(function, &outcome, &logs)?;
        let first_poll = first_poll.ok_or_else(|| BenchError::Unexpected {
            operation: "a cold start",
            detail: format!("{function} answered without polling first"),
        })?;
        if run > 0 {
            to_first_poll.push(first_poll);
            to_answer.push(answered);
        }
    }
    let none = || BenchError::Stack("no starts were counted".into());
    Ok(Starts {
        function,
        to_first_poll: to_first_poll.summary().ok_or_else(none)?,
        to_answer: to_answer.summary().ok_or_else(none)?,
    })
}

/// The event each timed function answers: a good token for the authorizer, a recorded
/// `GET /v1/me`, and a small PUT upload.
fn event_for(function: &str) -> Value {
    match function {
        "authorizer" => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let bearer = bearer_for(USER, now);
            let mut event = fixture("authorizer-request.json");
            event["identitySource"] = json!([bearer]);
            event["headers"]["authorization"] = json!(bearer);
            event
        }
        "issue-upload" => {
            let body = json!({ "name": "photo.jpg", "size": 65536, "content_type": "image/jpeg" });
            gateway_event("POST", "/v1/uploads", Some(USER), Some(&body))
        }
        _ => fixture("me.json"),
    }
}

/// A start only counts when the function answered the event with success.
fn check_answer(function: &str, outcome: &Invocation, logs: &str) -> Result<(), BenchError> {
    let ok = match outcome {
        Invocation::Response(answer) => match function {
            "authorizer" => answer["isAuthorized"] == json!(true),
            "issue-upload" => answer["statusCode"] == json!(201),
            _ => answer["statusCode"] == json!(200),
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(BenchError::Unexpected {
            operation: "a cold start",
            detail: format!("{function} answered {outcome:?}; its log:\n{logs}"),
        })
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / f64::from(1u32 << 20))
}

impl ColdStartReport {
    /// The report as Markdown: the starts, then the sizes.
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        text.push_str(
            "| function | starts | exec → first poll p50 ms | p90 ms | max ms \
             | exec → answer p50 ms | p90 ms | max ms |\n",
        );
        text.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for start in &self.starts {
            let (poll, answer) = (&start.to_first_poll, &start.to_answer);
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                start.function,
                poll.count,
                millis(poll.p50),
                millis(poll.p90),
                millis(poll.max),
                millis(answer.p50),
                millis(answer.p90),
                millis(answer.max),
            ));
        }
        for start in &self.starts {
            let median = start.to_answer.p50;
            let verdict = if median <= TARGET {
                "met".to_owned()
            } else {
                format!("missed by {} ms", millis(median.saturating_sub(TARGET)))
            };
            text.push_str(&format!(
                "\n{}: median exec → answer {} ms (target ≤ {} ms: {verdict}).",
                start.function,
                millis(median),
                TARGET.as_millis()
            ));
        }
        text.push('\n');
        text.push_str("\n| function | release binary MiB |\n");
        text.push_str("| --- | ---: |\n");
        for size in &self.sizes {
            text.push_str(&format!("| {} | {} |\n", size.function, mib(size.built)));
        }
        text.push_str(&format!(
            "\nload average before {}, after {}.\n",
            self.load.0, self.load.1
        ));
        text
    }
}
