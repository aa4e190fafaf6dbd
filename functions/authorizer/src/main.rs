//! The `authorizer` function: the HTTP API's Lambda authorizer, which verifies a bearer JWT
//! and passes the user id to the routes.

use std::process::ExitCode;

use cosigner_api::lambda;

// One thread: an instance serves one request at a time, and a single-threaded runtime
// starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match cosigner_cold_start::authenticator().await {
        Ok(authenticator) => {
            cosigner_cold_start::finished(lambda::run_authorizer(&authenticator).await)
        }
        Err(err) => cosigner_cold_start::failed(&err),
    }
}
