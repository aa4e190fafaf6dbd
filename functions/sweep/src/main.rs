//! The `sweep` function: the schedule, which expires pending uploads whose window closed
//! and releases their reservations.

use std::process::ExitCode;

use cosigner_api::lambda;

// One thread: an instance serves one request at a time, and a single-threaded runtime
// starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match cosigner_cold_start::route_deps().await {
        Ok(deps) => cosigner_cold_start::finished(lambda::run_schedule(&deps).await),
        Err(err) => cosigner_cold_start::failed(&err),
    }
}
