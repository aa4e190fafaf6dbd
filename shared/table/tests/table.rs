//! `DynamoFileTable` over the wire, against `moto_server` on a loopback port.
//!
//! One server serves the whole binary; each test makes its own table, so tests run in
//! parallel without seeing each other's items.

// A failed unwrap here is a failed test, with the error in its message.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cosigner_core::{
    FileId, FileRecord, FileState, FileTable, TableError, Transition, UploadKind, UserId,
    UserRecord,
};
use cosigner_local_aws::{create_file_table, shared};
use cosigner_table::{DynamoFileTable, PENDING_SORT_ATTRIBUTE};

const NOW: u64 = 1_700_000_000;
const GIB: u64 = 1 << 30;

async fn fresh_table() -> DynamoFileTable {
    static TABLES: AtomicU64 = AtomicU64::new(0);
    let moto = shared().unwrap_or_else(|e| panic!("{e}"));
    let name = format!(
        "files-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    );
    create_file_table(&moto.sdk_config(), &name).await.unwrap()
}

fn user(name: &str) -> UserId {
    UserId::new(name).unwrap()
}

/// A pending PUT upload created at `NOW + at` seconds.
fn pending(owner: &UserId, size: u64, at: u64) -> FileRecord {
    let id = FileId::generate((NOW + at) * 1000);
    FileRecord {
        user: owner.clone(),
        id,
        key: format!("uploads/{owner}/{id}/photo.jpg"),
        name: "photo.jpg".into(),
        size,
        content_type: "image/jpeg".into(),
        content_md5: None,
        state: FileState::Pending,
        upload: UploadKind::Put,
        etag: None,
        created_at: NOW + at,
        expires_at: NOW + at + 900,
    }
}

async fn profile(table: &DynamoFileTable, owner: &UserId) -> UserRecord {
    // An existing profile is returned as it is; the quota given here is not used.
    table.ensure_user(owner, 0, 0).await.unwrap()
}

type Item = HashMap<String, AttributeValue>;

/// Every item under the user's partition, read straight from the table.
async fn raw_items(table: &DynamoFileTable, owner: &UserId) -> Vec<Item> {
    let output = table
        .client()
        .query()
        .table_name(table.table_name())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{owner}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output.items().to_vec()
}

fn number(item: &Item, name: &str) -> i128 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap(),
        other => panic!("{name} is {other:?}"),
    }
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v,
        other => panic!("{name} is {other:?}"),
    }
}

/// Checks the profile's counters against the files actually in the table, and returns
/// the files by state.
async fn assert_counters_match_files(
    table: &DynamoFileTable,
    owner: &UserId,
) -> HashMap<&'static str, usize> {
    let items = raw_items(table, owner).await;
    let profile = items.iter().find(|i| text(i, "SK") == "PROFILE").unwrap();
    let files: Vec<&Item> = items
        .iter()
        .filter(|i| text(i, "SK") != "PROFILE")
        .collect();
    let sum = |state: &str| -> i128 {
        files
            .iter()
            .filter(|f| text(f, "state") == state)
            .map(|f| number(f, "size"))
            .sum()
    };
    let count = |state: &str| files.iter().filter(|f| text(f, "state") == state).count();

    assert_eq!(number(profile, "used_bytes"), sum("ready"), "used");
    assert_eq!(
        number(profile, "reserved_bytes"),
        sum("pending"),
        "reserved"
    );
    assert_eq!(
        number(profile, "file_count"),
        count("ready") as i128,
        "file count"
    );
    assert_eq!(
        number(profile, "pending_count"),
        count("pending") as i128,
        "pending"
    );
    assert_eq!(
        number(profile, "free_bytes"),
        number(profile, "quota_bytes") - sum("ready") - sum("pending"),
        "free"
    );
    HashMap::from([
        ("pending", count("pending")),
        ("ready", count("ready")),
        ("expired", count("expired")),
        ("aborted", count("aborted")),
    ])
}

/// Calls `op` until it stops failing with a retryable error, as the routes do.
async fn retrying<T, F, Fut>(mut op: F) -> Result<T, TableError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, TableError>>,
{
    for attempt in 0..20u64 {
        match op().await {
            Err(err) if err.is_retryable() => {
                tokio::time::sleep(Duration::from_millis(5 * (attempt + 1))).await;
            }
            other => return other,
        }
    }
    op().await
}

