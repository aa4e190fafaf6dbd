//! The cos-local side: starting the release binary on a loopback port, the signed PUT and
//! GET phases against it, and stopping it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::AUTHORIZATION;

use cos_sign::{Credentials, KeyTime, RequestToSign};

use crate::error::BenchError;
use crate::stats::{PhaseResult, WorkerTally};
use crate::workload::{Plan, Workload, Written, check_chunk, mark_written};

/// The one bucket; requests reach it as the default bucket, by the loopback address alone.
const BUCKET: &str = "loadbench-1250000000:ap-guangzhou";

/// A throwaway credential for a server that lives as long as the run, on loopback only.
const SECRET_ID: &str = "AKIDcoslocalload";
const SECRET_KEY: &str = "cos-local-load-secret";

/// How long cos-local may take to write its ready file.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// No single request may take longer than this; a stuck one becomes an error, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A running cos-local, stopped (by its process id) when dropped.
#[derive(Debug)]
pub struct CosLocal {
    child: Child,
    origin: String,
    host: String,
}

impl CosLocal {
    /// Starts `binary` on 127.0.0.1 with an OS-chosen port and `data` as its data
    /// directory, and waits for its ready file.
    ///
    /// # Errors
    ///
    /// [`BenchError::Spawn`] when it cannot start, [`BenchError::NotReady`] when it exits
    /// or stays silent past the deadline (it is then stopped).
    pub fn start(binary: &Path, data: &Path) -> Result<Self, BenchError> {
        let ready_file = data.with_extension("ready");
        let credential = format!("{SECRET_ID}:{SECRET_KEY}");
        let child = Command::new(binary)
            .arg("--data")
            .arg(data)
            .args(["--bind", "127.0.0.1", "--port", "0", "--bucket", BUCKET])
            .args(["--credential", &credential, "--log", "warn"])
            .arg("--ready-file")
            .arg(&ready_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|source| BenchError::Spawn {
                binary: binary.to_owned(),
                source,
            })?;
        // From here on the guard owns the process: any early return stops it.
        let mut server = Self {
            child,
            origin: String::new(),
            host: String::new(),
        };

        let origin = server.wait_ready(&ready_file)?;
        server.host = origin.trim_start_matches("http://").to_owned();
        server.origin = origin;
        Ok(server)
    }

