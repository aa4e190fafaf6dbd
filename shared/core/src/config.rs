//! Every setting of a function, read from the environment in this one place.
//!
//! A cold start reads all of them and reports every missing or bad value at once, so a
//! broken deployment says everything that is wrong with it in one log line.

use std::fmt;
use std::time::Duration;

use crate::{ContentTypes, KeyLayout, Limits};

/// Where a set of secrets is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Environment variables (local development and tests).
    Env,
    /// An AWS Secrets Manager secret, by id or ARN; its value is a JSON object.
    SecretsManager(String),
    /// An SSM Parameter Store parameter (a SecureString), by name or ARN; its value is a
    /// JSON object.
    Ssm(String),
}

impl CredentialSource {
    /// Parses `env`, `secretsmanager:<id>`, `ssm:<name>`, or a Secrets Manager or SSM ARN.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "env" {
            return Some(Self::Env);
        }
        if let Some(id) = text.strip_prefix("secretsmanager:") {
            return (!id.is_empty()).then(|| Self::SecretsManager(id.to_owned()));
        }
        if let Some(name) = text.strip_prefix("ssm:") {
            return (!name.is_empty()).then(|| Self::Ssm(name.to_owned()));
        }
        if text.starts_with("arn:aws:secretsmanager:") {
            return Some(Self::SecretsManager(text.to_owned()));
        }
        if text.starts_with("arn:aws:ssm:") {
            return Some(Self::Ssm(text.to_owned()));
        }
        None
    }
}

/// How bearer tokens are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud`, if set.
    pub audience: Option<String>,
    /// A JWKS document for RS256/ES256 tokens (Cognito, Auth0 and the like), if set.
    pub jwks_url: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
}

/// A function's whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `COS_BUCKET`: `<name>-<appid>`.
    pub bucket: String,
    /// `COS_REGION`, such as `ap-guangzhou`.
    pub region: String,
    /// `COS_ENDPOINT`: a custom origin (a CDN domain, the local store), if set.
    pub endpoint: Option<String>,
    /// `COS_KEY_PREFIX`: where users' objects live.
    pub keys: KeyLayout,
    /// `COS_CREDENTIALS`: where the COS key pair is kept.
    pub cos_credentials: CredentialSource,
    /// `APP_SECRETS`: where the JWT, event and cursor secrets are kept.
    pub app_secrets: CredentialSource,
    /// `TABLE_NAME`.
    pub table_name: String,
    /// `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS_URL`, `AUTH_LEEWAY_SECS`.
    pub jwt: JwtConfig,
    /// `MAX_UPLOAD_BYTES`, `DEFAULT_QUOTA_BYTES`, `MAX_PENDING_UPLOADS`, `UPLOAD_URL_TTL`,
    /// `DOWNLOAD_URL_TTL`, `MULTIPART_THRESHOLD_BYTES`, `MULTIPART_PART_BYTES`.
    pub limits: Limits,
    /// `ALLOWED_CONTENT_TYPES`: comma-separated patterns such as `image/*,application/pdf`.
    pub content_types: ContentTypes,
}

