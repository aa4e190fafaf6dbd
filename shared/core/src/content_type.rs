//! Which media types may be uploaded.

/// A content type that is malformed or not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentTypeError {
    /// Not `type/subtype[; name=value]…`.
    #[error("the content type {0:?} is not a media type")]
    Malformed(String),
    /// A media type outside the allow-list.
    #[error("the content type {0:?} is not allowed")]
    NotAllowed(String),
}

/// The allow-list: exact types (`application/pdf`), whole families (`image/*`), or
/// everything (`*/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTypes {
    allowed: Vec<String>,
}

impl ContentTypes {
    /// An allow-list from patterns such as `image/*` and `application/pdf`.
    ///
    /// # Errors
    ///
    /// [`ContentTypeError::Malformed`] for a pattern that is not `type/subtype`, `type/*` or
    /// `*/*`.
    pub fn new<I, S>(patterns: I) -> Result<Self, ContentTypeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut allowed = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim().to_ascii_lowercase();
            let valid = match pattern.split_once('/') {
                Some(("*", "*")) => true,
                Some((kind, "*")) => is_token(kind),
                Some((kind, sub)) => is_token(kind) && is_token(sub),
                None => false,
            };
            if !valid {
                return Err(ContentTypeError::Malformed(pattern));
            }
            allowed.push(pattern);
        }
        Ok(Self { allowed })
    }

    /// Checks a content type and returns it normalised: the media type in lower case,
    /// parameters kept (`charset` lowercased too) with single `; ` separators. The terminal
    /// must send exactly the normalised value, since the upload signature binds it.
    ///
    /// # Errors
    ///
    /// [`ContentTypeError::Malformed`] or [`ContentTypeError::NotAllowed`].
    pub fn check(&self, value: &str) -> Result<String, ContentTypeError> {
        let malformed = || ContentTypeError::Malformed(value.to_owned());
        if value.chars().any(char::is_control) {
            return Err(malformed());
        }
        let mut parts = value.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let (kind, sub) = essence.split_once('/').ok_or_else(malformed)?;
        if !is_token(kind) || !is_token(sub) {
            return Err(malformed());
        }
        let mut normalised = essence.clone();
        for param in parts {
            let (name, param_value) = param.trim().split_once('=').ok_or_else(malformed)?;
            let name = name.trim().to_ascii_lowercase();
            let param_value = param_value.trim();
            let quoted = param_value.len() >= 2
                && param_value.starts_with('"')
                && param_value.ends_with('"');
            if !is_token(&name) || !(is_token(param_value) || quoted) {
                return Err(malformed());
            }
            let param_value = if name == "charset" {
                param_value.to_ascii_lowercase()
            } else {
                param_value.to_owned()
            };
            normalised.push_str("; ");
            normalised.push_str(&name);
            normalised.push('=');
            normalised.push_str(&param_value);
        }
        let allowed = self
            .allowed
            .iter()
            .any(|pattern| match pattern.split_once('/') {
                Some(("*", "*")) => true,
                Some((family, "*")) => family == kind,
                _ => *pattern == essence,
            });
        if allowed {
            Ok(normalised)
        } else {
            Err(ContentTypeError::NotAllowed(essence))
        }
    }
}

/// RFC 9110 token.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ContentTypes {
        ContentTypes::new(["image/*", "application/pdf", "text/plain"]).unwrap()
    }

    #[test]
    fn allows_families_and_exact_types_and_normalises_parameters() {
        assert_eq!(list().check("IMAGE/PNG"), Ok("image/png".into()));
        assert_eq!(
            list().check("text/plain;charset=UTF-8"),
            Ok("text/plain; charset=utf-8".into())
        );
        assert_eq!(
            list().check("application/pdf"),
            Ok("application/pdf".into())
        );
    }

    #[test]
    fn refuses_other_types_and_malformed_values() {
        assert_eq!(
            list().check("text/html"),
            Err(ContentTypeError::NotAllowed("text/html".into()))
        );
        for bad in [
            "",
            "image",
            "image/",
            "/png",
            "image/png; charset",
            "image/p ng",
            "text/plain;\r\nx=1",
        ] {
            assert!(
                matches!(list().check(bad), Err(ContentTypeError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn everything_is_allowed_under_a_wildcard() {
        let any = ContentTypes::new(["*/*"]).unwrap();

        assert!(any.check("application/x-anything").is_ok());
        assert!(ContentTypes::new(["image"]).is_err());
    }
}
