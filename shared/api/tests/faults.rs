//! Faults: a table that conflicts or throttles is retried, then answered with a 503 and
//! `Retry-After`; an unreachable table is a 503 and COS a 502; nothing is left half written,
//! and the retry succeeds. A rotated COS key is fetched again once.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use serde_json::json;

use common::*;
use cos_sign::Credentials;
use cosigner_api::{RecordOutcome, handle_cos_event};
use cosigner_core::{FileState, UserId};

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

fn upload_body() -> String {
    json!({"name": "a.txt", "size": 10, "content_type": "text/plain"}).to_string()
}

#[tokio::test]
async fn a_conflict_or_throttle_is_retried_until_it_passes() {
    let world = World::new();
    world.table().fail("reserve", Fault::Conflict, 2);
    world.table().fail("ensure_user", Fault::Throttled, 1);

    let reply = world
        .call(Some("alice"), "POST", "/v1/uploads", &upload_body())
        .await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(world.table().files_of(&alice()).len(), 1);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_table_that_keeps_throttling_is_a_503_with_retry_after_and_nothing_written() {
    let world = World::new();
    world.call(Some("alice"), "GET", "/v1/me", "").await;
    world.table().fail("reserve", Fault::Throttled, 4);

    let reply = world
        .call(Some("alice"), "POST", "/v1/uploads", &upload_body())
        .await;
    let retry = world
        .call(Some("alice"), "POST", "/v1/uploads", &upload_body())
        .await;

    reply.assert_error(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(retry.status, 201);
    assert_eq!(world.table().files_of(&alice()).len(), 1);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn an_unreachable_table_is_a_503_without_retrying_it() {
    let world = World::new();
    world.table().fail("get_file", Fault::Unavailable, 1);

    let reply = world
        .call(
            Some("alice"),
            "GET",
            "/v1/files/01HF7YAT00RQ4ZXT8W6M3D2KGA",
            "",
        )
        .await;

    reply.assert_error(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert_eq!(world.table().calls(), 1);
    assert!(!reply.text.contains("connection refused"));
}

#[tokio::test]
async fn cos_failing_during_completion_is_a_502_and_the_retry_confirms() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    world.store().fail("head", Fault::Unavailable, 1);
    let path = format!("/v1/uploads/{id}/complete");

    let failed = world.call(Some("alice"), "POST", &path, "").await;
    let state_between = world.record("alice", &id).state;
    let retried = world.call(Some("alice"), "POST", &path, "").await;

    failed.assert_error(502, "bad_gateway");
    assert!(!failed.text.contains("connection reset"));
    assert_eq!(state_between, FileState::Pending);
    assert_eq!(retried.status, 200);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_multipart_upload_that_cannot_be_reserved_is_aborted_in_cos() {
    let world = World::new();
    world.table().set_quota(&alice(), 10 << 20);
    world.table().fail("reserve", Fault::Unavailable, 1);
    let body = json!({
        "name": "big.png", "size": 9 << 20, "content_type": "image/png", "method": "multipart"
    });

    let reply = world
        .call(Some("alice"), "POST", "/v1/uploads", &body.to_string())
        .await;

    reply.assert_error(503, "unavailable");
    assert_eq!(world.store().upload_count(), 0);
    assert!(
        world
            .store()
            .log()
            .iter()
            .any(|l| l.starts_with("abort_multipart"))
    );
    assert!(world.table().files_of(&alice()).is_empty());
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_multipart_upload_cos_will_not_start_is_a_502_with_nothing_reserved() {
    let world = World::new();
    world
        .store()
        .fail("initiate_multipart", Fault::Unavailable, 1);
    let body = json!({"name": "big.png", "size": 20 << 20, "content_type": "image/png"});

    let reply = world
        .call(Some("alice"), "POST", "/v1/uploads", &body.to_string())
        .await;

    reply.assert_error(502, "bad_gateway");
    assert!(world.table().files_of(&alice()).is_empty());
    assert_eq!(world.table().user(&alice()).unwrap().reserved_bytes, 0);
}

#[tokio::test]
async fn a_quota_that_cannot_hold_a_multipart_upload_never_starts_one() {
    let world = World::new();
    world.table().set_quota(&alice(), 1 << 20);
    let body = json!({"name": "big.png", "size": 20 << 20, "content_type": "image/png"});

    let reply = world
        .call(Some("alice"), "POST", "/v1/uploads", &body.to_string())
        .await;

    reply.assert_error(413, "quota_exceeded");
    assert!(world.store().log().is_empty());
}

#[tokio::test]
async fn delete_interrupted_between_cos_and_the_table_finishes_on_retry() {
    let world = World::new();
    let (id, key) = world.ready_file("alice", "a.txt", 10).await;
    let path = format!("/v1/files/{id}");
    world.table().fail("delete_file", Fault::Unavailable, 1);

    let failed = world.call(Some("alice"), "DELETE", &path, "").await;
    let object_between = world.store().object(&key);
    let retried = world.call(Some("alice"), "DELETE", &path, "").await;
    let after = world.call(Some("alice"), "DELETE", &path, "").await;

    failed.assert_error(503, "unavailable");
    assert!(object_between.is_none());
    assert_eq!(retried.status, 204);
    after.assert_error(404, "not_found");
    assert_eq!(world.table().user(&alice()).unwrap().used_bytes, 0);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn delete_with_cos_failing_keeps_the_record_for_a_retry() {
    let world = World::new();
    let (id, key) = world.ready_file("alice", "a.txt", 10).await;
    world.store().fail("delete", Fault::Rejected, 1);

    let failed = world
        .call(Some("alice"), "DELETE", &format!("/v1/files/{id}"), "")
        .await;

    failed.assert_error(502, "bad_gateway");
    assert!(world.store().object(&key).is_some());
    assert_eq!(world.record("alice", &id).state, FileState::Ready);
}

#[tokio::test]
async fn an_abort_whose_clean_up_failed_finishes_on_retry() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": 10, "content_type": "image/png",
                "method": "multipart"}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();
    let upload_id = issued["upload_id"].as_str().unwrap();
    world.store().fail("abort_multipart", Fault::Unavailable, 1);
    let path = format!("/v1/uploads/{id}");

    let failed = world.call(Some("alice"), "DELETE", &path, "").await;
    let retried = world.call(Some("alice"), "DELETE", &path, "").await;

    failed.assert_error(502, "bad_gateway");
    assert_eq!(retried.status, 200);
    assert_eq!(retried.json["state"], "aborted");
    assert!(!world.store().has_upload(upload_id));
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_rotated_cos_key_is_fetched_again_and_used_from_then_on() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    let rotated = Credentials::new("AKIDrotated", "rotated-secret").unwrap();
    *world.next_credentials.lock().unwrap() = rotated;
    world.store().rotate_to("AKIDrotated");

    let complete = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.txt", "size": 1, "content_type": "text/plain"}),
        )
        .await;

    assert_eq!(complete.status, 200, "{}", complete.text);
    let authorization = issued["headers"]["Authorization"].as_str().unwrap();
    assert!(
        authorization.contains("q-ak=AKIDrotated"),
        "{authorization}"
    );
    assert_eq!(
        world
            .store()
            .log()
            .iter()
            .filter(|l| l.starts_with("head"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_key_that_stays_refused_after_one_refetch_is_a_502() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    world.store().rotate_to("AKIDsomethingelse");

    let reply = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;

    reply.assert_error(502, "bad_gateway");
    assert_eq!(
        world
            .store()
            .log()
            .iter()
            .filter(|l| l.starts_with("head"))
            .count(),
        2
    );
    assert_eq!(world.record("alice", &id).state, FileState::Pending);
}

#[tokio::test]
async fn an_event_that_meets_a_failing_table_asks_for_redelivery() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    let body = cos_event(&key, 10).to_string();

    world.table().fail("get_file", Fault::Unavailable, 1);
    let direct = handle_cos_event(&world.deps, body.as_bytes()).await;
    world.table().fail("get_file", Fault::Unavailable, 1);
    let relayed = world.relay_event(&body).await;
    let redelivered = world.relay_event(&body).await;

    assert!(direct.should_retry());
    assert_eq!(direct.records[0].outcome, RecordOutcome::Failed);
    relayed.assert_error(503, "unavailable");
    assert!(relayed.header("retry-after").is_some());
    assert_eq!(redelivered.status, 200);
    assert_eq!(world.record("alice", &id).state, FileState::Ready);
}

#[tokio::test]
async fn an_event_that_meets_failing_cos_asks_for_redelivery_with_a_502() {
    let world = World::new();
    let (_, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().fail("head", Fault::Unavailable, 1);

    let relayed = world.relay_event(&cos_event(&key, 10).to_string()).await;

    relayed.assert_error(502, "bad_gateway");
}

#[tokio::test]
async fn the_quota_and_the_pending_cap_are_enforced_by_the_reservation() {
    let world = World::new();
    world.table().set_quota(&alice(), 25);
    let body = |size: u64| {
        json!({"name": "a.txt", "size": size, "content_type": "text/plain"}).to_string()
    };

    let first = world
        .call(Some("alice"), "POST", "/v1/uploads", &body(20))
        .await;
    let over = world
        .call(Some("alice"), "POST", "/v1/uploads", &body(6))
        .await;
    let exact = world
        .call(Some("alice"), "POST", "/v1/uploads", &body(5))
        .await;
    world.table().set_quota(&alice(), 1 << 30);
    for _ in 0..3 {
        assert_eq!(
            world
                .call(Some("alice"), "POST", "/v1/uploads", &body(1))
                .await
                .status,
            201
        );
    }
    let capped = world
        .call(Some("alice"), "POST", "/v1/uploads", &body(1))
        .await;

    assert_eq!(first.status, 201);
    over.assert_error(413, "quota_exceeded");
    assert!(
        over.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 bytes")
    );
    assert_eq!(exact.status, 201);
    capped.assert_error(429, "too_many_pending");
    world.table().assert_counters_match(&alice());
}
