//! `GET /v1/files/{id}`: the record, and for a ready file a presigned GET URL valid for
//! `DOWNLOAD_URL_TTL` that makes browsers save the object under its original name.

use std::fmt::Write as _;

use serde::Serialize;

use cos_sign::KeyTime;
use cos_sign::encode::encode;
use cosigner_core::{Clock, FileState, FileTable, ObjectStore, UserId};

use crate::dispatch::{file_id_of, not_found};
use crate::routes::{BACKDATE_SECS, FileView};
use crate::{ApiError, ApiResponse, Deps, retry};

#[derive(Debug, Serialize)]
struct FileWithUrl<'a> {
    #[serde(flatten)]
    file: FileView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url_expires_at: Option<u64>,
    server_time: u64,
}

/// Answers `GET /v1/files/{id}`.
pub(crate) async fn handle<T, O, C>(
    deps: &Deps<T, O, C>,
    user: &UserId,
    id: &str,
) -> Result<ApiResponse, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let id = file_id_of(id)?;
    let record = retry::table(|| deps.table.get_file(user, id))
        .await?
        .ok_or_else(not_found)?;

    let now = deps.clock.now();
    let (url, url_expires_at) = if record.state == FileState::Ready {
        let ttl = deps.config.limits.download_url_ttl.as_secs();
        let window = KeyTime::around(now, BACKDATE_SECS, ttl);
        let disposition = content_disposition(&record.name);
        let url = deps.signer.presign_get(&record.key, &disposition, window)?;
        (Some(url), Some(window.end()))
    } else {
        (None, None)
    };

    let body = FileWithUrl {
        file: FileView::of(&record),
        url,
        url_expires_at,
        server_time: now,
    };
    Ok(ApiResponse::json(200, &body))
}

/// `attachment` with the name twice, as RFC 6266 advises: an ASCII `filename` for old
/// clients, and the exact name as UTF-8 in `filename*` (RFC 8187).
pub(crate) fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("attachment; filename=\"{fallback}\"");
    // RFC 8187's attr-char set is narrower than COS's encoding set only in characters the
    // encoder already escapes, so its output is a valid ext-value.
    let _ = write!(value, "; filename*=UTF-8''{}", encode(name));
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disposition_carries_an_ascii_fallback_and_the_exact_name() {
        let value = content_disposition("Résumé \"final\" 100%.pdf");

        assert_eq!(
            value,
            "attachment; filename=\"R_sum_ _final_ 100_.pdf\"; \
             filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%20100%25.pdf"
        );
    }

    #[test]
    fn a_plain_name_is_kept_as_is() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
    }
}
