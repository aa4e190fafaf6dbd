//! The COS operations, one module per family, named after the API: objects, form uploads,
//! multipart uploads, bucket listing and CORS. This module routes a verified request to its
//! operation and holds what they share: response building, stored headers, and the mapping
//! of store errors to COS errors.

pub mod bucket;
pub mod cors;
pub mod form;
pub mod multipart;
pub mod object;

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::body::Incoming;

use cos_sign::{Carrier, Verified};

use crate::address::Target;
use crate::body::{Limits, ResponseBody, full};
use crate::error::CosError;
use crate::events::{Created, Origin, object_created_event};
use crate::server::App;
use crate::store::{BucketStore, ObjectHeaders, ObjectMeta, StoreError};

/// The most bytes of x-cos-meta-* headers an object may carry, as COS allows.
const MAX_USER_META_BYTES: usize = 2 << 10;

/// Headers stored with an object and returned with it, besides Content-Type and
/// x-cos-meta-*.
const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

// Limitation: copying (PUT Object - Copy, Upload Part - Copy), appending, ACLs, tagging,
// versioning and bucket configuration are answered with NotImplemented; the upload flows
// the SDKs and Cosigner use do not need them.

/// Object sub-resources of COS this store does not offer.
const UNSUPPORTED_OBJECT_PARAMS: [&str; 8] = [
    "acl",
    "tagging",
    "restore",
    "append",
    "torrent",
    "symlink",
    "versionId",
    "retention",
];

/// Bucket sub-resources of COS this store does not offer.
const UNSUPPORTED_BUCKET_PARAMS: [&str; 20] = [
    "acl",
    "cors",
    "policy",
    "lifecycle",
    "tagging",
    "versioning",
    "website",
    "logging",
    "location",
    "inventory",
    "referer",
    "domain",
    "object-lock",
    "replication",
    "encryption",
    "accelerate",
    "intelligenttiering",
    "origin",
    "versions",
    "delete",
];

/// One request on its way through an operation.
#[derive(Debug)]
pub struct Call {
    /// Method, URI and headers.
    pub parts: Parts,
    /// The body, until an operation takes it.
    pub body: Option<Incoming>,
    /// The bucket and key.
    pub target: Target,
    /// The bucket's store.
    pub store: std::sync::Arc<BucketStore>,
    /// The decoded query parameters.
    pub query: Vec<(String, Option<String>)>,
    /// This request's id.
    pub request_id: String,
    /// The client's address.
    pub peer: IpAddr,
    /// The signature check, for signed requests.
    pub verified: Option<Verified>,
}

impl Call {
    /// The value of a query parameter (`""` for a name without a value).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// Whether a query parameter is present.
    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }

    /// A request header as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Takes the body for an operation that reads it.
    ///
    /// # Errors
    ///
    /// InternalError if an earlier step already took it (a routing bug).
    pub fn take_body(&mut self) -> Result<Incoming, CosError> {
        self.body.take().ok_or_else(|| {
            CosError::internal("The request body was already read.", "body taken twice")
        })
    }

    /// Whether the request asks not to replace an existing object.
    pub fn forbid_overwrite(&self) -> bool {
        self.header("x-cos-forbid-overwrite")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// The request's Authorization header when the signature was in it; COS puts it in
    /// the event, and it is empty for a presigned URL.
    pub fn authorization(&self) -> &str {
        match &self.verified {
            Some(v) if v.carrier == Carrier::Header => {
                self.header(header::AUTHORIZATION).unwrap_or("")
            }
            _ => "",
        }
    }
}

/// Body limits for uploads.
pub fn upload_limits(app: &App) -> Limits {
    Limits {
        max_bytes: app.config.max_object_bytes,
        idle: app.config.idle_timeout,
    }
}

