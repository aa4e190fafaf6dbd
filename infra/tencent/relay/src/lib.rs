//! The COS side of Cosigner: an SCF function, run as a custom runtime, that receives COS
//! upload-completion events from a bucket trigger and relays each one, unchanged, to
//! Cosigner's `POST /v1/events/cos` with an HMAC signature.
//!
//! The signature is `hex(HMAC-SHA256(secret, "<timestamp>." + body))` in the header
//! `x-cosigner-signature`, with the Unix-seconds timestamp in `x-cosigner-timestamp`; the
//! event route refuses bodies whose signature does not match or whose timestamp is more
//! than five minutes away, so a captured request cannot be replayed later.
//!
//! # Layout
//!
//! - [`Settings`]: the environment SCF gives the function.
//! - [`sign`]: the relay signature.
//! - [`Runtime`]: the SCF custom-runtime protocol (report ready, take the next event,
//!   answer it or report its failure) around [`Relay::forward`].

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the Unix-seconds timestamp of a relayed event.
pub const TIMESTAMP_HEADER: &str = "x-cosigner-timestamp";
/// Header carrying the relay signature.
pub const SIGNATURE_HEADER: &str = "x-cosigner-signature";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A setting is missing or malformed.
    #[error("{0}")]
    Settings(String),
    /// The event route could not be reached.
    #[error("the event route could not be reached")]
    Unreachable(#[source] reqwest::Error),
    /// The event route answered with an error status.
    #[error("the event route answered {0}")]
    Refused(u16),
    /// The SCF runtime API failed.
    #[error("the SCF runtime API failed")]
    Runtime(#[source] reqwest::Error),
}

/// `hex(HMAC-SHA256(secret, "<timestamp>." + body))`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The function's settings, from SCF's environment.
pub struct Settings {
    /// `host:port` of the SCF runtime API.
    pub runtime_api: String,
    /// Cosigner's event route, such as `https://api.example.com/v1/events/cos`.
    pub target_url: String,
    /// The shared event secret (Cosigner's `event_secret`).
    secret: Vec<u8>,
    /// How long one relay attempt may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("runtime_api", &self.runtime_api)
            .field("target_url", &self.target_url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Settings {
    /// Reads `SCF_RUNTIME_API`, `SCF_RUNTIME_API_PORT`, `RELAY_TARGET_URL`, `RELAY_SECRET`
    /// and the optional `RELAY_TIMEOUT_SECS` (default 5).
    ///
    /// # Errors
    ///
    /// [`RelayError::Settings`] naming every missing or bad variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RelayError> {
        let mut problems = Vec::new();
        let mut get = |name: &str| {
            lookup(name).filter(|v| !v.is_empty()).unwrap_or_else(|| {
                problems.push(format!("{name} is missing"));
                String::new()
            })
        };
        let host = get("SCF_RUNTIME_API");
        let port = get("SCF_RUNTIME_API_PORT");
        let target_url = get("RELAY_TARGET_URL");
        let secret = get("RELAY_SECRET").into_bytes();
        if !(target_url.is_empty()
            || target_url.starts_with("https://")
            || target_url.starts_with("http://"))
        {
            problems.push("RELAY_TARGET_URL must be an http(s) URL".into());
        }
        let timeout = match lookup("RELAY_TIMEOUT_SECS") {
            None => 5,
            Some(text) => text.parse().unwrap_or_else(|_| {
                problems.push("RELAY_TIMEOUT_SECS must be a whole number".into());
                5
            }),
        };
        if !problems.is_empty() {
            return Err(RelayError::Settings(problems.join("; ")));
        }
        Ok(Self {
            runtime_api: format!("{host}:{port}"),
            target_url,
            secret,
            timeout: Duration::from_secs(timeout),
        })
    }
}

/// Relays events to the event route.
pub struct Relay {
    client: reqwest::Client,
    target_url: String,
    secret: Vec<u8>,
}

impl Relay {
    /// A relay for the given settings.
    ///
    /// # Errors
    ///
    /// [`RelayError::Settings`] when the HTTP client cannot be built.
    pub fn new(settings: &Settings) -> Result<Self, RelayError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| RelayError::Settings(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            target_url: settings.target_url.clone(),
            secret: settings.secret.clone(),
        })
    }

    /// Posts one event body, signed at `now`.
    ///
    /// # Errors
    ///
    /// [`RelayError::Unreachable`] or [`RelayError::Refused`]; SCF then retries the event.
    pub async fn forward(&self, body: Vec<u8>, now: u64) -> Result<(), RelayError> {
        let signature = sign(&self.secret, now, &body);
        let response = self
            .client
            .post(&self.target_url)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(RelayError::Unreachable)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(RelayError::Refused(status.as_u16()))
        }
    }
}

