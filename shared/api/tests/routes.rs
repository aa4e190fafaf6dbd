//! Route behaviour beyond the recorded fixtures: method choice, windows, temporary
//! credentials, deleting unfinished uploads, and listing.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use serde_json::json;

use common::*;
use cos_sign::{Credentials, Secret};
use cosigner_api::{AppKeys, Deps};
use cosigner_core::{FileState, UserId};

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

#[tokio::test]
async fn the_method_defaults_by_size_and_an_explicit_choice_wins() {
    let world = World::new();
    let threshold = 16u64 << 20;

    let below = world
        .issue(
            "alice",
            json!({"name": "a.png", "size": threshold - 1, "content_type": "image/png"}),
        )
        .await;
    let at = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": threshold, "content_type": "image/png"}),
        )
        .await;
    let forced = world
        .issue(
            "alice",
            json!({"name": "c.png", "size": threshold, "content_type": "image/png",
                "method": "put"}),
        )
        .await;

    assert_eq!(below["method"], "put");
    assert_eq!(at["method"], "multipart");
    assert_eq!(forced["method"], "put");
    assert!(forced.get("upload_id").is_none());
}

#[tokio::test]
async fn temporary_credentials_send_their_session_token_with_the_upload() {
    let credentials = Credentials::new(SECRET_ID, SECRET_KEY)
        .unwrap()
        .with_session_token("session-token-1")
        .unwrap();
    let deps = Deps::new(
        config(&[]),
        FakeTable::default(),
        FakeStore::default(),
        FixedClock::at(NOW),
        credentials,
        AppKeys::new(Secret::new(EVENT_SECRET), Secret::new(CURSOR_SECRET)),
    )
    .unwrap();
    let world = World {
        deps,
        next_credentials: World::new().next_credentials,
    };

    let put = world
        .issue(
            "alice",
            json!({"name": "a.txt", "size": 1, "content_type": "text/plain"}),
        )
        .await;
    let post = world
        .issue(
            "alice",
            json!({"name": "b.txt", "size": 1, "content_type": "text/plain", "method": "post"}),
        )
        .await;

    assert_eq!(put["headers"]["x-cos-security-token"], "session-token-1");
    assert!(
        put["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .contains("x-cos-security-token")
    );
    let token_field = post["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "x-cos-security-token")
        .unwrap();
    assert_eq!(token_field["value"], "session-token-1");
}

#[tokio::test]
async fn parts_are_signed_only_inside_the_uploads_window_and_while_pending() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();
    let path = format!("/v1/uploads/{id}/parts");
    let expires_at = issued["expires_at"].as_u64().unwrap();

    world.clock().set(expires_at - 10);
    let near_end = world
        .call(Some("alice"), "POST", &path, r#"{"part_numbers":[3]}"#)
        .await;
    world.clock().set(expires_at);
    let closed = world
        .call(Some("alice"), "POST", &path, r#"{"part_numbers":[3]}"#)
        .await;
    world.clock().set(NOW);
    world
        .call(Some("alice"), "DELETE", &format!("/v1/uploads/{id}"), "")
        .await;
    let aborted = world
        .call(Some("alice"), "POST", &path, r#"{"part_numbers":[1]}"#)
        .await;

    assert_eq!(near_end.status, 200, "{}", near_end.text);
    assert_eq!(
        near_end.json["expires_at"], expires_at,
        "capped at the upload's window"
    );
    assert_eq!(
        near_end.json["parts"][0]["headers"]["Content-Length"],
        (4u64 << 20).to_string()
    );
    closed.assert_error(409, "conflict");
    aborted.assert_error(409, "conflict");
}

#[tokio::test]
async fn deleting_an_unfinished_multipart_upload_aborts_it_and_gives_back_the_bytes() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();
    let upload_id = issued["upload_id"].as_str().unwrap();
    world.store().put_part(upload_id, 1, 8 << 20);

    let reply = world
        .call(Some("alice"), "DELETE", &format!("/v1/files/{id}"), "")
        .await;

    assert_eq!(reply.status, 204);
    assert!(!world.store().has_upload(upload_id));
    assert!(world.table().files_of(&alice()).is_empty());
    assert_eq!(world.table().user(&alice()).unwrap().reserved_bytes, 0);
}

#[tokio::test]
async fn deleting_a_ready_file_does_not_touch_its_finished_multipart_upload() {
    let world = World::new();
    let (id, key) = world.ready_file("alice", "a.txt", 10).await;

    world
        .call(Some("alice"), "DELETE", &format!("/v1/files/{id}"), "")
        .await;

    assert_eq!(
        world.store().log().last().unwrap(),
        &format!("delete {key}")
    );
    assert!(
        !world
            .store()
            .log()
            .iter()
            .any(|l| l.starts_with("abort_multipart"))
    );
}

#[tokio::test]
async fn the_list_defaults_to_twenty_and_leaves_out_released_uploads() {
    let world = World::with_config(config(&[("MAX_PENDING_UPLOADS", "100")]));
    for i in 0..22 {
        world.clock().set(NOW + i);
        world.issue_put("alice", &format!("f{i}.txt"), 1).await;
    }
    let (aborted, _) = world.issue_put("alice", "gone.txt", 1).await;
    world
        .call(
            Some("alice"),
            "DELETE",
            &format!("/v1/uploads/{aborted}"),
            "",
        )
        .await;

    let first = world.call(Some("alice"), "GET", "/v1/files", "").await;
    let cursor = first.json["next_cursor"].as_str().unwrap();
    let rest = world
        .call(
            Some("alice"),
            "GET",
            &format!("/v1/files?cursor={cursor}"),
            "",
        )
        .await;

    assert_eq!(first.json["files"].as_array().unwrap().len(), 20);
    assert_eq!(first.json["files"][0]["name"], "f21.txt");
    assert_eq!(rest.json["files"].as_array().unwrap().len(), 2);
    assert!(!first.text.contains("gone.txt") && !rest.text.contains("gone.txt"));
}

#[tokio::test]
async fn a_file_view_shows_its_state_and_no_internals() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();

    let pending = world
        .call(Some("alice"), "GET", &format!("/v1/files/{id}"), "")
        .await;

    assert_eq!(pending.json["state"], "pending");
    assert_eq!(pending.json["method"], "multipart");
    assert_eq!(pending.json["upload_id"], issued["upload_id"]);
    assert_eq!(pending.json["part_count"], 3);
    assert!(pending.json.get("key").is_none());
    assert!(pending.json.get("user").is_none());
}

#[tokio::test]
async fn an_expired_upload_still_reads_as_expired_without_a_url() {
    let world = World::new();
    let (id, _) = world.issue_put("alice", "a.txt", 10).await;
    cosigner_api::sweep(&world.deps, NOW + 901).await;

    let reply = world
        .call(Some("alice"), "GET", &format!("/v1/files/{id}"), "")
        .await;

    assert_eq!(reply.json["state"], "expired");
    assert!(reply.json.get("url").is_none());
    assert_eq!(world.record("alice", &id).state, FileState::Expired);
}

#[tokio::test]
async fn a_known_users_upload_is_one_table_call_and_a_first_one_makes_the_profile() {
    let world = World::new();
    let body = |name: &str| json!({"name": name, "size": 10, "content_type": "text/plain"});

    world.issue("alice", body("first.txt")).await;
    let for_the_first = world.table().calls();
    world.issue("alice", body("second.txt")).await;
    let for_the_second = world.table().calls() - for_the_first;

    // The first: a reservation refused for want of a profile, the profile, the reservation.
    assert_eq!(for_the_first, 3);
    assert_eq!(for_the_second, 1);
    assert_eq!(world.table().files_of(&alice()).len(), 2);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_refused_reservation_says_how_much_of_the_quota_is_free() {
    let world = World::new();
    world.table().set_quota(&alice(), 1000);
    world
        .issue(
            "alice",
            json!({"name": "a.txt", "size": 600, "content_type": "text/plain"}),
        )
        .await;

    let body = json!({"name": "b.txt", "size": 500, "content_type": "text/plain"});
    let reply = world
        .call(Some("alice"), "POST", "/v1/uploads", &body.to_string())
        .await;

    reply.assert_error(413, "quota_exceeded");
    assert!(
        reply.text.contains("400 bytes of your quota are free"),
        "{}",
        reply.text
    );
    assert_eq!(world.table().files_of(&alice()).len(), 1);
    world.table().assert_counters_match(&alice());
}
