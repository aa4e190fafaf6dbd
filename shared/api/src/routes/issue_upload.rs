//! `POST /v1/uploads`: checks the name, size and type, reserves the bytes against the quota
//! together with a new pending file, and signs the upload for a key the server chooses.
//!
//! The body is `{"name", "size", "content_type", "content_md5"?, "method"?}`; `method` is
//! `put`, `post` or `multipart`, by default `put`, or `multipart` from
//! `MULTIPART_THRESHOLD_BYTES` up. The answer (201) carries what the terminal must send:
//!
//! - `put`: `url` and `headers` (send exactly these; the signature also binds `Host`);
//! - `post`: `url` and `fields`, a list of `{"name", "value"}` to send in order, with the
//!   file as the last field;
//! - `multipart`: `upload_id`, `part_size` and `part_count`; part URLs come from
//!   `POST /v1/uploads/{id}/parts`;
//!
//! and `file_id`, `starts_at`/`expires_at` (the signature's window) and `server_time`, all
//! Unix seconds of the server's clock, so a terminal with a skewed clock still knows its
//! window.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use cos_sign::KeyTime;
use cosigner_core::{
    Clock, ContentTypeError, FileId, FileRecord, FileState, FileTable, ObjectStore, QuotaCheck,
    SafeName, TableError, UploadKind, UserId,
};

use crate::dispatch::{parse_json, warn_degraded};
use crate::routes::{BACKDATE_SECS, part_count, profile};
use crate::{ApiError, ApiRequest, ApiResponse, Deps, ErrorCode, retry};

/// How long a multipart upload stays pending at least: its parts are signed a batch at a
/// time, so its window is that of the whole transfer, not of one signature.
pub(crate) const MULTIPART_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How the terminal wants to send the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Method {
    Put,
    Post,
    Multipart,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueUpload {
    name: String,
    size: serde_json::Number,
    content_type: String,
    #[serde(default)]
    content_md5: Option<String>,
    #[serde(default)]
    method: Option<Method>,
}

/// One form field of a POST upload.
#[derive(Debug, Serialize)]
struct Field {
    name: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Issued {
    file_id: String,
    name: String,
    size: u64,
    content_type: String,
    method: &'static str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<Field>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part_count: Option<u64>,
    starts_at: u64,
    expires_at: u64,
    server_time: u64,
}

/// A checked request.
struct Checked {
    name: SafeName,
    size: u64,
    content_type: String,
    content_md5: Option<String>,
    method: Method,
}

/// Answers `POST /v1/uploads`.
pub(crate) async fn handle<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let checked = check(deps, parse_json(&request.body)?)?;
    let now = deps.clock.now();
    let limits = &deps.config.limits;
    if checked.method == Method::Multipart {
        // The reservation's transaction is the authority; this early look only spares COS
        // a multipart upload that could not be reserved anyway. A single PUT or POST is
        // signed without a round trip, so it goes straight to the transaction.
        let profile = profile(deps, user).await?;
        if let QuotaCheck::Exceeded { available } = QuotaCheck::of(&profile, checked.size) {
            let size = checked.size;
            return Err(TableError::QuotaExceeded { size, available }.into());
        }
    }

    let id = FileId::generate(deps.clock.now_millis());
    let key = deps.config.keys.key(user, id, &checked.name);
    let window = KeyTime::around(now, BACKDATE_SECS, limits.upload_url_ttl.as_secs());
    let issued = sign_and_reserve(deps, user, id, key, &checked, window).await?;

    Ok(ApiResponse::json(201, &issued))
}

fn check<T, O, C>(deps: &Deps<T, O, C>, body: IssueUpload) -> Result<Checked, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let invalid = |message: String| ApiError::new(ErrorCode::Invalid, message);
    let name = SafeName::new(&body.name).map_err(|e| invalid(format!("name: {e}")))?;
    let size = body
        .size
        .as_u64()
        .ok_or_else(|| invalid("size: must be a whole number of bytes".into()))?;
    if size == 0 {
        return Err(invalid("size: must be at least one byte".into()));
    }
    let limits = &deps.config.limits;
    if size > limits.max_upload_bytes {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "size: files may be at most {} bytes",
                limits.max_upload_bytes
            ),
        ));
    }
    let content_type = deps
        .config
        .content_types
        .check(&body.content_type)
        .map_err(|err| match err {
            ContentTypeError::NotAllowed(_) => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("content_type: {err}"),
            ),
            ContentTypeError::Malformed(_) => invalid(format!("content_type: {err}")),
        })?;
    let method = body
        .method
        .unwrap_or(if size >= limits.multipart_threshold_bytes {
            Method::Multipart
        } else {
            Method::Put
        });
    if let Some(md5) = &body.content_md5 {
        if STANDARD.decode(md5).map(|b| b.len()) != Ok(16) {
            return Err(invalid(
                "content_md5: must be the base64 of the 16 bytes of an MD5 digest".into(),
            ));
        }
        if method == Method::Multipart {
            return Err(invalid(
                "content_md5: a multipart upload cannot be bound to one MD5; leave it out".into(),
            ));
        }
    }
    Ok(Checked {
        name,
        size,
        content_type,
        content_md5: body.content_md5,
        method,
    })
}

