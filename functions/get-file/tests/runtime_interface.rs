//! The `get-file` binary under the Lambda Runtime API: a ready file comes with a signed
//! download URL that `cos-local` serves; another user gets a 404.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use cosigner_runtime_harness::{Function, LocalStack, body_of, fixture, upload_as_terminal};

#[tokio::test]
async fn returns_a_working_download_url_through_the_runtime_interface() {
    let stack = LocalStack::start("get-file").await;
    let mut function =
        Function::start(env!("CARGO_BIN_EXE_get-file"), "get-file", &stack.env()).await;
    let issued = body_of(&function.respond(fixture("issue-upload.json")).await);
    let id = issued["file_id"].as_str().unwrap().to_owned();
    let (_, pending) = function
        .call("GET", &format!("/v1/files/{id}"), Some("user-alice"), None)
        .await;
    assert_eq!(upload_as_terminal(&issued, vec![3; 12345]).await, 200);
    let complete = format!("/v1/uploads/{id}/complete");
    assert_eq!(
        function
            .call("POST", &complete, Some("user-alice"), None)
            .await
            .0,
        200
    );

    let (status, file) = function
        .call("GET", &format!("/v1/files/{id}"), Some("user-alice"), None)
        .await;
    let (other, _) = function
        .call("GET", &format!("/v1/files/{id}"), Some("user-bob"), None)
        .await;

    let logs = function.stop().await;
    assert!(
        pending.get("url").is_none(),
        "no download before the upload is ready: {pending}"
    );
    assert_eq!(status, 200, "{file}\n{logs}");
    assert_eq!(file["state"], "ready");
    let url = file["url"].as_str().unwrap();
    let download = reqwest::get(url).await.unwrap();
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(download.bytes().await.unwrap().to_vec(), vec![3; 12345]);
    assert!(disposition.contains("holiday"), "{disposition}");
    assert_eq!(other, 404);
    assert!(!logs.contains(url), "a signed URL reached the log");
}
