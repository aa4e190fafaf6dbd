//! `POST /v1/uploads/{id}/complete`: the terminal reports its upload done; the server
//! confirms it with COS (a HEAD, or completing the multipart upload from its listed parts)
//! and marks the file ready. Repeats answer the same ready record.
//!
//! The body is empty, `{}`, or `{"crc64": "<x-cos-hash-crc64ecma>"}` to have the CRC64 the
//! terminal computed compared with COS's.

use serde::Deserialize;

use cosigner_core::{Clock, FileTable, ObjectStore, UserId};

use crate::confirm::{Confirmed, Source, confirm};
use crate::dispatch::{file_id_of, not_found, parse_json};
use crate::routes::FileView;
use crate::{ApiError, ApiRequest, ApiResponse, Deps, ErrorCode, retry};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Complete {
    #[serde(default)]
    crc64: Option<String>,
}

/// Answers `POST /v1/uploads/{id}/complete`.
pub(crate) async fn handle<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
    id: &str,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let id = file_id_of(id)?;
    let body: Complete = if request.body.iter().all(u8::is_ascii_whitespace) {
        Complete::default()
    } else {
        parse_json(&request.body)?
    };
    if let Some(crc) = &body.crc64
        && (crc.is_empty() || crc.len() > 20 || !crc.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "crc64: must be the decimal CRC64-ECMA of the object, as COS reports it",
        ));
    }
    let record = retry::table(|| deps.table.get_file(user, id))
        .await?
        .ok_or_else(not_found)?;

    let confirmed = confirm(deps, record, &Source::Terminal { crc64: body.crc64 }).await?;

    let (Confirmed::Now(ready) | Confirmed::Already(ready)) = &confirmed;
    Ok(ApiResponse::json(200, &FileView::of(ready)))
}
