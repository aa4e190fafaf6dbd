//! Completion and the COS event drive the same transition: in any order, repeated, or
//! racing, a file becomes ready once and is counted once.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::sync::Arc;

use serde_json::json;

use common::*;
use cosigner_api::{RecordOutcome, handle_cos_event};
use cosigner_core::{FileState, UserId};

#[derive(Debug, Clone, Copy)]
enum Step {
    Complete,
    Event,
    Relay,
}

async fn take(world: &World, step: Step, id: &str, key: &str, size: u64) {
    match step {
        Step::Complete => {
            let reply = world
                .call(
                    Some("alice"),
                    "POST",
                    &format!("/v1/uploads/{id}/complete"),
                    "",
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert_eq!(reply.json["state"], "ready");
            assert_eq!(reply.json["size"], size);
        }
        Step::Event => {
            let report =
                handle_cos_event(&world.deps, cos_event(key, size).to_string().as_bytes()).await;
            let outcome = report.records[0].outcome;
            assert!(
                matches!(
                    outcome,
                    RecordOutcome::Confirmed | RecordOutcome::AlreadyReady
                ),
                "{report:?}"
            );
        }
        Step::Relay => {
            let reply = world.relay_event(&cos_event(key, size).to_string()).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    }
}

/// Every sequence of 1 to 4 steps drawn from completion, direct event and relayed event.
fn sequences() -> Vec<Vec<Step>> {
    let steps = [Step::Complete, Step::Event, Step::Relay];
    let mut all: Vec<Vec<Step>> = vec![vec![]];
    let mut out = Vec::new();
    for _ in 0..4 {
        all = all
            .iter()
            .flat_map(|seq| {
                steps.iter().map(move |s| {
                    let mut next = seq.clone();
                    next.push(*s);
                    next
                })
            })
            .collect();
        out.extend(all.iter().cloned());
    }
    out
}

#[tokio::test]
async fn any_order_and_any_number_of_confirmations_count_the_file_once() {
    let sequences = sequences();
    assert_eq!(sequences.len(), 3 + 9 + 27 + 81);

    for sequence in sequences {
        let world = World::new();
        let (id, key) = world.issue_put("alice", "a.txt", 1234).await;
        world.store().put_object(&key, 1234, "etag-a");

        for step in &sequence {
            take(&world, *step, &id, &key, 1234).await;
        }

        let alice = UserId::new("alice").unwrap();
        let profile = world.table().user(&alice).unwrap();
        assert_eq!(
            world.record("alice", &id).state,
            FileState::Ready,
            "{sequence:?}"
        );
        assert_eq!(profile.file_count, 1, "{sequence:?}");
        assert_eq!(profile.used_bytes, 1234, "{sequence:?}");
        assert_eq!(profile.reserved_bytes, 0, "{sequence:?}");
        world.table().assert_counters_match(&alice);
    }
}

#[tokio::test]
async fn a_repeated_completion_answers_the_same_ready_record() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");

    let first = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    let second = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "{}",
        )
        .await;

    assert_eq!(first.status, 200);
    assert_eq!(first.json, second.json);
    assert_eq!(
        world
            .store()
            .log()
            .iter()
            .filter(|l| l.starts_with("head"))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_completions_and_events_count_every_file_once() {
    let world = Arc::new(World::new());
    let mut files = Vec::new();
    for i in 0..5u64 {
        let size = 100 + i;
        let (id, key) = world.issue_put("alice", &format!("f{i}.txt"), size).await;
        world.store().put_object(&key, size, "e");
        files.push((id, key, size));
    }

    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..8 {
        for (id, key, size) in files.clone() {
            let world = Arc::clone(&world);
            let step = [Step::Complete, Step::Event, Step::Relay][round % 3];
            tasks.spawn(async move { take(&world, step, &id, &key, size).await });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }

    let alice = UserId::new("alice").unwrap();
    let profile = world.table().user(&alice).unwrap();
    assert_eq!(profile.file_count, 5);
    assert_eq!(profile.used_bytes, (100..105).sum::<u64>());
    world.table().assert_counters_match(&alice);
}

#[tokio::test]
async fn an_event_before_the_object_exists_is_skipped_and_completion_waits_for_it() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;

    let report = handle_cos_event(&world.deps, cos_event(&key, 10).to_string().as_bytes()).await;
    let early = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    world.store().put_object(&key, 10, "e");
    let late = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;

    assert_eq!(report.records[0].outcome, RecordOutcome::Skipped);
    early.assert_error(409, "conflict");
    assert!(
        early.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not finished")
    );
    assert_eq!(late.status, 200);
}

#[tokio::test]
async fn a_multipart_upload_completes_from_its_parts_once() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "big.png", "size": (16 << 20) + 5, "content_type": "image/png"}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();
    let upload_id = issued["upload_id"].as_str().unwrap();
    assert_eq!(issued["part_count"], 3);
    world.store().put_part(upload_id, 1, 8 << 20);
    world.store().put_part(upload_id, 2, 8 << 20);

    let partial = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    world.store().put_part(upload_id, 3, 5);
    let done = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    let key = world.record("alice", id).key;
    let event = handle_cos_event(
        &world.deps,
        cos_event(&key, (16 << 20) + 5).to_string().as_bytes(),
    )
    .await;
    let again = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;

    partial.assert_error(409, "conflict");
    assert!(
        partial.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 of the 3 parts")
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json["size"], (16 << 20) + 5);
    assert_eq!(event.records[0].outcome, RecordOutcome::AlreadyReady);
    assert_eq!(again.json, done.json);
    assert!(!world.store().has_upload(upload_id));
    world
        .table()
        .assert_counters_match(&UserId::new("alice").unwrap());
}

