//! The `sign-parts` binary under the Lambda Runtime API: parts of a multipart upload that
//! the server initiated in `cos-local` are signed, and another user's upload is a 404.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use serde_json::json;

use cosigner_runtime_harness::{Function, LocalStack};

#[tokio::test]
async fn signs_parts_of_a_multipart_upload_through_the_runtime_interface() {
    let stack = LocalStack::start("sign-parts").await;
    let mut function =
        Function::start(env!("CARGO_BIN_EXE_sign-parts"), "sign-parts", &stack.env()).await;
    let upload = json!({
        "name": "video.mp4", "size": 20_u64 << 20, "content_type": "text/plain", "method": "multipart"
    });
    let (status, issued) = function
        .call("POST", "/v1/uploads", Some("user-bob"), Some(&upload))
        .await;
    assert_eq!(status, 201, "{issued}\n{}", function.logs());
    let parts_path = format!("/v1/uploads/{}/parts", issued["file_id"].as_str().unwrap());

    let wanted = json!({ "part_numbers": [1, 2, 3] });
    let (status, signed) = function
        .call("POST", &parts_path, Some("user-bob"), Some(&wanted))
        .await;
    let (other_status, other) = function
        .call("POST", &parts_path, Some("user-mallory"), Some(&wanted))
        .await;

    let logs = function.stop().await;
    assert_eq!(status, 200, "{signed}\n{logs}");
    assert_eq!(signed["upload_id"], issued["upload_id"]);
    assert_eq!(signed["parts"].as_array().unwrap().len(), 3);
    assert!(
        signed["parts"][0]["url"]
            .as_str()
            .unwrap()
            .contains("partNumber=1"),
        "{signed}"
    );
    assert_eq!(other_status, 404);
    assert_eq!(other["error"]["code"], "not_found");
}