/// Every problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// One entry per bad or missing variable: `NAME: what is wrong`.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the configuration is incomplete: {}",
            self.problems.join("; ")
        )
    }
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] listing every missing or bad variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] listing every missing or bad variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut required = |name: &str| match lookup(name).filter(|v| !v.trim().is_empty()) {
            Some(value) => value.trim().to_owned(),
            None => {
                problems.push(format!("{name}: missing"));
                String::new()
            }
        };
        let bucket = required("COS_BUCKET");
        let region = required("COS_REGION");
        let table_name = required("TABLE_NAME");
        let cos_credentials_text = required("COS_CREDENTIALS");

        let optional = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let defaults = Limits::default();
        let number = |name: &str, default: u64, problems: &mut Vec<String>| match optional(name) {
            None => default,
            Some(text) => text.parse::<u64>().unwrap_or_else(|_| {
                problems.push(format!("{name}: {text:?} is not a whole number"));
                default
            }),
        };
        let limits = Limits {
            max_upload_bytes: number("MAX_UPLOAD_BYTES", defaults.max_upload_bytes, &mut problems),
            default_quota_bytes: number(
                "DEFAULT_QUOTA_BYTES",
                defaults.default_quota_bytes,
                &mut problems,
            ),
            max_pending_uploads: number(
                "MAX_PENDING_UPLOADS",
                defaults.max_pending_uploads,
                &mut problems,
            ),
            upload_url_ttl: Duration::from_secs(number(
                "UPLOAD_URL_TTL",
                defaults.upload_url_ttl.as_secs(),
                &mut problems,
            )),
            download_url_ttl: Duration::from_secs(number(
                "DOWNLOAD_URL_TTL",
                defaults.download_url_ttl.as_secs(),
                &mut problems,
            )),
            multipart_threshold_bytes: number(
                "MULTIPART_THRESHOLD_BYTES",
                defaults.multipart_threshold_bytes,
                &mut problems,
            ),
            part_size_bytes: number(
                "MULTIPART_PART_BYTES",
                defaults.part_size_bytes,
                &mut problems,
            ),
        };
        let leeway_secs = number("AUTH_LEEWAY_SECS", 30, &mut problems);

        // COS accepts parts of 1 MB to 5 GB, and at most 10,000 of them.
        if !(1 << 20..=5 << 30).contains(&limits.part_size_bytes) {
            problems.push("MULTIPART_PART_BYTES: must be between 1 MiB and 5 GiB".into());
        }
        if limits
            .max_upload_bytes
            .div_ceil(limits.part_size_bytes.max(1))
            > 10_000
        {
            problems.push(
                "MAX_UPLOAD_BYTES: needs more than 10,000 parts of MULTIPART_PART_BYTES".into(),
            );
        }
        if limits.upload_url_ttl.is_zero() || limits.download_url_ttl.is_zero() {
            problems
                .push("UPLOAD_URL_TTL and DOWNLOAD_URL_TTL: must be at least one second".into());
        }
        if !bucket.is_empty()
            && cos_sign::Endpoint::cos(&bucket, if region.is_empty() { "x" } else { &region })
                .is_err()
        {
            problems.push(format!(
                "COS_BUCKET/COS_REGION: {bucket:?} in {region:?} is not <name>-<appid> in a region"
            ));
        }
        let endpoint = optional("COS_ENDPOINT");
        if let Some(origin) = &endpoint
            && cos_sign::Endpoint::custom(origin).is_err()
        {
            problems.push(format!("COS_ENDPOINT: {origin:?} is not an http(s) origin"));
        }
        let cos_credentials = CredentialSource::parse(&cos_credentials_text).unwrap_or_else(|| {
            if !cos_credentials_text.is_empty() {
                problems.push(
                    "COS_CREDENTIALS: expected env, secretsmanager:<id> or ssm:<name>".into(),
                );
            }
            CredentialSource::Env
        });
        let app_secrets = match optional("APP_SECRETS") {
            None => CredentialSource::Env,
            Some(text) => CredentialSource::parse(&text).unwrap_or_else(|| {
                problems
                    .push("APP_SECRETS: expected env, secretsmanager:<id> or ssm:<name>".into());
                CredentialSource::Env
            }),
        };
        let patterns = optional("ALLOWED_CONTENT_TYPES").unwrap_or_else(|| "*/*".to_owned());
        let content_types = ContentTypes::new(patterns.split(',').filter(|p| !p.trim().is_empty()))
            .unwrap_or_else(|e| {
                problems.push(format!("ALLOWED_CONTENT_TYPES: {e}"));
                ContentTypes::new(["*/*"])
                    .unwrap_or_else(|_| unreachable!("*/* is a valid pattern"))
            });
        let jwt = JwtConfig {
            issuer: optional("AUTH_ISSUER"),
            audience: optional("AUTH_AUDIENCE"),
            jwks_url: optional("AUTH_JWKS_URL"),
            leeway_secs,
        };

        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Self {
            bucket,
            region,
            endpoint,
            keys: KeyLayout::new(
                &optional("COS_KEY_PREFIX").unwrap_or_else(|| "uploads".to_owned()),
            ),
            cos_credentials,
            app_secrets,
            table_name,
            jwt,
            limits,
            content_types,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const MINIMAL: [(&str, &str); 4] = [
        ("COS_BUCKET", "examplebucket-1250000000"),
        ("COS_REGION", "ap-guangzhou"),
        ("TABLE_NAME", "cosigner"),
        ("COS_CREDENTIALS", "env"),
    ];

    #[test]
    fn a_minimal_environment_gets_the_defaults() {
        let config = Config::from_lookup(lookup(&MINIMAL)).unwrap();

        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.cos_credentials, CredentialSource::Env);
        assert_eq!(config.app_secrets, CredentialSource::Env);
        assert!(config.content_types.check("application/x-anything").is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Config::from_lookup(lookup(&[
            ("COS_REGION", "ap-guangzhou"),
            ("COS_CREDENTIALS", "vault:x"),
            ("MAX_UPLOAD_BYTES", "ten"),
            ("COS_ENDPOINT", "ftp://x"),
        ]))
        .unwrap_err();

        let text = err.to_string();
        for expected in [
            "COS_BUCKET: missing",
            "TABLE_NAME: missing",
            "COS_CREDENTIALS",
            "MAX_UPLOAD_BYTES",
            "COS_ENDPOINT",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
    }

    #[test]
    fn secret_sources_parse_by_scheme_or_arn() {
        assert_eq!(
            CredentialSource::parse("ssm:/cosigner/cos"),
            Some(CredentialSource::Ssm("/cosigner/cos".into()))
        );
        assert_eq!(
            CredentialSource::parse("arn:aws:secretsmanager:us-east-1:1:secret:x"),
            Some(CredentialSource::SecretsManager(
                "arn:aws:secretsmanager:us-east-1:1:secret:x".into()
            ))
        );
        assert_eq!(CredentialSource::parse("secretsmanager:"), None);
        assert_eq!(CredentialSource::parse("plain"), None);
    }
}
