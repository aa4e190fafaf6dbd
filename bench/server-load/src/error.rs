//! [`BenchError`]: why a measurement could not be taken.

use std::path::PathBuf;

/// A measurement could not be taken (a slow one is never an error: it is a number).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// `moto_server` could not be started or the table not created.
    #[error("the local table server is not available")]
    LocalAws(#[from] cosigner_local_aws::LocalAwsError),
    /// A direct table call failed.
    #[error("a table call failed")]
    Table(#[from] cosigner_core::TableError),
    /// The configuration the benchmark builds was refused.
    #[error("the benchmark's configuration was refused")]
    Config(#[from] cosigner_core::ConfigError),
    /// The routes' dependencies could not be built.
    #[error("the route dependencies could not be built")]
    Deps(#[from] cosigner_api::DepsError),
    /// The COS client could not be built.
    #[error("the COS client could not be built")]
    CosClient(#[from] cosigner_cos_client::ClientError),
    /// A signature or a token could not be made.
    #[error("a signature could not be made")]
    Sign(#[from] cos_sign::SignError),
    /// A development token could not be minted.
    #[error("a token could not be minted")]
    Token(#[from] cosigner_api::AuthError),
    /// A user id was refused.
    #[error("a user id was refused")]
    UserId(#[from] cosigner_core::IdError),
    /// The HTTP client failed to build or to send.
    #[error("an HTTP request failed")]
    Http(#[from] reqwest::Error),
    /// A file or process could not be handled.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A binary the measurement runs is not built.
    #[error("{} is missing: build it with `cargo build --release` first", .0.display())]
    MissingBinary(PathBuf),
    /// The local stack did not come up, or said something unexpected.
    #[error("the local stack: {0}")]
    Stack(String),
    /// An operation under measurement answered something other than success, so its time
    /// would not be the time of the work.
    #[error("{operation} did not succeed: {detail}")]
    Unexpected {
        /// What was measured.
        operation: &'static str,
        /// What came back instead.
        detail: String,
    },
}

impl BenchError {
    /// An I/O failure while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
