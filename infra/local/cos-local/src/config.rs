//! Options and configuration: the command line, an optional TOML or JSON file, and the
//! checked result the server runs with.
//!
//! The command line adds to the file: lists (buckets, credentials, notify URLs, CORS
//! origins) are joined, single values given on the command line win.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use cos_sign::{Credentials, Secret};

/// The region of a bucket given without one.
pub const DEFAULT_REGION: &str = "ap-guangzhou";

/// COS's limit for a single PUT: 5 GiB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 5 << 30;

/// COS's smallest part, for every part but the last: 1 MiB.
pub const DEFAULT_MIN_PART_BYTES: u64 = 1 << 20;

/// A local COS-compatible object store that verifies COS signatures and emits upload events.
///
/// Every request must be signed by a configured credential, as COS requires of a private
/// bucket. Point an SDK at http://127.0.0.1:PORT (see the README for each SDK and for
/// coscmd). Secrets given here are visible to other local users through the process
/// list; prefer --config for anything but throwaway keys.
#[derive(Debug, Parser)]
#[command(name = "cos-local", version)]
pub struct Options {
    /// Read settings from this TOML file (JSON when the name ends in .json); options given
    /// on the command line add to it and win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for objects, multipart uploads and queued events [default: ./cos-local-data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,

    /// Port to listen on; 0 takes any free port (the ready line says which) [default: 9000].
    #[arg(long)]
    pub port: Option<u16>,

    /// A bucket to serve, named NAME-APPID as COS names them, with an optional region
    /// (default ap-guangzhou). Repeatable.
    #[arg(long = "bucket", value_name = "NAME-APPID[:REGION]")]
    pub buckets: Vec<String>,

    /// The bucket a request to a bare host (an IP address, localhost, a custom domain) is
    /// for, unless its path starts with a bucket name [default: the first bucket].
    #[arg(long, value_name = "NAME-APPID")]
    pub default_bucket: Option<String>,

    /// A key pair allowed to sign requests, SECRET_ID:SECRET_KEY; temporary credentials add
    /// :SESSION_TOKEN, which each request must then carry as x-cos-security-token.
    /// Repeatable.
    #[arg(long = "credential", value_name = "ID:KEY[:TOKEN]")]
    pub credentials: Vec<String>,

    /// A URL that receives every object-created event as a signed POST. Repeatable.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Vec<String>,

    /// The key events are signed with (hex HMAC-SHA256 over TIMESTAMP.BODY); required
    /// with --notify.
    #[arg(
        long,
        value_name = "SECRET",
        env = "COS_LOCAL_NOTIFY_SECRET",
        hide_env_values = true
    )]
    pub notify_secret: Option<String>,

    /// The longest wait between two attempts to deliver one event, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub notify_retry_max: Option<u64>,

    /// An origin browsers may call from (CORS), or *, allowed on every bucket for GET, PUT,
    /// POST, DELETE and HEAD with any request header. Repeatable.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,

    /// The largest body of one PUT, POST or part, in bytes [default: 5368709120].
    #[arg(long, value_name = "BYTES")]
    pub max_object_bytes: Option<u64>,

    /// The smallest size of every part but the last when a multipart upload completes, in
    /// bytes [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub min_part_bytes: Option<u64>,

    /// Seconds a request body may stay silent before the request fails with RequestTimeout
    /// [default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,

    /// Log filter, such as info or cos_local=debug [default: $RUST_LOG, else info].
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,

    /// Write the listening address (http://ip:port) to this file once connections are
    /// accepted.
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read the config file {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("the config file {path} is not valid: {reason}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        reason: String,
    },
    /// A bucket name that is not `<name>-<appid>`, or a bad region.
    #[error(
        "the bucket {0:?} is not <name>-<appid>[:<region>] with a lowercase name, a numeric appid and a region made of a-z, 0-9 and -"
    )]
    InvalidBucket(String),
    /// The same bucket twice.
    #[error("the bucket {0} is configured twice")]
    DuplicateBucket(String),
    /// No bucket at all.
    #[error("no bucket is configured: give at least one --bucket NAME-APPID")]
    NoBucket,
    /// A default bucket that is not configured.
    #[error("the default bucket {0} is not one of the configured buckets")]
    UnknownDefaultBucket(String),
    /// A credential that cannot be parsed; the message never holds the secret.
    #[error("a credential is not ID:KEY or ID:KEY:TOKEN with a non-empty id and key ({0})")]
    InvalidCredential(String),
    /// No credential at all: every request must be signed, so none could succeed.
    #[error("no credential is configured: give at least one --credential ID:KEY")]
    NoCredential,
    /// A bucket that names a credential nobody configured.
    #[error("the bucket {bucket} allows the secret id {secret_id}, which is not configured")]
    UnknownBucketCredential {
        /// The bucket.
        bucket: String,
        /// The secret id it names.
        secret_id: String,
    },
    /// Events must be signed.
    #[error("--notify needs --notify-secret (or COS_LOCAL_NOTIFY_SECRET) to sign events")]
    NotifyWithoutSecret,
    /// A notify URL that is not http(s).
    #[error("the notify URL {0:?} is not an http:// or https:// URL")]
    InvalidNotifyUrl(String),
    /// A CORS rule with nothing in it.
    #[error("a CORS rule of bucket {0} allows no origin")]
    EmptyCorsRule(String),
}

