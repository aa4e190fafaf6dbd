//! One module per command (or per few small ones), and what they share: the session (API
//! client, HTTP client, resume state) and how a batch of actions ends.

pub mod files;
pub mod get;
pub mod login;
pub mod upload;

use crate::api::Api;
use crate::error::{CliError, Failure};
use crate::progress::Progress;
use crate::state::StateStore;

/// What a command that talks to the API needs.
#[derive(Debug)]
pub struct Context {
    /// The API client, with the token.
    pub api: Api,
    /// The HTTP client for the object store (no token on it).
    pub http: reqwest::Client,
    /// The resume state of uploads.
    pub states: StateStore,
    /// `-v`.
    pub verbose: bool,
}

/// Ends a command that acted on `total` things: fine when nothing failed; the failure
/// itself for a single thing (its line is not printed yet); else a summary, each
/// failure having had its line already.
pub(crate) fn finish_batch(
    progress: &Progress,
    mut failures: Vec<Failure>,
    total: usize,
    summary_action: &str,
) -> Result<(), Failure> {
    if failures.is_empty() {
        return Ok(());
    }
    if total == 1
        && failures.len() == 1
        && let Some(failure) = failures.pop()
    {
        return Err(failure);
    }
    for failure in &failures {
        progress.note(&failure.line());
    }
    let exit = failures.first().map_or(1, Failure::exit_code);
    Err(Failure::new(
        summary_action,
        CliError::Several {
            failed: failures.len(),
            total,
            exit,
        },
    ))
}
