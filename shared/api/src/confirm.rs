//! Confirming an upload with COS and marking its file ready: one path shared by
//! `complete-upload` (the terminal's report) and `on-object-created` (the COS event), so the
//! two agree in any order and any number of repeats.
//!
//! COS is the authority on what was uploaded: the record becomes `ready` only with the size
//! and ETag COS reports, and only through the table's conditional `pending → ready` write,
//! which counts the file exactly once however many confirmations race.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use cosigner_core::{
    Clock, FileRecord, FileState, FileTable, ObjectInfo, ObjectStore, Part, StoreError, TableError,
    Transition, UploadKind,
};

use crate::dispatch::warn_degraded;
use crate::routes::part_count;
use crate::{ApiError, Deps, ErrorCode, retry};

/// Who asks for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The terminal, which may declare the CRC64 it computed; for a multipart upload the
    /// server completes the upload from its listed parts.
    Terminal {
        /// `x-cos-hash-crc64ecma` as the terminal computed it, if it did.
        crc64: Option<String>,
    },
    /// The COS event: the object exists already, so a HEAD tells everything.
    Event,
}

/// A confirmed upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Confirmed {
    /// This confirmation made the file ready.
    Now(FileRecord),
    /// The file was ready already (a repeat, or the other confirmation won).
    Already(FileRecord),
}

/// Why an upload could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfirmError {
    /// There is no object (or, for a multipart upload, no part) in COS yet.
    #[error("the object is not in COS yet")]
    NotUploaded,
    /// COS holds something other than what was declared.
    #[error("the stored object does not match the upload: {0}")]
    Mismatch(String),
    /// The upload was expired or aborted before it was confirmed.
    #[error("the upload is {}", .0.as_str())]
    Closed(FileState),
    /// The table or COS failed.
    #[error(transparent)]
    Failed(ApiError),
}

impl From<ConfirmError> for ApiError {
    fn from(err: ConfirmError) -> Self {
        match err {
            ConfirmError::NotUploaded => ApiError::new(
                ErrorCode::Conflict,
                "the upload is not finished: COS does not have the object yet; send it, then \
                 complete the upload",
            ),
            ConfirmError::Mismatch(why) => ApiError::new(
                ErrorCode::Conflict,
                format!("the uploaded object does not match the declared upload: {why}"),
            ),
            ConfirmError::Closed(state) => ApiError::new(
                ErrorCode::Conflict,
                format!("the upload is {}; start a new one", state.as_str()),
            ),
            ConfirmError::Failed(err) => err,
        }
    }
}

/// Confirms `record`'s upload with COS and marks it ready.
pub(crate) async fn confirm<T, O, C>(
    deps: &Deps<T, O, C>,
    record: FileRecord,
    source: &Source,
) -> Result<Confirmed, ConfirmError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    match record.state {
        FileState::Ready => return Ok(Confirmed::Already(record)),
        FileState::Expired | FileState::Aborted => {
            // Whatever reached COS after the upload was released is stray.
            discard_quietly(deps, &record).await;
            return Err(ConfirmError::Closed(record.state));
        }
        FileState::Pending => {}
    }

    let info = match (&record.upload, source) {
        (
            UploadKind::Multipart {
                upload_id,
                part_size,
            },
            Source::Terminal { .. },
        ) => complete_parts(deps, &record, upload_id, *part_size).await?,
        _ => head(deps, &record.key).await?,
    };
    check(&record, &info, source)?;

    let marked = retry::table(|| deps.table.mark_ready(&record, info.size, &info.etag)).await;
    match marked {
        Ok(Transition::Applied(ready)) => Ok(Confirmed::Now(ready)),
        Ok(Transition::AlreadyDone(ready)) => Ok(Confirmed::Already(ready)),
        Err(TableError::WrongState(FileState::Ready)) => {
            // The other confirmation won between our read and our write.
            match retry::table(|| deps.table.get_file(&record.user, record.id)).await {
                Ok(Some(ready)) if ready.state == FileState::Ready => Ok(Confirmed::Already(ready)),
                Ok(_) => Err(ConfirmError::Failed(ApiError::new(
                    ErrorCode::NotFound,
                    "no such file",
                ))),
                Err(err) => Err(ConfirmError::Failed(err.into())),
            }
        }
        Err(TableError::WrongState(state)) => {
            discard_quietly(deps, &record).await;
            Err(ConfirmError::Closed(state))
        }
        Err(err) => Err(ConfirmError::Failed(err.into())),
    }
}

/// Removes what an unconfirmed upload left in COS: the multipart upload and its parts, and
/// the object. Both steps succeed when there is nothing to remove, so this may run any
/// number of times.
pub(crate) async fn discard<T, O, C>(
    deps: &Deps<T, O, C>,
    record: &FileRecord,
) -> Result<(), StoreError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let key = record.key.as_str();
    // A ready file's multipart upload was completed; there is nothing to abort.
    let unfinished = record.state != FileState::Ready;
    if let (true, UploadKind::Multipart { upload_id, .. }) = (unfinished, &record.upload) {
        match retry::store(deps, || deps.store.abort_multipart(key, upload_id)).await {
            Ok(()) | Err(StoreError::NoSuchUpload) => {}
            Err(err) => return Err(err),
        }
    }
    retry::store(deps, || deps.store.delete(key)).await
}

