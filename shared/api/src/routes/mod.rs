//! One module per route, named after it: each checks its input, makes the one call that does
//! the work, and shapes the response.

pub(crate) mod abort_upload;
pub(crate) mod complete_upload;
pub(crate) mod delete_file;
pub(crate) mod get_file;
pub(crate) mod healthz;
pub(crate) mod issue_upload;
pub(crate) mod list_files;
pub(crate) mod me;
pub(crate) mod on_object_created;
pub(crate) mod sign_parts;
pub(crate) mod sweep;

use serde::Serialize;

use cosigner_core::{
    Clock, FileRecord, FileState, FileTable, Limits, ObjectStore, TableError, UploadKind, UserId,
    UserRecord,
};

use crate::{Deps, retry};

/// How far a signature's window opens before the server's clock, so a terminal whose clock
/// runs a little behind can use it at once (the official SDKs back-date by the same amount).
pub(crate) const BACKDATE_SECS: u64 = 60;

/// A file as a terminal sees it: the record without anything internal.
#[derive(Debug, Serialize)]
pub(crate) struct FileView<'a> {
    file_id: String,
    name: &'a str,
    size: u64,
    content_type: &'a str,
    state: &'static str,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part_count: Option<u64>,
    created_at: u64,
    /// For a pending upload: when its window closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

impl<'a> FileView<'a> {
    pub(crate) fn of(record: &'a FileRecord) -> Self {
        let (method, upload_id, part_size) = match &record.upload {
            UploadKind::Put => ("put", None, None),
            UploadKind::Post => ("post", None, None),
            UploadKind::Multipart {
                upload_id,
                part_size,
            } => ("multipart", Some(upload_id.as_str()), Some(*part_size)),
        };
        let pending = record.state == FileState::Pending;
        Self {
            file_id: record.id.to_string(),
            name: &record.name,
            size: record.size,
            content_type: &record.content_type,
            state: record.state.as_str(),
            method,
            etag: record.etag.as_deref(),
            upload_id: upload_id.filter(|_| pending),
            part_size: part_size.filter(|_| pending),
            part_count: part_size
                .filter(|_| pending)
                .map(|part| part_count(record.size, part)),
            created_at: record.created_at,
            expires_at: pending.then_some(record.expires_at),
        }
    }
}

/// Parts of `part_size` bytes that make up `size` bytes (at least one).
pub(crate) fn part_count(size: u64, part_size: u64) -> u64 {
    Limits {
        part_size_bytes: part_size,
        ..Limits::default()
    }
    .part_count(size)
}

/// The user's profile, made with the default quota on first use.
pub(crate) async fn profile<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
) -> Result<UserRecord, TableError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let quota = deps.config.limits.default_quota_bytes;
    let now = deps.clock.now();
    retry::table(|| deps.table.ensure_user(user, quota, now)).await
}
