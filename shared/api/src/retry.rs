//! Calls to the ports that recover on their own: a table write that lost a race or was
//! throttled is tried again after a short, jittered pause; a COS call refused for our own
//! credentials is tried once more after fetching the credentials again (they may have been
//! rotated).

use std::future::Future;
use std::time::Duration;

use tracing::{debug, warn};

use cosigner_core::{Clock, FileTable, ObjectStore, StoreError, TableError};

use crate::Deps;
use crate::dispatch::cause_chain;

/// Tries of a table call that keeps conflicting or being throttled, the first included.
pub(crate) const TABLE_ATTEMPTS: u32 = 4;

/// The first pause between tries; it doubles each time, and a random part of it is added.
const FIRST_PAUSE: Duration = Duration::from_millis(20);

/// Runs a table call, retrying [`TableError::Conflict`] and [`TableError::Throttled`].
///
/// Every write of the table is conditional, so trying one again cannot apply it twice.
pub(crate) async fn table<F, Fut, R>(mut call: F) -> Result<R, TableError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<R, TableError>>,
{
    let mut attempt = 0;
    loop {
        let result = call().await;
        let again = matches!(result, Err(TableError::Conflict | TableError::Throttled));
        attempt += 1;
        if !again || attempt >= TABLE_ATTEMPTS {
            return result;
        }
        let pause = FIRST_PAUSE * 2u32.pow(attempt - 1);
        let jitter = Duration::from_millis(fastrand::u64(0..=pause.as_millis() as u64));
        debug!(attempt, "the table conflicted or throttled; trying again");
        tokio::time::sleep(pause + jitter).await;
    }
}

/// Runs a COS call; when COS refuses the server's credentials, fetches them again once,
/// installs them, and runs the call once more.
pub(crate) async fn store<T, O, C, F, Fut, R>(
    deps: &Deps<T, O, C>,
    call: F,
) -> Result<R, StoreError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<R, StoreError>>,
{
    let result = call().await;
    if !matches!(result, Err(StoreError::InvalidCredentials { .. })) {
        return result;
    }
    match deps.refresh_credentials().await {
        Ok(true) => {
            warn!("COS refused the server's credentials; fetched them again and retrying");
            call().await
        }
        Ok(false) => result,
        Err(err) => {
            let cause = cause_chain(&err);
            warn!(
                cause,
                "COS refused the server's credentials and fetching them again failed"
            );
            result
        }
    }
}
