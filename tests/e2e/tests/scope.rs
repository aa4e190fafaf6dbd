//! What a signature opens, and what a quota holds, checked on the real stack: cos-local
//! refuses an upload signature used for another key, method, size or content type, and 200
//! uploads asked at once against a quota that fits 50 leave exactly 50 reservations.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use serde_json::{Value, json};

use cosigner_e2e::{Stack, put_issued};

async fn send(method: &str, url: &str, headers: &Value, body: Vec<u8>) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers.as_object().unwrap() {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    request.body(body).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_signature_opens_one_key_one_method_one_size_and_one_type() {
    let stack = Stack::start(&[], 60);
    let api = stack.api(&stack.ready.token);
    let issued = api
        .send(
            "POST",
            "/v1/uploads",
            Some(json!({"name": "a.png", "size": 1000, "content_type": "image/png"})),
        )
        .await
        .body;
    let url = issued["url"].as_str().unwrap().to_owned();
    let headers = issued["headers"].clone();
    let other_key = url.replacen("/a.png", "/b.png", 1);
    let mut other_type = headers.clone();
    let type_name = other_type
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.eq_ignore_ascii_case("content-type"))
        .unwrap()
        .clone();
    other_type[&type_name] = json!("text/html");

    assert_eq!(
        send("PUT", &other_key, &headers, vec![0; 1000]).await,
        403,
        "another key"
    );
    assert_eq!(
        send("POST", &url, &headers, vec![0; 1000]).await,
        403,
        "another method"
    );
    assert_eq!(
        send("PUT", &url, &headers, vec![0; 1001]).await,
        403,
        "another size"
    );
    assert_eq!(
        send("PUT", &url, &other_type, vec![0; 1000]).await,
        403,
        "another type"
    );
    let mut no_overwrite_guard = headers.clone();
    let guard = no_overwrite_guard
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.eq_ignore_ascii_case("x-cos-forbid-overwrite"))
        .unwrap()
        .clone();
    no_overwrite_guard.as_object_mut().unwrap().remove(&guard);
    assert_eq!(
        send("PUT", &url, &no_overwrite_guard, vec![0; 1000]).await,
        403,
        "without the overwrite guard"
    );

    // The signature as issued still works, exactly once: a second PUT may not overwrite.
    assert_eq!(put_issued(&issued, vec![7; 1000]).await, 200);
    assert_eq!(put_issued(&issued, vec![8; 1000]).await, 409);

    // The download URL opens that one object for GET only.
    let id = issued["file_id"].as_str().unwrap();
    assert_eq!(
        api.send("POST", &format!("/v1/uploads/{id}/complete"), None)
            .await
            .status,
        200
    );
    let download = api.send("GET", &format!("/v1/files/{id}"), None).await.body["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::Client::new();
    assert_eq!(client.get(&download).send().await.unwrap().status(), 200);
    assert_eq!(client.delete(&download).send().await.unwrap().status(), 403);
    assert_eq!(
        client
            .get(download.replacen("/a.png", "/b.png", 1))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_uploads_at_once_against_a_quota_for_fifty_leave_fifty() {
    let stack = Stack::start(
        &[
            ("DEFAULT_QUOTA_BYTES", "50000"),
            ("MAX_PENDING_UPLOADS", "1000"),
        ],
        60,
    );
    let api = std::sync::Arc::new(stack.api(&stack.ready.token));
    api.me().await;

    let attempts: Vec<_> = (0..200)
        .map(|i| {
            let api = std::sync::Arc::clone(&api);
            tokio::spawn(async move {
                let body = json!({"name": format!("f{i}.bin"), "size": 1000, "content_type": "application/octet-stream"});
                api.send("POST", "/v1/uploads", Some(body)).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }

    let issued = statuses.iter().filter(|a| a.status == 201).count();
    let refused = statuses
        .iter()
        .filter(|a| a.status == 413 && a.body["error"]["code"] == "quota_exceeded")
        .count();
    assert_eq!(
        (issued, refused),
        (50, 150),
        "{:?}",
        statuses.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let me = api.me().await;
    assert_eq!(
        (me["reserved_bytes"].as_u64(), me["pending_count"].as_u64()),
        (Some(50_000), Some(50))
    );
    let listed = api.send("GET", "/v1/files?limit=100", None).await.body;
    assert_eq!(listed["files"].as_array().unwrap().len(), 50);
}
