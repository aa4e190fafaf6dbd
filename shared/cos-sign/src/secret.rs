//! Secret strings and the credentials that hold them.
//!
//! A secret's memory is zeroed when it is dropped, and neither `Debug` nor `Display` ever
//! prints it: a stray `{:?}` in a log line shows a redaction, not a key.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::SignError;

/// A string that must not leak: zeroed on drop, redacted when formatted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the few places that must feed it to a MAC or a wire field.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret's bytes.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for Secret {
    /// Constant-time in the length of the shorter value, so a comparison does not leak how
    /// many leading bytes matched.
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.expose_bytes(), other.expose_bytes())
    }
}

impl Eq for Secret {}

/// Compares two byte strings without an early exit on the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A COS key pair: a permanent one, or a temporary one from STS with its session token.
///
/// The secret id is not a secret (it travels in every `Authorization` value); the secret key
/// and the session token are.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    secret_id: String,
    secret_key: Secret,
    session_token: Option<Secret>,
}

impl Credentials {
    /// A permanent key pair.
    ///
    /// # Errors
    ///
    /// [`SignError::EmptyCredential`] when either part is empty.
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Result<Self, SignError> {
        let secret_id = secret_id.into();
        let secret_key = Secret::new(secret_key);
        if secret_id.is_empty() {
            return Err(SignError::EmptyCredential("secret id"));
        }
        if secret_key.is_empty() {
            return Err(SignError::EmptyCredential("secret key"));
        }
        if secret_id
            .chars()
            .any(|c| c.is_control() || c == '&' || c == '=' || c == ' ')
        {
            return Err(SignError::InvalidCredential("secret id"));
        }
        Ok(Self {
            secret_id,
            secret_key,
            session_token: None,
        })
    }

    /// The same pair marked temporary, with the STS session token that must travel with it.
    ///
    /// # Errors
    ///
    /// [`SignError::EmptyCredential`] when the token is empty.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Result<Self, SignError> {
        let token = Secret::new(token);
        if token.is_empty() {
            return Err(SignError::EmptyCredential("session token"));
        }
        self.session_token = Some(token);
        Ok(self)
    }

    /// The public half of the pair.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The private half of the pair.
    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&Secret> {
        self.session_token.as_ref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("session_token", &self.session_token)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let creds = Credentials::new("AKIDexample", "very-secret-key")
            .and_then(|c| c.with_session_token("session-token-value"));
        let creds = creds.unwrap();

        let debug = format!("{creds:?}");
        let display = format!("{}", creds.secret_key());

        assert!(debug.contains("AKIDexample"));
        assert!(!debug.contains("very-secret-key"));
        assert!(!debug.contains("session-token-value"));
        assert!(!display.contains("very-secret-key"));
    }

    #[test]
    fn empty_parts_are_refused() {
        assert!(matches!(
            Credentials::new("", "k"),
            Err(SignError::EmptyCredential("secret id"))
        ));
        assert!(matches!(
            Credentials::new("id", ""),
            Err(SignError::EmptyCredential("secret key"))
        ));
        let creds = Credentials::new("id", "k").unwrap();
        assert!(matches!(
            creds.with_session_token(""),
            Err(SignError::EmptyCredential("session token"))
        ));
    }

    #[test]
    fn a_secret_id_that_would_break_the_authorization_value_is_refused() {
        assert!(Credentials::new("id&q-ak=x", "k").is_err());
    }

    #[test]
    fn comparison_looks_at_every_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
