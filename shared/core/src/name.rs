//! File names: what a terminal calls a file, and the safe form used inside object keys.

/// Why a file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or nothing left after removing what cannot be kept.
    #[error("the file name is empty")]
    Empty,
    /// Longer than 255 bytes.
    #[error("the file name is longer than 255 bytes")]
    TooLong,
    /// Holds a control character.
    #[error("the file name holds a control character")]
    ControlCharacter,
    /// Holds a path separator, or is `.` or `..`.
    #[error("the file name holds a path separator or is a relative path")]
    PathLike,
}

/// A file name checked for use as the last segment of an object key.
///
/// The original name is kept for display and for `Content-Disposition`; the safe name is
/// the same text with characters that are awkward in URLs and shells replaced by `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeName {
    original: String,
    safe: String,
}

/// The longest name accepted, in bytes (the common file-system limit).
pub const MAX_NAME_BYTES: usize = 255;

impl SafeName {
    /// Checks a name as a terminal gave it.
    ///
    /// # Errors
    ///
    /// A [`NameError`] for an empty or over-long name, a control character, a path separator
    /// (`/` or `\`), or a name that is `.` or `..`.
    pub fn new(original: &str) -> Result<Self, NameError> {
        let trimmed = original.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        if trimmed.contains(['/', '\\']) || trimmed == "." || trimmed == ".." {
            return Err(NameError::PathLike);
        }
        let safe: String = trimmed
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.()+ ".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .replace(' ', "_");
        // A name of only dots would be a relative path segment once in a key.
        let safe = if safe.chars().all(|c| c == '.') {
            safe.replace('.', "_")
        } else {
            safe
        };
        Ok(Self {
            original: trimmed.to_owned(),
            safe,
        })
    }

    /// The name as the terminal gave it (trimmed), for display.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The name as it appears in the object key.
    pub fn safe(&self) -> &str {
        &self.safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_original_and_makes_a_safe_name() {
        let name = SafeName::new(" Résumé (final) #2?.pdf ").unwrap();

        assert_eq!(name.original(), "Résumé (final) #2?.pdf");
        assert_eq!(name.safe(), "Résumé_(final)__2_.pdf");
    }

    #[test]
    fn refuses_paths_control_characters_and_absurd_lengths() {
        assert_eq!(SafeName::new("../etc/passwd"), Err(NameError::PathLike));
        assert_eq!(SafeName::new("a\\b"), Err(NameError::PathLike));
        assert_eq!(SafeName::new(".."), Err(NameError::PathLike));
        assert_eq!(SafeName::new("a\u{0}b"), Err(NameError::ControlCharacter));
        assert_eq!(SafeName::new("   "), Err(NameError::Empty));
        assert_eq!(SafeName::new(&"é".repeat(128)), Err(NameError::TooLong));
        assert!(SafeName::new(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn a_name_of_dots_is_not_a_relative_segment() {
        assert_eq!(SafeName::new("...").unwrap().safe(), "___");
    }
}
