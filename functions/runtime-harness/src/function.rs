//! A function binary running under the local Runtime API.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::runtime_api::Pending;
use crate::{RuntimeApi, body_of, gateway_event};

/// How long one invocation may take before the test gives up on it.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What became of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The function answered (`POST …/response`).
    Response(Value),
    /// The handler failed (`POST …/error`).
    Error(Value),
    /// The function could not start (`POST …/init/error`).
    InitError(Value),
    /// The process exited before answering, with its exit code when it had one.
    Exited(Option<i32>),
    /// No answer in time.
    TimedOut,
}

/// A function binary started as Lambda starts a custom runtime. Killed when dropped.
pub struct Function {
    name: String,
    child: Child,
    api: RuntimeApi,
    init_error: oneshot::Receiver<Invocation>,
    logs: Arc<Mutex<Vec<String>>>,
    started: Instant,
    exit_code: Option<Option<i32>>,
}

impl Function {
    /// Starts `exe` with exactly `env` plus the Lambda variables (`AWS_LAMBDA_RUNTIME_API`,
    /// `AWS_LAMBDA_FUNCTION_NAME`, its memory size and version): no variable of the test's
    /// own environment leaks in.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started.
    pub async fn start(exe: &str, name: &str, env: &[(String, String)]) -> Self {
        let (init_sender, init_error) = oneshot::channel();
        let api = RuntimeApi::start(name, init_sender).await;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "harness")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            collect_lines(stdout, Arc::clone(&logs));
        }
        if let Some(stderr) = child.stderr.take() {
            collect_lines(stderr, Arc::clone(&logs));
        }
        Self {
            name: name.to_owned(),
            child,
            api,
            init_error,
            logs,
            started,
            exit_code: None,
        }
    }

    /// Hands the function one event and waits for what becomes of it.
    pub async fn invoke(&mut self, event: Value) -> Invocation {
        if let Some(code) = self.exit_code {
            return Invocation::Exited(code);
        }
        let (answer, outcome) = oneshot::channel();
        if !self.api.queue(Pending { event, answer }).await {
            return Invocation::TimedOut;
        }
        tokio::select! {
            result = outcome => result.unwrap_or(Invocation::TimedOut),
            Ok(init) = &mut self.init_error => init,
            status = self.child.wait() => {
                let code = status.ok().and_then(|s| s.code());
                self.exit_code = Some(code);
                Invocation::Exited(code)
            }
            () = tokio::time::sleep(INVOCATION_TIMEOUT) => Invocation::TimedOut,
        }
    }

    /// Invokes and returns the response document.
    ///
    /// # Panics
    ///
    /// When the function does anything but answer; the message carries its log.
    pub async fn respond(&mut self, event: Value) -> Value {
        match self.invoke(event).await {
            Invocation::Response(document) => document,
            other => panic!(
                "{} did not answer: {other:?}\n--- its log ---\n{}",
                self.name,
                self.logs()
            ),
        }
    }

    /// Sends an HTTP API request from `user` (or anonymously) and returns the status and the
    /// JSON body (`null` when there is none).
    ///
    /// # Panics
    ///
    /// As [`Function::respond`], or when the answer is not a gateway response.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let answer = self.respond(gateway_event(method, path, user, body)).await;
        let status = answer["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("not a gateway response: {answer}"));
        (status, body_of(&answer))
    }

    /// How long the binary took from exec to its first request for an event.
    pub fn cold_start(&self) -> Option<Duration> {
        self.api
            .first_poll()
            .map(|at| at.duration_since(self.started))
    }

    /// Everything the function wrote so far, stdout and stderr interleaved by arrival.
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }

    /// Kills the function and returns its log.
    pub async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        // Give the readers a moment to drain what the process wrote before it died.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.logs()
    }
}

fn collect_lines(stream: impl AsyncRead + Unpin + Send + 'static, logs: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut logs) = logs.lock() {
                logs.push(line);
            }
        }
    });
}
