//! The records of the table and the life of an upload.
//!
//! An upload is a small state machine on its file record:
//!
//! ```text
//! pending ──confirmed with COS──▶ ready
//!    │
//!    ├──window passed (sweep)──▶ expired
//!    └──terminal gave up──────▶ aborted
//! ```
//!
//! Every step is a conditional write on the file record and its user's counters together,
//! so a step taken twice, or two steps racing, leave exactly one outcome.

use serde::{Deserialize, Serialize};

use crate::{FileId, UserId};

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Signed, bytes reserved, not yet confirmed in COS.
    Pending,
    /// Confirmed in COS; its bytes count as used.
    Ready,
    /// Its window passed unconfirmed; the reservation was released.
    Expired,
    /// The terminal gave up; the reservation was released.
    Aborted,
}

impl FileState {
    /// The name stored in the table and shown to terminals.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Expired => "expired",
            Self::Aborted => "aborted",
        }
    }

    /// Parses a stored state name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "ready" => Some(Self::Ready),
            "expired" => Some(Self::Expired),
            "aborted" => Some(Self::Aborted),
            _ => None,
        }
    }

    /// Whether the state is final: only `pending` moves on.
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
}

/// How the terminal sends the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum UploadKind {
    /// One PUT with a header signature.
    Put,
    /// A browser form POST with a signed policy.
    Post,
    /// A multipart upload the server initiated.
    Multipart {
        /// COS's id of the multipart upload.
        upload_id: String,
        /// Bytes per part (the last may be smaller).
        part_size: u64,
    },
}

/// A file of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Whose file.
    pub user: UserId,
    /// The file's id.
    pub id: FileId,
    /// The object key in COS.
    pub key: String,
    /// The name as the terminal gave it, for display.
    pub name: String,
    /// Declared size in bytes (for a ready file, the size COS confirmed).
    pub size: u64,
    /// The normalised content type the upload is signed for.
    pub content_type: String,
    /// Base64 MD5 the terminal declared, if any; the upload signature binds it.
    pub content_md5: Option<String>,
    /// Where the upload stands.
    pub state: FileState,
    /// How the bytes are sent.
    pub upload: UploadKind,
    /// The object's ETag once ready.
    pub etag: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds: when the upload's signature window closes (sweep expires it after).
    pub expires_at: u64,
}

/// A user's profile: quota and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Whose profile.
    pub user: UserId,
    /// Bytes the user may hold, ready and reserved together.
    pub quota_bytes: u64,
    /// Bytes of ready files.
    pub used_bytes: u64,
    /// Bytes of pending uploads.
    pub reserved_bytes: u64,
    /// Number of ready files.
    pub file_count: u64,
    /// Number of pending uploads.
    pub pending_count: u64,
    /// Unix seconds.
    pub created_at: u64,
}

impl UserRecord {
    /// A new profile with the default quota and nothing used.
    pub fn new(user: UserId, quota_bytes: u64, now: u64) -> Self {
        Self {
            user,
            quota_bytes,
            used_bytes: 0,
            reserved_bytes: 0,
            file_count: 0,
            pending_count: 0,
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_moves_on() {
        for state in [
            FileState::Pending,
            FileState::Ready,
            FileState::Expired,
            FileState::Aborted,
        ] {
            assert_eq!(FileState::parse(state.as_str()), Some(state));
            assert_eq!(state.is_final(), state != FileState::Pending);
        }
        assert_eq!(FileState::parse("deleted"), None);
    }
}
