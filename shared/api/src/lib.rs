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

mod error;
mod http;

pub use error::{ApiError, ErrorCode};
pub use http::{ApiRequest, ApiResponse, Caller};
