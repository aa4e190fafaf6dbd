//! End-to-end load on loopback: the whole stack of `cosigner-local dev` (moto, `cos-local`,
//! the API) started from release binaries, and N concurrent terminals each looping over an
//! upload's life, beside the floor: the same PUT and GET of the bytes sent straight to
//! `cos-local` with signatures made beforehand, so no business server is involved.
//!
//! An upload's life, as a terminal lives it:
//!
//! 1. **sign**: `POST /v1/uploads` for 64 KiB;
//! 2. **put**: the bytes to `cos-local`, with exactly the URL and headers the server signed;
//! 3. **complete**: `POST /v1/uploads/{id}/complete` (the server HEADs the object);
//! 4. **get-url**: `GET /v1/files/{id}`, for the signed download URL;
//! 5. **get**: the bytes back from `cos-local` through that URL, length checked.
//!
//! Every terminal is its own user with its own HTTP connection pool, as separate terminals
//! would be. Phases run one after the other, each after a short warm-up that is not
//! counted; the stack is stopped with SIGTERM to its `dev` process at the end, even after a
//! failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use tokio::process::{Child, Command};

use cos_sign::{Credentials, Endpoint, KeyTime, RequestToSign, Secret};
use cosigner_api::{cause_chain, mint_token};
use cosigner_core::UserId;

use crate::BenchError;
use crate::stats::{Samples, Summary, load_average, millis, ratio};

/// How long the stack may take to come up (moto imports slowly on a cold disk).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `dev` may take to save its table and stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys each terminal of the floor cycles through, overwriting: enough that a PUT never
/// waits on the GET of the same object, few enough that the disk use stays small.
// Limitation: the floor overwrites its objects while the upload loop writes new keys (two
// new folders each); `cos-local` does the same write and rename either way, but the floor
// skips the folder creation.
const FLOOR_KEYS: usize = 16;

/// The content type of every upload.
const CONTENT_TYPE: &str = "application/octet-stream";

/// The steps of an upload's life, in order; the floor has `put` and `get`.
pub const FLOW_STEPS: [&str; 5] = ["sign", "put", "complete", "get-url", "get"];

/// How the run is shaped.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The folder with the release `cosigner-local` and `cos-local`.
    pub bin_dir: PathBuf,
    /// The numbers of concurrent terminals, one pair of phases each.
    pub terminals: Vec<usize>,
    /// How long each counted phase runs.
    pub phase: Duration,
    /// How long each phase is warmed up first, not counted.
    pub warmup: Duration,
    /// The size of every object.
    pub size: usize,
}

/// Which loop the terminals run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loop {
    /// The whole upload's life through the business server.
    Upload,
    /// PUT then GET straight to `cos-local` with signatures made beforehand.
    Floor,
}

/// What one phase measured.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Which loop.
    pub kind: Loop,
    /// Concurrent terminals.
    pub terminals: usize,
    /// Loops completed.
    pub cycles: usize,
    /// From the start until the last terminal finished its last loop.
    pub elapsed: Duration,
    /// Each step's latencies, and the whole loop's as `cycle`.
    pub steps: Vec<(&'static str, Summary)>,
    /// Loops that failed at some step.
    pub errors: usize,
    /// What the first failure was.
    pub first_error: Option<String>,
    /// The load average at the end of the phase.
    pub load: String,
}

impl Phase {
    /// Completed loops per second.
    pub fn rate(&self) -> f64 {
        self.cycles as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn step(&self, name: &str) -> Option<&Summary> {
        self.steps.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }
}

/// What the run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Pairs of (upload, floor) phases, one per number of terminals.
    pub pairs: Vec<(Phase, Phase)>,
    /// The object size.
    pub size: usize,
    /// The load average before the stack started.
    pub load_before: String,
}

