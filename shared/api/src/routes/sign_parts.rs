//! `POST /v1/uploads/{id}/parts`: presigned PUT URLs for parts of the caller's own pending
//! multipart upload.
//!
//! The body is `{"part_numbers": [1, 2, …]}`: at most [`MAX_PARTS_PER_CALL`] distinct
//! numbers, each a part of the upload. Each URL signs its `partNumber` and `uploadId` and is
//! bound to the part's exact `Content-Length`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use cos_sign::KeyTime;
use cosigner_core::{Clock, FileState, FileTable, ObjectStore, UploadKind, UserId};

use crate::dispatch::{file_id_of, not_found, parse_json};
use crate::routes::{BACKDATE_SECS, part_count};
use crate::{ApiError, ApiRequest, ApiResponse, Deps, ErrorCode, retry};

/// The most parts signed by one call.
pub(crate) const MAX_PARTS_PER_CALL: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignParts {
    part_numbers: Vec<u32>,
}

#[derive(Debug, Serialize)]
struct SignedPart {
    part_number: u32,
    url: String,
    headers: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct Signed {
    file_id: String,
    upload_id: String,
    parts: Vec<SignedPart>,
    starts_at: u64,
    expires_at: u64,
    server_time: u64,
}

/// Answers `POST /v1/uploads/{id}/parts`.
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
    let body: SignParts = parse_json(&request.body)?;
    let record = retry::table(|| deps.table.get_file(user, id))
        .await?
        .ok_or_else(not_found)?;
    let UploadKind::Multipart {
        upload_id,
        part_size,
    } = &record.upload
    else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this upload is not a multipart upload; send it as issued",
        ));
    };
    if record.state != FileState::Pending {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the upload is {}; no more parts can be sent",
                record.state.as_str()
            ),
        ));
    }
    let count = part_count(record.size, *part_size);
    let numbers = check_numbers(&body.part_numbers, count)?;
    let now = deps.clock.now();
    if now >= record.expires_at {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the upload's window has closed; start a new one",
        ));
    }
    let ttl = deps.config.limits.upload_url_ttl.as_secs();
    let window = KeyTime::new(
        now.saturating_sub(BACKDATE_SECS),
        now.saturating_add(ttl).min(record.expires_at),
    )?;

    let mut parts = Vec::with_capacity(numbers.len());
    for number in numbers {
        let size = if u64::from(number) < count {
            *part_size
        } else {
            record.size - part_size * (count - 1)
        };
        let url = deps
            .signer
            .presign_part(&record.key, upload_id, number, size, window)?;
        let headers = BTreeMap::from([("Content-Length", size.to_string())]);
        parts.push(SignedPart {
            part_number: number,
            url,
            headers,
        });
    }

    let signed = Signed {
        file_id: record.id.to_string(),
        upload_id: upload_id.clone(),
        parts,
        starts_at: window.start(),
        expires_at: window.end(),
        server_time: now,
    };
    Ok(ApiResponse::json(200, &signed))
}

/// The asked numbers in order: 1 to [`MAX_PARTS_PER_CALL`] distinct parts of the upload.
fn check_numbers(numbers: &[u32], count: u64) -> Result<BTreeSet<u32>, ApiError> {
    let invalid = |message: String| ApiError::new(ErrorCode::Invalid, message);
    if numbers.is_empty() {
        return Err(invalid("part_numbers: ask for at least one part".into()));
    }
    if numbers.len() > MAX_PARTS_PER_CALL {
        return Err(invalid(format!(
            "part_numbers: at most {MAX_PARTS_PER_CALL} parts per request"
        )));
    }
    let mut set = BTreeSet::new();
    for &number in numbers {
        if number == 0 || u64::from(number) > count {
            return Err(invalid(format!(
                "part_numbers: {number} is not a part of this upload (1 to {count})"
            )));
        }
        if !set.insert(number) {
            return Err(invalid(format!("part_numbers: {number} is asked twice")));
        }
    }
    Ok(set)
}