    fn wait_ready(&mut self, ready_file: &Path) -> Result<String, BenchError> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            // cos-local writes the file atomically, so whatever is read is the whole URL.
            if let Ok(text) = std::fs::read_to_string(ready_file) {
                let origin = text.trim();
                if origin.starts_with("http://127.0.0.1:") {
                    return Ok(origin.to_owned());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::NotReady(format!("it exited with {status}")));
            }
            if Instant::now() >= deadline {
                return Err(BenchError::NotReady(format!(
                    "no ready file after {} s",
                    READY_WITHIN.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The process id, for the log line.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of this server: its own connection pool, as a separate program would have.
    ///
    /// # Errors
    ///
    /// [`BenchError::Client`] when reqwest cannot build one.
    pub fn client(&self) -> Result<HttpTarget, BenchError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(BenchError::Client)?;
        let credentials =
            Credentials::new(SECRET_ID, SECRET_KEY).map_err(BenchError::Credentials)?;
        Ok(HttpTarget {
            http,
            origin: self.origin.clone(),
            host: self.host.clone(),
            credentials: Arc::new(credentials),
        })
    }
}

impl Drop for CosLocal {
    fn drop(&mut self) {
        // Only the process this run started, by its own handle; it holds nothing worth a
        // graceful stop, its data directory is removed next.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One client of cos-local: an HTTP connection pool and the credential it signs with.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    http: reqwest::Client,
    origin: String,
    host: String,
    credentials: Arc<Credentials>,
}

impl HttpTarget {
    /// Signs a request for `key` the way an SDK does, right before sending it: a fresh
    /// window from the clock, the Host (with its port, as the Node SDK sends it) and, for a
    /// body, its length.
    fn authorization(
        &self,
        method: &str,
        key: &str,
        length: Option<usize>,
    ) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut request = RequestToSign::new(method, key).header("Host", self.host.as_str());
        if let Some(length) = length {
            request = request.header("Content-Length", length.to_string());
        }
        request
            .sign(&self.credentials, KeyTime::around(now, 60, 900))
            .map(|signed| signed.authorization)
            .map_err(|e| format!("signing {method} {key}: {e}"))
    }

    /// Stores `body` under `key`. Returns the bytes sent.
    async fn put(&self, key: &str, body: Bytes) -> Result<u64, String> {
        let length = body.len();
        let authorization = self.authorization("PUT", key, Some(length))?;
        let response = self
            .http
            .put(format!("{}/{key}", self.origin))
            .header(AUTHORIZATION, authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("PUT {key}: {e}"))?;
        let status = response.status();
        let answer = response
            .bytes()
            .await
            .map_err(|e| format!("PUT {key}: reading the answer: {e}"))?;
        if !status.is_success() {
            return Err(format!("PUT {key}: {status}: {}", excerpt(&answer)));
        }
        Ok(length as u64)
    }

    /// Reads `key` back and checks it holds `payload`, chunk by chunk as it arrives, so
    /// 32 large bodies in flight are never all held in memory. Returns the bytes read.
    async fn get(&self, key: &str, payload: &[u8]) -> Result<u64, String> {
        let authorization = self.authorization("GET", key, None)?;
        let mut response = self
            .http
            .get(format!("{}/{key}", self.origin))
            .header(AUTHORIZATION, authorization)
            .send()
            .await
            .map_err(|e| format!("GET {key}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let answer = response.bytes().await.unwrap_or_default();
            return Err(format!("GET {key}: {status}: {}", excerpt(&answer)));
        }
        let mut offset = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {key}: reading the body: {e}"))?
        {
            check_chunk(payload, offset, &chunk).map_err(|e| format!("GET {key}: {e}"))?;
            offset += chunk.len();
        }
        if offset != payload.len() {
            return Err(format!(
                "GET {key}: {offset} bytes, expected {}",
                payload.len()
            ));
        }
        Ok(offset as u64)
    }
}

/// Runs the PUT phase: each client, as its own task, stores its keys in turn.
pub async fn put_phase(
    clients: &[HttpTarget],
    workload: &Workload,
    plan: &Plan,
) -> (PhaseResult, Written) {
    let deadline = plan.deadline();
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .take(plan.workers)
        .enumerate()
        .map(|(worker, client)| {
            let (client, workload, plan) = (client.clone(), workload.clone(), *plan);
            tokio::spawn(async move {
                let mut tally = WorkerTally::default();
                let mut written = Vec::new();
                let mut done = 0;
                while !plan.finished(done, deadline) {
                    let slot = (done % workload.slots as u64) as usize;
                    let key = workload.key(worker, slot);
                    let begun = Instant::now();
                    let outcome = client.put(&key, workload.payload.clone()).await;
                    if outcome.is_ok() {
                        mark_written(&mut written, slot);
                    }
                    tally.count(outcome, begun.elapsed());
                    done += 1;
                }
                (tally, written)
            })
        })
        .collect();
    join_all(tasks, started).await
}

/// Runs the GET phase: each client reads back, in turn, the keys it wrote.
pub async fn get_phase(
    clients: &[HttpTarget],
    workload: &Workload,
    plan: &Plan,
    written: &Written,
) -> PhaseResult {
    let deadline = plan.deadline();
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .zip(written)
        .enumerate()
        .filter(|(_, (_, slots))| !slots.is_empty())
        .map(|(worker, (client, slots))| {
            let (client, workload, plan) = (client.clone(), workload.clone(), *plan);
            let slots = slots.clone();
            tokio::spawn(async move {
                let mut tally = WorkerTally::default();
                let mut done = 0;
                while !plan.finished(done, deadline) {
                    let slot = slots[(done % slots.len() as u64) as usize];
                    let key = workload.key(worker, slot);
                    let begun = Instant::now();
                    let outcome = client.get(&key, &workload.payload).await;
                    tally.count(outcome, begun.elapsed());
                    done += 1;
                }
                (tally, Vec::new())
            })
        })
        .collect();
    join_all(tasks, started).await.0
}

async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<(WorkerTally, Vec<usize>)>>,
    started: Instant,
) -> (PhaseResult, Written) {
    let mut result = PhaseResult::default();
    let mut written = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (tally, slots) = task.await.unwrap_or_else(|e| {
            let tally = WorkerTally {
                errors: 1,
                first_error: Some(format!("a client task failed: {e}")),
                ..WorkerTally::default()
            };
            (tally, Vec::new())
        });
        result.absorb(tally);
        written.push(slots);
    }
    result.elapsed = started.elapsed();
    (result, written)
}

/// The start of an error answer, for the report: COS errors are short XML documents.
fn excerpt(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    text.chars().take(300).collect()
}

/// Where the release build of cos-local is, when not given: beside this binary, since
/// both are built into the same target directory.
///
/// # Errors
///
/// [`BenchError::NoBinary`] when this binary's own path is unknown.
pub fn default_binary() -> Result<PathBuf, BenchError> {
    let exe = std::env::current_exe().map_err(BenchError::NoBinary)?;
    Ok(exe.with_file_name(format!("cos-local{}", std::env::consts::EXE_SUFFIX)))
}
