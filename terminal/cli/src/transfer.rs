//! The object-store side: PUTs of a file or a range of it, streamed from disk with
//! progress, and GETs streamed to disk. Only what the server signed is sent: its URL and
//! exactly its headers; nothing here knows a COS secret.

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::TryStreamExt as _;
use md5::{Digest as _, Md5};
use reqwest::Url;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio_util::io::ReaderStream;

use crate::api::{SignedHeaders, SignedUrl, backoff};
use crate::error::{CliError, host_of};
use crate::human;
use crate::progress::FileProgress;

/// Bytes read from disk per chunk of a request body.
const CHUNK: usize = 256 * 1024;

/// Attempts of one transfer when the network or a 5xx gets in the way.
pub const ATTEMPTS: u32 = 3;

/// A byte range of a local file to send.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The first byte.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
}

/// Sends one PUT to the store: `range` of the file at `path`, to `url` with `headers`,
/// counting bytes into `progress`. On failure the bytes counted are taken back.
///
/// # Errors
///
/// [`CliError::Unreachable`] when the request broke, [`CliError::Store`] when the store
/// answered an error, [`CliError::Io`] when the file could not be read.
pub async fn put(
    http: &reqwest::Client,
    url: &SignedUrl,
    headers: &SignedHeaders,
    path: &Path,
    range: Range,
    progress: &Arc<FileProgress>,
    label: Option<&str>,
) -> Result<(), CliError> {
    let target = parse_url(url)?;
    let counted = Arc::new(AtomicU64::new(0));
    let result = put_once(
        http, &target, headers, path, range, progress, &counted, label,
    )
    .await;
    if result.is_err() {
        progress.rewind(counted.load(Ordering::Relaxed));
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn put_once(
    http: &reqwest::Client,
    target: &Url,
    headers: &SignedHeaders,
    path: &Path,
    range: Range,
    progress: &Arc<FileProgress>,
    counted: &Arc<AtomicU64>,
    label: Option<&str>,
) -> Result<(), CliError> {
    let read_err = |source| CliError::Io {
        what: "cannot read",
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
    file.seek(SeekFrom::Start(range.offset))
        .await
        .map_err(read_err)?;
    let shared_progress = Arc::clone(progress);
    let shared_count = Arc::clone(counted);
    // Streamed a chunk at a time: a file of any size costs a few chunks of memory.
    let body = ReaderStream::with_capacity(file.take(range.len), CHUNK).inspect_ok(move |chunk| {
        let n = chunk.len() as u64;
        shared_count.fetch_add(n, Ordering::Relaxed);
        shared_progress.advance(n);
    });

    let mut request = http.put(target.clone());
    // Exactly the signed headers, `Content-Length` among them: with it set, the body is
    // sent with that length rather than chunked, as the signature binds it.
    for (name, value) in &headers.0 {
        request = request.header(name.as_str(), value.as_str());
    }
    let started = Instant::now();
    let response = request
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(|e| CliError::transport(target, e))?;
    let status = response.status();
    log(label, "PUT", target, status.as_u16(), started);
    if status.is_success() {
        return Ok(());
    }
    Err(store_error(target, response).await)
}

/// [`put`], tried up to [`ATTEMPTS`] times while the failure is transient.
///
/// # Errors
///
/// The last attempt's error.
pub async fn put_with_retries(
    http: &reqwest::Client,
    url: &SignedUrl,
    headers: &SignedHeaders,
    path: &Path,
    range: Range,
    progress: &Arc<FileProgress>,
    label: Option<&str>,
) -> Result<(), CliError> {
    let mut attempt = 1;
    loop {
        match put(http, url, headers, path, range, progress, label).await {
            Err(err) if attempt < ATTEMPTS && err.is_transient() => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// What a download brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Bytes written.
    pub len: u64,
    /// Their MD5, in lowercase hex.
    pub md5_hex: String,
}

/// GETs `url` into `sink`, counting into `progress` and hashing on the way.
///
/// # Errors
///
/// [`CliError::Unreachable`], [`CliError::Store`], or [`CliError::Io`] when `sink` fails.
pub async fn get<W: AsyncWrite + Unpin>(
    http: &reqwest::Client,
    url: &SignedUrl,
    sink: &mut W,
    sink_path: &Path,
    progress: &FileProgress,
    verbose: bool,
) -> Result<Fetched, CliError> {
    let target = parse_url(url)?;
    let started = Instant::now();
    let mut response = http
        .get(target.clone())
        .send()
        .await
        .map_err(|e| CliError::transport(&target, e))?;
    let status = response.status();
    if verbose {
        log(Some("download"), "GET", &target, status.as_u16(), started);
    }
    if !status.is_success() {
        return Err(store_error(&target, response).await);
    }

    let write_err = |source| CliError::Io {
        what: "cannot write",
        path: sink_path.to_owned(),
        source,
    };
    let mut hash = Md5::new();
    let mut len = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| CliError::transport(&target, e))?
    {
        hash.update(&chunk);
        sink.write_all(&chunk).await.map_err(write_err)?;
        len += chunk.len() as u64;
        progress.advance(chunk.len() as u64);
    }
    sink.flush().await.map_err(write_err)?;
    Ok(Fetched {
        len,
        md5_hex: hex::encode(hash.finalize()),
    })
}

fn parse_url(url: &SignedUrl) -> Result<Url, CliError> {
    Url::parse(url.expose())
        .map_err(|_| CliError::BadResponse("a signed URL that is not a URL".to_owned()))
}

/// The store's error: its status and, from COS's XML body, the `<Code>` only; the rest of
/// such a body can quote the string that was signed.
async fn store_error(target: &Url, response: reqwest::Response) -> CliError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    CliError::Store {
        host: host_of(target),
        status,
        code: xml_code(&body),
    }
}

/// The `<Code>` of an XML error body, if it is a plain word.
pub fn xml_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    let code = &body[start..start + len];
    (!code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| code.to_owned())
}

fn log(label: Option<&str>, method: &str, target: &Url, status: u16, started: Instant) {
    // Only `-v` passes a label: the host and the label, never the path or the query.
    if let Some(label) = label {
        eprintln!(
            "{method} {label} on {} → {status} in {}",
            host_of(target),
            human::elapsed(started.elapsed())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_code_is_taken_from_an_xml_error() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code>\
                    <StringToSign>secret-ish</StringToSign></Error>";

        assert_eq!(xml_code(body).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_code("<Code>a b</Code>"), None);
        assert_eq!(xml_code("not xml"), None);
    }
}
