//! The `complete-upload` binary under the Lambda Runtime API: once the bytes are in
//! `cos-local`, completing makes the file ready and counts its bytes; a body that is not
//! JSON (the recorded base64 event) is a 400 in the one error shape.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use cosigner_runtime_harness::{Function, LocalStack, body_of, fixture, upload_as_terminal};

#[tokio::test]
async fn completes_an_upload_through_the_runtime_interface() {
    let stack = LocalStack::start("complete-upload").await;
    let mut function = Function::start(
        env!("CARGO_BIN_EXE_complete-upload"),
        "complete-upload",
        &stack.env(),
    )
    .await;
    let issued = body_of(&function.respond(fixture("issue-upload.json")).await);
    let complete = format!(
        "/v1/uploads/{}/complete",
        issued["file_id"].as_str().unwrap()
    );

    let (early, _) = function
        .call("POST", &complete, Some("user-alice"), None)
        .await;
    assert_eq!(upload_as_terminal(&issued, vec![1; 12345]).await, 200);
    let (status, file) = function
        .call("POST", &complete, Some("user-alice"), None)
        .await;
    let (again, _) = function
        .call("POST", &complete, Some("user-alice"), None)
        .await;
    let (_, me) = function
        .call("GET", "/v1/me", Some("user-alice"), None)
        .await;
    let binary = function
        .respond(fixture("complete-upload-base64.json"))
        .await;

    let logs = function.stop().await;
    assert_eq!(early, 409, "nothing uploaded yet\n{logs}");
    assert_eq!(status, 200, "{file}\n{logs}");
    assert_eq!(file["state"], "ready");
    assert_eq!(again, 200, "completing twice is the same outcome");
    assert_eq!(me["used_bytes"], 12345);
    assert_eq!(me["reserved_bytes"], 0);
    assert_eq!(binary["statusCode"], 400, "{binary}");
    assert_eq!(body_of(&binary)["error"]["request_id"], "bXr4Bj1XoAMEVgQ=");
}
