//! The `cosigner` command: a terminal of Cosigner that uploads, lists, downloads and
//! deletes files. It asks the business server for signatures and sends the bytes straight
//! to the object store with them; it never holds a storage secret.
//!
//! # Layout
//!
//! - [`cli`]: the command line and its help, exit codes included.
//! - [`commands`]: one module per command: `login`/`logout`, `upload`, `get`, and `ls`,
//!   `rm`, `me` over the file list and the quota.
//! - [`api`]: the business server's routes, typed; the token goes on these requests only.
//! - [`transfer`]: the object-store side: streamed PUTs of files and parts, with progress
//!   and retries, and streamed downloads.
//! - [`plan`]: cutting a file into parts, and batching the parts to sign.
//! - [`state`]: the resume state of unfinished uploads.
//! - [`config`]: the config folder, the saved login, private files.
//! - [`progress`]: bars, plain lines or nothing.
//! - [`human`]: sizes, times, the quota bar.
//! - [`error`]: what can fail, its one line, its exit code.

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod human;
pub mod plan;
pub mod progress;
pub mod state;
pub mod transfer;

use std::time::Duration;

use crate::cli::{Cli, Command};
use crate::commands::Context;
use crate::commands::files::LsOptions;
use crate::commands::get::GetOptions;
use crate::commands::login::TokenSource;
use crate::commands::upload::UploadOptions;
use crate::config::{ConfigDir, Env};
use crate::error::{CliError, Failure};
use crate::state::StateStore;

/// How long connecting to the API or the store may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one command line.
///
/// # Errors
///
/// The [`Failure`] to print and exit with.
pub async fn run(cli: Cli, env: Env) -> Result<(), Failure> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("cosigner/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| {
            Failure::new(
                "starting",
                CliError::BadResponse(format!("no HTTP client ({})", e.without_url())),
            )
        })?;
    let config = ConfigDir::locate(&env).map_err(|e| Failure::new("starting", e))?;
    let api_flag = cli.api.as_deref();

    let command = match cli.command {
        Command::Login { token, token_stdin } => {
            let source = match (token, token_stdin) {
                (_, true) => TokenSource::Stdin,
                (Some(token), false) => TokenSource::Given(token),
                (None, false) => TokenSource::Missing,
            };
            return commands::login::login(http, &env, &config, api_flag, source, cli.verbose)
                .await;
        }
        Command::Logout => return commands::login::logout(&config),
        other => other,
    };

    let api = commands::login::session(http.clone(), &env, &config, api_flag, cli.verbose)
        .map_err(|e| Failure::new(action_of(&command), e))?;
    let ctx = Context {
        api,
        http,
        states: StateStore::new(config.uploads_dir()),
        verbose: cli.verbose,
    };
    match command {
        Command::Upload {
            paths,
            jobs,
            parts,
            json,
            quiet,
            progress,
        } => {
            let options = UploadOptions {
                paths,
                jobs: jobs as usize,
                parts: parts as usize,
                json,
                progress: progress.resolve(quiet),
            };
            commands::upload::upload(&ctx, options).await
        }
        Command::Ls {
            limit,
            all,
            cursor,
            json,
        } => {
            let options = LsOptions {
                limit,
                all,
                cursor,
                json,
            };
            commands::files::ls(&ctx, options).await
        }
        Command::Get {
            file_id,
            output,
            force,
            quiet,
            progress,
        } => {
            let options = GetOptions {
                file_id,
                output,
                force,
                progress: progress.resolve(quiet),
            };
            commands::get::get(&ctx, options).await
        }
        Command::Rm { file_ids } => commands::files::rm(&ctx, &file_ids).await,
        Command::Me { json } => commands::files::me(&ctx, json).await,
        Command::Login { .. } | Command::Logout => Ok(()),
    }
}

/// The action named in a failure before the command could start.
fn action_of(command: &Command) -> &'static str {
    match command {
        Command::Upload { .. } => "upload",
        Command::Ls { .. } => "listing files",
        Command::Get { .. } => "download",
        Command::Rm { .. } => "rm",
        Command::Me { .. } => "reading your quota",
        Command::Login { .. } => "login",
        Command::Logout => "logout",
    }
}
