//! The table unreachable mid-way: every call fails as `Unavailable` (retryable, with the
//! cause kept), nothing is half-written, and the retry after the outage settles it.
//!
//! Each test starts its own `moto_server`, behind a `FaultProxy` that cuts the line while
//! the server and its items stay, so the table can be inspected after the outage.

// A failed unwrap here is a failed test, with the error in its message.
#![allow(clippy::unwrap_used)]

use std::error::Error;

use aws_sdk_dynamodb::types::AttributeValue;
use cosigner_core::{
    FileId, FileRecord, FileState, FileTable, TableError, Transition, UploadKind, UserId,
};
use cosigner_local_aws::{Fault, FaultProxy, MotoServer, create_file_table};
use cosigner_table::DynamoFileTable;

const NOW: u64 = 1_700_000_000;

fn pending(owner: &UserId, size: u64, at: u64) -> FileRecord {
    let id = FileId::generate((NOW + at) * 1000);
    FileRecord {
        user: owner.clone(),
        id,
        key: format!("uploads/{owner}/{id}/a.bin"),
        name: "a.bin".into(),
        size,
        content_type: "application/octet-stream".into(),
        content_md5: None,
        state: FileState::Pending,
        upload: UploadKind::Post,
        etag: None,
        created_at: NOW + at,
        expires_at: NOW + at + 900,
    }
}

