//! Cosigner's routes: typed request in, typed response out, over the ports of
//! `cosigner-core`; the one error shape; and the glue that serves them from Lambda or from
//! the local gateway.
//!
//! # Layout
//!
//! - `error`: [`ApiError`], its stable codes and statuses, and the JSON error shape.
//! - `http`: [`ApiRequest`] and [`ApiResponse`], the framework-free request and response
//!   every entry point (Lambda, local gateway, tests) converts to and from.
//! - `dispatch`: [`dispatch`], which routes an [`ApiRequest`] to its handler.
//! - `routes/<route>`: one module per route, named after it.
//! - `deps`: [`Deps`], everything a route needs, built once per cold start.
//! - `signer`: the URLs, headers and forms handed to terminals.
//! - `confirm`: confirming an upload with COS, shared by completion and the COS event.
//! - `cursor`: the HMAC-protected list cursor.
//! - `retry`: retrying table conflicts and recovering from rotated COS credentials.
//! - `auth`: [`Authenticator`], which verifies bearer JWTs (HS256 with the app secret,
//!   RS256/ES256 through a JWKS) into a user id.
//! - `lambda`: the Lambda glue: HTTP API payload 2.0 events to and from requests, the
//!   authorizer's handler, the direct-event and schedule handlers, and tracing set-up.

mod auth;
mod confirm;
mod cursor;
mod deps;
mod dispatch;
mod error;
mod http;
pub mod lambda;
mod retry;
mod routes;
mod signer;

pub use auth::{AuthError, Authenticator, bearer_token, mint_token, mint_token_for};
pub use deps::{
    AppKeys, BoxFuture, CURSOR_SECRET, CredentialRefresh, Deps, DepsError, EVENT_SECRET,
};
pub use dispatch::{MAX_BODY_BYTES, cause_chain, dispatch};
pub use error::{ApiError, ErrorCode};
pub use http::{ApiRequest, ApiResponse, Caller};
pub use routes::on_object_created::{
    EventReport, MAX_EVENT_SKEW_SECS, RecordOutcome, RecordReport, SIGNATURE_HEADER,
    TIMESTAMP_HEADER, handle_cos_event, sign_event, verify_event_signature,
    verify_event_signature_at,
};
pub use routes::sweep::{SweepReport, sweep};

/// The OpenAPI 3.1 description of every route, written by hand and checked against the
/// running API by the end-to-end tests.
pub const OPENAPI: &str = include_str!("../openapi.json");
