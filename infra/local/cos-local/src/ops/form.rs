//! POST Object: a browser form upload (multipart/form-data), signed by its policy rather
//! than by a request signature.
//!
//! The fields come first and the file last, as COS requires; fields after the file are
//! ignored. The policy's signature and every condition but the size are checked before
//! the file is read, so an unsigned form never writes to disk; the size conditions once it
//! has been.

use std::time::Duration;

use http::{Response, StatusCode, header};

use cos_sign::VerifyError;
use cos_sign::encode::encode;

use super::{Call, announce, object_headers, quoted, response, set, upload_limits, xml_response};
use crate::auth::{authenticate_form, refusal};
use crate::body::{self, ResponseBody, malformed_form, receive_field};
use crate::error::CosError;
use crate::events::Created;
use crate::server::App;
use crate::xml::XmlWriter;

/// The largest text field, and all text fields together.
const MAX_FIELD_BYTES: usize = 64 << 10;
const MAX_FIELDS_BYTES: usize = 1 << 20;

/// POST Object.
///
/// # Errors
///
/// MalformedPOSTRequest, InvalidArgument for a form without `key` or file, the refusals of
/// [`refusal`] (AccessDenied for a broken policy condition, EntityTooSmall/EntityTooLarge
/// for its size range), PathConflict, InternalError for the disk.
pub async fn post_object(app: &App, call: &mut Call) -> Result<Response<ResponseBody>, CosError> {
    let content_type = call.header(header::CONTENT_TYPE).unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(malformed_form)?;
    let limits = upload_limits(app);
    let incoming = call.take_body()?;
    let stream = http_body_util::BodyExt::into_data_stream(incoming);
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limits.max_bytes.saturating_add(MAX_FIELDS_BYTES as u64 * 2))
            .per_field(limits.max_bytes),
    );
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);

    let mut fields: Vec<(String, String)> = Vec::new();
    let mut fields_bytes = 0usize;
    let mut field = loop {
        let next = tokio::time::timeout(limits.idle, form.next_field())
            .await
            .map_err(|_| timeout())?
            .map_err(malformed_form)?;
        let Some(field) = next else {
            return Err(CosError::invalid_argument(
                "POST requires exactly one file upload per request: the form has no file \
                 field.",
            ));
        };
        let name = field.name().unwrap_or("").to_owned();
        if name.eq_ignore_ascii_case("file") {
            break field;
        }
        let value = read_text(field, limits.idle).await?;
        fields_bytes += name.len() + value.len();
        if fields_bytes > MAX_FIELDS_BYTES {
            return Err(CosError::invalid_argument("The form fields are too large."));
        }
        fields.push((name, value));
    };

    let filename = field.file_name().unwrap_or("").to_owned();
    let key = form_key(&fields, &filename)?;
    if let Some(slot) = fields
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("key"))
    {
        slot.1 = key.clone();
    }
    let mut target = call.target.clone();
    target.key = key.clone();
    // Everything but the size can be judged now: refuse before writing a byte.
    let now = crate::now_secs();
    match authenticate_form(&app.config, &target, &fields, 0, now) {
        Ok(_) => {}
        Err(error) if error.code == "EntityTooSmall" => {}
        Err(error) => return Err(error),
    }
    let headers = object_headers(fields.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))?;
    let forbid = field_value(&fields, "x-cos-forbid-overwrite")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || call.forbid_overwrite();

    let mut temp = call.store.temp_for_object(&key).await?;
    let digest = receive_field(&mut field, &mut temp, limits).await?;
    authenticate_form(&app.config, &target, &fields, digest.size, now)?;
    let meta = call
        .store
        .commit_object(&key, temp, digest, digest.etag(), headers, forbid)
        .await?;
    call.target = target;
    announce(app, call, &meta, Created::Post).await?;

    let location = format!(
        "http://{}/{}",
        call.header(header::HOST)
            .map_or_else(|| call.target.bucket.cos_host(), str::to_owned),
        cos_sign::encode::encode_path(&key)
    );
    let mut answer = match field_value(&fields, "success_action_redirect").filter(|r| !r.is_empty())
    {
        Some(redirect) => {
            let joiner = if redirect.contains('?') { '&' } else { '?' };
            let to = format!(
                "{redirect}{joiner}bucket={}&key={}&etag={}",
                encode(&call.target.bucket.name),
                encode(&key),
                encode(&quoted(&meta.etag))
            );
            let mut answer = response(StatusCode::SEE_OTHER, body::empty());
            set(answer.headers_mut(), header::LOCATION, &to);
            answer
        }
        None => match field_value(&fields, "success_action_status").map(str::trim) {
            Some("200") => response(StatusCode::OK, body::empty()),
            Some("201") => {
                let mut xml = XmlWriter::new();
                xml.open("PostResponse");
                xml.element("Location", &location);
                xml.element("Bucket", &call.target.bucket.name);
                xml.element("Key", &key);
                xml.element("ETag", &quoted(&meta.etag));
                xml.close("PostResponse");
                let mut answer = xml_response(xml.finish());
                *answer.status_mut() = StatusCode::CREATED;
                answer
            }
            _ => response(StatusCode::NO_CONTENT, body::empty()),
        },
    };
    let headers = answer.headers_mut();
    set(headers, header::ETAG, &quoted(&meta.etag));
    set(headers, "x-cos-hash-crc64ecma", &meta.crc64);
    if !headers.contains_key(header::LOCATION) {
        set(headers, header::LOCATION, &location);
    }
    Ok(answer)
}

fn field_value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The object key: the `key` field with `${filename}` replaced by the file's name.
fn form_key(fields: &[(String, String)], filename: &str) -> Result<String, CosError> {
    let template = field_value(fields, "key").ok_or_else(|| {
        CosError::invalid_argument("Bucket POST must contain a field named 'key'.")
    })?;
    // Browsers on some systems send a full path; only the last component is the name.
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let key = template.replace("${filename}", base);
    if key.is_empty() {
        return Err(CosError::invalid_argument("The key field is empty."));
    }
    if key.len() > crate::address::MAX_KEY_BYTES {
        return Err(CosError::new(
            StatusCode::BAD_REQUEST,
            "KeyTooLong",
            "Your key is too long.",
        ));
    }
    Ok(key)
}

async fn read_text(mut field: multer::Field<'_>, idle: Duration) -> Result<String, CosError> {
    let mut bytes = Vec::new();
    loop {
        let chunk = tokio::time::timeout(idle, field.chunk())
            .await
            .map_err(|_| timeout())?
            .map_err(malformed_form)?;
        let Some(chunk) = chunk else { break };
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(CosError::invalid_argument(format!(
                "The form field {} is too large.",
                field.name().unwrap_or("")
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| refusal(VerifyError::NotUtf8("form field")))
}

fn timeout() -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the \
         timeout period.",
    )
    .closing()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(key: &str) -> Vec<(String, String)> {
        vec![("key".into(), key.into())]
    }

    #[test]
    fn the_filename_placeholder_takes_the_base_name() {
        assert_eq!(
            form_key(&fields("u/${filename}"), "C:\\Users\\me\\cat.png").unwrap(),
            "u/cat.png"
        );
        assert_eq!(form_key(&fields("u/a.txt"), "x").unwrap(), "u/a.txt");
    }

    #[test]
    fn a_form_needs_a_key() {
        assert_eq!(form_key(&[], "x").unwrap_err().code, "InvalidArgument");
        assert_eq!(
            form_key(&fields("${filename}"), "").unwrap_err().code,
            "InvalidArgument"
        );
    }
}