/// Routes a signed request to its operation.
///
/// # Errors
///
/// The COS error of the operation, NotImplemented for COS operations this store does not
/// offer, MethodNotAllowed for methods COS does not know.
pub async fn dispatch(app: &App, call: &mut Call) -> Result<Response<ResponseBody>, CosError> {
    let on_bucket = call.target.key.is_empty();
    let method = call.parts.method.clone();
    match (method, on_bucket) {
        (Method::GET, true) if call.has("uploads") => multipart::list_uploads(call).await,
        (Method::GET | Method::HEAD, true) => {
            if let Some(param) = unsupported(call, &UNSUPPORTED_BUCKET_PARAMS) {
                return Err(CosError::not_implemented(&format!(
                    "the bucket ?{param} API"
                )));
            }
            if call.parts.method == Method::HEAD {
                Ok(bucket::head_bucket(call))
            } else {
                bucket::list_objects(call).await
            }
        }
        (Method::PUT | Method::DELETE, true) => {
            Err(CosError::not_implemented("creating or deleting buckets"))
        }
        (Method::POST, true) => Err(CosError::not_implemented(
            "bucket POST APIs other than POST Object",
        )),
        (method, false) => {
            if let Some(param) = unsupported(call, &UNSUPPORTED_OBJECT_PARAMS) {
                return Err(CosError::not_implemented(&format!(
                    "the object ?{param} API"
                )));
            }
            match method {
                Method::GET if call.has("uploadId") => multipart::list_parts(call).await,
                Method::GET | Method::HEAD => object::get_object(call).await,
                Method::PUT if call.has("uploadId") || call.has("partNumber") => {
                    multipart::upload_part(app, call).await
                }
                Method::PUT if call.parts.headers.contains_key("x-cos-copy-source") => {
                    Err(CosError::not_implemented("PUT Object - Copy"))
                }
                Method::PUT => object::put_object(app, call).await,
                Method::DELETE if call.has("uploadId") => multipart::abort(call).await,
                Method::DELETE => object::delete_object(call).await,
                Method::POST if call.has("uploads") => multipart::initiate(call).await,
                Method::POST if call.has("uploadId") => multipart::complete(app, call).await,
                Method::POST => Err(CosError::not_implemented("this object POST API")),
                _ => Err(method_not_allowed()),
            }
        }
        _ => Err(method_not_allowed()),
    }
}

fn unsupported(call: &Call, params: &[&'static str]) -> Option<&'static str> {
    params.iter().copied().find(|p| call.has(p))
}

fn method_not_allowed() -> CosError {
    CosError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
}

impl From<StoreError> for CosError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Exists => CosError::new(
                StatusCode::CONFLICT,
                "PathConflict",
                "The object already exists, and x-cos-forbid-overwrite forbids replacing it.",
            ),
            StoreError::NoSuchKey => CosError::no_such_key(),
            StoreError::NoSuchUpload => CosError::no_such_upload(),
            StoreError::InvalidPart(number) => CosError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                format!(
                    "One or more of the specified parts could not be found or the specified \
                     entity tag might not have matched the part's entity tag (part {number})."
                ),
            ),
            StoreError::InvalidPartOrder => CosError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part \
                 number.",
            ),
            StoreError::PartTooSmall { number, size, min } => CosError::entity_too_small(format!(
                "Your proposed upload is smaller than the minimum allowed size: part \
                     {number} is {size} bytes, and every part but the last must be at least \
                     {min}."
            )),
            StoreError::Io { action, source } => CosError::internal(
                format!("The store could not {action} in its data directory."),
                source,
            ),
            error @ StoreError::Corrupt { .. } => CosError::internal(
                "The store found corrupt metadata in its data directory.",
                error,
            ),
        }
    }
}

/// A response with a status and body.
pub fn response(status: StatusCode, body: ResponseBody) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// A 200 response with an XML document.
pub fn xml_response(text: String) -> Response<ResponseBody> {
    let mut response = response(StatusCode::OK, full(text));
    set(
        response.headers_mut(),
        header::CONTENT_TYPE,
        "application/xml",
    );
    response
}

/// Sets a header, skipping values HTTP cannot carry (stored values came from headers, so
/// this only drops what could never have been sent).
pub fn set(headers: &mut HeaderMap, name: impl TryInto<HeaderName>, value: &str) {
    if let (Ok(name), Ok(value)) = (name.try_into(), HeaderValue::from_bytes(value.as_bytes())) {
        headers.insert(name, value);
    }
}

/// `"<etag>"`.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Unix seconds → `Tue, 14 Nov 2023 22:15:23 GMT`.
pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Unix seconds → `2023-11-14T22:15:23.000Z`.
pub fn iso_date(secs: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// An HTTP date → Unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The metadata an upload gives for its object: Content-Type, the stored standard headers,
/// and every x-cos-meta-*.
///
/// # Errors
///
/// MetadataTooLarge when the x-cos-meta-* headers pass 2 KiB.
pub fn object_headers<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<ObjectHeaders, CosError> {
    let mut content_type = None;
    let mut headers = Vec::new();
    let mut user_bytes = 0usize;
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        // Values are kept as sent; a non-UTF-8 byte cannot survive JSON and is replaced.
        let value = String::from_utf8_lossy(value).into_owned();
        if name == "content-type" {
            content_type = Some(value);
        } else if name.starts_with("x-cos-meta-") {
            user_bytes += name.len() + value.len();
            headers.push((name, value));
        } else if STORED_HEADERS.contains(&name.as_str()) {
            headers.push((name, value));
        }
    }
    if user_bytes > MAX_USER_META_BYTES {
        return Err(CosError::new(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            format!(
                "Your metadata headers are {user_bytes} bytes, above the maximum of \
                 {MAX_USER_META_BYTES}."
            ),
        ));
    }
    headers.sort();
    headers.dedup_by(|a, b| a.0 == b.0);
    Ok(ObjectHeaders {
        content_type: content_type.unwrap_or_else(|| "application/octet-stream".to_owned()),
        headers,
    })
}

