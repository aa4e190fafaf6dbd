//! The `moto_server` process: started from the project's venv on a free loopback port,
//! waited for, and killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::{LocalAwsError, sdk_config};

/// The launcher that wraps moto's own server: see the file for the two things it changes.
const LAUNCHER: &str = include_str!("moto_launcher.py");

/// How long moto may take to import and bind (its first start on a cold disk is slow).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How many lines of the server's output are kept for an error message.
const LOG_LINES: usize = 40;

/// A running `moto_server`, serving DynamoDB, Secrets Manager and SSM on `127.0.0.1`.
///
/// Dropping it kills the server. A server that outlives its handle (one kept in a
/// `static`, say) still exits with the process that started it: it watches its standard
/// input, which closes when that process ends.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    /// Held open for the server's lifetime; closing it tells the server to exit.
    stdin: Option<ChildStdin>,
    port: u16,
    endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl MotoServer {
    /// Starts a server on a free loopback port and waits until it answers.
    ///
    /// The interpreter is `$COSIGNER_PYTHON`, or the workspace's `.venv/bin/python`.
    ///
    /// # Errors
    ///
    /// [`LocalAwsError::PythonMissing`] without the venv, [`LocalAwsError::NotReady`] when
    /// moto is not installed or does not answer in time.
    pub fn start() -> Result<Self, LocalAwsError> {
        let python = python()?;
        // A free port is found by binding port 0 and letting it go; another process may
        // take it in between, so a failed start is tried again on a new port.
        let mut last = None;
        for _ in 0..3 {
            let port = free_port()?;
            match Self::start_on(&python, port) {
                Ok(server) => return Ok(server),
                Err(err @ LocalAwsError::NotReady { .. }) => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| unreachable!("the loop ran at least once")))
    }

    fn start_on(python: &PathBuf, port: u16) -> Result<Self, LocalAwsError> {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(LAUNCHER)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("AWS_REGION", crate::REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C meant for `make dev` reaches only the
            // supervisor, which saves the table before it stops the server. The server
            // still ends with its parent, through its standard input.
            .process_group(0)
            .spawn()
            .map_err(LocalAwsError::Spawn)?;
        let stdin = child.stdin.take();
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            // moto logs every request: the pipe must be drained or the server stalls.
            let log = Arc::clone(&log);
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut lines) = log.lock() {
                        if lines.len() == LOG_LINES {
                            lines.remove(0);
                        }
                        lines.push(line);
                    }
                }
            });
        }
        let mut server = Self {
            child,
            stdin,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    /// Polls until moto itself answers on the port: a bare TCP connect could reach another
    /// process that took the port first.
    fn wait_until_ready(&mut self) -> Result<(), LocalAwsError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.not_ready(format!("it exited with {status}")));
            }
            if answers_as_moto(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.not_ready(format!("no answer within {START_TIMEOUT:?}")));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn not_ready(&mut self, reason: String) -> LocalAwsError {
        self.kill();
        // Give the reader a moment to collect the last lines of a crash.
        thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
        LocalAwsError::NotReady {
            port: self.port,
            reason,
            log,
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration that reaches this server and nothing else.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config(&self.endpoint)
    }

    /// Kills the server now (its state is lost); later calls reach a closed port.
    pub fn stop(&mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        self.stdin = None;
        // Killing a process that already exited fails harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One server for the whole test binary, started on first use.
///
/// Tests of one binary share it and keep apart by using their own table, user and secret
/// names. Each test builds its own SDK clients from [`MotoServer::sdk_config`]: a client's
/// connections belong to the tokio runtime that opened them, and every `#[tokio::test]`
/// has its own.
///
/// # Errors
///
/// As [`MotoServer::start`]; a failed start is not retried by later calls.
pub fn shared() -> Result<&'static MotoServer, String> {
    static SERVER: OnceLock<Result<MotoServer, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| MotoServer::start().map_err(|e| error_chain(&e)))
        .as_ref()
        .map_err(Clone::clone)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn python() -> Result<PathBuf, LocalAwsError> {
    let path = std::env::var_os("COSIGNER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // This crate lives at <workspace>/shared/local-aws.
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
        });
    if path.exists() {
        Ok(path)
    } else {
        Err(LocalAwsError::PythonMissing(path))
    }
}

pub(crate) fn free_port() -> Result<u16, LocalAwsError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(LocalAwsError::Socket)?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(LocalAwsError::Socket)
}

/// Whether `GET /moto-api/` on the port is answered by moto.
fn answers_as_moto(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_answers_and_is_gone_after_drop() {
        let server = MotoServer::start().unwrap();
        let port = server.port();

        assert!(answers_as_moto(port));
        drop(server);

        assert!(!answers_as_moto(port));
    }

    #[test]
    fn a_missing_interpreter_names_make_deps() {
        let err = LocalAwsError::PythonMissing(PathBuf::from("/nowhere/python"));

        assert!(err.to_string().contains("make deps"));
    }
}
