//! The business server's routes, typed: each call sends the bearer token, parses the answer
//! or the one error shape, and with `-v` logs the method, path, status, request id and
//! time (never the token, a query string or a signed URL).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Token;
use crate::error::{ApiFailure, CliError};
use crate::human;

/// How long an API call may take; transfers to the store have no such limit.
const API_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts of a call that is safe to repeat, when the network or a 502–504 got in the way.
const ATTEMPTS: u32 = 3;

/// A URL signed by the server. Its `Debug` hides everything after the host, where the
/// signature is.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SignedUrl(String);

impl SignedUrl {
    /// The URL, to send a request to.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = Url::parse(&self.0)
            .map(|url| crate::error::host_of(&url))
            .unwrap_or_default();
        write!(f, "SignedUrl({host}/<redacted>)")
    }
}

/// Headers the server signed. Their `Debug` shows the names only.
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(transparent)]
pub struct SignedHeaders(pub BTreeMap<String, String>);

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A file as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileRecord {
    /// The file id (a ULID).
    pub file_id: String,
    /// The original name.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
    /// The content type.
    pub content_type: String,
    /// `pending`, `ready`, `expired` or `aborted`.
    pub state: String,
    /// `put`, `post` or `multipart`.
    #[serde(default)]
    pub method: Option<String>,
    /// COS's ETag, for a ready file.
    #[serde(default)]
    pub etag: Option<String>,
    /// The multipart upload id, while pending.
    #[serde(default)]
    pub upload_id: Option<String>,
    /// When the record was made (Unix seconds).
    pub created_at: u64,
}

/// A record together with the exact JSON the server sent, for `--json`.
#[derive(Debug, Clone)]
pub struct Described<T> {
    /// The typed view.
    pub value: T,
    /// The answer as sent.
    pub raw: Value,
}

/// `POST /v1/uploads`'s request.
#[derive(Debug, Clone, Serialize)]
pub struct IssueRequest {
    /// The file's name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Its content type.
    pub content_type: String,
}

/// `POST /v1/uploads`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Issued {
    /// The new file's id.
    pub file_id: String,
    /// `put`, `post` or `multipart`.
    pub method: String,
    /// Where to send the bytes (for `put`) or the object's URL.
    pub url: SignedUrl,
    /// For `put`: exactly the headers to send.
    #[serde(default)]
    pub headers: Option<SignedHeaders>,
    /// For `multipart`: the upload id.
    #[serde(default)]
    pub upload_id: Option<String>,
    /// For `multipart`: the size of every part but the last.
    #[serde(default)]
    pub part_size: Option<u64>,
    /// For `multipart`: how many parts.
    #[serde(default)]
    pub part_count: Option<u64>,
    /// The end of the signature's window, on the server's clock.
    pub expires_at: u64,
    /// The server's clock when it answered.
    pub server_time: u64,
}

/// One signed part.
#[derive(Debug, Clone, Deserialize)]
pub struct SignedPart {
    /// Its number.
    pub part_number: u32,
    /// Its presigned PUT URL.
    pub url: SignedUrl,
    /// The headers to send with it.
    #[serde(default)]
    pub headers: SignedHeaders,
}

/// `POST /v1/uploads/{id}/parts`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SignedParts {
    /// The parts asked for.
    pub parts: Vec<SignedPart>,
    /// The end of their window, on the server's clock.
    pub expires_at: u64,
    /// The server's clock when it answered.
    pub server_time: u64,
}

impl SignedParts {
    /// How long the signatures stay valid, measured on the server's own clock so a skewed
    /// local clock does not matter.
    pub fn valid_for(&self) -> Duration {
        Duration::from_secs(self.expires_at.saturating_sub(self.server_time))
    }
}

/// `GET /v1/files/{id}`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct FileWithUrl {
    /// The record.
    #[serde(flatten)]
    pub file: FileRecord,
    /// A presigned GET, for a ready file.
    #[serde(default)]
    pub url: Option<SignedUrl>,
}

/// `GET /v1/files`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Page {
    /// The files as sent.
    pub files: Vec<Value>,
    /// Where the next page starts.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `GET /v1/me`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    /// The caller.
    pub user_id: String,
    /// The quota.
    pub quota_bytes: u64,
    /// Bytes of ready files.
    pub used_bytes: u64,
    /// Bytes held by unfinished uploads.
    pub reserved_bytes: u64,
    /// What is left.
    pub available_bytes: u64,
    /// Ready files.
    pub file_count: u64,
    /// Unfinished uploads.
    #[serde(default)]
    pub pending_count: u64,
}

