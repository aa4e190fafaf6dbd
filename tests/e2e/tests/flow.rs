//! The seed's flow across real processes: a terminal asks for a signature, uploads to
//! cos-local, reports; the event arrives too; the file is listed, downloaded byte-identical
//! and deleted, gone from COS and from the table, its quota released.

#![allow(clippy::unwrap_used)] // A test that cannot reach its stack should stop right there.

use std::time::Duration;

use serde_json::{Value, json};

use cosigner_e2e::{Stack, bytes, eventually, put_issued};

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_uploads_lists_downloads_and_deletes_end_to_end() {
    let stack = Stack::start(&[], 60);
    let token = stack.ready.token.clone();
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("config");
    let original = bytes(300_000, 1);
    let path = folder.path().join("report (final).pdf");
    std::fs::write(&path, &original).unwrap();

    let upload = stack.cosigner(
        &token,
        &config,
        &["upload", "--json", path.to_str().unwrap()],
    );

    assert!(
        upload.status.success(),
        "{}",
        String::from_utf8_lossy(&upload.stderr)
    );
    let record: Value =
        serde_json::from_slice(upload.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let id = record["file_id"].as_str().unwrap().to_owned();
    let api = stack.api(&token);
    let me = api.me().await;
    assert_eq!(
        (me["used_bytes"].as_u64(), me["reserved_bytes"].as_u64()),
        (Some(300_000), Some(0))
    );
    assert_eq!(me["file_count"], 1);

    let listed = stack.cosigner(&token, &config, &["ls", "--json"]);
    let listed: Value =
        serde_json::from_slice(listed.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(listed["file_id"], id.as_str());
    assert_eq!(listed["name"], "report (final).pdf");
    assert_eq!(listed["state"], "ready");

    let copy = folder.path().join("copy.pdf");
    let get = stack.cosigner(&token, &config, &["get", &id, "-o", copy.to_str().unwrap()]);
    assert!(
        get.status.success(),
        "{}",
        String::from_utf8_lossy(&get.stderr)
    );
    assert_eq!(std::fs::read(&copy).unwrap(), original);

    let file = api.send("GET", &format!("/v1/files/{id}"), None).await;
    let key = object_key(&file.body);
    assert!(stack.object_exists(&key).await);
    let removed = stack.cosigner(&token, &config, &["rm", &id]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(
        !stack.object_exists(&key).await,
        "the object is still in COS"
    );
    assert_eq!(
        api.send("GET", &format!("/v1/files/{id}"), None)
            .await
            .status,
        404
    );
    let me = api.me().await;
    assert_eq!(
        (me["used_bytes"].as_u64(), me["file_count"].as_u64()),
        (Some(0), Some(0))
    );
}

/// The key behind a file's download URL or an upload's PUT URL, read from the URL's path.
fn object_key(file: &Value) -> String {
    let url = file["url"].as_str().unwrap();
    let path = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
    let path = path.split('?').next().unwrap();
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upload_event_alone_makes_a_file_ready() {
    let stack = Stack::start(&[], 60);
    let api = stack.api(&stack.ready.token);
    let original = bytes(5_000, 2);

    let issued = api
        .send(
            "POST",
            "/v1/uploads",
            Some(json!({"name": "note.txt", "size": 5_000, "content_type": "text/plain"})),
        )
        .await;
    assert_eq!(issued.status, 201, "{issued:?}");
    assert_eq!(put_issued(&issued.body, original).await, 200);

    // No completion from the terminal: cos-local's signed event is what confirms it.
    let id = issued.body["file_id"].as_str().unwrap().to_owned();
    let ready = eventually(Duration::from_secs(20), || async {
        api.send("GET", &format!("/v1/files/{id}"), None).await.body["state"] == "ready"
    })
    .await;
    assert!(ready, "the event never made the file ready");
    let me = api.me().await;
    assert_eq!(
        (me["used_bytes"].as_u64(), me["reserved_bytes"].as_u64()),
        (Some(5_000), Some(0))
    );

    // The terminal's report arriving after the event changes nothing.
    let complete = api
        .send("POST", &format!("/v1/uploads/{id}/complete"), None)
        .await;
    assert_eq!(complete.status, 200);
    assert_eq!(api.me().await["file_count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_sent_after_its_upload_was_deleted_is_removed_again() {
    let stack = Stack::start(&[], 60);
    let api = stack.api(&stack.ready.token);
    let issued = api
        .send(
            "POST",
            "/v1/uploads",
            Some(json!({"name": "late.bin", "size": 3_000, "content_type": "application/octet-stream"})),
        )
        .await;
    assert_eq!(issued.status, 201, "{issued:?}");
    let id = issued.body["file_id"].as_str().unwrap().to_owned();
    let key = object_key(&issued.body);

    let deleted = api.send("DELETE", &format!("/v1/files/{id}"), None).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    // The signature is still inside its window: cos-local takes the bytes, and its event
    // reaches a server that has no record of them.
    assert_eq!(put_issued(&issued.body, bytes(3_000, 3)).await, 200);

    let removed = eventually(Duration::from_secs(20), || async {
        !stack.object_exists(&key).await
    })
    .await;
    assert!(removed, "the object of a deleted upload stayed in COS");
    let me = api.me().await;
    assert_eq!(
        (me["used_bytes"].as_u64(), me["reserved_bytes"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_user_cannot_list_fetch_sign_for_or_delete_a_users_files() {
    let stack = Stack::start(&[], 60);
    let alice = stack.api(&stack.token_for("alice"));
    let bob_token = stack.token_for("bob");
    let bob = stack.api(&bob_token);
    let issued = alice
        .send(
            "POST",
            "/v1/uploads",
            Some(json!({"name": "secret.bin", "size": 2_000_000, "content_type": "application/octet-stream", "method": "multipart"})),
        )
        .await;
    assert_eq!(issued.status, 201, "{issued:?}");
    let id = issued.body["file_id"].as_str().unwrap().to_owned();
    let pending = alice.send("GET", "/v1/files?limit=1", None).await;
    let alice_list = pending.body.to_string();

    let attempts = [
        bob.send("GET", &format!("/v1/files/{id}"), None).await,
        bob.send("DELETE", &format!("/v1/files/{id}"), None).await,
        bob.send(
            "POST",
            &format!("/v1/uploads/{id}/parts"),
            Some(json!({"part_numbers": [1]})),
        )
        .await,
        bob.send("POST", &format!("/v1/uploads/{id}/complete"), None)
            .await,
        bob.send("DELETE", &format!("/v1/uploads/{id}"), None).await,
    ];

    for attempt in &attempts {
        assert_eq!(attempt.status, 404, "{attempt:?}");
        assert_eq!(attempt.body["error"]["code"], "not_found");
        assert!(!attempt.body.to_string().contains("secret.bin"));
    }
    let listed = bob.send("GET", "/v1/files", None).await;
    assert_eq!(listed.body["files"], json!([]));
    let config = tempfile::tempdir().unwrap();
    let cli = stack.cosigner(&bob_token, config.path(), &["get", &id]);
    assert_eq!(
        cli.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    // Alice's upload is untouched.
    assert_eq!(
        alice
            .send("GET", "/v1/files?limit=1", None)
            .await
            .body
            .to_string(),
        alice_list
    );
}