/// Starts the stack, runs every phase, and stops the stack.
///
/// # Errors
///
/// A [`BenchError`] when a binary is missing, the stack does not come up, or a phase
/// cannot start. Failures of single loops are counted in the report, not raised.
pub async fn measure(options: &LoadOptions) -> Result<LoadReport, BenchError> {
    let load_before = load_average();
    let stack = DevStack::start(&options.bin_dir).await?;
    let outcome = run_phases(&stack, options).await;
    let stopped = stack.stop().await;
    let pairs = outcome?;
    stopped?;
    Ok(LoadReport {
        pairs,
        size: options.size,
        load_before,
    })
}

async fn run_phases(
    stack: &DevStack,
    options: &LoadOptions,
) -> Result<Vec<(Phase, Phase)>, BenchError> {
    let body = Bytes::from(pattern(options.size));
    // Limitation: the uploads of one phase stay in the table for the next, and moto's
    // transactions copy the whole table, so later upload phases run on a bigger table.
    let mut pairs = Vec::new();
    for &n in &options.terminals {
        let terminals = terminals(stack, n, options.size)?;
        let mut phases = Vec::new();
        for kind in [Loop::Upload, Loop::Floor] {
            run_phase(stack, &terminals, kind, &body, options.warmup).await;
            phases.push(run_phase(stack, &terminals, kind, &body, options.phase).await);
        }
        let floor = phases.pop();
        let upload = phases.pop();
        if let (Some(upload), Some(floor)) = (upload, floor) {
            pairs.push((upload, floor));
        }
    }
    Ok(pairs)
}

/// Bytes that do not compress to nothing, should anything on the way try.
fn pattern(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i.wrapping_mul(131) ^ (i >> 7)) as u8)
        .collect()
}

/// The stack `cosigner-local dev` runs, over a temporary data folder.
pub struct DevStack {
    child: Option<Child>,
    pid: u32,
    api_url: String,
    cos_endpoint: String,
    jwt_secret: Secret,
    cos_credentials: Credentials,
    dir: tempfile::TempDir,
}

