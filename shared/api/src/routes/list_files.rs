//! `GET /v1/files?limit&cursor`: the caller's pending and ready files, newest first.
//!
//! `limit` is 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]); `next_cursor`, when present,
//! continues the list. A cursor is opaque and bound to its user: a tampered cursor, or one
//! made for another user, is a 400 `invalid_cursor`.

use serde::Serialize;

use cosigner_core::{Clock, FileTable, ObjectStore, UserId};

use crate::routes::FileView;
use crate::{ApiError, ApiRequest, ApiResponse, Deps, ErrorCode, cursor, retry};

/// Files per page unless asked otherwise.
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// The most files per page.
pub(crate) const MAX_LIMIT: u32 = 100;

#[derive(Debug, Serialize)]
struct Page<'a> {
    files: Vec<FileView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Answers `GET /v1/files`.
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
    let limit = match request.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("limit: must be a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let after = match request.query_param("cursor") {
        None => None,
        Some(text) => Some(cursor::decode(&deps.keys.cursor_secret, user, text)?),
    };

    let page = retry::table(|| deps.table.list_files(user, limit, after)).await?;

    let next_cursor = page
        .next_after
        .map(|last| cursor::encode(&deps.keys.cursor_secret, user, last));
    let body = Page {
        files: page.files.iter().map(FileView::of).collect(),
        next_cursor,
    };
    Ok(ApiResponse::json(200, &body))
}