/// One CORS rule of a bucket, as COS's bucket CORS configuration has them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CorsRule {
    /// Origins allowed, exact or with one `*` wildcard (`https://*.example.com`, `*`).
    pub allowed_origins: Vec<String>,
    /// Methods allowed; default GET, PUT, POST, DELETE, HEAD.
    #[serde(default = "default_methods")]
    pub allowed_methods: Vec<String>,
    /// Request headers allowed, with `*` wildcards; default `*`.
    #[serde(default = "any_header")]
    pub allowed_headers: Vec<String>,
    /// Response headers a page may read; default ETag, Content-Length and the x-cos-
    /// headers COS returns.
    #[serde(default = "default_expose")]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer, in seconds.
    #[serde(default)]
    pub max_age_seconds: Option<u64>,
}

impl CorsRule {
    /// The rule `--cors-origin` adds.
    pub fn for_origin(origin: &str) -> Self {
        Self {
            allowed_origins: vec![origin.to_owned()],
            allowed_methods: default_methods(),
            allowed_headers: any_header(),
            expose_headers: default_expose(),
            max_age_seconds: Some(600),
        }
    }
}

fn default_methods() -> Vec<String> {
    ["GET", "PUT", "POST", "DELETE", "HEAD"]
        .map(str::to_owned)
        .to_vec()
}

fn any_header() -> Vec<String> {
    vec!["*".to_owned()]
}

fn default_expose() -> Vec<String> {
    [
        "ETag",
        "Content-Length",
        "x-cos-request-id",
        "x-cos-hash-crc64ecma",
        "x-cos-version-id",
        "x-cos-storage-class",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A bucket being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `<name>-<appid>`.
    pub name: String,
    /// `<name>`, as COS events call the bucket.
    pub short_name: String,
    /// `<appid>`.
    pub appid: String,
    /// Such as `ap-guangzhou`.
    pub region: String,
    /// The secret ids that may use the bucket; empty means every configured one.
    pub allowed: Vec<String>,
    /// CORS rules, checked in order.
    pub cors: Vec<CorsRule>,
}

impl Bucket {
    /// Whether a secret id may use this bucket.
    pub fn allows(&self, secret_id: &str) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|id| id == secret_id)
    }

    /// `<name>-<appid>.cos.<region>.myqcloud.com`, the host COS serves the bucket at.
    pub fn cos_host(&self) -> String {
        format!("{}.cos.{}.myqcloud.com", self.name, self.region)
    }
}

