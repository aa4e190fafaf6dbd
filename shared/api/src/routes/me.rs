//! `GET /v1/me`: the caller's quota and counters, creating the profile on first use.

use serde::Serialize;

use cosigner_core::{Clock, FileTable, ObjectStore, UserId};

use crate::routes::profile;
use crate::{ApiError, ApiResponse, Deps};

#[derive(Debug, Serialize)]
struct Me<'a> {
    user_id: &'a str,
    quota_bytes: u64,
    used_bytes: u64,
    reserved_bytes: u64,
    available_bytes: u64,
    file_count: u64,
    pending_count: u64,
}

/// Answers `GET /v1/me`.
pub(crate) async fn handle<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
) -> Result<ApiResponse, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let profile = profile(deps, user).await?;

    let taken = profile.used_bytes.saturating_add(profile.reserved_bytes);
    let available_bytes = profile.quota_bytes.saturating_sub(taken);
    let body = Me {
        user_id: user.as_str(),
        quota_bytes: profile.quota_bytes,
        used_bytes: profile.used_bytes,
        reserved_bytes: profile.reserved_bytes,
        available_bytes,
        file_count: profile.file_count,
        pending_count: profile.pending_count,
    };
    Ok(ApiResponse::json(200, &body))
}
