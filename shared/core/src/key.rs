//! The object-key layout: `<prefix>/<uid>/<file_id>/<safe name>`.
//!
//! The key is chosen by the server, never by the terminal, and leads straight back to its
//! record: an upload event names a key, and the key names the user and the file.

use crate::{FileId, SafeName, UserId};

/// Where a deployment keeps its users' objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    /// A layout under `prefix` (leading and trailing `/` removed; may be empty).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// The key of a user's file.
    pub fn key(&self, user: &UserId, file: FileId, name: &SafeName) -> String {
        if self.prefix.is_empty() {
            format!("{user}/{file}/{}", name.safe())
        } else {
            format!("{}/{user}/{file}/{}", self.prefix, name.safe())
        }
    }

    /// The user and file a key belongs to, or `None` for a key outside this layout.
    pub fn parse(&self, key: &str) -> Option<(UserId, FileId)> {
        let rest = if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?
        };
        let mut parts = rest.splitn(3, '/');
        let user = UserId::new(parts.next()?).ok()?;
        let file = parts.next()?.parse().ok()?;
        let name = parts.next()?;
        (!name.is_empty() && !name.contains('/')).then_some((user, file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_leads_back_to_its_user_and_file() {
        let layout = KeyLayout::new("/uploads/");
        let user = UserId::new("u42").unwrap();
        let file = FileId::generate(1);

        let key = layout.key(&user, file, &SafeName::new("photo.jpg").unwrap());

        assert_eq!(key, format!("uploads/u42/{file}/photo.jpg"));
        assert_eq!(layout.parse(&key), Some((user, file)));
    }

    #[test]
    fn keys_outside_the_layout_lead_nowhere() {
        let layout = KeyLayout::new("uploads");
        let file = FileId::generate(1);

        for key in [
            format!("other/u42/{file}/a"),
            format!("uploads/u42/{file}"),
            format!("uploads/u42/{file}/a/b"),
            "uploads/u42/not-an-id/a".to_owned(),
            format!("uploadsx/u42/{file}/a"),
        ] {
            assert_eq!(layout.parse(&key), None, "{key}");
        }
    }
}