/// The checked configuration.
#[derive(Debug)]
pub struct Config {
    /// The data directory.
    pub data: PathBuf,
    /// Listening address.
    pub bind: IpAddr,
    /// Listening port (0: any).
    pub port: u16,
    /// The buckets, in the order given.
    pub buckets: Vec<Arc<Bucket>>,
    /// The bucket of a bare host.
    pub default_bucket: Arc<Bucket>,
    /// Credentials by secret id.
    pub credentials: HashMap<String, Credentials>,
    /// Event receivers.
    pub notify: Vec<String>,
    /// The event signing key.
    pub notify_secret: Option<Secret>,
    /// The longest backoff between two delivery attempts.
    pub notify_retry_max: Duration,
    /// The largest body of one PUT, POST or part.
    pub max_object_bytes: u64,
    /// The smallest part but the last.
    pub min_part_bytes: u64,
    /// How long a body may stay silent.
    pub idle_timeout: Duration,
    /// The log filter, when given.
    pub log: Option<String>,
    /// Where to write the address once listening.
    pub ready_file: Option<PathBuf>,
}

impl Config {
    /// The bucket of that full name.
    pub fn bucket(&self, name: &str) -> Option<&Arc<Bucket>> {
        self.buckets.iter().find(|b| b.name == name)
    }

    /// Reads the config file, if any, and merges the options into it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an unreadable file or any invalid value.
    pub fn load(options: Options) -> Result<Self, ConfigError> {
        let file = match &options.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Self::merge(file, options)
    }

    fn merge(file: FileConfig, options: Options) -> Result<Self, ConfigError> {
        let mut credentials = HashMap::new();
        for credential in file.credentials {
            let mut creds = Credentials::new(credential.secret_id.clone(), credential.secret_key)
                .map_err(|e| ConfigError::InvalidCredential(e.to_string()))?;
            if let Some(token) = credential.session_token {
                creds = creds
                    .with_session_token(token)
                    .map_err(|e| ConfigError::InvalidCredential(e.to_string()))?;
            }
            credentials.insert(credential.secret_id, creds);
        }
        for text in &options.credentials {
            let creds = parse_credential(text)?;
            credentials.insert(creds.secret_id().to_owned(), creds);
        }
        if credentials.is_empty() {
            return Err(ConfigError::NoCredential);
        }

        let mut cors_origins = file.cors_origins;
        cors_origins.extend(options.cors_origins);
        let shared_cors: Vec<CorsRule> = cors_origins
            .iter()
            .map(|origin| CorsRule::for_origin(origin))
            .collect();

        let mut buckets: Vec<Arc<Bucket>> = Vec::new();
        let mut add = |bucket: Bucket| {
            if buckets.iter().any(|b| b.name == bucket.name) {
                return Err(ConfigError::DuplicateBucket(bucket.name));
            }
            for id in &bucket.allowed {
                if !credentials.contains_key(id) {
                    return Err(ConfigError::UnknownBucketCredential {
                        bucket: bucket.name.clone(),
                        secret_id: id.clone(),
                    });
                }
            }
            if bucket.cors.iter().any(|r| r.allowed_origins.is_empty()) {
                return Err(ConfigError::EmptyCorsRule(bucket.name));
            }
            buckets.push(Arc::new(bucket));
            Ok(())
        };
        for configured in file.buckets {
            let spec = match &configured.region {
                Some(region) => format!("{}:{region}", configured.name),
                None => configured.name.clone(),
            };
            let mut bucket = parse_bucket(&spec)?;
            bucket.allowed = configured.credentials;
            bucket.cors = configured.cors;
            bucket.cors.extend(shared_cors.iter().cloned());
            add(bucket)?;
        }
        for spec in &options.buckets {
            let mut bucket = parse_bucket(spec)?;
            bucket.cors = shared_cors.clone();
            add(bucket)?;
        }

        let default_name = options.default_bucket.or(file.default_bucket);
        let default_bucket = match default_name {
            Some(name) => buckets
                .iter()
                .find(|b| b.name == name)
                .cloned()
                .ok_or(ConfigError::UnknownDefaultBucket(name))?,
            None => buckets.first().cloned().ok_or(ConfigError::NoBucket)?,
        };

        let mut notify = file.notify;
        notify.extend(options.notify);
        for url in &notify {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::InvalidNotifyUrl(url.clone()));
            }
        }
        let notify_secret = options
            .notify_secret
            .or(file.notify_secret)
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        if !notify.is_empty() && notify_secret.is_none() {
            return Err(ConfigError::NotifyWithoutSecret);
        }

        Ok(Self {
            data: options
                .data
                .or(file.data)
                .unwrap_or_else(|| PathBuf::from("cos-local-data")),
            bind: options
                .bind
                .or(file.bind)
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: options.port.or(file.port).unwrap_or(9000),
            buckets,
            default_bucket,
            credentials,
            notify,
            notify_secret,
            notify_retry_max: Duration::from_secs(
                options
                    .notify_retry_max
                    .or(file.notify_retry_max)
                    .unwrap_or(60)
                    .max(1),
            ),
            max_object_bytes: options
                .max_object_bytes
                .or(file.max_object_bytes)
                .unwrap_or(DEFAULT_MAX_OBJECT_BYTES),
            min_part_bytes: options
                .min_part_bytes
                .or(file.min_part_bytes)
                .unwrap_or(DEFAULT_MIN_PART_BYTES),
            idle_timeout: Duration::from_secs(
                options
                    .idle_timeout
                    .or(file.idle_timeout)
                    .unwrap_or(60)
                    .max(1),
            ),
            log: options.log.or(file.log),
            ready_file: options.ready_file,
        })
    }
}

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    bind: Option<IpAddr>,
    port: Option<u16>,
    default_bucket: Option<String>,
    #[serde(default)]
    buckets: Vec<FileBucket>,
    #[serde(default)]
    credentials: Vec<FileCredential>,
    #[serde(default)]
    notify: Vec<String>,
    notify_secret: Option<String>,
    notify_retry_max: Option<u64>,
    #[serde(default)]
    cors_origins: Vec<String>,
    max_object_bytes: Option<u64>,
    min_part_bytes: Option<u64>,
    idle_timeout: Option<u64>,
    log: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBucket {
    name: String,
    region: Option<String>,
    #[serde(default)]
    credentials: Vec<String>,
    #[serde(default)]
    cors: Vec<CorsRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCredential {
    secret_id: String,
    secret_key: String,
    session_token: Option<String>,
}

impl std::fmt::Debug for FileCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCredential")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

impl FileConfig {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |reason: String| ConfigError::ParseFile {
            path: path.to_owned(),
            reason,
        };
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))
        } else {
            toml::from_str(&text).map_err(|e| invalid(e.to_string()))
        }
    }
}

