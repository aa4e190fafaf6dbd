//! The `sweep` binary under the Lambda Runtime API: the recorded scheduled event expires
//! an upload whose window closed and releases its reservation, once.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::time::{SystemTime, UNIX_EPOCH};

use cosigner_core::{
    FileId, FileRecord, FileState, FileTable, KeyLayout, SafeName, UploadKind, UserId,
};
use cosigner_runtime_harness::{Function, LocalStack, fixture};

/// A pending upload of `user` whose window closed half a minute ago.
fn lapsed_upload(user: &UserId, now: u64) -> FileRecord {
    let id = FileId::generate((now - 60) * 1000);
    let name = SafeName::new("late.txt").unwrap();
    FileRecord {
        user: user.clone(),
        id,
        key: KeyLayout::new("uploads").key(user, id, &name),
        name: "late.txt".into(),
        size: 100,
        content_type: "text/plain".into(),
        content_md5: None,
        state: FileState::Pending,
        upload: UploadKind::Put,
        etag: None,
        created_at: now - 60,
        expires_at: now - 30,
    }
}

#[tokio::test]
async fn expires_a_lapsed_upload_on_schedule_through_the_runtime_interface() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stack = LocalStack::start("sweep").await;
    let user = UserId::new("user-erin").unwrap();
    stack
        .file_table()
        .ensure_user(&user, 1 << 30, now)
        .await
        .unwrap();
    stack
        .file_table()
        .reserve(&lapsed_upload(&user, now), 20)
        .await
        .unwrap();
    let mut function = Function::start(env!("CARGO_BIN_EXE_sweep"), "sweep", &stack.env()).await;

    let report = function.respond(fixture("scheduled-event.json")).await;
    let again = function.respond(fixture("scheduled-event.json")).await;

    let logs = function.stop().await;
    let profile = stack
        .file_table()
        .ensure_user(&user, 1 << 30, now)
        .await
        .unwrap();
    assert_eq!(report["expired"], 1, "{report}\n{logs}");
    assert_eq!(again["expired"], 0, "{again}");
    assert_eq!(profile.reserved_bytes, 0);
    assert_eq!(profile.pending_count, 0);
    assert!(
        logs.contains("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"),
        "the schedule's id is logged"
    );
}
