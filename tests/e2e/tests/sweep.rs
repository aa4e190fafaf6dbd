//! Abandoned uploads: a signature taken and never used is swept when its window closes,
//! and the reservation comes back.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use std::time::Duration;

use serde_json::json;

use cosigner_e2e::{Stack, eventually, put_issued};

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_never_used_is_swept_and_its_reservation_returns() {
    // Windows of two seconds, and a sweep every second.
    let stack = Stack::start(&[("UPLOAD_URL_TTL", "2")], 1);
    let api = stack.api(&stack.ready.token);

    let issued = api
        .send("POST", "/v1/uploads", Some(json!({"name": "never.bin", "size": 4096, "content_type": "application/octet-stream"})))
        .await;

    assert_eq!(issued.status, 201, "{issued:?}");
    let me = api.me().await;
    assert_eq!(
        (me["reserved_bytes"].as_u64(), me["pending_count"].as_u64()),
        (Some(4096), Some(1))
    );
    let id = issued.body["file_id"].as_str().unwrap().to_owned();
    let released = eventually(Duration::from_secs(20), || async {
        let me = api.me().await;
        me["reserved_bytes"] == 0 && me["pending_count"] == 0
    })
    .await;
    assert!(
        released,
        "the reservation never came back: {}",
        api.me().await
    );
    assert_eq!(
        api.send("GET", &format!("/v1/files/{id}"), None).await.body["state"],
        "expired"
    );
    assert_eq!(
        api.send("GET", "/v1/files", None).await.body["files"],
        json!([])
    );
    // The expired signature no longer opens COS.
    assert_eq!(put_issued(&issued.body, vec![0u8; 4096]).await, 403);
}