/// `name-appid[:region]` → a bucket with no credential restriction and no CORS rule.
fn parse_bucket(spec: &str) -> Result<Bucket, ConfigError> {
    let invalid = || ConfigError::InvalidBucket(spec.to_owned());
    let (name, region) = match spec.split_once(':') {
        Some((name, region)) => (name, region),
        None => (spec, DEFAULT_REGION),
    };
    let (short_name, appid) = name.rsplit_once('-').ok_or_else(invalid)?;
    let name_ok = !short_name.is_empty()
        && !short_name.starts_with('-')
        && short_name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let appid_ok = !appid.is_empty() && appid.bytes().all(|b| b.is_ascii_digit());
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(name_ok && appid_ok && region_ok) {
        return Err(invalid());
    }
    Ok(Bucket {
        name: name.to_owned(),
        short_name: short_name.to_owned(),
        appid: appid.to_owned(),
        region: region.to_owned(),
        allowed: Vec::new(),
        cors: Vec::new(),
    })
}

/// `ID:KEY[:TOKEN]` → credentials. Errors name the secret id at most, never the key.
fn parse_credential(text: &str) -> Result<Credentials, ConfigError> {
    let mut parts = text.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    let key = parts.next().unwrap_or_default();
    let invalid = || {
        ConfigError::InvalidCredential(if id.is_empty() {
            "the secret id is empty".to_owned()
        } else {
            format!("secret id {id}")
        })
    };
    let creds = Credentials::new(id, key).map_err(|_| invalid())?;
    match parts.next() {
        Some(token) => creds.with_session_token(token).map_err(|_| invalid()),
        None => Ok(creds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        let mut argv = vec!["cos-local"];
        argv.extend_from_slice(args);
        Options::try_parse_from(argv).unwrap()
    }

    #[test]
    fn reads_buckets_credentials_and_defaults_from_the_command_line() {
        let config = Config::load(options(&[
            "--bucket",
            "photos-1250000000",
            "--bucket",
            "docs-1250000000:ap-beijing",
            "--credential",
            "AKID1:key1",
            "--credential",
            "AKID2:key2:tok:en",
        ]))
        .unwrap();

        assert_eq!(config.buckets.len(), 2);
        assert_eq!(config.default_bucket.name, "photos-1250000000");
        assert_eq!(config.buckets[0].region, DEFAULT_REGION);
        assert_eq!(config.buckets[1].short_name, "docs");
        assert_eq!(config.buckets[1].appid, "1250000000");
        assert_eq!(config.buckets[1].region, "ap-beijing");
        assert_eq!(
            config.credentials["AKID2"]
                .session_token()
                .map(|t| t.expose().to_owned()),
            Some("tok:en".to_owned())
        );
        assert_eq!(config.port, 9000);
        assert_eq!(config.max_object_bytes, DEFAULT_MAX_OBJECT_BYTES);
    }

    #[test]
    fn refuses_bad_buckets_and_credentials_without_printing_keys() {
        for bad in [
            "photos",
            "Photos-1",
            "photos-12a",
            "photos-1:",
            "photos-1:AP",
        ] {
            let result = Config::load(options(&["--bucket", bad, "--credential", "a:b"]));

            assert!(
                matches!(result, Err(ConfigError::InvalidBucket(_))),
                "{bad}"
            );
        }

        let error = Config::load(options(&["--bucket", "a-1", "--credential", "id:"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("secret id id"), "{error}");
        let error = Config::load(options(&["--bucket", "a-1", "--credential", "id"]))
            .unwrap_err()
            .to_string();
        assert!(!error.contains("verysecret"));
    }

    #[test]
    fn notify_needs_a_secret_and_an_http_url() {
        let base = ["--bucket", "a-1", "--credential", "id:key"];

        let without_secret = [&base[..], &["--notify", "http://127.0.0.1:1/e"]].concat();
        let bad_url = [&base[..], &["--notify", "ftp://x", "--notify-secret", "s"]].concat();

        assert!(matches!(
            Config::load(options(&without_secret)),
            Err(ConfigError::NotifyWithoutSecret)
        ));
        assert!(matches!(
            Config::load(options(&bad_url)),
            Err(ConfigError::InvalidNotifyUrl(_))
        ));
    }

    #[test]
    fn a_toml_file_gives_buckets_with_cors_and_allowed_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cos-local.toml");
        std::fs::write(
            &path,
            r#"
                port = 9100
                default_bucket = "b-2"
                min_part_bytes = 1024
                [[credentials]]
                secret_id = "AKID1"
                secret_key = "k1"
                [[buckets]]
                name = "a-1"
                [[buckets]]
                name = "b-2"
                region = "ap-shanghai"
                credentials = ["AKID1"]
                [[buckets.cors]]
                allowed_origins = ["http://localhost:5173"]
            "#,
        )
        .unwrap();
        let path = path.to_str().unwrap();

        let config = Config::load(options(&["--config", path, "--port", "0"])).unwrap();

        assert_eq!(config.port, 0);
        assert_eq!(config.min_part_bytes, 1024);
        assert_eq!(config.default_bucket.name, "b-2");
        assert_eq!(config.default_bucket.region, "ap-shanghai");
        assert!(config.default_bucket.allows("AKID1"));
        assert!(!config.default_bucket.allows("AKID9"));
        assert_eq!(config.default_bucket.cors[0].allowed_methods.len(), 5);
    }

    #[test]
    fn a_json_file_works_too_and_unknown_fields_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("c.json");
        std::fs::write(
            &good,
            r#"{"buckets":[{"name":"a-1"}],"credentials":[{"secret_id":"i","secret_key":"k"}]}"#,
        )
        .unwrap();
        let bad = dir.path().join("d.json");
        std::fs::write(&bad, r#"{"bucket":[{"name":"a-1"}]}"#).unwrap();

        let config = Config::load(options(&["--config", good.to_str().unwrap()])).unwrap();
        let error = Config::load(options(&["--config", bad.to_str().unwrap()])).unwrap_err();

        assert_eq!(config.buckets[0].name, "a-1");
        assert!(matches!(error, ConfigError::ParseFile { .. }));
    }
}
