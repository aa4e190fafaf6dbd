//! Test and development support for the AWS side of Cosigner: `moto_server` on a loopback
//! port, an SDK configuration that can only reach it, the file table created in it, and a
//! proxy that cuts the line on demand.
//!
//! Nothing here is used in production. Everything talks to `127.0.0.1` only, with static
//! test credentials and region `us-east-1`; the SDK's default provider chain is never
//! consulted, so no instance metadata or real account is ever probed.
//!
//! # Layout
//!
//! - `moto`: [`MotoServer`], the process, started from the project's Python venv, and
//!   [`shared`], one server per test binary.
//! - `sdk`: [`sdk_config`], the SDK configuration for a loopback endpoint, and
//!   [`create_file_table`].
//! - `proxy`: [`FaultProxy`], a TCP proxy in front of the server that can refuse
//!   connections or drop responses, to play the table becoming unreachable mid-request.

mod error;
mod moto;
mod proxy;
mod sdk;

pub use error::LocalAwsError;
pub use moto::{MotoServer, shared};
pub use proxy::{Fault, FaultProxy};
pub use sdk::{REGION, create_file_table, sdk_config};