impl DevStack {
    /// Starts `cosigner-local dev` on free ports with a fresh data folder and waits for its
    /// ready file.
    ///
    /// # Errors
    ///
    /// [`BenchError::MissingBinary`] without the release binaries, [`BenchError::Stack`]
    /// when it does not come up in time (with the tail of its log).
    pub async fn start(bin_dir: &Path) -> Result<Self, BenchError> {
        for name in ["cosigner-local", "cos-local"] {
            if !bin_dir.join(name).is_file() {
                return Err(BenchError::MissingBinary(bin_dir.join(name)));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("server-load-")
            .tempdir()
            .map_err(|e| BenchError::io("no temporary directory", e))?;
        let data = dir.path().join("data");
        let ready_file = dir.path().join("ready.json");
        let log_path = dir.path().join("dev.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| BenchError::io("cannot create the stack's log", e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| BenchError::io("cannot share the stack's log", e))?;
        let child = Command::new(bin_dir.join("cosigner-local"))
            .arg("dev")
            .args(["--api-port", "0", "--cos-port", "0"])
            .arg("--data")
            .arg(&data)
            .arg("--ready-file")
            .arg(&ready_file)
            // No sweep during the run: it would add table traffic the loops do not make.
            .args(["--sweep-every", "3600"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| BenchError::io("cannot start cosigner-local dev", e))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Stack("cosigner-local dev exited at once".into()))?;
        let mut stack = Self {
            child: Some(child),
            pid,
            api_url: String::new(),
            cos_endpoint: String::new(),
            jwt_secret: Secret::new(""),
            cos_credentials: Credentials::new("AKIDplaceholder", "placeholder")?,
            dir,
        };

        let deadline = Instant::now() + START_TIMEOUT;
        while !ready_file.exists() {
            let exited = stack
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(BenchError::Stack(format!(
                    "cosigner-local dev exited ({status}):\n{}",
                    tail(&log_path)
                )));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Stack(format!(
                    "not ready within {START_TIMEOUT:?}:\n{}",
                    tail(&log_path)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The ready file is written in one call; read it until it parses, in case we catch
        // it half written.
        let ready = loop {
            let parsed = std::fs::read(&ready_file)
                .ok()
                .and_then(|text| serde_json::from_slice::<Value>(&text).ok());
            match parsed {
                Some(ready) => break ready,
                None if Instant::now() > deadline => {
                    return Err(BenchError::Stack("the ready file never parsed".into()));
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let secrets_path = data.join("secrets.json");
        let secrets: Value = std::fs::read(&secrets_path)
            .map_err(|e| BenchError::io(format!("cannot read {}", secrets_path.display()), e))
            .and_then(|text| {
                serde_json::from_slice(&text)
                    .map_err(|_| BenchError::Stack("secrets.json is not JSON".into()))
            })?;
        let field = |value: &Value, name: &str| {
            value[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| BenchError::Stack(format!("no {name} in the stack's files")))
        };
        stack.api_url = field(&ready, "api_url")?;
        stack.cos_endpoint = field(&ready, "cos_endpoint")?;
        stack.jwt_secret = Secret::new(field(&secrets, "jwt_secret")?);
        stack.cos_credentials = Credentials::new(
            field(&secrets, "cos_secret_id")?,
            field(&secrets, "cos_secret_key")?,
        )?;
        Ok(stack)
    }

    /// Stops the stack with SIGTERM to `dev` (which saves its table and stops the others)
    /// and waits for it.
    ///
    /// # Errors
    ///
    /// [`BenchError::Stack`] when it does not stop in time; it is then killed.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        terminate(self.pid);
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let _ = child.kill().await;
                Err(BenchError::Stack(format!(
                    "cosigner-local dev did not stop within {STOP_TIMEOUT:?}; its log is in {}",
                    self.dir.path().display()
                )))
            }
        }
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        // Reached only when `stop` was not: after a failure or a panic. SIGTERM still lets
        // `dev` stop its children; a kill would leave them behind.
        if self.child.is_some() {
            terminate(self.pid);
        }
    }
}

/// Sends SIGTERM to one process by its id, through `kill(1)` (this workspace forbids the
/// `unsafe` a direct `libc::kill` would need).
fn terminate(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The last lines of a log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// One simulated terminal: its own user and token, its own HTTP connections, and the
/// floor's pre-made signatures.
struct Terminal {
    client: reqwest::Client,
    bearer: String,
    floor: Vec<FloorObject>,
}

/// A floor object's PUT (URL and `Authorization`) and presigned GET URL.
#[derive(Clone)]
struct FloorObject {
    put_url: String,
    authorization: String,
    get_url: String,
}

fn terminals(stack: &DevStack, n: usize, size: usize) -> Result<Vec<Terminal>, BenchError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let endpoint = Endpoint::custom(&stack.cos_endpoint)?;
    let window = KeyTime::around(now, 60, 3600);
    (0..n)
        .map(|i| {
            let user = UserId::new(format!("load-{n}-{i}"))?;
            let token = mint_token(&stack.jwt_secret, &user, Duration::from_secs(3600), now)?;
            let floor = (0..FLOOR_KEYS)
                .map(|k| {
                    let key = format!("floor/{n}/{i}/{k}.bin");
                    let put = RequestToSign::new("PUT", key.as_str())
                        .header("Host", endpoint.host())
                        .header("Content-Length", size.to_string())
                        .header("Content-Type", CONTENT_TYPE)
                        .sign(&stack.cos_credentials, window)?;
                    let get_url = RequestToSign::new("GET", key.as_str()).presign(
                        &endpoint,
                        true,
                        &stack.cos_credentials,
                        window,
                    )?;
                    Ok(FloorObject {
                        put_url: endpoint.object_url(&key),
                        authorization: put.authorization,
                        get_url,
                    })
                })
                .collect::<Result<Vec<_>, BenchError>>()?;
            let client = reqwest::Client::builder()
                // Loopback only: a proxy from the environment must not be in the path.
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?;
            Ok(Terminal {
                client,
                bearer: format!("Bearer {token}"),
                floor,
            })
        })
        .collect()
}

/// What one terminal measured in a phase.
#[derive(Default)]
struct Tally {
    steps: Vec<(&'static str, Samples)>,
    cycles: usize,
    errors: usize,
    first_error: Option<String>,
}

impl Tally {
    fn record(&mut self, step: &'static str, latency: Duration) {
        match self.steps.iter_mut().find(|(n, _)| *n == step) {
            Some((_, samples)) => samples.push(latency),
            None => {
                let mut samples = Samples::new();
                samples.push(latency);
                self.steps.push((step, samples));
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        for (step, samples) in other.steps {
            match self.steps.iter_mut().find(|(n, _)| *n == step) {
                Some((_, mine)) => mine.extend(samples),
                None => self.steps.push((step, samples)),
            }
        }
        self.cycles += other.cycles;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn run_phase(
    stack: &DevStack,
    terminals: &[Terminal],
    kind: Loop,
    body: &Bytes,
    length: Duration,
) -> Phase {
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, terminal) in terminals.iter().enumerate() {
        let client = terminal.client.clone();
        let bearer = terminal.bearer.clone();
        let floor = terminal.floor.clone();
        let api = stack.api_url.clone();
        let body = body.clone();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let mut round = 0usize;
            while Instant::now() < deadline {
                let cycle = Instant::now();
                let outcome = match kind {
                    Loop::Upload => {
                        let name = format!("load-{index}-{round}.bin");
                        upload(&client, &api, &bearer, &name, &body, &mut tally).await
                    }
                    Loop::Floor => {
                        let object = &floor[round % floor.len()];
                        floor_cycle(&client, object, &body, &mut tally).await
                    }
                };
                round += 1;
                match outcome {
                    Ok(()) => {
                        tally.record("cycle", cycle.elapsed());
                        tally.cycles += 1;
                    }
                    Err(err) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert(err);
                        // A failing stack must not turn the loop into a busy spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(tally) => total.merge(tally),
            Err(err) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert(format!("a terminal panicked: {err}"));
            }
        }
    }
    let elapsed = started.elapsed();
    let steps = total
        .steps
        .iter()
        .filter_map(|(name, samples)| samples.summary().map(|s| (*name, s)))
        .collect();
    Phase {
        kind,
        terminals: terminals.len(),
        cycles: total.cycles,
        elapsed,
        steps,
        errors: total.errors,
        first_error: total.first_error,
        load: load_average(),
    }
}

/// Sends a request and reads its whole body; the latency is that of both.
async fn timed(
    request: reqwest::RequestBuilder,
    step: &'static str,
    expected: u16,
    tally: &mut Tally,
) -> Result<Bytes, String> {
    let started = Instant::now();
    let response = request
        .send()
        .await
        .map_err(|e| format!("{step}: {}", cause_chain(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{step}: reading the body: {e}"))?;
    let latency = started.elapsed();
    if status != expected {
        let shown: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(format!("{step}: status {status}: {shown}"));
    }
    tally.record(step, latency);
    Ok(body)
}

fn json(body: &[u8], step: &str) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("{step}: the answer is not JSON: {e}"))
}

fn text_field<'a>(value: &'a Value, name: &str, step: &str) -> Result<&'a str, String> {
    value[name]
        .as_str()
        .ok_or_else(|| format!("{step}: the answer has no {name}"))
}

/// One upload's life through the business server.
async fn upload(
    client: &reqwest::Client,
    api: &str,
    bearer: &str,
    name: &str,
    body: &Bytes,
    tally: &mut Tally,
) -> Result<(), String> {
    let request = serde_json::json!({
        "name": name,
        "size": body.len(),
        "content_type": CONTENT_TYPE,
    });
    let sign = client
        .post(format!("{api}/v1/uploads"))
        .header("authorization", bearer)
        .header("content-type", "application/json")
        .body(request.to_string());
    let issued = json(&timed(sign, "sign", 201, tally).await?, "sign")?;
    let file_id = text_field(&issued, "file_id", "sign")?;
    let url = text_field(&issued, "url", "sign")?;

    let mut put = client.put(url).body(body.clone());
    if let Some(headers) = issued["headers"].as_object() {
        for (header, value) in headers {
            // The HTTP client sets the length from the body; the signature binds the same.
            if !header.eq_ignore_ascii_case("content-length") {
                put = put.header(header.as_str(), value.as_str().unwrap_or_default());
            }
        }
    }
    timed(put, "put", 200, tally).await?;

    let complete = client
        .post(format!("{api}/v1/uploads/{file_id}/complete"))
        .header("authorization", bearer);
    timed(complete, "complete", 200, tally).await?;

    let lookup = client
        .get(format!("{api}/v1/files/{file_id}"))
        .header("authorization", bearer);
    let file = json(&timed(lookup, "get-url", 200, tally).await?, "get-url")?;
    let download = text_field(&file, "url", "get-url")?;

    let bytes = timed(client.get(download), "get", 200, tally).await?;
    same_length(&bytes, body)
}

/// The floor: the same PUT and GET with signatures made before the phase.
async fn floor_cycle(
    client: &reqwest::Client,
    object: &FloorObject,
    body: &Bytes,
    tally: &mut Tally,
) -> Result<(), String> {
    let put = client
        .put(&object.put_url)
        .header("authorization", &object.authorization)
        .header("content-type", CONTENT_TYPE)
        .body(body.clone());
    timed(put, "put", 200, tally).await?;
    let bytes = timed(client.get(&object.get_url), "get", 200, tally).await?;
    same_length(&bytes, body)
}

/// Whether a download brought back as many bytes as were sent (the tests check content;
/// the load run checks lengths only).
fn same_length(got: &[u8], sent: &[u8]) -> Result<(), String> {
    if got.len() == sent.len() {
        Ok(())
    } else {
        Err(format!(
            "get: {} bytes instead of {}",
            got.len(),
            sent.len()
        ))
    }
}

impl LoadReport {
    /// The report as Markdown: per number of terminals, the rates, then every step beside
    /// the floor's.
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        text.push_str(&format!(
            "Objects of {} KiB; load average before the stack started: {}.\n",
            self.size / 1024,
            self.load_before
        ));
        for (upload, floor) in &self.pairs {
            text.push_str(&format!(
                "\n**{} terminals** — uploads: {:.0}/s ({} in {:.1} s, {} failed); floor PUT+GET: \
                 {:.0}/s ({} in {:.1} s, {} failed); uploads / floor: {:.2}. Load average after \
                 the phases: {} / {}.\n\n",
                upload.terminals,
                upload.rate(),
                upload.cycles,
                upload.elapsed.as_secs_f64(),
                upload.errors,
                floor.rate(),
                floor.cycles,
                floor.elapsed.as_secs_f64(),
                floor.errors,
                upload.rate() / floor.rate().max(f64::EPSILON),
                upload.load,
                floor.load,
            ));
            text.push_str(
                "| step | n | p50 ms | p99 ms | floor p50 ms | floor p99 ms | p50 / floor | p99 / floor |\n",
            );
            text.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for step in FLOW_STEPS.iter().chain(&["cycle"]) {
                let Some(mine) = upload.step(step) else {
                    continue;
                };
                let base = floor.step(step);
                let cell = |pick: fn(&Summary) -> Duration| {
                    base.map_or_else(|| "-".to_owned(), |b| millis(pick(b)))
                };
                let times = |pick: fn(&Summary) -> Duration| {
                    base.and_then(|b| ratio(pick(mine), pick(b)))
                        .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}×"))
                };
                text.push_str(&format!(
                    "| {step} | {} | {} | {} | {} | {} | {} | {} |\n",
                    mine.count,
                    millis(mine.p50),
                    millis(mine.p99),
                    cell(|s| s.p50),
                    cell(|s| s.p99),
                    times(|s| s.p50),
                    times(|s| s.p99),
                ));
            }
            for phase in [upload, floor] {
                if let Some(error) = &phase.first_error {
                    text.push_str(&format!("\nfirst failure ({:?}): {error}\n", phase.kind));
                }
            }
        }
        text
    }
}
