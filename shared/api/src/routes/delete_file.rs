//! `DELETE /v1/files/{id}`: deletes the object in COS with the server's own signature, then
//! the record, giving back its bytes. COS first: if the record went first and the COS call
//! failed, the object would be left with nothing pointing at it. A retry after a failure in
//! between finds the record, deletes the (already missing) object again, and finishes.

use cosigner_core::{Clock, FileTable, ObjectStore, TableError, UserId};

use crate::confirm::discard;
use crate::dispatch::{file_id_of, not_found};
use crate::{ApiError, ApiResponse, Deps, retry};

/// Answers `DELETE /v1/files/{id}` with a 204.
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

    // Limitation: deleting a pending upload does not revoke its signature. An object sent
    // within the window afterwards has no record; its COS event removes it, but until that
    // event arrives (or for good, where events are not delivered) it sits in COS uncounted.
    discard(deps, &record).await?;
    match retry::table(|| deps.table.delete_file(user, id)).await {
        // Another delete finishing first is the same outcome.
        Ok(_) | Err(TableError::NotFound) => {}
        Err(err) => return Err(err.into()),
    }

    Ok(ApiResponse::empty(204))
}
