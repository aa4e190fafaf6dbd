//! What can go wrong while setting up the local services.

use std::path::PathBuf;

/// A failure to start or prepare a local service.
#[derive(Debug, thiserror::Error)]
pub enum LocalAwsError {
    /// The Python interpreter of the venv is not there.
    #[error("no Python at {0}: run `make deps` (or set COSIGNER_PYTHON) to install moto")]
    PythonMissing(PathBuf),
    /// The process could not be started.
    #[error("could not start moto_server")]
    Spawn(#[source] std::io::Error),
    /// The server exited or never answered.
    #[error(
        "moto_server did not answer on port {port}: {reason} (`make deps` installs moto)\n{log}"
    )]
    NotReady {
        /// The port it was started on.
        port: u16,
        /// What was seen.
        reason: String,
        /// The tail of its output.
        log: String,
    },
    /// A loopback socket could not be opened.
    #[error("could not open a loopback socket")]
    Socket(#[source] std::io::Error),
    /// The table could not be created.
    #[error("could not create the table {name}")]
    Table {
        /// The table's name.
        name: String,
        /// Why.
        #[source]
        source: cosigner_core::TableError,
    },
}