/// Signs (or, for a multipart upload, initiates) and reserves. Nothing is left half done: a
/// signature is made before the reservation, and a multipart upload initiated before a
/// reservation that fails is aborted.
async fn sign_and_reserve<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
    id: FileId,
    key: String,
    checked: &Checked,
    window: KeyTime,
) -> Result<Issued, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let (mut issued, mut record) = draft(deps, user, id, key, checked, window);
    let key = record.key.as_str();

    match checked.method {
        Method::Put => {
            let md5 = checked.content_md5.as_deref();
            let put = deps
                .signer
                .sign_put(key, record.size, &record.content_type, md5, window)?;
            issued.url = put.url;
            issued.headers = Some(put.headers.into_iter().collect());
        }
        Method::Post => {
            let post = deps
                .signer
                .sign_post(key, record.size, &record.content_type, window)?;
            let fields = post
                .fields
                .into_iter()
                .map(|(name, value)| Field { name, value });
            issued.method = "post";
            issued.url = post.url;
            issued.fields = Some(fields.collect());
            record.upload = UploadKind::Post;
        }
        Method::Multipart => {
            let content_type = record.content_type.as_str();
            let upload_id =
                retry::store(deps, || deps.store.initiate_multipart(key, content_type)).await?;
            let part_size = deps.config.limits.part_size_bytes;
            let expires_at = window
                .end()
                .max(deps.clock.now() + MULTIPART_WINDOW.as_secs());
            issued.method = "multipart";
            issued.upload_id = Some(upload_id.clone());
            issued.part_size = Some(part_size);
            issued.part_count = Some(part_count(record.size, part_size));
            issued.expires_at = expires_at;
            record.expires_at = expires_at;
            record.upload = UploadKind::Multipart {
                upload_id,
                part_size,
            };
        }
    }

    reserve_or_undo(deps, &record).await?;
    Ok(issued)
}

/// The answer and the record of a single PUT, before the method changes them.
fn draft<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
    id: FileId,
    key: String,
    checked: &Checked,
    window: KeyTime,
) -> (Issued, FileRecord)
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let now = deps.clock.now();
    let issued = Issued {
        file_id: id.to_string(),
        name: checked.name.original().to_owned(),
        size: checked.size,
        content_type: checked.content_type.clone(),
        method: "put",
        url: deps.signer.object_url(&key),
        headers: None,
        fields: None,
        upload_id: None,
        part_size: None,
        part_count: None,
        starts_at: window.start(),
        expires_at: window.end(),
        server_time: now,
    };
    let record = FileRecord {
        user: user.clone(),
        id,
        key,
        name: checked.name.original().to_owned(),
        size: checked.size,
        content_type: checked.content_type.clone(),
        content_md5: checked.content_md5.clone(),
        state: FileState::Pending,
        upload: UploadKind::Put,
        etag: None,
        created_at: now,
        expires_at: window.end(),
    };
    (issued, record)
}

/// Reserves the bytes with the pending record; when that fails, aborts the multipart upload
/// started for it, so COS keeps nothing the table does not know of.
async fn reserve_or_undo<T, O, C>(deps: &Deps<T, O, C>, record: &FileRecord) -> Result<(), ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let max_pending = deps.config.limits.max_pending_uploads;
    let reserve = || retry::table(|| deps.table.reserve(record, max_pending));
    let reserved = match reserve().await {
        // A user's first upload: the profile is made on demand, then the same reservation
        // is tried once more. Every later upload costs the one transaction only.
        Err(TableError::NotFound) => match profile(deps, &record.user).await {
            Ok(_) => reserve().await,
            Err(err) => Err(err),
        },
        other => other,
    };
    let Err(err) = reserved else {
        return Ok(());
    };
    if let UploadKind::Multipart { upload_id, .. } = &record.upload {
        let key = record.key.as_str();
        let aborted = retry::store(deps, || deps.store.abort_multipart(key, upload_id)).await;
        if let Err(abort_err) = aborted {
            let what = "could not abort a multipart upload whose reservation failed";
            warn_degraded(what, &record.user, &abort_err);
        }
    }
    Err(err.into())
}