/// The SCF custom-runtime protocol.
pub struct Runtime {
    client: reqwest::Client,
    base: String,
}

impl Runtime {
    /// A client of the runtime API at `host:port`.
    pub fn new(runtime_api: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("http://{runtime_api}/runtime"),
        }
    }

    /// Tells SCF the function finished initialising.
    ///
    /// # Errors
    ///
    /// [`RelayError::Runtime`] when the runtime API cannot be reached.
    pub async fn ready(&self) -> Result<(), RelayError> {
        self.post("init/ready", " ".into()).await
    }

    /// Tells SCF initialisation failed, and why.
    ///
    /// # Errors
    ///
    /// [`RelayError::Runtime`] when the runtime API cannot be reached.
    pub async fn init_failed(&self, message: &str) -> Result<(), RelayError> {
        self.post("init/error", error_body(message)).await
    }

    /// Waits for the next event (a long poll) and returns its body.
    ///
    /// # Errors
    ///
    /// [`RelayError::Runtime`] when the runtime API cannot be reached.
    pub async fn next(&self) -> Result<Vec<u8>, RelayError> {
        let response = self
            .client
            .get(format!("{}/invocation/next", self.base))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(RelayError::Runtime)?;
        Ok(response
            .bytes()
            .await
            .map_err(RelayError::Runtime)?
            .to_vec())
    }

    /// Answers the current event.
    ///
    /// # Errors
    ///
    /// [`RelayError::Runtime`] when the runtime API cannot be reached.
    pub async fn respond(&self, body: String) -> Result<(), RelayError> {
        self.post("invocation/response", body).await
    }

    /// Reports the current event as failed, so SCF retries it.
    ///
    /// # Errors
    ///
    /// [`RelayError::Runtime`] when the runtime API cannot be reached.
    pub async fn fail(&self, message: &str) -> Result<(), RelayError> {
        self.post("invocation/error", error_body(message)).await
    }

    async fn post(&self, path: &str, body: String) -> Result<(), RelayError> {
        self.client
            .post(format!("{}/{path}", self.base))
            .body(body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(drop)
            .map_err(RelayError::Runtime)
    }
}

fn error_body(message: &str) -> String {
    // A hand-built JSON string would need escaping; the message is ours and plain ASCII,
    // but quotes are escaped anyway.
    format!(
        "{{\"errorMessage\":\"{}\"}}",
        message.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let one = sign(b"secret", 1700000000, b"{}");

        assert_eq!(one.len(), 64);
        assert_ne!(one, sign(b"secret", 1700000001, b"{}"));
        assert_ne!(one, sign(b"secret", 1700000000, b"{ }"));
        assert_ne!(one, sign(b"other", 1700000000, b"{}"));
    }

    #[test]
    fn settings_name_every_missing_variable_and_hide_the_secret() {
        let err = Settings::from_lookup(|_| None).unwrap_err().to_string();
        for name in [
            "SCF_RUNTIME_API",
            "SCF_RUNTIME_API_PORT",
            "RELAY_TARGET_URL",
            "RELAY_SECRET",
        ] {
            assert!(err.contains(name), "{err}");
        }

        let settings = Settings::from_lookup(|name| {
            Some(match name {
                "SCF_RUNTIME_API" => "127.0.0.1".into(),
                "SCF_RUNTIME_API_PORT" => "9001".into(),
                "RELAY_TARGET_URL" => "https://api.example.com/v1/events/cos".into(),
                "RELAY_SECRET" => "hunter2".into(),
                _ => return None,
            })
        })
        .unwrap();
        assert_eq!(settings.runtime_api, "127.0.0.1:9001");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
