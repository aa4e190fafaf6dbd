//! The ports: what the domain needs from the outside world, as traits the adapters
//! implement (`shared/table` for the table, `shared/cos-client` for COS, `shared/secrets`
//! for credentials). Fakes of these traits are fine in unit tests; every adapter is also
//! tested against the real protocol.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use cos_sign::{Credentials, Secret};

use crate::{FileId, FileRecord, FileState, UserId, UserRecord};

/// What a state change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The record moved on; the counters changed with it.
    Applied(FileRecord),
    /// The record was already where the change leads (a repeat): nothing changed.
    AlreadyDone(FileRecord),
}

/// One page of a user's files, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The files of this page.
    pub files: Vec<FileRecord>,
    /// The last file id of this page when more may follow.
    pub next_after: Option<FileId>,
}

/// A failure of the table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The user's quota cannot hold the reservation.
    #[error("the quota cannot hold {size} more bytes ({available} are free)")]
    QuotaExceeded {
        /// Bytes asked for.
        size: u64,
        /// Bytes of the quota still free when the reservation was refused.
        available: u64,
    },
    /// The user already has the most pending uploads allowed.
    #[error("too many pending uploads")]
    TooManyPending,
    /// No such file for this user.
    #[error("no such file")]
    NotFound,
    /// The file is in a state the change does not start from.
    #[error("the file is {0:?}")]
    WrongState(FileState),
    /// A write lost a race and may be retried.
    #[error("the write conflicted with another")]
    Conflict,
    /// The table asked us to slow down.
    #[error("the table is throttling requests")]
    Throttled,
    /// The table could not be reached or answered with a server error.
    #[error("the table is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An item that does not have the shape we write.
    #[error("a stored item is malformed: {0}")]
    Corrupt(String),
}

impl TableError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Conflict | Self::Throttled | Self::Unavailable(_)
        )
    }
}

/// The one table of users and files.
///
/// Every method that changes a file also changes its user's counters in the same
/// conditional transaction.
pub trait FileTable: Send + Sync {
    /// The user's profile, created with `default_quota` on first use.
    fn ensure_user(
        &self,
        user: &UserId,
        default_quota: u64,
        now: u64,
    ) -> impl Future<Output = Result<UserRecord, TableError>> + Send;

    /// Writes a new pending file and reserves its bytes, if the quota holds them and the
    /// user has fewer than `max_pending` pending uploads. A user without a profile yet is
    /// [`TableError::NotFound`]: create it with [`FileTable::ensure_user`] and try again.
    fn reserve(
        &self,
        file: &FileRecord,
        max_pending: u64,
    ) -> impl Future<Output = Result<(), TableError>> + Send;

    /// One file of a user.
    fn get_file(
        &self,
        user: &UserId,
        file: FileId,
    ) -> impl Future<Output = Result<Option<FileRecord>, TableError>> + Send;

    /// `pending → ready`: the reservation becomes used bytes, with the size and ETag COS
    /// confirmed. `seen` is the file as the caller last read it; when it is out of date
    /// the current record decides. Repeating it is [`Transition::AlreadyDone`].
    fn mark_ready(
        &self,
        seen: &FileRecord,
        size: u64,
        etag: &str,
    ) -> impl Future<Output = Result<Transition, TableError>> + Send;

    /// `pending → expired` or `pending → aborted`: the reservation is released.
    fn release(
        &self,
        user: &UserId,
        file: FileId,
        to: FileState,
    ) -> impl Future<Output = Result<Transition, TableError>> + Send;

    /// Removes a file record and gives back its bytes (used for a ready file, reserved for
    /// a pending one).
    fn delete_file(
        &self,
        user: &UserId,
        file: FileId,
    ) -> impl Future<Output = Result<Transition, TableError>> + Send;

    /// A page of a user's pending and ready files, newest first, after `after`.
    fn list_files(
        &self,
        user: &UserId,
        limit: u32,
        after: Option<FileId>,
    ) -> impl Future<Output = Result<ListPage, TableError>> + Send;

    /// Pending uploads whose window closed before `now`, oldest first.
    fn expired_pending(
        &self,
        now: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<FileRecord>, TableError>> + Send;
}

/// What COS says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Bytes.
    pub size: u64,
    /// The ETag without quotes.
    pub etag: String,
    /// `x-cos-hash-crc64ecma`, when COS sent it.
    pub crc64: Option<String>,
    /// The stored content type.
    pub content_type: Option<String>,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1-based part number.
    pub number: u32,
    /// The part's ETag without quotes.
    pub etag: String,
    /// Bytes.
    pub size: u64,
}

/// A failure of the object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// COS refused our own credentials: they may have been rotated.
    #[error("COS refused the server's credentials ({code})")]
    InvalidCredentials {
        /// COS's error code.
        code: String,
    },
    /// No such multipart upload.
    #[error("no such multipart upload")]
    NoSuchUpload,
    /// COS refused the request for another reason.
    #[error("COS answered {status} {code}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// COS's error code.
        code: String,
        /// COS's message.
        message: String,
    },
    /// COS could not be reached or failed.
    #[error("COS is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The server's own calls to COS, signed with the server's credentials.
pub trait ObjectStore: Send + Sync {
    /// An object's size and ETag, or `None` when it does not exist.
    fn head(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectInfo>, StoreError>> + Send;

    /// Deletes an object; deleting a missing object succeeds.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Starts a multipart upload and returns its id.
    fn initiate_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// The parts uploaded so far.
    fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<Vec<Part>, StoreError>> + Send;

    /// Completes a multipart upload from its parts.
    fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Part],
    ) -> impl Future<Output = Result<ObjectInfo, StoreError>> + Send;

    /// Aborts a multipart upload; aborting a finished or missing one succeeds.
    fn abort_multipart(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A failure to fetch a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret does not exist.
    #[error("the secret {0} does not exist")]
    Missing(String),
    /// The secret exists but is not in the expected shape (its value is never shown).
    #[error("the secret {0} is malformed: {1}")]
    Malformed(String, String),
    /// The secret store could not be reached.
    #[error("the secret store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the server's secrets come from.
pub trait SecretSource: Send + Sync {
    /// The COS credentials the server signs with.
    fn cos_credentials(&self) -> impl Future<Output = Result<Credentials, SecretError>> + Send;

    /// A named secret, such as the JWT signing secret or the event-relay key.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Secret, SecretError>> + Send;
}

/// The time, as the domain sees it.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> u64;

    /// Unix milliseconds.
    fn now_millis(&self) -> u64 {
        self.now() * 1000
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        self.now_millis() / 1000
    }

    fn now_millis(&self) -> u64 {
        // A clock before 1970 is a broken machine; treating it as 1970 fails signatures
        // loudly instead of panicking.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}
