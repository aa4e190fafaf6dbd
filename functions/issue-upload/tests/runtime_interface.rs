//! The `issue-upload` binary under the Lambda Runtime API: the recorded `POST /v1/uploads`
//! is answered with a signed PUT that `cos-local` accepts, and only for that exact upload.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use serde_json::json;

use cosigner_runtime_harness::{Function, LocalStack, body_of, fixture, upload_as_terminal};

#[tokio::test]
async fn signs_an_upload_that_cos_accepts_through_the_runtime_interface() {
    let stack = LocalStack::start("issue-upload").await;
    let mut function = Function::start(
        env!("CARGO_BIN_EXE_issue-upload"),
        "issue-upload",
        &stack.env(),
    )
    .await;

    let answer = function.respond(fixture("issue-upload.json")).await;
    let too_big = function
        .call(
            "POST",
            "/v1/uploads",
            Some("user-alice"),
            Some(&json!({ "name": "huge.bin", "size": 1_u64 << 50, "content_type": "text/plain" })),
        )
        .await;

    let cold_start = function.cold_start();
    let logs = function.stop().await;
    let issued = body_of(&answer);
    assert_eq!(answer["statusCode"], 201, "{answer}\n{logs}");
    assert_eq!(issued["method"], "put");
    assert!(
        issued["url"]
            .as_str()
            .unwrap()
            .starts_with(stack.cos_endpoint()),
        "{issued}"
    );
    assert_eq!(issued["headers"]["Content-Type"], "image/jpeg", "{issued}");
    assert_eq!(upload_as_terminal(&issued, vec![7; 12345]).await, 200);
    assert_eq!(
        upload_as_terminal(&issued, vec![7; 12346]).await,
        403,
        "another size"
    );
    assert_eq!(too_big.0, 413, "{:?}", too_big.1);
    assert_eq!(too_big.1["error"]["code"], "too_large");
    assert!(
        !logs.contains("q-signature"),
        "a signature reached the log:\n{logs}"
    );
    println!("issue-upload: cold start to first poll {cold_start:?}");
}