/// [`discard`], logging a failure instead of returning it, for clean-ups on the side of a
/// request that has its own answer.
pub(crate) async fn discard_quietly<T, O, C>(deps: &Deps<T, O, C>, record: &FileRecord)
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    if let Err(err) = discard(deps, record).await {
        warn_degraded(
            "could not remove a released upload's stray object",
            &record.user,
            &err,
        );
    }
}

/// What COS says of the object, or [`ConfirmError::NotUploaded`].
async fn head<T, O, C>(deps: &Deps<T, O, C>, key: &str) -> Result<ObjectInfo, ConfirmError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    retry::store(deps, || deps.store.head(key))
        .await
        .map_err(|err| ConfirmError::Failed(err.into()))?
        .ok_or(ConfirmError::NotUploaded)
}

/// Completes a multipart upload from its listed parts, once they add up to the declared
/// upload.
async fn complete_parts<T, O, C>(
    deps: &Deps<T, O, C>,
    record: &FileRecord,
    upload_id: &str,
    part_size: u64,
) -> Result<ObjectInfo, ConfirmError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let key = record.key.as_str();
    let mut parts = match retry::store(deps, || deps.store.list_parts(key, upload_id)).await {
        Ok(parts) => parts,
        // Completed already (a confirmation that failed after COS completed, or a racing
        // one): the object tells the rest.
        Err(StoreError::NoSuchUpload) => return head(deps, key).await,
        Err(err) => return Err(ConfirmError::Failed(err.into())),
    };
    if parts.is_empty() {
        return Err(ConfirmError::NotUploaded);
    }
    parts.sort_by_key(|part| part.number);
    check_parts(&parts, record.size, part_size).map_err(ConfirmError::Mismatch)?;

    match retry::store(deps, || {
        deps.store.complete_multipart(key, upload_id, &parts)
    })
    .await
    {
        Ok(info) => Ok(info),
        Err(StoreError::NoSuchUpload) => head(deps, key).await,
        Err(err) => Err(ConfirmError::Failed(err.into())),
    }
}

/// Parts `1..=n` of `part_size` bytes each, the last one smaller or equal, adding up to
/// `size`.
pub(crate) fn check_parts(parts: &[Part], size: u64, part_size: u64) -> Result<(), String> {
    let expected = part_count(size, part_size);
    if parts.len() as u64 != expected {
        return Err(format!("COS has {} of the {expected} parts", parts.len()));
    }
    for (index, part) in parts.iter().enumerate() {
        let number = index as u64 + 1;
        if u64::from(part.number) != number {
            return Err(format!("part {number} is missing"));
        }
        let want = if number < expected {
            part_size
        } else {
            size - part_size * (expected - 1)
        };
        if part.size != want {
            return Err(format!("part {number} is {} bytes, not {want}", part.size));
        }
    }
    Ok(())
}

/// The object COS holds against the declaration: size, MD5 (as the ETag of a single upload),
/// and CRC64 when both sides have one.
fn check(record: &FileRecord, info: &ObjectInfo, source: &Source) -> Result<(), ConfirmError> {
    if info.size != record.size {
        return Err(ConfirmError::Mismatch(format!(
            "COS holds {} bytes, the upload declared {}",
            info.size, record.size
        )));
    }
    let single = !matches!(record.upload, UploadKind::Multipart { .. });
    if let (true, Some(md5)) = (single, &record.content_md5) {
        let declared = STANDARD.decode(md5).map(hex::encode).unwrap_or_default();
        let etag = info.etag.trim_matches('"').to_ascii_lowercase();
        if declared != etag {
            return Err(ConfirmError::Mismatch(
                "the object's MD5 is not the declared content_md5".into(),
            ));
        }
    }
    if let (
        Source::Terminal {
            crc64: Some(declared),
        },
        Some(stored),
    ) = (source, &info.crc64)
        && declared.trim() != stored.trim()
    {
        return Err(ConfirmError::Mismatch(
            "the object's CRC64 is not the declared crc64".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, size: u64) -> Part {
        Part {
            number,
            etag: format!("e{number}"),
            size,
        }
    }

    #[test]
    fn parts_that_cover_the_file_pass() {
        let parts = [part(1, 10), part(2, 10), part(3, 5)];

        assert_eq!(check_parts(&parts, 25, 10), Ok(()));
        assert_eq!(check_parts(&[part(1, 10)], 10, 10), Ok(()));
    }

    #[test]
    fn missing_short_or_extra_parts_fail() {
        assert!(check_parts(&[part(1, 10), part(2, 10)], 25, 10).is_err());
        assert!(check_parts(&[part(1, 10), part(3, 10), part(4, 5)], 25, 10).is_err());
        assert!(check_parts(&[part(1, 9), part(2, 10), part(3, 6)], 25, 10).is_err());
        assert!(check_parts(&[part(1, 10), part(2, 10), part(3, 4)], 25, 10).is_err());
    }
}