#[tokio::test]
async fn ensure_user_creates_a_profile_once_with_the_default_quota() {
    let table = fresh_table().await;
    let alice = user("alice");

    let first = table.ensure_user(&alice, 5 * GIB, NOW).await.unwrap();
    let again = table.ensure_user(&alice, GIB, NOW + 60).await.unwrap();

    assert_eq!(first, UserRecord::new(alice.clone(), 5 * GIB, NOW));
    assert_eq!(again, first);
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn concurrent_first_requests_agree_on_one_profile() {
    let table = Arc::new(fresh_table().await);
    let bob = user("bob");

    let mut tasks = Vec::new();
    for i in 0..20 {
        let (table, bob) = (Arc::clone(&table), bob.clone());
        tasks.push(tokio::spawn(async move {
            table.ensure_user(&bob, GIB + i, NOW + i).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }

    assert!(seen.iter().all(|p| *p == seen[0]), "{seen:?}");
    assert_eq!(profile(&table, &bob).await, seen[0]);
}

#[tokio::test]
async fn reserve_writes_the_pending_file_and_reserves_its_bytes() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = FileRecord {
        content_md5: Some("1B2M2Y8AsgTpgAmY7PhCfg==".into()),
        upload: UploadKind::Multipart {
            upload_id: "upload-1".into(),
            part_size: 8 << 20,
        },
        ..pending(&alice, 400, 1)
    };

    table.reserve(&file, 20).await.unwrap();

    assert_eq!(table.get_file(&alice, file.id).await.unwrap(), Some(file));
    let me = profile(&table, &alice).await;
    assert_eq!(
        (me.reserved_bytes, me.pending_count, me.used_bytes),
        (400, 1, 0)
    );
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn reserve_fits_up_to_the_last_byte_and_no_further() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    table.reserve(&pending(&alice, 600, 1), 20).await.unwrap();

    let too_big = table.reserve(&pending(&alice, 401, 2), 20).await;
    let exact = table.reserve(&pending(&alice, 400, 3), 20).await;
    let one_more = table.reserve(&pending(&alice, 1, 4), 20).await;

    assert!(
        matches!(
            too_big,
            Err(TableError::QuotaExceeded {
                size: 401,
                available: 400
            })
        ),
        "{too_big:?}"
    );
    assert!(exact.is_ok(), "{exact:?}");
    assert!(
        matches!(
            one_more,
            Err(TableError::QuotaExceeded {
                size: 1,
                available: 0
            })
        ),
        "{one_more:?}"
    );
    let counts = assert_counters_match_files(&table, &alice).await;
    assert_eq!(counts["pending"], 2);
}

#[tokio::test]
async fn reserve_stops_at_the_pending_cap() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, GIB, NOW).await.unwrap();
    for at in 0..3 {
        table.reserve(&pending(&alice, 10, at), 3).await.unwrap();
    }

    let fourth = table.reserve(&pending(&alice, 10, 9), 3).await;

    assert!(
        matches!(fourth, Err(TableError::TooManyPending)),
        "{fourth:?}"
    );
    assert_eq!(
        assert_counters_match_files(&table, &alice).await["pending"],
        3
    );
}

#[tokio::test]
async fn reserve_without_a_profile_writes_nothing() {
    let table = fresh_table().await;
    let ghost = user("ghost");

    let result = table.reserve(&pending(&ghost, 10, 0), 3).await;

    assert!(matches!(result, Err(TableError::NotFound)), "{result:?}");
    assert!(raw_items(&table, &ghost).await.is_empty());
}

#[tokio::test]
async fn a_repeated_reservation_counts_once_and_a_clashing_one_conflicts() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 100, 0);
    table.reserve(&file, 20).await.unwrap();

    let repeat = table.reserve(&file, 20).await;
    let clash = table
        .reserve(
            &FileRecord {
                size: 5,
                ..file.clone()
            },
            20,
        )
        .await;

    assert!(repeat.is_ok(), "{repeat:?}");
    assert!(matches!(clash, Err(TableError::Conflict)), "{clash:?}");
    assert_eq!(profile(&table, &alice).await.reserved_bytes, 100);
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn only_a_pending_record_can_be_reserved() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let ready = FileRecord {
        state: FileState::Ready,
        ..pending(&alice, 1, 0)
    };

    let result = table.reserve(&ready, 20).await;

    assert!(
        matches!(result, Err(TableError::WrongState(FileState::Ready))),
        "{result:?}"
    );
}

