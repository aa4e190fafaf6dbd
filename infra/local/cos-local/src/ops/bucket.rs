//! GET Bucket (list objects) and HEAD Bucket.

use http::{Response, StatusCode};

use cos_sign::encode::encode_path;

use super::{Call, iso_date, quoted, response, set, xml_response};
use crate::body::{self, ResponseBody};
use crate::error::CosError;
use crate::store::ListQuery;
use crate::xml::XmlWriter;

/// COS lists at most this many keys per page.
pub const MAX_KEYS: usize = 1000;

/// HEAD Bucket: the bucket exists and the caller may use it.
pub fn head_bucket(call: &Call) -> Response<ResponseBody> {
    let mut answer = response(StatusCode::OK, body::empty());
    set(
        answer.headers_mut(),
        "x-cos-bucket-region",
        &call.target.bucket.region,
    );
    answer
}

/// Reads `max-keys`-style parameters: absent means the maximum, larger values are capped.
///
/// # Errors
///
/// InvalidArgument for a value that is not a whole number.
pub fn page_size(call: &Call, name: &str, max: usize) -> Result<usize, CosError> {
    match call.param(name) {
        None | Some("") => Ok(max),
        Some(text) => text
            .trim()
            .parse::<usize>()
            .map(|n| n.min(max))
            .map_err(|_| CosError::invalid_argument(format!("{name} must be a whole number."))),
    }
}

/// Whether listings encode keys (`encoding-type=url`), the only encoding COS offers.
///
/// # Errors
///
/// InvalidArgument for another encoding.
pub fn url_encoding(call: &Call) -> Result<bool, CosError> {
    match call.param("encoding-type") {
        None => Ok(false),
        Some(kind) if kind.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(CosError::invalid_argument(
            "Invalid Encoding Method specified in Request: only url is supported.",
        )),
    }
}

/// GET Bucket: one page of keys, with prefix, delimiter, marker and max-keys.
///
/// # Errors
///
/// InvalidArgument for a bad max-keys or encoding-type.
pub async fn list_objects(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    let encode = url_encoding(call)?;
    let text = |value: &str| -> String {
        if encode {
            encode_path(value)
        } else {
            value.to_owned()
        }
    };
    let query = ListQuery {
        prefix: call.param("prefix").unwrap_or("").to_owned(),
        delimiter: call.param("delimiter").unwrap_or("").to_owned(),
        marker: call.param("marker").unwrap_or("").to_owned(),
        max_keys: page_size(call, "max-keys", MAX_KEYS)?,
    };

    let page = call.store.list(&query).await;

    let owner = &call.target.bucket.appid;
    let mut xml = XmlWriter::new();
    xml.open("ListBucketResult");
    xml.element("Name", &call.target.bucket.name);
    if encode {
        xml.element("EncodingType", "url");
    }
    xml.element("Prefix", &text(&query.prefix));
    xml.element("Marker", &text(&query.marker));
    xml.element("MaxKeys", &query.max_keys.to_string());
    if !query.delimiter.is_empty() {
        xml.element("Delimiter", &text(&query.delimiter));
    }
    xml.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated
        && let Some(next) = &page.next_marker
    {
        xml.element("NextMarker", &text(next));
    }
    for object in &page.objects {
        xml.open("Contents");
        xml.element("Key", &text(&object.key));
        xml.element("LastModified", &iso_date(object.last_modified));
        xml.element("ETag", &quoted(&object.etag));
        xml.element("Size", &object.size.to_string());
        xml.open("Owner");
        xml.element("ID", owner);
        xml.element("DisplayName", owner);
        xml.close("Owner");
        xml.element("StorageClass", "STANDARD");
        xml.close("Contents");
    }
    for prefix in &page.common_prefixes {
        xml.open("CommonPrefixes");
        xml.element("Prefix", &text(prefix));
        xml.close("CommonPrefixes");
    }
    xml.close("ListBucketResult");
    Ok(xml_response(xml.finish()))
}
