//! Request and response bodies: streaming an upload to disk with its checksums, within a
//! size limit and an idle timeout, and the body types responses are made of.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::StatusCode;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::digest::{Digest, Hasher};
use crate::error::CosError;
use crate::store::files::TempFile;

/// The body of every response.
pub type ResponseBody = BoxBody<Bytes, io::Error>;

/// Read size when streaming an object out.
const READ_CHUNK: usize = 256 << 10;

/// An empty body.
pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body held in memory.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// `len` bytes of a file from its current position.
pub fn file(file: tokio::fs::File, len: u64) -> ResponseBody {
    let stream = ReaderStream::with_capacity(file.take(len), READ_CHUNK).map_ok(Frame::data);
    BoxBody::new(StreamBody::new(stream))
}

/// How much a body may carry and how long it may stay silent.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most bytes accepted.
    pub max_bytes: u64,
    /// The longest wait for the next bytes.
    pub idle: Duration,
}

/// Streams a request body into `temp`, returning its checksums.
///
/// # Errors
///
/// EntityTooLarge past the limit, RequestTimeout when the client stops sending,
/// IncompleteBody when the connection ends early, InternalError when the disk refuses.
/// Each marks the connection for closing, since the rest of the body is unread.
pub async fn receive(
    body: &mut Incoming,
    temp: &mut TempFile,
    limits: Limits,
) -> Result<Digest, CosError> {
    let mut hasher = Hasher::new();
    loop {
        let frame = match tokio::time::timeout(limits.idle, body.frame()).await {
            Err(_) => return Err(request_timeout()),
            Ok(None) => break,
            Ok(Some(Err(error))) => return Err(incomplete_body(error)),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            append(&mut hasher, temp, &data, limits).await?;
        }
    }
    Ok(hasher.finish())
}

/// Streams the file field of a form into `temp`, returning its checksums.
///
/// # Errors
///
/// As [`receive`].
pub async fn receive_field(
    field: &mut multer::Field<'_>,
    temp: &mut TempFile,
    limits: Limits,
) -> Result<Digest, CosError> {
    let mut hasher = Hasher::new();
    loop {
        match tokio::time::timeout(limits.idle, field.chunk()).await {
            Err(_) => return Err(request_timeout()),
            Ok(Ok(None)) => break,
            Ok(Err(error)) => return Err(malformed_form(error)),
            Ok(Ok(Some(data))) => append(&mut hasher, temp, &data, limits).await?,
        }
    }
    Ok(hasher.finish())
}

async fn append(
    hasher: &mut Hasher,
    temp: &mut TempFile,
    data: &[u8],
    limits: Limits,
) -> Result<(), CosError> {
    if hasher.size() + data.len() as u64 > limits.max_bytes {
        return Err(too_large(limits.max_bytes));
    }
    hasher.update(data);
    temp.write(data).await.map_err(|error| {
        CosError::internal(
            "The store could not write the object to its data directory.",
            error,
        )
        .closing()
    })
}

/// Reads a small body (an XML document) into memory.
///
/// # Errors
///
/// As [`receive`], with `limits.max_bytes` as the limit.
pub async fn read_small(body: &mut Incoming, limits: Limits) -> Result<Bytes, CosError> {
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(limits.idle, body.frame()).await {
            Err(_) => return Err(request_timeout()),
            Ok(None) => break,
            Ok(Some(Err(error))) => return Err(incomplete_body(error)),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limits.max_bytes as usize {
                return Err(too_large(limits.max_bytes));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.into())
}

/// Reads and discards what is left of a body, so the connection can serve the next
/// request and the client reads our answer instead of a reset.
pub async fn drain(body: &mut Incoming, limits: Limits) -> bool {
    let mut seen = 0u64;
    loop {
        match tokio::time::timeout(limits.idle, body.frame()).await {
            Ok(None) => return true,
            Ok(Some(Ok(frame))) => {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > limits.max_bytes {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// 400 EntityTooLarge for a body past `max` bytes.
pub fn too_large(max: u64) -> CosError {
    CosError::entity_too_large(format!(
        "Your proposed upload exceeds the maximum allowed object size of {max} bytes."
    ))
    .closing()
}

fn request_timeout() -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the \
         timeout period.",
    )
    .closing()
}

fn incomplete_body(error: hyper::Error) -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
    .caused_by(error)
    .closing()
}

/// 400 MalformedPOSTRequest for a form that is not multipart/form-data.
pub fn malformed_form(error: impl std::fmt::Display) -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "MalformedPOSTRequest",
        format!("The body of your POST request is not well-formed multipart/form-data: {error}."),
    )
    .closing()
}
