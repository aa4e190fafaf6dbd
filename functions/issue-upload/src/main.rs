//! The `issue-upload` function: `POST /v1/uploads`, which checks name, size, type and
//! quota, reserves the bytes, and signs the upload.

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