#[tokio::test]
async fn get_file_sees_only_the_owners_files() {
    let table = fresh_table().await;
    let (alice, mallory) = (user("alice"), user("mallory"));
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 10, 0);
    table.reserve(&file, 20).await.unwrap();

    let as_owner = table.get_file(&alice, file.id).await.unwrap();
    let as_other = table.get_file(&mallory, file.id).await.unwrap();
    let unknown = table.get_file(&alice, FileId::generate(1)).await.unwrap();

    assert_eq!(as_owner.map(|f| f.id), Some(file.id));
    assert_eq!(as_other, None);
    assert_eq!(unknown, None);
}

#[tokio::test]
async fn mark_ready_turns_the_reservation_into_the_confirmed_bytes() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 300, 0);
    table.reserve(&file, 20).await.unwrap();

    let result = table.mark_ready(&file, 250, "etag-1").await.unwrap();

    let ready = FileRecord {
        state: FileState::Ready,
        size: 250,
        etag: Some("etag-1".into()),
        ..file.clone()
    };
    assert_eq!(result, Transition::Applied(ready.clone()));
    assert_eq!(table.get_file(&alice, file.id).await.unwrap(), Some(ready));
    let me = profile(&table, &alice).await;
    assert_eq!(
        (
            me.used_bytes,
            me.reserved_bytes,
            me.file_count,
            me.pending_count
        ),
        (250, 0, 1, 0)
    );
    assert_counters_match_files(&table, &alice).await;
    // The freed 50 bytes are reservable again: 1000 - 250 = 750.
    table.reserve(&pending(&alice, 750, 1), 20).await.unwrap();
}

#[tokio::test]
async fn mark_ready_repeated_is_already_done_and_counts_once() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 300, 0);
    table.reserve(&file, 20).await.unwrap();
    table.mark_ready(&file, 300, "e").await.unwrap();

    let again = table.mark_ready(&file, 300, "e").await.unwrap();

    assert!(
        matches!(again, Transition::AlreadyDone(ref f) if f.state == FileState::Ready),
        "{again:?}"
    );
    assert_eq!(profile(&table, &alice).await.file_count, 1);
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn mark_ready_refuses_released_and_unknown_files() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 300, 0);
    table.reserve(&file, 20).await.unwrap();
    table
        .release(&alice, file.id, FileState::Aborted)
        .await
        .unwrap();

    let released = table.mark_ready(&file, 300, "e").await;
    let unknown = table.mark_ready(&pending(&alice, 1, 5), 1, "e").await;
    let others = FileRecord {
        user: user("mallory"),
        ..file.clone()
    };
    let others = table.mark_ready(&others, 300, "e").await;

    assert!(
        matches!(released, Err(TableError::WrongState(FileState::Aborted))),
        "{released:?}"
    );
    assert!(matches!(unknown, Err(TableError::NotFound)), "{unknown:?}");
    assert!(matches!(others, Err(TableError::NotFound)), "{others:?}");
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn release_gives_the_reservation_back_once() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 1000, 0);
    table.reserve(&file, 20).await.unwrap();

    let first = table
        .release(&alice, file.id, FileState::Expired)
        .await
        .unwrap();
    let again = table
        .release(&alice, file.id, FileState::Expired)
        .await
        .unwrap();
    let other_end = table.release(&alice, file.id, FileState::Aborted).await;

    assert!(
        matches!(first, Transition::Applied(ref f) if f.state == FileState::Expired),
        "{first:?}"
    );
    assert!(matches!(again, Transition::AlreadyDone(_)), "{again:?}");
    assert!(matches!(
        other_end,
        Err(TableError::WrongState(FileState::Expired))
    ));
    let me = profile(&table, &alice).await;
    assert_eq!((me.reserved_bytes, me.pending_count), (0, 0));
    assert_eq!(
        assert_counters_match_files(&table, &alice).await["expired"],
        1
    );
    // The whole quota is free again.
    table.reserve(&pending(&alice, 1000, 1), 20).await.unwrap();
}

