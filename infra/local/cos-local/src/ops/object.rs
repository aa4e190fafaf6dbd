//! PUT Object, GET and HEAD Object (ranges, conditions, response-* overrides), DELETE
//! Object.

use std::io::SeekFrom;

use http::{Method, Response, StatusCode, header};
use tokio::io::AsyncSeekExt;

use super::{
    Call, announce, bad_digest, check_declared_length, content_md5, header_pairs, object_headers,
    object_response_headers, parse_http_date, quoted, response, set, upload_limits,
};
use crate::body::{self, ResponseBody};
use crate::error::CosError;
use crate::events::Created;
use crate::server::App;
use crate::store::ObjectMeta;

/// The `response-*` parameters and the header each overrides.
const OVERRIDES: [(&str, header::HeaderName); 6] = [
    ("response-content-type", header::CONTENT_TYPE),
    ("response-content-language", header::CONTENT_LANGUAGE),
    ("response-expires", header::EXPIRES),
    ("response-cache-control", header::CACHE_CONTROL),
    ("response-content-disposition", header::CONTENT_DISPOSITION),
    ("response-content-encoding", header::CONTENT_ENCODING),
];

/// PUT Object: stores the body under the key.
///
/// # Errors
///
/// InvalidDigest, BadDigest, EntityTooLarge, PathConflict under x-cos-forbid-overwrite,
/// MetadataTooLarge, the body errors of [`body::receive`], InternalError for the disk.
pub async fn put_object(app: &App, call: &mut Call) -> Result<Response<ResponseBody>, CosError> {
    let expected_md5 = content_md5(call)?;
    let limits = upload_limits(app);
    check_declared_length(call, limits.max_bytes)?;
    let headers = object_headers(header_pairs(&call.parts.headers))?;
    let forbid = call.forbid_overwrite();
    if forbid && call.store.head(&call.target.key).await.is_some() {
        return Err(crate::store::StoreError::Exists.into());
    }

    let mut temp = call.store.temp_for_object(&call.target.key).await?;
    let mut incoming = call.take_body()?;
    let digest = body::receive(&mut incoming, &mut temp, limits).await?;
    if expected_md5.is_some_and(|md5| md5 != digest.md5) {
        return Err(bad_digest());
    }
    let meta = call
        .store
        .commit_object(
            &call.target.key,
            temp,
            digest,
            digest.etag(),
            headers,
            forbid,
        )
        .await?;
    announce(app, call, &meta, Created::Put).await?;

    let mut answer = response(StatusCode::OK, body::empty());
    set(answer.headers_mut(), header::ETAG, &quoted(&meta.etag));
    set(answer.headers_mut(), "x-cos-hash-crc64ecma", &meta.crc64);
    Ok(answer)
}

/// GET or HEAD Object.
///
/// # Errors
///
/// NoSuchKey, PreconditionFailed, InvalidRange, InternalError for the disk.
pub async fn get_object(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    let (meta, mut file) = call.store.open_object(&call.target.key).await?;
    if let Some(status) = precondition(call, &meta)? {
        let mut answer = response(status, body::empty());
        set(answer.headers_mut(), header::ETAG, &quoted(&meta.etag));
        return Ok(answer);
    }
    let range = match parse_range(call.header(header::RANGE), meta.size) {
        RangeSpec::Unsatisfiable => {
            return Err(CosError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                format!(
                    "The requested range is not satisfiable: the object is {} bytes.",
                    meta.size
                ),
            ));
        }
        RangeSpec::Full => None,
        RangeSpec::Partial(start, end) => Some((start, end)),
    };

    let (status, start, length) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, meta.size),
    };
    let content = if call.parts.method == Method::HEAD {
        body::empty()
    } else {
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await.map_err(|error| {
                CosError::internal("The store could not read the object.", error)
            })?;
        }
        body::file(file, length)
    };

    let mut answer = response(status, content);
    let headers = answer.headers_mut();
    object_response_headers(headers, &meta);
    set(headers, header::CONTENT_LENGTH, &length.to_string());
    if let Some((start, end)) = range {
        set(
            headers,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{end}/{}", meta.size),
        );
    }
    for (param, name) in OVERRIDES {
        if let Some(value) = call.param(param) {
            set(headers, name, value);
        }
    }
    Ok(answer)
}

/// DELETE Object: 204 whether or not the object existed, as COS answers.
///
/// # Errors
///
/// InternalError for the disk.
pub async fn delete_object(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    call.store.delete_object(&call.target.key).await?;
    Ok(response(StatusCode::NO_CONTENT, body::empty()))
}

/// The conditional headers: `Some(status)` when they stop the request with 304.
fn precondition(call: &Call, meta: &ObjectMeta) -> Result<Option<StatusCode>, CosError> {
    let etag_matches = |list: &str| {
        list.split(',')
            .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|tag| tag == "*" || tag.eq_ignore_ascii_case(&meta.etag))
    };
    let failed = || {
        CosError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the preconditions you specified did not hold.",
        )
    };
    if let Some(list) = call.header(header::IF_MATCH) {
        if !etag_matches(list) {
            return Err(failed());
        }
    } else if let Some(since) = call
        .header(header::IF_UNMODIFIED_SINCE)
        .and_then(parse_http_date)
        && meta.last_modified > since
    {
        return Err(failed());
    }
    if let Some(list) = call.header(header::IF_NONE_MATCH) {
        if etag_matches(list) {
            return Ok(Some(StatusCode::NOT_MODIFIED));
        }
    } else if let Some(since) = call
        .header(header::IF_MODIFIED_SINCE)
        .and_then(parse_http_date)
        && meta.last_modified <= since
    {
        return Ok(Some(StatusCode::NOT_MODIFIED));
    }
    Ok(None)
}

/// What a Range header asks of an object of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// No usable range: the whole object (also for several ranges, as S3 and COS do).
    Full,
    /// Bytes `start..=end`.
    Partial(u64, u64),
    /// A range that starts past the end.
    Unsatisfiable,
}

fn parse_range(value: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Partial(size - n.min(size), size - 1)
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if end.is_some_and(|end| end < start) {
                RangeSpec::Full
            } else if start >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Partial(start, end.map_or(size - 1, |end| end.min(size - 1)))
            }
        }
        _ => RangeSpec::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_http_semantics() {
        let cases = [
            (Some("bytes=0-9"), RangeSpec::Partial(0, 9)),
            (Some("bytes=5-"), RangeSpec::Partial(5, 99)),
            (Some("bytes=-10"), RangeSpec::Partial(90, 99)),
            (Some("bytes=-1000"), RangeSpec::Partial(0, 99)),
            (Some("bytes=90-1000"), RangeSpec::Partial(90, 99)),
            (Some("bytes=100-"), RangeSpec::Unsatisfiable),
            (Some("bytes=-0"), RangeSpec::Unsatisfiable),
            (Some("bytes=9-5"), RangeSpec::Full),
            (Some("bytes=0-1,5-6"), RangeSpec::Full),
            (Some("items=0-1"), RangeSpec::Full),
            (Some("bytes=x-1"), RangeSpec::Full),
            (None, RangeSpec::Full),
        ];

        for (header, expected) in cases {
            assert_eq!(parse_range(header, 100), expected, "{header:?}");
        }
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeSpec::Unsatisfiable);
    }
}
