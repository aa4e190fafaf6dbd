//! `cos-local`: a COS-compatible object store for development and tests.
//!
//! It serves buckets from a data directory, checks every request's COS signature with
//! `cos-sign`'s verifier, answers as COS answers (XML errors included), and posts a signed
//! upload event for each object created. The official COS SDKs and coscmd work against it
//! unchanged.
//!
//! # Layout
//!
//! - [`config`]: the command line and config file, checked.
//! - [`server`]: connections, one answer per request, the log line.
//! - [`address`]: which bucket and key a request is for.
//! - [`auth`]: signature checks and their COS error codes.
//! - [`ops`]: the COS operations, one module per family.
//! - [`body`]: streaming bodies in and out, with limits.
//! - [`store`]: objects and multipart uploads on disk, crash-safe.
//! - [`events`]: upload events, queued on disk and delivered with retries.
//! - [`digest`], [`xml`], [`error`]: checksums, XML, and the COS error shape.

pub mod address;
pub mod auth;
pub mod body;
pub mod config;
pub mod digest;
pub mod error;
pub mod events;
pub mod ops;
pub mod server;
pub mod store;
pub mod xml;

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;

use config::Config;
use events::Notifier;
use server::App;
use store::{Store, StoreError};

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The data directory could not be prepared.
    #[error("cannot open the data directory")]
    Store(#[from] StoreError),
    /// The event queue could not be prepared.
    #[error("cannot open the event queue")]
    Events(#[source] io::Error),
    /// The address is taken or not ours.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The ready file could not be written.
    #[error("cannot write the ready file {path}")]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A server about to serve: store and event queue open, port bound.
#[derive(Debug)]
pub struct Prepared {
    /// What requests are served with.
    pub app: Arc<App>,
    /// The bound listener.
    pub listener: TcpListener,
    /// `http://<ip>:<port>`, with the port actually bound.
    pub url: String,
}

/// Opens the store and the event queue and binds the port, without serving yet. A load
/// test or an embedding program can then call [`server::serve`] with a shutdown future of
/// its own.
///
/// # Errors
///
/// A [`RunError`] when the data directory, the queue or the port cannot be had.
pub async fn prepare(config: Config) -> Result<Prepared, RunError> {
    let store = Store::open(&config.data, &config.buckets).await?;
    let notifier = Notifier::start(&config).await.map_err(RunError::Events)?;
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| RunError::Bind { addr, source })?;
    Ok(Prepared {
        app: Arc::new(App::new(config, store, notifier).await),
        listener,
        url: format!("http://{local}"),
    })
}

/// Prepares the server, writes the ready file, prints the ready line, and serves until
/// Ctrl-C or SIGTERM.
///
/// # Errors
///
/// A [`RunError`] when any of that cannot start.
pub async fn run(config: Config) -> Result<(), RunError> {
    let ready_file = config.ready_file.clone();
    let Prepared { app, listener, url } = prepare(config).await?;
    if let Some(path) = &ready_file {
        store::files::write_atomic(path, url.as_bytes())
            .await
            .map_err(|source| RunError::ReadyFile {
                path: path.clone(),
                source,
            })?;
    }
    tracing::info!(
        address = %url,
        buckets = app.config.buckets.len(),
        default_bucket = %app.config.default_bucket.name,
        notify = app.config.notify.len(),
        "cos-local is ready"
    );
    // The one line on stdout, for scripts and tests to learn the port from.
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "cos-local listening on {url}");
    let _ = stdout.flush();
    drop(stdout);

    server::serve(listener, app, shutdown_signal()).await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
