//! `DELETE /v1/uploads/{id}`: the terminal gives up an upload. The reservation is released
//! first (a conditional `pending → aborted` write, so an upload confirmed a moment earlier is
//! left alone), then the multipart upload is aborted and any object deleted. Repeats answer
//! the same aborted record and redo the clean-up, so a retry after a COS failure finishes
//! it.

use cosigner_core::{Clock, FileState, FileTable, ObjectStore, Transition, UserId};

use crate::confirm::discard;
use crate::dispatch::{file_id_of, not_found};
use crate::routes::FileView;
use crate::{ApiError, ApiResponse, Deps, ErrorCode, retry};

/// Answers `DELETE /v1/uploads/{id}`.
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
    let record = match record.state {
        FileState::Ready => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the upload is complete; delete the file instead",
            ));
        }
        FileState::Expired | FileState::Aborted => record,
        FileState::Pending => {
            match retry::table(|| deps.table.release(user, id, FileState::Aborted)).await? {
                Transition::Applied(done) | Transition::AlreadyDone(done) => done,
            }
        }
    };

    discard(deps, &record).await?;

    Ok(ApiResponse::json(200, &FileView::of(&record)))
}
