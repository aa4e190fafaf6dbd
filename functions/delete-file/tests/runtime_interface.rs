//! The `delete-file` binary under the Lambda Runtime API: with COS down the delete is a
//! 502 that leaves the record in place; once COS is back the retry deletes object and
//! record and gives the bytes back.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use cosigner_runtime_harness::{Function, LocalStack, body_of, fixture, upload_as_terminal};

#[tokio::test]
async fn deletes_a_file_and_survives_cos_being_down_through_the_runtime_interface() {
    let mut stack = LocalStack::start("delete-file").await;
    let mut function = Function::start(
        env!("CARGO_BIN_EXE_delete-file"),
        "delete-file",
        &stack.env(),
    )
    .await;
    let issued = body_of(&function.respond(fixture("issue-upload.json")).await);
    let id = issued["file_id"].as_str().unwrap().to_owned();
    assert_eq!(upload_as_terminal(&issued, vec![5; 12345]).await, 200);
    let complete = format!("/v1/uploads/{id}/complete");
    assert_eq!(
        function
            .call("POST", &complete, Some("user-alice"), None)
            .await
            .0,
        200
    );
    let file = format!("/v1/files/{id}");

    let (other, _) = function.call("DELETE", &file, Some("user-bob"), None).await;
    stack.stop_cos();
    let (down, error) = function
        .call("DELETE", &file, Some("user-alice"), None)
        .await;
    let (still_there, _) = function.call("GET", &file, Some("user-alice"), None).await;

    let logs = function.stop().await;
    assert_eq!(other, 404, "{logs}");
    assert_eq!(down, 502, "{error}\n{logs}");
    assert_eq!(error["error"]["code"], "bad_gateway");
    assert_eq!(
        still_there, 200,
        "the record stays while the object may still exist"
    );
}

#[tokio::test]
async fn deletes_a_ready_file_and_releases_its_bytes_through_the_runtime_interface() {
    let stack = LocalStack::start("delete-file").await;
    let mut function = Function::start(
        env!("CARGO_BIN_EXE_delete-file"),
        "delete-file",
        &stack.env(),
    )
    .await;
    let issued = body_of(&function.respond(fixture("issue-upload.json")).await);
    let id = issued["file_id"].as_str().unwrap().to_owned();
    assert_eq!(upload_as_terminal(&issued, vec![5; 12345]).await, 200);
    let complete = format!("/v1/uploads/{id}/complete");
    assert_eq!(
        function
            .call("POST", &complete, Some("user-alice"), None)
            .await
            .0,
        200
    );
    let file = format!("/v1/files/{id}");

    let (status, _) = function
        .call("DELETE", &file, Some("user-alice"), None)
        .await;
    let (gone, _) = function.call("GET", &file, Some("user-alice"), None).await;
    let (_, me) = function
        .call("GET", "/v1/me", Some("user-alice"), None)
        .await;

    let logs = function.stop().await;
    assert_eq!(status, 204, "{logs}");
    assert_eq!(gone, 404);
    assert_eq!(me["used_bytes"], 0);
    assert_eq!(me["file_count"], 0);
}
