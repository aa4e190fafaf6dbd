//! The SDK's errors as the port's errors.
//!
//! Conditions that fail are the one outcome each operation reads for itself (they decide
//! between "quota exceeded", "already done" and the like); everything else is mapped
//! here: a lost race is [`TableError::Conflict`], throttling is [`TableError::Throttled`],
//! and anything else (connection refused, timeout, a 5xx, a request the table refused as
//! malformed) is [`TableError::Unavailable`] with the SDK error kept as its source.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;
use cosigner_core::TableError;

/// An item as the SDK holds it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A request we build ourselves lacked a required field: a bug here, never the caller's.
pub(crate) fn built<T>(result: Result<T, BuildError>) -> Result<T, TableError> {
    result.map_err(|e| TableError::Unavailable(Box::new(e)))
}

/// Any SDK error, once failed conditions have been handled by the caller.
pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let code = err.as_service_error().and_then(|e| e.code());
    match code {
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded",
        ) => TableError::Throttled,
        Some("TransactionConflictException" | "TransactionInProgressException") => {
            TableError::Conflict
        }
        _ => TableError::Unavailable(Box::new(err)),
    }
}

/// Whether a single-item write failed on its condition.
pub(crate) fn is_condition_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// One action of a transaction whose condition failed.
#[derive(Debug)]
pub(crate) struct FailedCondition {
    /// Its position in the transaction.
    pub(crate) index: usize,
    /// The item as it was, when the action asked for it.
    pub(crate) item: Option<Item>,
}

/// The actions whose conditions failed, when that is all that cancelled a transaction;
/// any other failure as the port's error.
///
/// DynamoDB reports one reason per action, in order: `None` for the actions that would
/// have succeeded, `ConditionalCheckFailed`, `TransactionConflict` (another transaction
/// held one of the items), throttling, or a validation error.
pub(crate) fn failed_conditions<R>(
    err: SdkError<TransactWriteItemsError, R>,
) -> Result<Vec<FailedCondition>, TableError>
where
    R: Debug + Send + Sync + 'static,
{
    let reasons: Vec<(String, Option<Item>)> = match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| (r.code().unwrap_or("None").to_owned(), r.item().cloned()))
            .collect(),
        _ => return Err(from_sdk(err)),
    };
    if reasons
        .iter()
        .any(|(code, _)| code == "TransactionConflict")
    {
        return Err(TableError::Conflict);
    }
    if reasons
        .iter()
        .any(|(code, _)| code == "ThrottlingError" || code == "ProvisionedThroughputExceeded")
    {
        return Err(TableError::Throttled);
    }
    let only_conditions = reasons
        .iter()
        .all(|(code, _)| code == "None" || code == "ConditionalCheckFailed");
    let failed: Vec<FailedCondition> = reasons
        .into_iter()
        .enumerate()
        .filter(|(_, (code, _))| code == "ConditionalCheckFailed")
        .map(|(index, (_, item))| FailedCondition { index, item })
        .collect();
    if !only_conditions || failed.is_empty() {
        return Err(TableError::Unavailable(Box::new(err)));
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    use super::*;

    fn service<E>(err: E) -> SdkError<E, ()> {
        SdkError::service_error(err, ())
    }

    fn coded(code: &str) -> SdkError<GetItemError, ()> {
        service(GetItemError::generic(
            ErrorMetadata::builder().code(code).build(),
        ))
    }

    fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError, ()> {
        let mut cancelled = TransactionCanceledException::builder();
        for code in codes {
            cancelled =
                cancelled.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        service(TransactWriteItemsError::TransactionCanceledException(
            cancelled.build(),
        ))
    }

    #[test]
    fn throttling_and_lost_races_are_told_apart_from_outages() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
        ] {
            assert!(
                matches!(from_sdk(coded(code)), TableError::Throttled),
                "{code}"
            );
        }
        for code in [
            "TransactionConflictException",
            "TransactionInProgressException",
        ] {
            assert!(
                matches!(from_sdk(coded(code)), TableError::Conflict),
                "{code}"
            );
        }
        let internal = from_sdk(coded("InternalServerError"));
        let timeout = from_sdk(SdkError::<GetItemError, ()>::timeout_error("slow"));

        assert!(matches!(internal, TableError::Unavailable(_)));
        assert!(matches!(timeout, TableError::Unavailable(ref e) if e.source().is_some()));
    }

    #[test]
    fn a_cancelled_transaction_names_the_actions_whose_conditions_failed() {
        let failed = failed_conditions(cancelled(&["None", "ConditionalCheckFailed"])).unwrap();

        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].index, 1);
    }

    #[test]
    fn a_cancellation_for_a_conflict_or_throttling_is_not_a_failed_condition() {
        let conflict = failed_conditions(cancelled(&[
            "ConditionalCheckFailed",
            "TransactionConflict",
        ]));
        let throttled = failed_conditions(cancelled(&["None", "ThrottlingError"]));
        let invalid = failed_conditions(cancelled(&["ValidationError", "None"]));

        assert!(
            matches!(conflict, Err(TableError::Conflict)),
            "{conflict:?}"
        );
        assert!(
            matches!(throttled, Err(TableError::Throttled)),
            "{throttled:?}"
        );
        assert!(
            matches!(invalid, Err(TableError::Unavailable(_))),
            "{invalid:?}"
        );
    }
}
