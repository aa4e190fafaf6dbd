//! What the integration tests share: starting the real `cos-local` binary on a free
//! loopback port with a temporary data directory, signing requests with `cos-sign`, and
//! reading COS error bodies.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cos_sign::encode::{encode, encode_path};
use cos_sign::{Credentials, KeyTime, RequestToSign};

pub const BUCKET: &str = "photos-1250000000";
pub const REGION: &str = "ap-guangzhou";
pub const SECRET_ID: &str = "AKIDcoslocaltest";
pub const SECRET_KEY: &str = "cos-local-test-secret-key";

pub fn creds() -> Credentials {
    Credentials::new(SECRET_ID, SECRET_KEY).unwrap()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A window around now, as the Python SDK makes them.
pub fn window() -> KeyTime {
    KeyTime::around(now(), 60, 600)
}

/// A running `cos-local`, killed when dropped.
pub struct CosLocal {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub port: u16,
    /// The data directory.
    pub data: PathBuf,
    /// Where its log goes.
    pub log: PathBuf,
}

impl CosLocal {
    /// Starts with a fresh data directory inside `dir`, the test bucket and credential,
    /// plus `extra` options.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_data(&dir.join("data"), extra)
    }

    /// Starts on an existing (or new) data directory.
    pub fn start_with_data(data: &Path, extra: &[&str]) -> Self {
        let log = data.with_extension(format!("log-{}", now_nanos()));
        let log_file = std::fs::File::create(&log).unwrap();
        let credential = format!("{SECRET_ID}:{SECRET_KEY}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cos-local"))
            .args(["--data", data.to_str().unwrap(), "--port", "0"])
            .args(["--bucket", BUCKET, "--credential", &credential])
            .args(["--log", "info,cos_local=debug"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("cos-local starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("cos-local printed no ready line; log: {}", read(&log)));
        let url = line
            .trim()
            .strip_prefix("cos-local listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}; log: {}", read(&log)))
            .to_owned();
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            child,
            url,
            port,
            data: data.to_owned(),
            log,
        }
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        read(&self.log)
    }

    /// A request builder for `key` in the default bucket, signed with the test credential
    /// and the host cos-local is reached at.
    pub fn request(&self, method: &str, key: &str) -> Signed {
        Signed::new(self, method, key)
    }
}

impl Drop for CosLocal {
    fn drop(&mut self) {
        self.kill();
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A request being put together, to be signed at `send`.
pub struct Signed {
    base: String,
    method: String,
    key: String,
    params: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
    unsigned_headers: Vec<(String, String)>,
    body: Vec<u8>,
    creds: Option<Credentials>,
    window: KeyTime,
    host: String,
    path_prefix: String,
}

impl Signed {
    fn new(server: &CosLocal, method: &str, key: &str) -> Self {
        Self {
            base: server.url.clone(),
            method: method.to_owned(),
            key: key.to_owned(),
            params: Vec::new(),
            headers: Vec::new(),
            unsigned_headers: Vec::new(),
            body: Vec::new(),
            creds: Some(creds()),
            window: window(),
            host: format!("127.0.0.1:{}", server.port),
            path_prefix: String::new(),
        }
    }

    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.into(), Some(value.into())));
        self
    }

    pub fn flag(mut self, name: &str) -> Self {
        self.params.push((name.into(), None));
        self
    }

    /// A header that is signed (and sent).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A header that is sent but not signed.
    pub fn unsigned_header(mut self, name: &str, value: &str) -> Self {
        self.unsigned_headers.push((name.into(), value.into()));
        self
    }

    /// The Host header, signed: a virtual-host name, say.
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    /// Sends path-style, `/<bucket>/<key>`, while signing `/<key>` as the SDKs do.
    pub fn path_style(mut self, bucket: &str) -> Self {
        self.path_prefix = format!("{bucket}/");
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn creds(mut self, creds: Option<Credentials>) -> Self {
        self.creds = creds;
        self
    }

    pub fn window(mut self, window: KeyTime) -> Self {
        self.window = window;
        self
    }

    /// The URL with the business parameters, and the Authorization value.
    pub fn parts(&self) -> (String, Option<String>, Vec<(String, String)>) {
        let mut to_sign = RequestToSign::new(&self.method, &self.key).header("Host", &self.host);
        for (name, value) in &self.params {
            to_sign = match value {
                Some(value) => to_sign.param(name, value),
                None => to_sign.flag(name),
            };
        }
        for (name, value) in &self.headers {
            to_sign = to_sign.header(name, value);
        }
        let signature = self
            .creds
            .as_ref()
            .map(|creds| to_sign.sign(creds, self.window).unwrap());
        let query: Vec<String> = self
            .params
            .iter()
            .map(|(name, value)| match value {
                Some(value) => format!("{}={}", encode(name), encode(value)),
                None => encode(name).into_owned(),
            })
            .collect();
        let mut url = format!(
            "{}/{}{}",
            self.base,
            self.path_prefix,
            encode_path(&self.key)
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let mut headers = self.headers.clone();
        headers.extend(self.unsigned_headers.iter().cloned());
        headers.push(("Host".into(), self.host.clone()));
        if let Some(signature) = &signature {
            headers.extend(signature.headers_to_add.iter().cloned());
        }
        (url, signature.map(|s| s.authorization), headers)
    }

    /// Sends with the Authorization header, optionally changed by `tamper` first.
    pub async fn send_with(self, tamper: impl FnOnce(String) -> String) -> Reply {
        let (url, authorization, headers) = self.parts();
        let mut request = client().request(self.method.parse().unwrap(), url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(authorization) = authorization {
            request = request.header("Authorization", tamper(authorization));
        }
        Reply::from(request.body(self.body).send().await.unwrap()).await
    }

    pub async fn send(self) -> Reply {
        self.send_with(|a| a).await
    }
}

/// One reqwest client for the tests: no proxy whatever the environment says, and no
/// redirects followed (a POST form's redirect points at a page that is not ours to visit).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of an element of the XML body.
    pub fn xml(&self, element: &str) -> Option<String> {
        let text = self.text();
        let open = format!("<{element}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{element}>"))? + start;
        Some(
            text[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    }

    /// The COS error code.
    pub fn code(&self) -> String {
        self.xml("Code").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// Asserts a COS error answer: status, code, and the request id in body and header.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.text()
        );
        let request_id = self.header("x-cos-request-id").unwrap();
        assert_eq!(self.xml("RequestId").as_deref(), Some(request_id.as_str()));
        assert!(self.xml("Message").is_some_and(|m| !m.is_empty()));
    }
}

/// Every file under `dir` whose name starts with `.tmp-`: what a failed write must not
/// leave behind.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                found.push(path);
            }
        }
    }
    found
}

/// The workspace root, where the Python venv and node_modules live.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(3)
        .unwrap()
        .to_owned()
}

/// A tool the SDK tests need, or a failure that says how to get it.
pub fn required_tool(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing at {}: run `make deps` in the workspace root first",
        path.display()
    );
    path
}

/// The venv's Python (or `COSIGNER_PYTHON`).
pub fn python() -> PathBuf {
    let path = std::env::var_os("COSIGNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    required_tool(path, "the Python venv with cos-python-sdk-v5")
}

/// MD5 as lowercase hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(bytes))
}
