//! Starts the real `cos-local` binary on `127.0.0.1` with a free port, a throwaway data
//! directory, one bucket and one key pair, and stops it on drop.
//!
//! The binary is not built by these tests: Cargo cannot depend on another package's binary,
//! and a nested `cargo build` would wait on the lock the running `cargo test` holds. Build
//! it first with `cargo build -p cos-local` into the same target directory, or point
//! `COS_LOCAL_BIN` at it.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

use cos_sign::encode::encode_path;
use cos_sign::{Credentials, KeyTime, RequestToSign};
use cosigner_cos_client::{Addressing, CosClient, CosSettings};

/// The bucket `cos-local` serves.
pub const BUCKET: &str = "files-1250000000";
/// Its region.
pub const REGION: &str = "ap-guangzhou";
/// The key pair `cos-local` accepts.
pub const SECRET_ID: &str = "AKIDcosclientwire";
/// Its secret half.
pub const SECRET_KEY: &str = "wire-secret-key-0123456789";
/// A temporary key pair `cos-local` also accepts, with its session token.
pub const TEMP_ID: &str = "AKIDcosclienttemp";
/// Its secret half.
pub const TEMP_KEY: &str = "temp-secret-key-9876543210";
/// Its session token.
pub const TEMP_TOKEN: &str = "temp-session-token-abc";

/// A running `cos-local`.
pub struct CosLocal {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    log: PathBuf,
    _data: TempDir,
}

impl CosLocal {
    /// Starts `cos-local` and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When the binary is missing (with how to build it), or it does not start within 15 s
    /// (with its log).
    pub fn start() -> Self {
        let binary = binary();
        assert!(
            binary.is_file(),
            "cos-local is not built at {}: run `cargo build -p cos-local` with the same \
             CARGO_TARGET_DIR first, or set COS_LOCAL_BIN to the binary",
            binary.display()
        );
        let data = tempfile::tempdir().unwrap();
        let ready = data.path().join("ready");
        let log = data.path().join("cos-local.log");
        let log_file = File::create(&log).unwrap();
        let child = Command::new(&binary)
            .arg("--data")
            .arg(data.path().join("store"))
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(["--bucket", &format!("{BUCKET}:{REGION}")])
            .args(["--credential", &format!("{SECRET_ID}:{SECRET_KEY}")])
            .args([
                "--credential",
                &format!("{TEMP_ID}:{TEMP_KEY}:{TEMP_TOKEN}"),
            ])
            .arg("--ready-file")
            .arg(&ready)
            .args(["--log", "debug"])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut server = Self {
            child: Some(child),
            origin: String::new(),
            log,
            _data: data,
        };

        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let origin = text.trim();
                if origin.starts_with("http://") {
                    server.origin = origin.trim_end_matches('/').to_owned();
                    return server;
                }
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("cos-local exited with {status}:\n{}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "cos-local did not start within 15 s:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server now; later requests find nobody listening.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `127.0.0.1:<port>`.
    pub fn authority(&self) -> &str {
        self.origin.trim_start_matches("http://")
    }

    /// The settings of a client for this server.
    pub fn settings(&self, addressing: Addressing) -> CosSettings {
        CosSettings {
            endpoint: Some(self.origin.clone()),
            addressing,
            ..CosSettings::new(BUCKET, REGION)
        }
    }

    /// A client with the accepted key pair.
    pub fn client(&self) -> CosClient {
        self.client_with(Addressing::Domain, credentials())
    }

    /// A client with this addressing and key pair.
    pub fn client_with(&self, addressing: Addressing, credentials: Credentials) -> CosClient {
        CosClient::new(&self.settings(addressing), credentials).unwrap()
    }

    /// A signed PUT of `body` to `key`, with these query parameters, as a terminal sends
    /// one; returns the answer's ETag without quotes.
    ///
    /// # Panics
    ///
    /// When the answer is not a success.
    pub async fn put(&self, key: &str, params: &[(&str, &str)], body: &[u8]) -> String {
        let host = self.authority().to_owned();
        let length = body.len().to_string();
        let mut to_sign = RequestToSign::new("PUT", key)
            .header("host", host.as_str())
            .header("content-length", length.as_str())
            .header("content-type", "application/octet-stream");
        let mut url = format!("{}/{}", self.origin, encode_path(key));
        for (i, (name, value)) in params.iter().enumerate() {
            to_sign = to_sign.param(*name, *value);
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{name}={value}"));
        }
        let signed = to_sign.sign(&credentials(), window()).unwrap();

        let response = reqwest::Client::new()
            .put(url)
            .header("host", host)
            .header("authorization", signed.authorization)
            .header("content-length", length)
            .header("content-type", "application/octet-stream")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();

        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().trim_matches('"').to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        assert!(
            (200..300).contains(&status),
            "PUT {key} answered {status}: {text}"
        );
        etag
    }
}

impl Drop for CosLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The key pair `cos-local` accepts.
pub fn credentials() -> Credentials {
    Credentials::new(SECRET_ID, SECRET_KEY).unwrap()
}

/// The temporary key pair `cos-local` accepts.
pub fn temporary_credentials() -> Credentials {
    Credentials::new(TEMP_ID, TEMP_KEY)
        .unwrap()
        .with_session_token(TEMP_TOKEN)
        .unwrap()
}

fn window() -> KeyTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    KeyTime::around(now, 60, 600)
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("COS_LOCAL_BIN") {
        return path.into();
    }
    // Test binaries live in <target>/<profile>/deps; cos-local in <target>/<profile>.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join(format!("cos-local{}", std::env::consts::EXE_SUFFIX))
}
