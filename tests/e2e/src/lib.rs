//! The whole stack as real processes, for the end-to-end tests: `cosigner-local dev` (which
//! starts `moto_server`, `cos-local` and the API) in a temporary folder on free ports, and
//! the `cosigner` terminal and the official Python SDK as clients.
//!
//! Every test drives the stack only from outside, over HTTP, as a terminal would; the one
//! look behind the curtain is a signed HEAD to `cos-local` with the stack's own COS key, to
//! check that a deleted object is really gone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

use cos_sign::{Credentials, Endpoint, KeyTime, RequestToSign};

/// How long the stack may take to start (moto's first import on a cold disk is slow).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Where the stack is, as `dev --ready-file` says.
#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    /// The API's base URL.
    pub api_url: String,
    /// cos-local's URL.
    pub cos_endpoint: String,
    /// A token for the user `dev`.
    pub token: String,
    /// The stack's data folder.
    pub data: PathBuf,
}

/// A running stack; dropping it stops every process (the table is saved on the way out).
pub struct Stack {
    child: Child,
    /// Where everything is.
    pub ready: Ready,
    _folder: tempfile::TempDir,
}

/// The folder of the workspace's binaries: the tests run from `target/<profile>/deps`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current exe: {e}"));
    let deps = exe
        .parent()
        .unwrap_or_else(|| panic!("no parent of {}", exe.display()));
    deps.parent().unwrap_or(deps).to_path_buf()
}

/// A workspace binary, failing the test with the command that builds it when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p {}` (make test does)",
        path.display(),
        match name {
            "cosigner" => "cosigner-cli",
            other => other,
        }
    );
    path
}

/// The workspace's root folder.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the venv `make deps` builds.
pub fn python() -> PathBuf {
    let python = std::env::var_os("COSIGNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run `make deps`",
        python.display()
    );
    python
}

impl Stack {
    /// Starts a stack with extra environment for the API (such as a short upload window).
    pub fn start(env: &[(&str, &str)], sweep_every: u64) -> Self {
        let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let ready_file = folder.path().join("ready.json");
        let mut command = Command::new(binary("cosigner-local"));
        command
            .arg("dev")
            .arg("--data")
            .arg(folder.path().join("data"))
            .args(["--api-port", "0", "--cos-port", "0"])
            .arg("--ready-file")
            .arg(&ready_file)
            .args(["--sweep-every", &sweep_every.to_string()])
            .env("COSIGNER_PYTHON", python())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        binary("cos-local");
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the stack: {e}"));
        let deadline = Instant::now() + START_TIMEOUT;
        let ready = loop {
            if let Ok(text) = std::fs::read(&ready_file)
                && let Ok(ready) = serde_json::from_slice::<Ready>(&text)
            {
                break ready;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the stack exited while starting: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the stack did not start within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        Self {
            child,
            ready,
            _folder: folder,
        }
    }

    /// A token for another user, minted the way `cosigner-local token` does.
    pub fn token_for(&self, user: &str) -> String {
        let output = Command::new(binary("cosigner-local"))
            .args(["token", "--user", user, "--data"])
            .arg(&self.ready.data)
            .env_remove("AUTH_JWT_SECRET")
            .output()
            .unwrap_or_else(|e| panic!("cannot run cosigner-local token: {e}"));
        assert!(
            output.status.success(),
            "token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// An API client for a token.
    pub fn api(&self, token: &str) -> Api {
        Api {
            base: self.ready.api_url.clone(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Runs the `cosigner` terminal against this stack, logged in with `token`, with its
    /// config in `config_dir`.
    pub fn cosigner(&self, token: &str, config_dir: &Path, args: &[&str]) -> Output {
        self.cosigner_command(token, config_dir, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run cosigner: {e}"))
    }

    /// The `cosigner` command, ready to run.
    pub fn cosigner_command(&self, token: &str, config_dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(binary("cosigner"));
        command
            .args(args)
            .env("COSIGNER_API", &self.ready.api_url)
            .env("COSIGNER_TOKEN", token)
            .env("COSIGNER_CONFIG_DIR", config_dir)
            .stdin(Stdio::null());
        command
    }

    /// Whether cos-local holds an object, asked with the stack's own COS key.
    pub async fn object_exists(&self, key: &str) -> bool {
        let secrets: Value = serde_json::from_slice(
            &std::fs::read(self.ready.data.join("secrets.json"))
                .unwrap_or_else(|e| panic!("no secrets: {e}")),
        )
        .unwrap_or_else(|e| panic!("malformed secrets: {e}"));
        let text = |name: &str| secrets[name].as_str().unwrap_or_default().to_owned();
        let creds = Credentials::new(text("cos_secret_id"), text("cos_secret_key"))
            .unwrap_or_else(|e| panic!("bad dev credentials: {e}"));
        let endpoint = Endpoint::custom(&self.ready.cos_endpoint).unwrap_or_else(|e| panic!("{e}"));
        let url = RequestToSign::new("HEAD", key)
            .presign(&endpoint, true, &creds, KeyTime::around(now(), 60, 60))
            .unwrap_or_else(|e| panic!("cannot sign a HEAD: {e}"));
        let status = reqwest::Client::new()
            .head(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("cos-local did not answer: {e}"))
            .status()
            .as_u16();
        assert!(status == 200 || status == 404, "HEAD answered {status}");
        status == 200
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SIGTERM lets the supervisor stop its children; SIGKILL is the fallback.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The API, as one user.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Api {
    /// Sends a request with the bearer token.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("the API did not answer: {e}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Answer { status, body }
    }

    /// `GET /v1/me`.
    pub async fn me(&self) -> Value {
        let answer = self.send("GET", "/v1/me", None).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }
}

/// Sends the bytes of an issued upload the way its answer says: a PUT with exactly the
/// signed headers.
pub async fn put_issued(issued: &Value, bytes: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new().put(issued["url"].as_str().unwrap_or_default());
    if let Some(headers) = issued["headers"].as_object() {
        for (name, value) in headers {
            // reqwest sets Host and Content-Length itself, from the URL and the body.
            if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name, value.as_str().unwrap_or_default());
            }
        }
    }
    request
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cos-local did not answer: {e}"))
        .status()
        .as_u16()
}

/// Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deterministic pseudo-random bytes, so a failure can be reproduced.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = vec![0u8; len];
    rng.fill(&mut out);
    out
}
