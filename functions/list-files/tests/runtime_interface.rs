//! The `list-files` binary under the Lambda Runtime API: pages newest first with a cursor
//! that only works untouched.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use serde_json::json;

use cosigner_runtime_harness::{Function, LocalStack};

#[tokio::test]
async fn pages_through_the_callers_files_through_the_runtime_interface() {
    let stack = LocalStack::start("list-files").await;
    let mut function =
        Function::start(env!("CARGO_BIN_EXE_list-files"), "list-files", &stack.env()).await;
    for name in ["first.txt", "second.txt"] {
        let upload = json!({ "name": name, "size": 10, "content_type": "text/plain" });
        let (status, _) = function
            .call("POST", "/v1/uploads", Some("user-carol"), Some(&upload))
            .await;
        assert_eq!(status, 201);
    }

    let (status, page) = function
        .call("GET", "/v1/files?limit=1", Some("user-carol"), None)
        .await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, last) = function
        .call(
            "GET",
            &format!("/v1/files?limit=1&cursor={cursor}"),
            Some("user-carol"),
            None,
        )
        .await;
    let mut tampered = cursor.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (bad, error) = function
        .call(
            "GET",
            &format!("/v1/files?cursor={tampered}"),
            Some("user-carol"),
            None,
        )
        .await;
    let (_, other) = function
        .call("GET", "/v1/files", Some("user-dave"), None)
        .await;

    let logs = function.stop().await;
    assert_eq!(status, 200, "{page}\n{logs}");
    assert_eq!(page["files"][0]["name"], "second.txt", "newest first");
    assert_eq!(last["files"][0]["name"], "first.txt");
    assert!(last.get("next_cursor").is_none(), "{last}");
    assert_eq!(bad, 400);
    assert_eq!(error["error"]["code"], "invalid_cursor");
    assert_eq!(other["files"], json!([]));
}