#[tokio::test]
async fn release_refuses_a_ready_file_and_a_state_that_is_not_a_release() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let file = pending(&alice, 10, 0);
    table.reserve(&file, 20).await.unwrap();

    let to_ready = table.release(&alice, file.id, FileState::Ready).await;
    table.mark_ready(&file, 10, "e").await.unwrap();
    let ready = table.release(&alice, file.id, FileState::Aborted).await;
    let unknown = table
        .release(&alice, FileId::generate(3), FileState::Aborted)
        .await;

    assert!(matches!(
        to_ready,
        Err(TableError::WrongState(FileState::Ready))
    ));
    assert!(
        matches!(ready, Err(TableError::WrongState(FileState::Ready))),
        "{ready:?}"
    );
    assert!(matches!(unknown, Err(TableError::NotFound)), "{unknown:?}");
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn delete_file_gives_back_what_each_state_held() {
    let table = fresh_table().await;
    let alice = user("alice");
    table.ensure_user(&alice, 1000, NOW).await.unwrap();
    let (ready, waiting, expired) = (
        pending(&alice, 100, 0),
        pending(&alice, 200, 1),
        pending(&alice, 300, 2),
    );
    for file in [&ready, &waiting, &expired] {
        table.reserve(file, 20).await.unwrap();
    }
    table.mark_ready(&ready, 100, "e").await.unwrap();
    table
        .release(&alice, expired.id, FileState::Expired)
        .await
        .unwrap();

    let mut results = Vec::new();
    for file in [&ready, &waiting, &expired] {
        results.push(table.delete_file(&alice, file.id).await.unwrap());
    }
    let again = table.delete_file(&alice, ready.id).await;

    let states: Vec<FileState> = results
        .iter()
        .map(|r| match r {
            Transition::Applied(f) => f.state,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        states,
        [FileState::Ready, FileState::Pending, FileState::Expired]
    );
    assert!(matches!(again, Err(TableError::NotFound)), "{again:?}");
    let me = profile(&table, &alice).await;
    assert_eq!(
        (
            me.used_bytes,
            me.reserved_bytes,
            me.file_count,
            me.pending_count
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        raw_items(&table, &alice).await.len(),
        1,
        "only the profile is left"
    );
    assert_counters_match_files(&table, &alice).await;
}

#[tokio::test]
async fn list_files_pages_newest_first_without_released_files() {
    let table = fresh_table().await;
    let (alice, bob) = (user("alice"), user("bob"));
    table.ensure_user(&alice, GIB, NOW).await.unwrap();
    table.ensure_user(&bob, GIB, NOW).await.unwrap();
    let mut kept = Vec::new();
    for at in 0..12 {
        let file = pending(&alice, 10, at);
        table.reserve(&file, 100).await.unwrap();
        match at % 4 {
            0 => {
                table
                    .release(&alice, file.id, FileState::Aborted)
                    .await
                    .unwrap();
            }
            1 => {
                table.mark_ready(&file, 10, "e").await.unwrap();
                kept.push(file.id);
            }
            _ => kept.push(file.id),
        }
    }
    table.reserve(&pending(&bob, 10, 50), 100).await.unwrap();
    kept.reverse();

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = table.list_files(&alice, 4, after).await.unwrap();
        pages.push(page.files.iter().map(|f| f.id).collect::<Vec<_>>());
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let everything = table.list_files(&alice, 100, None).await.unwrap();

    assert_eq!(pages.concat(), kept);
    assert!(pages.iter().all(|p| p.len() <= 4), "{pages:?}");
    assert_eq!(pages.first().map(Vec::len), Some(4));
    assert_eq!(everything.files.len(), 9);
    assert_eq!(everything.next_after, None);
    assert!(everything.files.iter().all(|f| f.user == alice));
    assert!(
        table
            .list_files(&alice, 0, None)
            .await
            .unwrap()
            .files
            .is_empty()
    );
}

#[tokio::test]
async fn expired_pending_lists_overdue_uploads_of_every_user_oldest_first() {
    let table = fresh_table().await;
    let (alice, bob) = (user("alice"), user("bob"));
    table.ensure_user(&alice, GIB, NOW).await.unwrap();
    table.ensure_user(&bob, GIB, NOW).await.unwrap();
    let old_bob = pending(&bob, 1, 0);
    let old_alice = pending(&alice, 1, 10);
    let done = pending(&alice, 1, 20);
    let fresh = pending(&alice, 1, 5000);
    for file in [&fresh, &done, &old_alice, &old_bob] {
        table.reserve(file, 20).await.unwrap();
    }
    table.mark_ready(&done, 1, "e").await.unwrap();
    let now = NOW + 2000;

    let overdue = table.expired_pending(now, 10).await.unwrap();
    let first = table.expired_pending(now, 1).await.unwrap();

    let ids: Vec<FileId> = overdue.iter().map(|f| f.id).collect();
    assert_eq!(ids, [old_bob.id, old_alice.id]);
    assert_eq!(first.iter().map(|f| f.id).collect::<Vec<_>>(), [old_bob.id]);
    assert!(table.expired_pending(now, 0).await.unwrap().is_empty());
    // A released upload leaves the index with its keys.
    table
        .release(&bob, old_bob.id, FileState::Expired)
        .await
        .unwrap();
    let after = table.expired_pending(now, 10).await.unwrap();
    assert_eq!(
        after.iter().map(|f| f.id).collect::<Vec<_>>(),
        [old_alice.id]
    );
    let released = raw_items(&table, &bob).await;
    assert!(
        released
            .iter()
            .all(|i| !i.contains_key(PENDING_SORT_ATTRIBUTE))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reservations_against_room_for_fifty_leave_fifty() {
    let table = Arc::new(fresh_table().await);
    let carol = user("carol");
    table.ensure_user(&carol, 50 * 1000, NOW).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..200 {
        let (table, carol) = (Arc::clone(&table), carol.clone());
        tasks.push(tokio::spawn(async move {
            let file = pending(&carol, 1000, i);
            retrying(|| table.reserve(&file, 1000)).await
        }));
    }
    let (mut fitted, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => fitted += 1,
            Err(TableError::QuotaExceeded { size: 1000, .. }) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    assert_eq!((fitted, refused), (50, 150));
    let me = profile(&table, &carol).await;
    assert_eq!((me.reserved_bytes, me.pending_count), (50_000, 50));
    let counts = assert_counters_match_files(&table, &carol).await;
    assert_eq!(counts["pending"], 50);
    assert_eq!(raw_items(&table, &carol).await.len(), 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn completion_and_release_racing_and_repeated_count_each_file_once() {
    let table = Arc::new(fresh_table().await);
    let dave = user("dave");
    table.ensure_user(&dave, GIB, NOW).await.unwrap();
    let mut files = Vec::new();
    for at in 0..30 {
        let file = pending(&dave, 100 + at, at);
        table.reserve(&file, 100).await.unwrap();
        files.push(file);
    }

    // Per file: three completions (the terminal's report and the COS event, one of them
    // repeated) and two releases (a sweep and an abort), all at once, in an order that
    // differs from file to file.
    let mut tasks = Vec::new();
    for (n, file) in files.iter().enumerate() {
        for step in 0..5 {
            let (table, dave, seen) = (Arc::clone(&table), dave.clone(), file.clone());
            let (id, size) = (seen.id, seen.size);
            let kind = (step + n) % 5;
            tasks.push(tokio::spawn(async move {
                let result = match kind {
                    0..=2 => retrying(|| table.mark_ready(&seen, size, "etag")).await,
                    3 => retrying(|| table.release(&dave, id, FileState::Expired)).await,
                    _ => retrying(|| table.release(&dave, id, FileState::Aborted)).await,
                };
                (id, result)
            }));
        }
    }
    let mut applied: HashMap<FileId, Vec<FileState>> = HashMap::new();
    for task in tasks {
        let (id, result) = task.await.unwrap();
        match result {
            Ok(Transition::Applied(file)) => applied.entry(id).or_default().push(file.state),
            Ok(Transition::AlreadyDone(_)) | Err(TableError::WrongState(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    for file in &files {
        let states = applied.get(&file.id).cloned().unwrap_or_default();
        assert_eq!(states.len(), 1, "{} moved {states:?}", file.id);
        let stored = table.get_file(&dave, file.id).await.unwrap().unwrap();
        assert_eq!(stored.state, states[0]);
    }
    // Repeating everything afterwards changes nothing.
    for file in &files {
        let again = table.mark_ready(file, file.size, "etag").await;
        assert!(
            matches!(
                again,
                Ok(Transition::AlreadyDone(_)) | Err(TableError::WrongState(_))
            ),
            "{again:?}"
        );
    }
    let counts = assert_counters_match_files(&table, &dave).await;
    assert_eq!(counts["pending"], 0);
    assert_eq!(counts["ready"] + counts["expired"] + counts["aborted"], 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_completions_of_one_file_apply_once() {
    let table = Arc::new(fresh_table().await);
    let erin = user("erin");
    table.ensure_user(&erin, GIB, NOW).await.unwrap();
    let file = pending(&erin, 777, 0);
    table.reserve(&file, 20).await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (table, seen) = (Arc::clone(&table), file.clone());
        tasks.push(tokio::spawn(async move {
            retrying(|| table.mark_ready(&seen, 777, "etag")).await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Transition::Applied(_) => applied += 1,
            Transition::AlreadyDone(_) => {}
        }
    }

    assert_eq!(applied, 1);
    let me = profile(&table, &erin).await;
    assert_eq!((me.used_bytes, me.file_count), (777, 1));
    assert_counters_match_files(&table, &erin).await;
}