/// A client of one Cosigner API with one token.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: Token,
    verbose: bool,
}

impl Api {
    /// A client of the API at `base` (with or without a trailing slash).
    ///
    /// # Errors
    ///
    /// [`CliError::Usage`] for a URL that is not `http(s)://…`.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        token: Token,
        verbose: bool,
    ) -> Result<Self, CliError> {
        Ok(Self {
            http,
            base: parse_base(base)?,
            token,
            verbose,
        })
    }

    /// The API's base URL, as given.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `GET /v1/me`.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn me(&self) -> Result<Described<Me>, CliError> {
        self.call(Method::GET, &["v1", "me"], &[], None, true).await
    }

    /// `POST /v1/uploads`. Not repeated on failure: a repeat would reserve the bytes twice.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn issue_upload(&self, request: &IssueRequest) -> Result<Issued, CliError> {
        let body = serde_json::to_value(request)
            .map_err(|e| CliError::BadResponse(format!("cannot encode the request: {e}")))?;
        let issued: Described<Issued> = self
            .call(Method::POST, &["v1", "uploads"], &[], Some(body), false)
            .await?;
        Ok(issued.value)
    }

    /// `POST /v1/uploads/{id}/parts`.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn sign_parts(
        &self,
        file_id: &str,
        numbers: &[u32],
    ) -> Result<SignedParts, CliError> {
        let body = serde_json::json!({ "part_numbers": numbers });
        let signed: Described<SignedParts> = self
            .call(
                Method::POST,
                &["v1", "uploads", file_id, "parts"],
                &[],
                Some(body),
                true,
            )
            .await?;
        Ok(signed.value)
    }

    /// `POST /v1/uploads/{id}/complete`; the server makes repeats harmless.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn complete(&self, file_id: &str) -> Result<Described<FileRecord>, CliError> {
        let body = serde_json::json!({});
        self.call(
            Method::POST,
            &["v1", "uploads", file_id, "complete"],
            &[],
            Some(body),
            true,
        )
        .await
    }

    /// `DELETE /v1/uploads/{id}`.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn abort(&self, file_id: &str) -> Result<(), CliError> {
        let _: Described<Value> = self
            .call(Method::DELETE, &["v1", "uploads", file_id], &[], None, true)
            .await?;
        Ok(())
    }

    /// `GET /v1/files`.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page, CliError> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        let page: Described<Page> = self
            .call(Method::GET, &["v1", "files"], &query, None, true)
            .await?;
        Ok(page.value)
    }

    /// `GET /v1/files/{id}`.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn file(&self, file_id: &str) -> Result<Described<FileWithUrl>, CliError> {
        self.call(Method::GET, &["v1", "files", file_id], &[], None, true)
            .await
    }

    /// `DELETE /v1/files/{id}`.
    ///
    /// # Errors
    ///
    /// The server's error, or the network's.
    pub async fn delete(&self, file_id: &str) -> Result<(), CliError> {
        let _: Described<Value> = self
            .call(Method::DELETE, &["v1", "files", file_id], &[], None, true)
            .await?;
        Ok(())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
        repeatable: bool,
    ) -> Result<Described<T>, CliError> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                CliError::Usage("the API URL cannot have a path added to it".to_owned())
            })?;
            path.pop_if_empty();
            // Each segment is percent-encoded, so an odd file id cannot reach another route.
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let shown_path = format!("/{}", segments.join("/"));

        let mut attempt = 1;
        loop {
            let result = self
                .send(method.clone(), &url, &shown_path, body.as_ref())
                .await;
            match result {
                Err(err) if repeatable && attempt < ATTEMPTS && err.is_transient() => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &Url,
        shown_path: &str,
        body: Option<&Value>,
    ) -> Result<Described<T>, CliError> {
        let started = Instant::now();
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(API_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CliError::transport(url, e))?;
        let status = response.status();
        let header_id = request_id_header(&response);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CliError::transport(url, e))?;

        let parsed = if status.is_success() {
            decode(status, &bytes)
        } else {
            Err(CliError::Api(failure_of(status, &bytes, header_id.clone())))
        };
        if self.verbose {
            let id = match &parsed {
                Err(CliError::Api(ApiFailure {
                    request_id: Some(id),
                    ..
                })) => Some(id.clone()),
                _ => header_id,
            };
            eprintln!(
                "{method} {shown_path} → {} in {}{}",
                status.as_u16(),
                human::elapsed(started.elapsed()),
                id.map(|id| format!(" (request {id})")).unwrap_or_default()
            );
        }
        parsed
    }
}

