//! The `abort-upload` binary under the Lambda Runtime API: aborting a pending upload
//! releases its reservation.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use cosigner_runtime_harness::{Function, LocalStack, body_of, fixture};

#[tokio::test]
async fn aborts_a_pending_upload_through_the_runtime_interface() {
    let stack = LocalStack::start("abort-upload").await;
    let mut function = Function::start(
        env!("CARGO_BIN_EXE_abort-upload"),
        "abort-upload",
        &stack.env(),
    )
    .await;
    let issued = body_of(&function.respond(fixture("issue-upload.json")).await);
    let upload = format!("/v1/uploads/{}", issued["file_id"].as_str().unwrap());
    let (_, before) = function
        .call("GET", "/v1/me", Some("user-alice"), None)
        .await;

    let (status, aborted) = function
        .call("DELETE", &upload, Some("user-alice"), None)
        .await;
    let (other, _) = function
        .call("DELETE", &upload, Some("user-bob"), None)
        .await;
    let (_, after) = function
        .call("GET", "/v1/me", Some("user-alice"), None)
        .await;

    let logs = function.stop().await;
    assert_eq!(before["reserved_bytes"], 12345, "{before}\n{logs}");
    assert_eq!(status, 200, "{aborted}\n{logs}");
    assert_eq!(aborted["state"], "aborted");
    assert_eq!(other, 404);
    assert_eq!(after["reserved_bytes"], 0);
}