/// Asserts an outcome is `Unavailable`, retryable, with an SDK cause behind it.
fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: Result<T, TableError>) {
    match result {
        Err(err @ TableError::Unavailable(_)) => {
            assert!(err.is_retryable(), "{what}");
            let cause = err.source().map(|s| s.to_string()).unwrap_or_default();
            assert!(!cause.is_empty(), "{what}: no cause kept");
        }
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

/// The profile's counters against the files in the table, read straight from it.
async fn assert_consistent(table: &DynamoFileTable, owner: &UserId) -> (i128, i128, usize) {
    let items = table
        .client()
        .query()
        .table_name(table.table_name())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{owner}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec();
    let number = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| -> i128 {
        item.get(name).unwrap().as_n().unwrap().parse().unwrap()
    };
    let state = |item: &std::collections::HashMap<String, AttributeValue>| {
        item.get("state").map(|s| s.as_s().unwrap().clone())
    };
    let profile = items.iter().find(|i| state(i).is_none()).unwrap();
    let files: Vec<_> = items.iter().filter(|i| state(i).is_some()).collect();
    let sum = |wanted: &str| -> i128 {
        files
            .iter()
            .filter(|f| state(f).as_deref() == Some(wanted))
            .map(|f| number(f, "size"))
            .sum()
    };
    let count = |wanted: &str| {
        files
            .iter()
            .filter(|f| state(f).as_deref() == Some(wanted))
            .count() as i128
    };
    assert_eq!(number(profile, "used_bytes"), sum("ready"));
    assert_eq!(number(profile, "reserved_bytes"), sum("pending"));
    assert_eq!(number(profile, "file_count"), count("ready"));
    assert_eq!(number(profile, "pending_count"), count("pending"));
    assert_eq!(
        number(profile, "free_bytes"),
        number(profile, "quota_bytes") - sum("ready") - sum("pending")
    );
    (sum("ready"), sum("pending"), files.len())
}

#[tokio::test]
async fn a_cut_line_fails_every_call_as_unavailable_and_writes_nothing() {
    let moto = MotoServer::start().unwrap();
    let proxy = FaultProxy::start(moto.port()).unwrap();
    let table = create_file_table(&proxy.sdk_config(), "files")
        .await
        .unwrap();
    let alice = UserId::new("alice").unwrap();
    table.ensure_user(&alice, 10_000, NOW).await.unwrap();
    let (done, waiting, abandoned, new) = (
        pending(&alice, 100, 0),
        pending(&alice, 200, 1),
        pending(&alice, 300, 2),
        pending(&alice, 400, 3),
    );
    for file in [&done, &waiting, &abandoned] {
        table.reserve(file, 20).await.unwrap();
    }
    table.mark_ready(&done, 100, "e").await.unwrap();
    let before = assert_consistent(&table, &alice).await;

    proxy.set_fault(Fault::Refuse);
    assert_unavailable("mark_ready", table.mark_ready(&waiting, 200, "e").await);
    assert_unavailable(
        "release",
        table
            .release(&alice, abandoned.id, FileState::Aborted)
            .await,
    );
    assert_unavailable("delete_file", table.delete_file(&alice, done.id).await);
    assert_unavailable("reserve", table.reserve(&new, 20).await);
    assert_unavailable("get_file", table.get_file(&alice, done.id).await);
    assert_unavailable("list_files", table.list_files(&alice, 10, None).await);
    assert_unavailable(
        "expired_pending",
        table.expired_pending(NOW + 5000, 10).await,
    );
    let bob = UserId::new("bob").unwrap();
    assert_unavailable("ensure_user", table.ensure_user(&bob, 1, NOW).await);
    proxy.set_fault(Fault::None);

    assert_eq!(assert_consistent(&table, &alice).await, before);
    assert_eq!(table.get_file(&alice, new.id).await.unwrap(), None);
    assert!(matches!(
        table.mark_ready(&waiting, 200, "e").await.unwrap(),
        Transition::Applied(_)
    ));
    assert!(matches!(
        table
            .release(&alice, abandoned.id, FileState::Aborted)
            .await
            .unwrap(),
        Transition::Applied(_)
    ));
    assert!(matches!(
        table.delete_file(&alice, done.id).await.unwrap(),
        Transition::Applied(_)
    ));
    table.reserve(&new, 20).await.unwrap();
    assert_eq!(assert_consistent(&table, &alice).await, (200, 400, 3));
}

#[tokio::test]
async fn a_lost_answer_leaves_each_change_whole_and_its_retry_counts_it_once() {
    let moto = MotoServer::start().unwrap();
    let proxy = FaultProxy::start(moto.port()).unwrap();
    let table = create_file_table(&proxy.sdk_config(), "files")
        .await
        .unwrap();
    let alice = UserId::new("alice").unwrap();
    table.ensure_user(&alice, 10_000, NOW).await.unwrap();
    let file = pending(&alice, 700, 0);

    // The reservation reaches the table but its answer is lost.
    proxy.set_fault(Fault::DropResponses);
    assert_unavailable("reserve", table.reserve(&file, 20).await);
    proxy.set_fault(Fault::None);
    assert_eq!(assert_consistent(&table, &alice).await, (0, 700, 1));
    table.reserve(&file, 20).await.unwrap();
    assert_eq!(assert_consistent(&table, &alice).await, (0, 700, 1));

    // So does the completion (its transaction's answer is lost):
    // the retry finds it done.
    proxy.set_fault(Fault::DropResponsesTo("TransactWriteItems"));
    assert_unavailable("mark_ready", table.mark_ready(&file, 700, "e").await);
    proxy.set_fault(Fault::None);
    assert_eq!(assert_consistent(&table, &alice).await, (700, 0, 1));
    let retried = table.mark_ready(&file, 700, "e").await.unwrap();
    assert!(matches!(retried, Transition::AlreadyDone(_)), "{retried:?}");

    // And the deletion: the retry finds nothing left to delete.
    proxy.set_fault(Fault::DropResponsesTo("TransactWriteItems"));
    assert_unavailable("delete_file", table.delete_file(&alice, file.id).await);
    proxy.set_fault(Fault::None);
    assert_eq!(assert_consistent(&table, &alice).await, (0, 0, 0));
    let retried = table.delete_file(&alice, file.id).await;
    assert!(matches!(retried, Err(TableError::NotFound)), "{retried:?}");
}

#[tokio::test]
async fn a_stopped_server_gives_unavailable() {
    let mut moto = MotoServer::start().unwrap();
    let table = create_file_table(&moto.sdk_config(), "files")
        .await
        .unwrap();
    let alice = UserId::new("alice").unwrap();
    table.ensure_user(&alice, 10, NOW).await.unwrap();

    moto.stop();

    assert_unavailable("ensure_user", table.ensure_user(&alice, 10, NOW).await);
    assert_unavailable("reserve", table.reserve(&pending(&alice, 1, 0), 20).await);
}
