//! What can stop a load run before it has figures to report.

use std::io;
use std::path::PathBuf;

/// A failure that ends the run (failed operations are counted, not raised).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The scratch directory could not be made.
    #[error("cannot make the scratch directory under {dir}")]
    Scratch {
        /// Its parent.
        dir: PathBuf,
        /// The file-system error.
        #[source]
        source: io::Error,
    },

    /// This binary's own path is unknown, so cos-local cannot be found beside it.
    #[error("cannot find this program's path to look for cos-local beside it (pass --cos-local)")]
    NoBinary(#[source] io::Error),

    /// cos-local would not start.
    #[error("cannot start {binary} (build it with `cargo build --release -p cos-local`)")]
    Spawn {
        /// The path tried.
        binary: PathBuf,
        /// The error of starting it.
        #[source]
        source: io::Error,
    },

    /// cos-local started but never said it was ready.
    #[error("cos-local did not become ready: {0}")]
    NotReady(String),

    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),

    /// The load credential was refused by the signing crate.
    #[error("the load credential is not valid")]
    Credentials(#[source] cos_sign::SignError),

    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),

    /// The results could not be printed or written.
    #[error("cannot write the results to {path}")]
    Output {
        /// Where they were going.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}
