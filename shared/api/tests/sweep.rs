//! `sweep`: pending uploads past their window are expired once, their reservations given
//! back and their leftovers removed from COS, however many sweeps run at once.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::sync::Arc;

use serde_json::json;

use common::*;
use cosigner_api::sweep;
use cosigner_core::{FileState, UserId};

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

#[tokio::test]
async fn an_upload_past_its_window_is_expired_and_its_stray_object_removed() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");

    let early = sweep(&world.deps, NOW + 900).await;
    let late = sweep(&world.deps, NOW + 901).await;

    assert_eq!(early.examined, 0);
    assert_eq!(late.expired, 1);
    assert_eq!(world.record("alice", &id).state, FileState::Expired);
    assert!(world.store().object(&key).is_none());
    assert_eq!(world.table().user(&alice()).unwrap().reserved_bytes, 0);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn an_expired_multipart_upload_is_aborted_in_cos() {
    let world = World::new();
    let issued = world
        .issue(
            "alice",
            json!({"name": "b.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    let upload_id = issued["upload_id"].as_str().unwrap();
    let expires_at = issued["expires_at"].as_u64().unwrap();
    assert!(
        expires_at >= NOW + 24 * 3600,
        "a multipart upload gets the day"
    );

    let report = sweep(&world.deps, expires_at + 1).await;

    assert_eq!(report.expired, 1);
    assert!(!world.store().has_upload(upload_id));
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn ready_files_and_open_windows_are_left_alone() {
    let world = World::new();
    let (ready, ready_key) = world.ready_file("alice", "r.txt", 10).await;
    world.clock().set(NOW + 500);
    let (open, _) = world.issue_put("alice", "o.txt", 10).await;

    let report = sweep(&world.deps, NOW + 1000).await;

    assert_eq!(report.expired, 0);
    assert_eq!(world.record("alice", &ready).state, FileState::Ready);
    assert!(world.store().object(&ready_key).is_some());
    assert_eq!(world.record("alice", &open).state, FileState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweeps_running_at_once_expire_each_upload_once() {
    let world = Arc::new(World::with_config(config(&[(
        "MAX_PENDING_UPLOADS",
        "1000",
    )])));
    for i in 0..30 {
        world.issue_put("alice", &format!("f{i}.txt"), 10 + i).await;
    }

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let world = Arc::clone(&world);
        tasks.spawn(async move { sweep(&world.deps, NOW + 901).await });
    }
    let mut expired = 0;
    while let Some(report) = tasks.join_next().await {
        let report = report.unwrap();
        assert_eq!(report.failed, 0);
        expired += report.expired;
    }

    assert_eq!(expired, 30);
    let files = world.table().files_of(&alice());
    assert!(files.iter().all(|f| f.state == FileState::Expired));
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_sweep_works_through_more_than_one_batch() {
    let world = World::with_config(config(&[("MAX_PENDING_UPLOADS", "1000")]));
    for i in 0..250 {
        world.issue_put("alice", &format!("f{i}.txt"), 1).await;
    }

    let report = sweep(&world.deps, NOW + 901).await;

    assert_eq!(report.expired, 250);
    assert_eq!(world.table().user(&alice()).unwrap().pending_count, 0);
}

#[tokio::test]
async fn an_upload_confirmed_first_is_skipped_and_keeps_its_object() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    let stale = world.table().file(&alice(), id.parse().unwrap()).unwrap();
    world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{id}/complete"),
            "",
        )
        .await;
    // The sweep read the record while it was pending; by the time it releases, it is ready.
    world.table().serve_stale_expired(vec![stale]);

    let report = sweep(&world.deps, NOW + 901).await;

    assert_eq!(report.skipped, 1);
    assert_eq!(world.record("alice", &id).state, FileState::Ready);
    assert!(world.store().object(&key).is_some());
}

#[tokio::test]
async fn a_failing_table_leaves_the_sweep_incomplete_and_the_next_run_finishes() {
    let world = World::new();
    let (id, _) = world.issue_put("alice", "a.txt", 10).await;
    world.table().fail("expired_pending", Fault::Unavailable, 1);

    let failed = sweep(&world.deps, NOW + 901).await;
    let next = sweep(&world.deps, NOW + 901).await;

    assert!(failed.incomplete);
    assert_eq!(world.record("alice", &id).state, FileState::Expired);
    assert_eq!(next.expired + failed.expired, 1);
}

#[tokio::test]
async fn a_clean_up_that_fails_is_counted_and_the_reservation_still_released() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    world.store().fail("delete", Fault::Unavailable, 1);

    let report = sweep(&world.deps, NOW + 901).await;

    assert_eq!(report.expired, 1);
    assert_eq!(report.failed, 1);
    assert_eq!(world.record("alice", &id).state, FileState::Expired);
    world.table().assert_counters_match(&alice());
}
