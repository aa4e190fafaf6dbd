//! Runs a function binary the way Lambda does, without Lambda and without `cargo lambda`: a
//! minimal Lambda Runtime API on a loopback port hands the binary one event at a time
//! (`GET /2018-06-01/runtime/invocation/next`) and collects what it answers
//! (`POST …/{request id}/response` or `…/error`, and `POST …/init/error`).
//!
//! The binary is started as Lambda starts a custom runtime: a fresh process with
//! `AWS_LAMBDA_RUNTIME_API` and the function's settings in its environment, nothing else.
//! Its table is `moto_server` on loopback (through `cosigner-local-aws`), its COS is a
//! `cos-local` running in the test's process, its secrets come from the environment, and
//! nothing leaves the machine.
//!
//! For tests only.
//!
//! # Layout
//!
//! - `runtime_api`: [`RuntimeApi`], the Runtime API server.
//! - `function`: [`Function`], a running binary and its invocations.
//! - `stack`: [`LocalStack`], the environment of a function under test, and the fixtures.

mod function;
mod runtime_api;
mod stack;

pub use function::{Function, Invocation};
pub use runtime_api::{RuntimeApi, serve_document};
pub use stack::{
    BUCKET, EVENT_SECRET, JWT_SECRET, LocalStack, REGION, bearer_for, body_of, fixture,
    gateway_event, signed_event_headers, upload_as_terminal,
};
