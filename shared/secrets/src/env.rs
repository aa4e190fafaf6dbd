//! Secrets from environment variables, for local development and tests.

use std::fmt;
use std::sync::Arc;

use cos_sign::{Credentials, Secret};
use cosigner_core::{SecretError, SecretSource};

/// The variable of each named secret.
const NAMED: [(&str, &str); 3] = [
    ("jwt_secret", "AUTH_JWT_SECRET"),
    ("event_secret", "EVENT_SECRET"),
    ("cursor_secret", "CURSOR_SECRET"),
];

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Secrets read from variables: `COS_SECRET_ID`, `COS_SECRET_KEY`, optional
/// `COS_SESSION_TOKEN`, and `AUTH_JWT_SECRET`, `EVENT_SECRET`, `CURSOR_SECRET`.
///
/// Values are read on every call, through a lookup that is the process environment or,
/// in tests, a map.
#[derive(Clone)]
pub struct EnvSecrets {
    lookup: Arc<Lookup>,
}

impl EnvSecrets {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        // The secrets are the one setting not in `Config`: a config is logged and cloned
        // freely, a secret must not be.
        Self::with_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup` instead of the environment.
    pub fn with_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Arc::new(lookup),
        }
    }

    fn required(&self, variable: &str) -> Result<String, SecretError> {
        (self.lookup)(variable)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError::Missing(variable.to_owned()))
    }
}

impl fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvSecrets")
    }
}

impl SecretSource for EnvSecrets {
    async fn cos_credentials(&self) -> Result<Credentials, SecretError> {
        let id = self.required("COS_SECRET_ID")?;
        let key = self.required("COS_SECRET_KEY")?;
        let token = (self.lookup)("COS_SESSION_TOKEN").filter(|t| !t.is_empty());

        let malformed = |e: cos_sign::SignError| {
            SecretError::Malformed("COS_SECRET_ID/COS_SECRET_KEY".to_owned(), e.to_string())
        };
        let credentials = Credentials::new(id, key).map_err(malformed)?;
        match token {
            Some(token) => credentials.with_session_token(token).map_err(malformed),
            None => Ok(credentials),
        }
    }

    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let variable = NAMED
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, variable)| *variable)
            .ok_or_else(|| SecretError::Missing(name.to_owned()))?;
        self.required(variable).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSecrets {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EnvSecrets::with_lookup(move |name| map.get(name).cloned())
    }

    #[tokio::test]
    async fn reads_the_key_pair_and_the_named_secrets() {
        let secrets = env(&[
            ("COS_SECRET_ID", "AKIDlocal"),
            ("COS_SECRET_KEY", "local-key"),
            ("COS_SESSION_TOKEN", "tok"),
            ("AUTH_JWT_SECRET", "jwt"),
            ("CURSOR_SECRET", "cur"),
        ]);

        let credentials = secrets.cos_credentials().await.unwrap();

        assert_eq!(credentials.secret_id(), "AKIDlocal");
        assert_eq!(credentials.secret_key().expose(), "local-key");
        assert_eq!(credentials.session_token().map(Secret::expose), Some("tok"));
        assert_eq!(secrets.secret("jwt_secret").await.unwrap().expose(), "jwt");
        assert_eq!(
            secrets.secret("cursor_secret").await.unwrap().expose(),
            "cur"
        );
    }

    #[tokio::test]
    async fn a_missing_or_empty_variable_is_named() {
        let secrets = env(&[("COS_SECRET_ID", "AKIDlocal"), ("COS_SECRET_KEY", "")]);

        let err = secrets.cos_credentials().await.unwrap_err();

        assert!(
            matches!(err, SecretError::Missing(ref v) if v == "COS_SECRET_KEY"),
            "{err}"
        );
        assert!(matches!(
            secrets.secret("event_secret").await,
            Err(SecretError::Missing(v)) if v == "EVENT_SECRET"
        ));
        assert!(matches!(
            secrets.secret("database_password").await,
            Err(SecretError::Missing(v)) if v == "database_password"
        ));
    }

    #[tokio::test]
    async fn an_unsignable_key_id_is_malformed_without_the_key() {
        let secrets = env(&[("COS_SECRET_ID", "AK ID"), ("COS_SECRET_KEY", "hunter2")]);

        let err = secrets.cos_credentials().await.unwrap_err();

        let text = format!("{err} {err:?}");
        assert!(matches!(err, SecretError::Malformed(..)), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
