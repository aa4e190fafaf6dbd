//! Isolation: every route tried by one user with another user's file id, upload id or
//! cursor answers 404 (or 400 for a cursor), changes nothing, and shows nothing of the
//! other user.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use serde_json::json;

use common::*;
use cosigner_core::{FileState, UserId};

/// alice's files: a ready one, a pending PUT with its object in COS, and a pending multipart
/// upload; and a cursor into her list.
struct Alice {
    ready: String,
    pending: String,
    multipart: String,
    cursor: String,
    secrets: Vec<String>,
}

async fn alice_world() -> (World, Alice) {
    let world = World::new();
    let (ready, ready_key) = world.ready_file("alice", "alice-diary.txt", 100).await;
    let (pending, pending_key) = world.issue_put("alice", "alice-secret-plan.txt", 200).await;
    world.store().put_object(&pending_key, 200, "etag-p");
    let multi = world
        .issue(
            "alice",
            json!({"name": "alice-film.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    let multipart = multi["file_id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        world
            .issue_put("alice", &format!("alice-extra-{i}.txt"), 10)
            .await;
    }
    let page = world
        .call(Some("alice"), "GET", "/v1/files?limit=2", "")
        .await;
    let cursor = page.json["next_cursor"].as_str().unwrap().to_owned();
    let secrets = vec![
        "alice".to_owned(),
        ready.clone(),
        pending.clone(),
        multipart.clone(),
        ready_key,
        pending_key,
        multi["upload_id"].as_str().unwrap().to_owned(),
    ];
    let alice = Alice {
        ready,
        pending,
        multipart,
        cursor,
        secrets,
    };
    (world, alice)
}

fn assert_shows_nothing_of_alice(reply: &Reply, alice: &Alice) {
    for secret in &alice.secrets {
        assert!(
            !reply.text.contains(secret.as_str()),
            "{secret} in {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn every_route_with_another_users_ids_is_not_found_and_changes_nothing() {
    let (world, alice) = alice_world().await;
    let alice_id = UserId::new("alice").unwrap();
    let before: Vec<_> = world.table().files_of(&alice_id);
    let profile_before = world.table().user(&alice_id).unwrap();
    let cases = [
        ("GET", format!("/v1/files/{}", alice.ready), ""),
        ("DELETE", format!("/v1/files/{}", alice.ready), ""),
        ("GET", format!("/v1/files/{}", alice.pending), ""),
        ("DELETE", format!("/v1/files/{}", alice.pending), ""),
        (
            "POST",
            format!("/v1/uploads/{}/complete", alice.pending),
            "",
        ),
        (
            "POST",
            format!("/v1/uploads/{}/complete", alice.multipart),
            "{}",
        ),
        ("DELETE", format!("/v1/uploads/{}", alice.pending), ""),
        ("DELETE", format!("/v1/uploads/{}", alice.multipart), ""),
        (
            "POST",
            format!("/v1/uploads/{}/parts", alice.multipart),
            r#"{"part_numbers":[1]}"#,
        ),
        (
            "POST",
            format!("/v1/uploads/{}/parts", alice.pending),
            r#"{"part_numbers":[1]}"#,
        ),
    ];

    for (method, path, body) in &cases {
        let reply = world.call(Some("bob"), method, path, body).await;

        reply.assert_error(404, "not_found");
        assert_shows_nothing_of_alice(&reply, &alice);
    }
    assert_eq!(world.table().files_of(&alice_id), before);
    assert_eq!(world.table().user(&alice_id).unwrap(), profile_before);
    assert_eq!(
        world.record("alice", &alice.pending).state,
        FileState::Pending
    );
    assert!(
        world
            .store()
            .object(&world.record("alice", &alice.ready).key)
            .is_some()
    );
}

#[tokio::test]
async fn another_users_cursor_is_an_invalid_cursor() {
    let (world, alice) = alice_world().await;

    let reply = world
        .call(
            Some("bob"),
            "GET",
            &format!("/v1/files?cursor={}", alice.cursor),
            "",
        )
        .await;

    reply.assert_error(400, "invalid_cursor");
    assert_shows_nothing_of_alice(&reply, &alice);
}

#[tokio::test]
async fn the_owner_can_use_the_same_cursor() {
    let (world, alice) = alice_world().await;

    let reply = world
        .call(
            Some("alice"),
            "GET",
            &format!("/v1/files?cursor={}", alice.cursor),
            "",
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["files"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn lists_and_profiles_hold_only_the_callers_own() {
    let (world, alice) = alice_world().await;
    world.ready_file("bob", "bob.txt", 7).await;

    let list = world
        .call(Some("bob"), "GET", "/v1/files?limit=100", "")
        .await;
    let me = world.call(Some("bob"), "GET", "/v1/me", "").await;

    assert_eq!(list.json["files"].as_array().unwrap().len(), 1);
    assert_eq!(list.json["files"][0]["name"], "bob.txt");
    assert_shows_nothing_of_alice(&list, &alice);
    assert_eq!(me.json["used_bytes"], 7);
    assert_eq!(me.json["file_count"], 1);
    assert_eq!(me.json["pending_count"], 0);
    assert_shows_nothing_of_alice(&me, &alice);
}

#[tokio::test]
async fn a_terminal_cannot_choose_its_key_or_owner() {
    let world = World::new();

    let with_key = world
        .call(
            Some("bob"),
            "POST",
            "/v1/uploads",
            r#"{"name":"x.txt","size":1,"content_type":"text/plain","key":"uploads/alice/x"}"#,
        )
        .await;
    let issued = world
        .issue(
            "bob",
            json!({"name": "x.txt", "size": 1, "content_type": "text/plain"}),
        )
        .await;

    with_key.assert_error(400, "bad_request");
    let record = world.record("bob", issued["file_id"].as_str().unwrap());
    assert!(record.key.starts_with("uploads/bob/"), "{}", record.key);
}

#[tokio::test]
async fn an_event_for_a_key_under_one_user_never_touches_another() {
    let (world, alice) = alice_world().await;
    let pending = world.record("alice", &alice.pending);
    let forged_key = pending.key.replace("uploads/alice/", "uploads/bob/");

    let reply = world
        .relay_event(&cos_event(&forged_key, 200).to_string())
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["records"][0]["outcome"], "skipped");
    assert_eq!(
        world.record("alice", &alice.pending).state,
        FileState::Pending
    );
}
