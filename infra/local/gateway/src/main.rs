//! `cosigner-local`: Cosigner on one machine.
//!
//! - `serve` answers every route of the API in one process, with the same handlers the
//!   Lambda functions use, configured by the same environment variables; it also serves the
//!   browser terminal of `terminal/web` at `/`.
//! - `dev` starts the whole stack on loopback (the DynamoDB-protocol server, `cos-local`
//!   and `serve`), prints where everything is, and stops it all on Ctrl-C.
//! - `token` mints a development bearer token.
//! - `sweep` runs the scheduled sweep once.

// A command-line tool for people: what it prints on standard output is its answer.
#![allow(clippy::print_stdout)]

mod dev;
mod serve;
mod snapshot;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

use cos_sign::Secret;
use cosigner_core::{JwtConfig, UserId};

/// Cosigner on one machine: the API in one process, and the whole stack for development.
#[derive(Debug, Parser)]
#[command(name = "cosigner-local", version)]
struct Options {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every route on one port, configured like the Lambda functions (COS_BUCKET,
    /// COS_REGION, COS_ENDPOINT, COS_CREDENTIALS, APP_SECRETS, TABLE_NAME, AUTH_*, …).
    Serve(serve::ServeOptions),
    /// Start the whole stack on loopback: the table, cos-local and the API; Ctrl-C stops it.
    Dev(dev::DevOptions),
    /// Mint a development token for a user, signed with the stack's JWT secret.
    Token(TokenOptions),
    /// Expire pending uploads whose window has passed, once.
    Sweep,
}

#[derive(Debug, clap::Args)]
struct TokenOptions {
    /// The user the token is for (its `sub`).
    #[arg(long)]
    user: String,
    /// How long the token is valid, in seconds.
    #[arg(long, default_value_t = 86_400)]
    ttl: u64,
    /// The stack's data folder, whose secrets sign the token when AUTH_JWT_SECRET is unset.
    #[arg(long, default_value = ".dev")]
    data: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let outcome = match options.command {
        Command::Serve(serve) => serve::run(serve).await,
        Command::Dev(dev) => dev::run(dev).await,
        Command::Token(token) => mint(&token).map(|token| println!("{token}")),
        Command::Sweep => serve::sweep_once().await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cosigner-local: {message}");
            ExitCode::FAILURE
        }
    }
}

fn mint(options: &TokenOptions) -> Result<String, String> {
    let user = UserId::new(&options.user).map_err(|e| e.to_string())?;
    let secret = match std::env::var("AUTH_JWT_SECRET") {
        Ok(secret) if !secret.is_empty() => Secret::new(secret),
        _ => {
            dev::DevSecrets::load(&options.data)
                .map_err(|e| format!("{e}; run `make dev` first, or set AUTH_JWT_SECRET"))?
                .jwt_secret
        }
    };
    let jwt = JwtConfig {
        issuer: std::env::var("AUTH_ISSUER").ok().filter(|v| !v.is_empty()),
        audience: std::env::var("AUTH_AUDIENCE")
            .ok()
            .filter(|v| !v.is_empty()),
        jwks_url: None,
        leeway_secs: 0,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    cosigner_api::mint_token_for(&jwt, &secret, &user, Duration::from_secs(options.ttl), now)
        .map_err(|e| e.to_string())
}
