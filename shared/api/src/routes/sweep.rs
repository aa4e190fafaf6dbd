//! `sweep` (scheduled): expires pending uploads whose window closed, giving back their
//! reservations, and removes what they left in COS (multipart uploads and stray objects).
//!
//! Each upload is released first, with the table's conditional `pending → expired` write,
//! and cleaned up only after: an upload confirmed a moment before keeps its object, and two
//! sweeps running at once release each upload once (the second sees it done and only
//! repeats the clean-up, which is idempotent).

use serde::Serialize;
use tracing::{error, info};

use cosigner_core::{Clock, FileState, FileTable, ObjectStore, TableError, Transition};

use crate::confirm::discard;
use crate::dispatch::{cause_chain, warn_degraded};
use crate::{Deps, retry};

/// Uploads read from the table at a time.
pub const SWEEP_BATCH: u32 = 100;
/// The most batches of one run, so a run always ends.
const MAX_BATCHES: usize = 50;

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Uploads past their window that were looked at.
    pub examined: u64,
    /// Uploads this run expired.
    pub expired: u64,
    /// Uploads another run (or a repeat) had expired already.
    pub already_expired: u64,
    /// Uploads that moved on meanwhile (confirmed, aborted or deleted): left alone.
    pub skipped: u64,
    /// Releases or clean-ups that failed; a later run retries the releases.
    pub failed: u64,
    /// Whether the run stopped early because the table failed.
    pub incomplete: bool,
}

/// Expires the pending uploads whose window closed before `now` (Unix seconds).
pub async fn sweep<T, O, C>(deps: &Deps<T, O, C>, now: u64) -> SweepReport
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let mut report = SweepReport::default();
    for _ in 0..MAX_BATCHES {
        let batch = match retry::table(|| deps.table.expired_pending(now, SWEEP_BATCH)).await {
            Ok(batch) => batch,
            Err(err) => {
                let cause = cause_chain(&err);
                error!(cause, "sweep could not list expired uploads");
                report.incomplete = true;
                break;
            }
        };
        let expired_before = report.expired;
        for record in &batch {
            report.examined += 1;
            let released = retry::table(|| {
                deps.table
                    .release(&record.user, record.id, FileState::Expired)
            })
            .await;
            let released = match released {
                Ok(Transition::Applied(done)) => {
                    report.expired += 1;
                    done
                }
                Ok(Transition::AlreadyDone(done)) => {
                    report.already_expired += 1;
                    done
                }
                Err(TableError::WrongState(_) | TableError::NotFound) => {
                    report.skipped += 1;
                    continue;
                }
                Err(err) => {
                    warn_degraded("sweep could not expire an upload", &record.user, &err);
                    report.failed += 1;
                    continue;
                }
            };
            // Limitation: a clean-up that fails after the release is not revisited by later
            // sweeps (they only read pending uploads); the object stays until its key sees
            // another event or a COS lifecycle rule on the prefix removes it.
            if let Err(err) = discard(deps, &released).await {
                warn_degraded(
                    "sweep could not remove an expired upload's objects",
                    &record.user,
                    &err,
                );
                report.failed += 1;
            }
        }
        // A short batch was the last; a batch that expired nothing would come back the same.
        if batch.len() < SWEEP_BATCH as usize || report.expired == expired_before {
            break;
        }
    }
    info!(
        examined = report.examined,
        expired = report.expired,
        already_expired = report.already_expired,
        skipped = report.skipped,
        failed = report.failed,
        incomplete = report.incomplete,
        "sweep finished"
    );
    report
}
