//! The `on-object-created` function: COS's upload-completion event, relayed to `POST
//! /v1/events/cos` or handed over directly.

use std::process::ExitCode;

use cosigner_api::lambda;

// One thread: an instance serves one request at a time, and a single-threaded runtime
// starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match cosigner_cold_start::route_deps().await {
        Ok(deps) => cosigner_cold_start::finished(lambda::run_events(&deps).await),
        Err(err) => cosigner_cold_start::failed(&err),
    }
}
