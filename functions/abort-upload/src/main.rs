//! The `abort-upload` function: `DELETE /v1/uploads/{id}`, which gives up a pending upload
//! and releases its reservation.

use std::process::ExitCode;

use cosigner_api::lambda;

// One thread: an instance serves one request at a time, and a single-threaded runtime
// starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match cosigner_cold_start::route_deps().await {
        Ok(deps) => cosigner_cold_start::finished(lambda::run_http(&deps).await),
        Err(err) => cosigner_cold_start::failed(&err),
    }
}