/// The headers of a request as name/value pairs.
pub fn header_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))
}

/// The headers every object answer carries.
pub fn object_response_headers(headers: &mut HeaderMap, meta: &ObjectMeta) {
    set(headers, header::CONTENT_TYPE, &meta.content_type);
    set(headers, header::ETAG, &quoted(&meta.etag));
    set(
        headers,
        header::LAST_MODIFIED,
        &http_date(meta.last_modified),
    );
    set(headers, "x-cos-hash-crc64ecma", &meta.crc64);
    set(headers, header::ACCEPT_RANGES, "bytes");
    set(headers, "x-cos-storage-class", "STANDARD");
    for (name, value) in &meta.headers {
        set(headers, name.as_str(), value);
    }
}

/// Queues the object-created event of a write; the write is acknowledged only after.
///
/// # Errors
///
/// InternalError when the event cannot be queued (the object stays stored).
pub async fn announce(
    app: &App,
    call: &Call,
    meta: &ObjectMeta,
    created: Created,
) -> Result<(), CosError> {
    let origin = Origin {
        created,
        request_id: &call.request_id,
        source_ip: call.peer,
        authorization: call.authorization(),
    };
    let event = object_created_event(&call.target.bucket, meta, &origin);
    app.notifier.enqueue(&event).await.map_err(|error| {
        CosError::internal(
            "The object was stored, but its upload event could not be queued.",
            error,
        )
    })
}

/// Decodes a Content-MD5 header.
///
/// # Errors
///
/// InvalidDigest when it is not the base64 of 16 bytes.
pub fn content_md5(call: &Call) -> Result<Option<[u8; 16]>, CosError> {
    use base64::Engine as _;
    let Some(value) = call.parts.headers.get("content-md5") else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            CosError::new(
                StatusCode::BAD_REQUEST,
                "InvalidDigest",
                "The Content-MD5 you specified is not valid.",
            )
        })
}

/// BadDigest: the body does not hash to its Content-MD5.
pub fn bad_digest() -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
    )
}

/// Refuses a declared Content-Length above the limit before reading anything.
///
/// # Errors
///
/// EntityTooLarge.
pub fn check_declared_length(call: &Call, max: u64) -> Result<(), CosError> {
    let declared = call
        .header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > max => Err(crate::body::too_large(max)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_headers_keep_metadata_and_known_headers_only() {
        let pairs: [(&str, &[u8]); 5] = [
            ("Content-Type", b"image/png"),
            ("x-cos-meta-Owner", b"42"),
            ("Content-Disposition", b"attachment"),
            ("Authorization", b"secret"),
            ("x-cos-acl", b"private"),
        ];

        let stored = object_headers(pairs).unwrap();

        assert_eq!(stored.content_type, "image/png");
        assert_eq!(
            stored.headers,
            [
                ("content-disposition".to_owned(), "attachment".to_owned()),
                ("x-cos-meta-owner".to_owned(), "42".to_owned()),
            ]
        );
    }

    #[test]
    fn too_much_user_metadata_is_refused() {
        let big = vec![b'v'; MAX_USER_META_BYTES];
        let pairs: [(&str, &[u8]); 1] = [("x-cos-meta-big", &big)];

        let error = object_headers(pairs).unwrap_err();

        assert_eq!(error.code, "MetadataTooLarge");
    }

    #[test]
    fn dates_format_as_cos_writes_them() {
        assert_eq!(http_date(1700000123), "Tue, 14 Nov 2023 22:15:23 GMT");
        assert_eq!(iso_date(1700000123), "2023-11-14T22:15:23.000Z");
        assert_eq!(
            parse_http_date("Tue, 14 Nov 2023 22:15:23 GMT"),
            Some(1700000123)
        );
    }
}
