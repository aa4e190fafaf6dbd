//! A TCP proxy in front of a local service that fails on demand.
//!
//! Stopping moto itself would lose everything it holds, so a test could not look at the
//! table after the outage. The proxy plays the outage instead: the server and its state
//! stay, only the line to it is cut, and restoring the line is the "restart".

use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use aws_config::SdkConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::{LocalAwsError, sdk_config};

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relays everything.
    None,
    /// Closes every connection before a request reaches the server: the server is down.
    Refuse,
    /// Relays requests but closes the connection instead of relaying the answer: the
    /// server acted, and the caller cannot know.
    DropResponses,
    /// As [`Fault::DropResponses`], but only for requests whose head holds this text
    /// (such as `TransactWriteItems` in the `X-Amz-Target` header), so a write's answer
    /// is lost while the reads before it go through.
    DropResponsesTo(&'static str),
}

/// A loopback proxy to a local server, with a switch for [`Fault`]s.
///
/// It runs on a thread of its own, so it serves callers on any runtime, and stops when
/// dropped.
#[derive(Debug)]
pub struct FaultProxy {
    endpoint: String,
    fault: Arc<Mutex<Fault>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts relaying a free loopback port to `upstream_port` on `127.0.0.1`.
    ///
    /// # Errors
    ///
    /// [`LocalAwsError::Socket`] when the port or the proxy's runtime cannot be set up.
    pub fn start(upstream_port: u16) -> Result<Self, LocalAwsError> {
        let listener =
            StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(LocalAwsError::Socket)?;
        listener
            .set_nonblocking(true)
            .map_err(LocalAwsError::Socket)?;
        let port = listener.local_addr().map_err(LocalAwsError::Socket)?.port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LocalAwsError::Socket)?;
        let fault = Arc::new(Mutex::new(Fault::None));
        let (stop, stopped) = oneshot::channel();

        let switch = Arc::clone(&fault);
        let thread = thread::spawn(move || {
            runtime.block_on(serve(listener, upstream_port, switch, stopped));
        });

        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            fault,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>` of the proxy.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration that goes through the proxy.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config(&self.endpoint)
    }

    /// Switches the fault; it applies to connections already open as well as new ones.
    pub fn set_fault(&self, fault: Fault) {
        if let Ok(mut current) = self.fault.lock() {
            *current = fault;
        }
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        current(&self.fault)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: StdTcpListener,
    upstream_port: u16,
    fault: Arc<Mutex<Fault>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                if current(&fault) == Fault::Refuse {
                    continue;
                }
                tokio::spawn(relay(client, upstream_port, Arc::clone(&fault)));
            }
        }
    }
}

fn current(fault: &Mutex<Fault>) -> Fault {
    fault.lock().map_or(Fault::None, |f| *f)
}

/// Copies both ways until either side closes or the fault says to cut; dropping the
/// sockets closes both connections.
async fn relay(client: TcpStream, upstream_port: u16, fault: Arc<Mutex<Fault>>) {
    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream_port)).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    // Whether the request in flight on this connection is one whose answer is to be lost.
    let marked = AtomicBool::new(false);

    let requests = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            match current(&fault) {
                Fault::Refuse => return,
                // A chunk that starts a request (rather than continuing a body) decides.
                Fault::DropResponsesTo(text) if starts_request(chunk) => {
                    marked.store(contains(chunk, text.as_bytes()), Ordering::SeqCst);
                }
                _ => {}
            }
            if to_server.write_all(chunk).await.is_err() {
                return;
            }
        }
    };
    let responses = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let cut = match current(&fault) {
                Fault::None => false,
                Fault::Refuse | Fault::DropResponses => true,
                Fault::DropResponsesTo(_) => marked.load(Ordering::SeqCst),
            };
            if cut || to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = requests => {}
        () = responses => {}
    }
}

fn starts_request(chunk: &[u8]) -> bool {
    ["GET ", "POST ", "PUT ", "DELETE ", "HEAD "]
        .iter()
        .any(|method| chunk.starts_with(method.as_bytes()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
