//! The one error shape: `{"error": {"code", "message", "request_id"}}` with the fitting
//! status.
//!
//! Client faults keep their status and a stable code a terminal can branch on; anything
//! else is a 500 with a generic message, logged once with its cause chain. A terminal never
//! sees a stack trace, a secret or another user's data.

use std::time::Duration;

use serde_json::json;

use cos_sign::SignError;
use cosigner_core::{StoreError, TableError};

use crate::ApiResponse;

/// The stable error codes, each with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the request is malformed (bad JSON, wrong types, unknown fields).
    BadRequest,
    /// 400: a tampered or foreign cursor.
    InvalidCursor,
    /// 401: no token, or a token that does not verify.
    Unauthorized,
    /// 403: a valid caller not allowed to do this.
    Forbidden,
    /// 404: no such file or upload for this caller (also for other users' ids).
    NotFound,
    /// 404: no such route.
    NoSuchRoute,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: the file is not in a state this request can act on.
    Conflict,
    /// 413: the declared size is over `MAX_UPLOAD_BYTES`, or the body is too large.
    TooLarge,
    /// 413: the quota cannot hold the upload.
    QuotaExceeded,
    /// 415: a content type outside the allow-list.
    UnsupportedMediaType,
    /// 422: well-formed but invalid values (a bad name, a negative size, …).
    Invalid,
    /// 429: too many pending uploads.
    TooManyPending,
    /// 502: COS failed or refused the server's own request.
    BadGateway,
    /// 503: the table or the secret store is unavailable or throttling.
    Unavailable,
    /// 500: a fault of ours.
    Internal,
}

impl ErrorCode {
    /// The code as terminals see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidCursor => "invalid_cursor",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::NoSuchRoute => "no_such_route",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::TooLarge => "too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Invalid => "invalid",
            Self::TooManyPending => "too_many_pending",
            Self::BadGateway => "bad_gateway",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::InvalidCursor => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound | Self::NoSuchRoute => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::TooLarge | Self::QuotaExceeded => 413,
            Self::UnsupportedMediaType => 415,
            Self::Invalid => 422,
            Self::TooManyPending => 429,
            Self::Internal => 500,
            Self::BadGateway => 502,
            Self::Unavailable => 503,
        }
    }
}

/// An error a route answers with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// A message for the terminal's user: what failed and what to do. Never a secret, a
    /// signature, or another user's data.
    pub message: String,
    /// For 503s: when to try again.
    pub retry_after: Option<Duration>,
    /// The cause, logged with the request id and never sent.
    #[source]
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    /// An error with a message for the terminal.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// Keeps the cause for the log.
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }

    /// Asks the terminal to retry after a while (sent as `Retry-After`).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// A fault of ours: the terminal gets a generic message, the log gets the cause.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(
            ErrorCode::Internal,
            "something went wrong on our side; try again later",
        )
        .with_cause(cause)
    }

    /// The response: the one JSON shape, the status, and `Retry-After` when set.
    pub fn into_response(self, request_id: &str) -> ApiResponse {
        let body = json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message,
                "request_id": request_id,
            }
        });
        let mut response = ApiResponse::json(self.code.status(), &body);
        if let Some(after) = self.retry_after {
            response
                .headers
                .push(("retry-after".into(), after.as_secs().max(1).to_string()));
        }
        response
    }
}

/// How long a terminal should wait before retrying after the table was busy.
const TABLE_BUSY_RETRY: Duration = Duration::from_secs(1);

/// How long a terminal should wait before retrying after a service was unreachable.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(5);

impl From<TableError> for ApiError {
    fn from(err: TableError) -> Self {
        match err {
            TableError::QuotaExceeded { available, .. } => Self::new(
                ErrorCode::QuotaExceeded,
                format!("the file does not fit: {available} bytes of your quota are free"),
            ),
            TableError::TooManyPending => Self::new(
                ErrorCode::TooManyPending,
                "you have too many unfinished uploads; complete or abort some first",
            ),
            TableError::NotFound => Self::new(ErrorCode::NotFound, "no such file"),
            TableError::WrongState(state) => Self::new(
                ErrorCode::Conflict,
                format!(
                    "the file is {}; this request cannot act on it",
                    state.as_str()
                ),
            ),
            TableError::Conflict | TableError::Throttled => Self::new(
                ErrorCode::Unavailable,
                "the service is busy; try again shortly",
            )
            .retry_after(TABLE_BUSY_RETRY)
            .with_cause(err),
            TableError::Unavailable(_) => Self::new(
                ErrorCode::Unavailable,
                "the file table is unavailable; try again shortly",
            )
            .retry_after(UNAVAILABLE_RETRY)
            .with_cause(err),
            TableError::Corrupt(_) => Self::internal(err),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::new(
            ErrorCode::BadGateway,
            "the object store did not complete the server's request; try again",
        )
        .with_cause(err)
    }
}

impl From<SignError> for ApiError {
    fn from(err: SignError) -> Self {
        Self::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_shape_carries_code_message_and_request_id() {
        let response =
            ApiError::new(ErrorCode::QuotaExceeded, "the file does not fit").into_response("req-1");

        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(response.status, 413);
        assert_eq!(body["error"]["code"], "quota_exceeded");
        assert_eq!(body["error"]["message"], "the file does not fit");
        assert_eq!(body["error"]["request_id"], "req-1");
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let cause = std::io::Error::other("secret-key=abc at /etc/x");

        let response = ApiError::internal(cause).into_response("req-2");

        let text = String::from_utf8(response.body).unwrap();
        assert_eq!(response.status, 500);
        assert!(!text.contains("secret-key") && !text.contains("/etc/x"));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let response = ApiError::new(ErrorCode::Unavailable, "busy")
            .retry_after(Duration::from_secs(2))
            .into_response("r");

        assert_eq!(response.status, 503);
        assert!(
            response
                .headers
                .contains(&("retry-after".into(), "2".into()))
        );
    }
}