/// The base URL, checked: `http` or `https`, and a host.
///
/// # Errors
///
/// [`CliError::Usage`] otherwise.
pub fn parse_base(base: &str) -> Result<Url, CliError> {
    let bad = |why: &str| CliError::Usage(format!("the API URL {base:?} {why}"));
    let url = Url::parse(base.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("must be http://HOST or https://HOST"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or a fragment"));
    }
    Ok(url)
}

/// How long to wait before attempt `attempt + 1`: 0.5 s, 1 s, 2 s, …
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.saturating_sub(1).min(6)))
}

fn request_id_header(response: &reqwest::Response) -> Option<String> {
    ["x-request-id", "apigw-requestid"]
        .iter()
        .find_map(|name| response.headers().get(*name))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn decode<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<Described<T>, CliError> {
    // A 204 has no body; the typed callers of those expect `Value`.
    let raw: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            CliError::BadResponse(format!(
                "a {} answer that is not JSON ({e})",
                status.as_u16()
            ))
        })?
    };
    let value = serde_json::from_value(raw.clone())
        .map_err(|e| CliError::BadResponse(format!("unexpected fields ({e})")))?;
    Ok(Described { value, raw })
}

/// The failure an error answer describes: the one error shape, or, from a gateway in front
/// of the API, `{"message": …}` or anything at all.
pub fn failure_of(status: StatusCode, body: &[u8], header_id: Option<String>) -> ApiFailure {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().and_then(|j| j.get("error"));
    let text = |v: Option<&Value>, key: &str| {
        v.and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let message = text(error, "message")
        .or_else(|| text(json.as_ref(), "message"))
        .unwrap_or_else(|| {
            format!(
                "the server answered {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned()
        });
    ApiFailure {
        status: status.as_u16(),
        code: text(error, "code"),
        message,
        request_id: text(error, "request_id").or(header_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_shape_gives_code_message_and_request_id() {
        let body = br#"{"error":{"code":"quota_exceeded","message":"no room","request_id":"r-1"}}"#;

        let failure = failure_of(StatusCode::PAYLOAD_TOO_LARGE, body, Some("hdr".into()));

        assert_eq!(
            failure,
            ApiFailure {
                status: 413,
                code: Some("quota_exceeded".into()),
                message: "no room".into(),
                request_id: Some("r-1".into()),
            }
        );
    }

    #[test]
    fn a_gateways_own_error_still_gives_a_message() {
        let failure = failure_of(
            StatusCode::UNAUTHORIZED,
            br#"{"message":"Unauthorized"}"#,
            None,
        );
        let bare = failure_of(StatusCode::BAD_GATEWAY, b"<html>", Some("gw-7".into()));

        assert_eq!(failure.message, "Unauthorized");
        assert_eq!(failure.code, None);
        assert_eq!(bare.message, "the server answered 502 Bad Gateway");
        assert_eq!(bare.request_id.as_deref(), Some("gw-7"));
    }

    #[test]
    fn signed_urls_and_headers_hide_their_secrets_in_debug_output() {
        let url = SignedUrl("http://cos.local:9000/k?q-signature=abc".into());
        let headers = SignedHeaders(BTreeMap::from([(
            "Authorization".into(),
            "q-sign-x".into(),
        )]));

        let shown = format!("{url:?} {headers:?}");

        assert_eq!(
            shown,
            "SignedUrl(cos.local:9000/<redacted>) {\"Authorization\"}"
        );
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert!(parse_base("http://127.0.0.1:8080").is_ok());
        assert!(parse_base("https://api.example.com/prod/").is_ok());
        assert!(matches!(parse_base("ftp://x"), Err(CliError::Usage(_))));
        assert!(matches!(
            parse_base("localhost:8080"),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            parse_base("http://x/?a=1"),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn backoff_doubles_from_half_a_second() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
    }
}
