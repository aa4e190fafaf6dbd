//! Where Cosigner's credentials come from: AWS Secrets Manager, SSM Parameter Store, or
//! (for local use) the environment, chosen by configuration, and cached per cold start.
//!
//! Two sets of secrets are read: the COS key pair the server signs with, and the app's
//! own secrets (`jwt_secret`, `event_secret`, `cursor_secret`). In the stores each set
//! is one JSON object:
//!
//! ```text
//! COS:  {"secret_id": "...", "secret_key": "...", "session_token": "..." (optional)}
//! app:  {"jwt_secret": "...", "event_secret": "...", "cursor_secret": "..."}
//! ```
//!
//! A secret's value never appears in an error, a log line or a `Debug` output.
//!
//! # Layout
//!
//! - `shape`: the JSON shapes, parsed without ever quoting a value.
//! - `env`: [`EnvSecrets`], the environment (`COS_SECRET_ID`, `COS_SECRET_KEY`,
//!   `COS_SESSION_TOKEN`, `AUTH_JWT_SECRET`, `EVENT_SECRET`, `CURSOR_SECRET`).
//! - `stores`: [`SecretsManagerSecrets`] and [`SsmSecrets`].
//! - `configured`: [`ConfiguredSecrets`] and [`from_config`], the sources a
//!   [`Config`](cosigner_core::Config) names.
//! - `cached`: [`CachedSecrets`], fetch once, refresh on rotation.

mod cached;
mod configured;
mod env;
mod shape;
mod stores;

pub use cached::CachedSecrets;
pub use configured::{ConfiguredSecrets, SecretBackend, from_config};
pub use env::EnvSecrets;
pub use stores::{SecretsManagerSecrets, SsmSecrets};
