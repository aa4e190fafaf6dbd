//! Multipart uploads: initiate, upload a part, list parts, complete, abort, and list the
//! uploads in progress.

use http::{Response, StatusCode, header};

use super::bucket::{page_size, url_encoding};
use super::{
    Call, announce, bad_digest, check_declared_length, content_md5, header_pairs, iso_date,
    object_headers, quoted, response, set, upload_limits, xml_response,
};
use crate::body::{self, Limits, ResponseBody};
use crate::error::CosError;
use crate::events::Created;
use crate::server::App;
use crate::xml::{XmlWriter, parse_complete, parse_part_number};

/// The largest CompleteMultipartUpload body read: 10000 parts at about a hundred bytes
/// each, with room to spare.
const MAX_COMPLETE_BODY: u64 = 4 << 20;

/// Pages of parts and uploads hold at most this many entries.
const MAX_PAGE: usize = 1000;

fn upload_id(call: &Call) -> &str {
    call.param("uploadId").unwrap_or("")
}

/// Initiate Multipart Upload: records the object's headers and returns an UploadId.
///
/// # Errors
///
/// MetadataTooLarge, InternalError for the disk.
pub async fn initiate(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    let headers = object_headers(header_pairs(&call.parts.headers))?;

    let upload = call.store.create_upload(&call.target.key, headers).await?;

    let mut xml = XmlWriter::new();
    xml.open("InitiateMultipartUploadResult");
    xml.element("Bucket", &call.target.bucket.name);
    xml.element("Key", &call.target.key);
    xml.element("UploadId", &upload.upload_id);
    xml.close("InitiateMultipartUploadResult");
    Ok(xml_response(xml.finish()))
}

/// Upload Part.
///
/// # Errors
///
/// InvalidArgument for a part number outside 1..=10000, NoSuchUpload, InvalidDigest,
/// BadDigest, EntityTooLarge, the body errors, InternalError for the disk.
pub async fn upload_part(app: &App, call: &mut Call) -> Result<Response<ResponseBody>, CosError> {
    let number = parse_part_number(call.param("partNumber").unwrap_or(""))?;
    let expected_md5 = content_md5(call)?;
    let limits = upload_limits(app);
    check_declared_length(call, limits.max_bytes)?;
    let upload = call.store.upload(upload_id(call), &call.target.key).await?;

    let mut temp = call.store.temp_for_part(&upload).await?;
    let mut incoming = call.take_body()?;
    let digest = body::receive(&mut incoming, &mut temp, limits).await?;
    if expected_md5.is_some_and(|md5| md5 != digest.md5) {
        return Err(bad_digest());
    }
    let part = call
        .store
        .commit_part(&upload, number, temp, digest)
        .await?;

    let mut answer = response(StatusCode::OK, body::empty());
    set(answer.headers_mut(), header::ETAG, &quoted(&part.etag));
    set(answer.headers_mut(), "x-cos-hash-crc64ecma", &part.crc64);
    Ok(answer)
}

/// List Parts.
///
/// # Errors
///
/// NoSuchUpload, InvalidArgument for bad paging parameters.
pub async fn list_parts(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    let upload = call.store.upload(upload_id(call), &call.target.key).await?;
    let max_parts = page_size(call, "max-parts", MAX_PAGE)?;
    let marker = match call.param("part-number-marker") {
        None | Some("") => 0,
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            CosError::invalid_argument("part-number-marker must be a whole number.")
        })?,
    };

    let parts = call.store.parts(&upload).await?;

    let after: Vec<_> = parts.iter().filter(|p| p.number > marker).collect();
    let page = &after[..after.len().min(max_parts)];
    let truncated = after.len() > page.len();
    let owner = &call.target.bucket.appid;
    let mut xml = XmlWriter::new();
    xml.open("ListPartsResult");
    xml.element("Bucket", &call.target.bucket.name);
    xml.element("Key", &call.target.key);
    xml.element("UploadId", &upload.upload_id);
    owner_elements(&mut xml, "Initiator", owner);
    owner_elements(&mut xml, "Owner", owner);
    xml.element("StorageClass", "STANDARD");
    xml.element("PartNumberMarker", &marker.to_string());
    if let Some(last) = page.last() {
        xml.element("NextPartNumberMarker", &last.number.to_string());
    }
    xml.element("MaxParts", &max_parts.to_string());
    xml.element("IsTruncated", if truncated { "true" } else { "false" });
    for part in page {
        xml.open("Part");
        xml.element("PartNumber", &part.number.to_string());
        xml.element("LastModified", &iso_date(part.last_modified));
        xml.element("ETag", &quoted(&part.etag));
        xml.element("Size", &part.size.to_string());
        xml.close("Part");
    }
    xml.close("ListPartsResult");
    Ok(xml_response(xml.finish()))
}

