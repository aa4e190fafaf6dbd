//! Identifiers of users and files.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

/// An identifier that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A user id that is empty, too long, or holds `/`, whitespace or control characters.
    #[error("the user id is not usable: it must be 1 to 128 visible characters without '/'")]
    User,
    /// A file id that is not a ULID.
    #[error("the file id is not a valid id")]
    File,
}

/// Who a request is for: the subject of a verified token.
///
/// It becomes a path segment of object keys, so it may not hold `/`, whitespace or control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Checks and wraps a user id.
    ///
    /// # Errors
    ///
    /// [`IdError::User`] for an empty or over-long id or one with forbidden characters.
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        let usable = !id.is_empty()
            && id.len() <= 128
            && !id
                .chars()
                .any(|c| c == '/' || c.is_whitespace() || c.is_control())
            && id != "."
            && id != "..";
        if usable {
            Ok(Self(id))
        } else {
            Err(IdError::User)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file's id: a ULID, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(Ulid);

impl FileId {
    /// A new id for a file created at `now_millis` (Unix milliseconds).
    pub fn generate(now_millis: u64) -> Self {
        let random: u128 = Ulid::new().random();
        Self(Ulid::from_parts(now_millis, random))
    }

    /// The wrapped ULID.
    pub fn ulid(&self) -> Ulid {
        self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for FileId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // ULIDs are case-insensitive; we always write upper case, and refuse anything else
        // so that one file has exactly one spelling in keys and URLs.
        if text.len() != 26 || text.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(IdError::File);
        }
        Ulid::from_string(text).map(Self).map_err(|_| IdError::File)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_may_not_hold_path_separators_or_whitespace() {
        assert!(UserId::new("auth0|5f1c").is_ok());
        for bad in ["", "a/b", "a b", "a\nb", "..", &"x".repeat(129)] {
            assert_eq!(UserId::new(bad), Err(IdError::User), "{bad:?}");
        }
    }

    #[test]
    fn file_ids_round_trip_and_sort_by_time() {
        let early = FileId::generate(1_700_000_000_000);
        let late = FileId::generate(1_700_000_000_001);

        assert_eq!(early.to_string().parse::<FileId>(), Ok(early));
        assert!(early < late);
        assert!(early.to_string() < late.to_string());
    }

    #[test]
    fn file_ids_have_one_spelling() {
        let id = FileId::generate(1).to_string();

        assert_eq!(id.to_lowercase().parse::<FileId>(), Err(IdError::File));
        assert_eq!("not-a-ulid".parse::<FileId>(), Err(IdError::File));
    }
}