#[tokio::test]
async fn a_multipart_completion_interrupted_after_cos_finishes_on_retry() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": 10, "content_type": "image/png",
                "method": "multipart"}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();
    world
        .store()
        .put_part(issued["upload_id"].as_str().unwrap(), 1, 10);
    world.table().fail("mark_ready", Fault::Unavailable, 1);

    let failed = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    let retried = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;

    failed.assert_error(503, "unavailable");
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(retried.json["state"], "ready");
    world
        .table()
        .assert_counters_match(&UserId::new("alice").unwrap());
}

#[tokio::test]
async fn completion_checks_the_declared_md5_and_crc64() {
    let world = World::new();
    let md5 = "1B2M2Y8AsgTpgAmY7PhCfg==";
    let issued = world
        .issue(
            "alice",
            json!({"name": "m.txt", "size": 3, "content_type": "text/plain", "content_md5": md5}),
        )
        .await;
    let id = issued["file_id"].as_str().unwrap();
    let key = world.record("alice", id).key;
    let path = format!("/v1/uploads/{id}/complete");

    world
        .store()
        .put_object_with_crc(&key, 3, "\"0000\"", "123");
    let wrong_md5 = world.call(Some("alice"), "POST", &path, "").await;
    world
        .store()
        .put_object_with_crc(&key, 3, "\"d41d8cd98f00b204e9800998ecf8427e\"", "123");
    let wrong_crc = world
        .call(Some("alice"), "POST", &path, r#"{"crc64":"124"}"#)
        .await;
    let right = world
        .call(Some("alice"), "POST", &path, r#"{"crc64":"123"}"#)
        .await;

    wrong_md5.assert_error(409, "conflict");
    assert!(wrong_md5.text.contains("MD5"));
    wrong_crc.assert_error(409, "conflict");
    assert!(wrong_crc.text.contains("CRC64"));
    assert_eq!(right.status, 200, "{}", right.text);
}

#[tokio::test]
async fn a_stored_object_of_another_size_is_not_confirmed() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 11, "e");

    let reply = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    let report = handle_cos_event(&world.deps, cos_event(&key, 11).to_string().as_bytes()).await;

    reply.assert_error(409, "conflict");
    assert_eq!(report.records[0].outcome, RecordOutcome::Skipped);
    assert_eq!(world.record("alice", &id).state, FileState::Pending);
}

#[tokio::test]
async fn after_an_abort_completion_conflicts_and_a_late_object_is_removed() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    let aborted = world
        .call(Some("alice"), "DELETE", &format!("/v1/uploads/{id}"), "")
        .await;
    let again = world
        .call(Some("alice"), "DELETE", &format!("/v1/uploads/{id}"), "")
        .await;
    world.store().put_object(&key, 10, "e");

    let report = handle_cos_event(&world.deps, cos_event(&key, 10).to_string().as_bytes()).await;
    let complete = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;

    assert_eq!(aborted.status, 200);
    assert_eq!(again.json, aborted.json);
    assert_eq!(report.records[0].outcome, RecordOutcome::Skipped);
    assert!(report.records[0].detail.contains("aborted"));
    assert!(world.store().object(&key).is_none());
    complete.assert_error(409, "conflict");
    world
        .table()
        .assert_counters_match(&UserId::new("alice").unwrap());
}

#[tokio::test]
async fn a_ready_upload_cannot_be_aborted() {
    let world = World::new();
    let (id, key) = world.ready_file("alice", "a.txt", 10).await;

    let reply = world
        .call(Some("alice"), "DELETE", &format!("/v1/uploads/{id}"), "")
        .await;

    reply.assert_error(409, "conflict");
    assert!(world.store().object(&key).is_some());
    assert_eq!(world.record("alice", &id).state, FileState::Ready);
}

#[tokio::test]
async fn an_object_sent_after_its_pending_file_was_deleted_is_removed_by_its_event() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    let deleted = world
        .call(Some("alice"), "DELETE", &format!("/v1/files/{id}"), "")
        .await;
    // The signature is still inside its window, so COS takes the bytes.
    world.store().put_object(&key, 10, "e");
    world.store().fail("delete", Fault::Unavailable, 1);

    let first = handle_cos_event(&world.deps, cos_event(&key, 10).to_string().as_bytes()).await;
    let kept_for_redelivery = world.store().object(&key).is_some();
    let again = handle_cos_event(&world.deps, cos_event(&key, 10).to_string().as_bytes()).await;

    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(first.records[0].outcome, RecordOutcome::Failed);
    assert!(first.should_retry());
    assert!(kept_for_redelivery);
    assert_eq!(again.records[0].outcome, RecordOutcome::Skipped);
    assert!(again.records[0].detail.contains("removed"), "{again:?}");
    assert!(world.store().object(&key).is_none());
    let alice = UserId::new("alice").unwrap();
    world.table().assert_counters_match(&alice);
}