/// Complete Multipart Upload.
///
/// # Errors
///
/// MalformedXML, InvalidArgument, InvalidPartOrder, InvalidPart, EntityTooSmall,
/// NoSuchUpload, PathConflict under x-cos-forbid-overwrite, InternalError for the disk.
pub async fn complete(app: &App, call: &mut Call) -> Result<Response<ResponseBody>, CosError> {
    let upload = call.store.upload(upload_id(call), &call.target.key).await?;
    let mut incoming = call.take_body()?;
    let limits = Limits {
        max_bytes: MAX_COMPLETE_BODY,
        idle: app.config.idle_timeout,
    };
    let text = body::read_small(&mut incoming, limits).await?;
    let listed = parse_complete(&text)?;

    let meta = call
        .store
        .complete_upload(
            &upload,
            &listed,
            app.config.min_part_bytes,
            call.forbid_overwrite(),
        )
        .await?;
    announce(app, call, &meta, Created::CompleteMultipartUpload).await?;

    let mut xml = XmlWriter::new();
    xml.open("CompleteMultipartUploadResult");
    xml.element("Location", &call.target.resource());
    xml.element("Bucket", &call.target.bucket.name);
    xml.element("Key", &call.target.key);
    xml.element("ETag", &quoted(&meta.etag));
    xml.close("CompleteMultipartUploadResult");
    let mut answer = xml_response(xml.finish());
    set(answer.headers_mut(), "x-cos-hash-crc64ecma", &meta.crc64);
    Ok(answer)
}

/// Abort Multipart Upload.
///
/// # Errors
///
/// NoSuchUpload, InternalError for the disk.
pub async fn abort(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    let upload = call.store.upload(upload_id(call), &call.target.key).await?;

    call.store.abort_upload(&upload).await?;

    Ok(response(StatusCode::NO_CONTENT, body::empty()))
}

/// List Multipart Uploads, with prefix, key-marker, upload-id-marker and max-uploads.
///
/// # Errors
///
/// InvalidArgument for bad paging parameters, InternalError for the disk.
pub async fn list_uploads(call: &Call) -> Result<Response<ResponseBody>, CosError> {
    let encode = url_encoding(call)?;
    let text = |value: &str| -> String {
        if encode {
            cos_sign::encode::encode_path(value)
        } else {
            value.to_owned()
        }
    };
    let prefix = call.param("prefix").unwrap_or("");
    let key_marker = call.param("key-marker").unwrap_or("");
    let id_marker = call.param("upload-id-marker").unwrap_or("");
    let max_uploads = page_size(call, "max-uploads", MAX_PAGE)?;

    let uploads = call.store.list_uploads().await?;

    let after: Vec<_> = uploads
        .iter()
        .filter(|u| u.key.starts_with(prefix))
        .filter(|u| {
            key_marker.is_empty()
                || u.key.as_str() > key_marker
                || (u.key == key_marker
                    && !id_marker.is_empty()
                    && u.upload_id.as_str() > id_marker)
        })
        .collect();
    let page = &after[..after.len().min(max_uploads)];
    let truncated = after.len() > page.len();
    let owner = &call.target.bucket.appid;
    let mut xml = XmlWriter::new();
    xml.open("ListMultipartUploadsResult");
    xml.element("Bucket", &call.target.bucket.name);
    if encode {
        xml.element("EncodingType", "url");
    }
    xml.element("KeyMarker", &text(key_marker));
    xml.element("UploadIdMarker", id_marker);
    if let (true, Some(last)) = (truncated, page.last()) {
        xml.element("NextKeyMarker", &text(&last.key));
        xml.element("NextUploadIdMarker", &last.upload_id);
    }
    xml.element("MaxUploads", &max_uploads.to_string());
    xml.element("IsTruncated", if truncated { "true" } else { "false" });
    xml.element("Prefix", &text(prefix));
    for upload in page {
        xml.open("Upload");
        xml.element("Key", &text(&upload.key));
        xml.element("UploadId", &upload.upload_id);
        xml.element("StorageClass", "STANDARD");
        owner_elements(&mut xml, "Initiator", owner);
        owner_elements(&mut xml, "Owner", owner);
        xml.element("Initiated", &iso_date(upload.initiated));
        xml.close("Upload");
    }
    xml.close("ListMultipartUploadsResult");
    Ok(xml_response(xml.finish()))
}

fn owner_elements(xml: &mut XmlWriter, element: &str, owner: &str) {
    xml.open(element);
    xml.element("ID", owner);
    xml.element("DisplayName", owner);
    xml.close(element);
}
