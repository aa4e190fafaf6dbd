//! What can go wrong talking to COS, and how a COS answer becomes a [`StoreError`] the
//! domain can act on.

use cosigner_core::StoreError;

/// A failure of the client itself: building it, reaching COS, or reading its answer.
///
/// The domain sees these inside [`StoreError::Unavailable`], as the cause. None of them
/// holds a secret key, a signature or an `Authorization` value: the URLs this client sends
/// carry no signature (it travels in a header), so even a transport error's URL is safe.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The bucket, region or endpoint cannot make a COS address.
    #[error("the COS endpoint is invalid")]
    InvalidEndpoint(#[source] cos_sign::SignError),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
    /// COS could not be reached, timed out, or the exchange broke off.
    #[error("the request to COS failed")]
    Transport(#[source] reqwest::Error),
    /// COS answered with a server-side failure.
    #[error("COS answered {status} {code}: {message} (request id {request_id})")]
    Server {
        /// HTTP status.
        status: u16,
        /// COS's error code.
        code: String,
        /// COS's message.
        message: String,
        /// `x-cos-request-id`, for COS support.
        request_id: String,
    },
    /// An answer that is not what COS sends for this call.
    #[error("COS sent a malformed answer: {0}")]
    MalformedAnswer(String),
}

/// A COS error answer: the status and what its XML body (or, for a bodiless answer such as
/// a HEAD's, its status) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) request_id: String,
}

/// Codes that mean COS did not accept our key pair or what we signed with it: the key may
/// have been rotated, so the caller should fetch the credentials again and retry once.
const CREDENTIAL_CODES: [&str; 5] = [
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSecurityToken",
    "ExpiredToken",
    "InvalidToken",
];

/// Codes that mean COS is busy or failed on its side, whatever the status: trying again
/// later may succeed.
const TRANSIENT_CODES: [&str; 5] = [
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "TooManyRequests",
];

impl Fault {
    /// The code to assume when the answer has no body to say it: HEAD answers never do.
    pub(crate) fn code_for_status(status: u16) -> &'static str {
        match status {
            400 => "BadRequest",
            403 => "AccessDenied",
            404 => "NoSuchKey",
            405 => "MethodNotAllowed",
            409 => "Conflict",
            412 => "PreconditionFailed",
            429 => "TooManyRequests",
            500..=599 => "InternalError",
            _ => "Unknown",
        }
    }

    /// What the domain makes of this answer.
    pub(crate) fn into_store_error(self) -> StoreError {
        let code = self.code.as_str();
        if CREDENTIAL_CODES.contains(&code) || (code == "AccessDenied" && !self.about_time()) {
            return StoreError::InvalidCredentials { code: self.code };
        }
        if code == "NoSuchUpload" {
            return StoreError::NoSuchUpload;
        }
        let transient = self.status >= 500 || matches!(self.status, 408 | 429);
        if transient || TRANSIENT_CODES.contains(&code) {
            return StoreError::Unavailable(Box::new(ClientError::Server {
                status: self.status,
                code: self.code,
                message: self.message,
                request_id: self.request_id,
            }));
        }
        StoreError::Rejected {
            status: self.status,
            code: self.code,
            message: self.message,
        }
    }

    /// Whether an `AccessDenied` is about the signature's time window ("Request has
    /// expired", "not yet valid", clock skew) rather than the key: fresh credentials would
    /// not help there, a right clock would.
    fn about_time(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        ["expired", "not yet valid", "skew", "time"]
            .iter()
            .any(|word| message.contains(word))
    }
}

/// A request that could not be signed never left: COS did not refuse it, but it is refused
/// all the same, and would be every time.
pub(crate) fn unsignable(err: cos_sign::SignError) -> StoreError {
    StoreError::Rejected {
        status: 400,
        code: "InvalidRequest".to_owned(),
        message: format!("the request could not be signed, so it was not sent: {err}"),
    }
}

/// A transport failure: COS could not be reached, or the exchange timed out or broke off.
pub(crate) fn unreachable(err: reqwest::Error) -> StoreError {
    StoreError::Unavailable(Box::new(ClientError::Transport(err)))
}

/// An answer we cannot read. A truncated or garbled body is most likely a broken exchange,
/// so it is treated as a failure worth retrying, not as a refusal.
pub(crate) fn malformed(what: impl Into<String>) -> StoreError {
    StoreError::Unavailable(Box::new(ClientError::MalformedAnswer(what.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(status: u16, code: &str, message: &str) -> Fault {
        Fault {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            request_id: "req-1".to_owned(),
        }
    }

    #[test]
    fn a_refused_key_or_signature_asks_for_fresh_credentials() {
        for code in [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
        ] {
            let error = fault(403, code, "no").into_store_error();

            assert!(
                matches!(&error, StoreError::InvalidCredentials { code: c } if c == code),
                "{code}: {error:?}"
            );
        }
    }

    #[test]
    fn access_denied_is_about_the_key_unless_it_is_about_the_time() {
        let denied = fault(403, "AccessDenied", "Access Denied.").into_store_error();
        let expired = fault(403, "AccessDenied", "Request has expired").into_store_error();
        let early = fault(403, "AccessDenied", "Request is not yet valid").into_store_error();

        assert!(matches!(denied, StoreError::InvalidCredentials { .. }));
        assert!(matches!(expired, StoreError::Rejected { status: 403, .. }));
        assert!(matches!(early, StoreError::Rejected { status: 403, .. }));
    }

    #[test]
    fn a_skewed_clock_is_refused_not_blamed_on_the_key() {
        let error =
            fault(403, "RequestTimeTooSkewed", "The difference is too large.").into_store_error();

        assert!(matches!(
            error,
            StoreError::Rejected { status: 403, code, .. } if code == "RequestTimeTooSkewed"
        ));
    }

    #[test]
    fn no_such_upload_has_its_own_variant() {
        let error = fault(404, "NoSuchUpload", "gone").into_store_error();

        assert!(matches!(error, StoreError::NoSuchUpload));
    }

    #[test]
    fn server_faults_and_throttling_are_unavailable_with_the_answer_kept() {
        let server = fault(503, "ServiceUnavailable", "busy").into_store_error();
        let throttled = fault(429, "TooManyRequests", "slow down").into_store_error();
        let late_failure = fault(200, "InternalError", "try again").into_store_error();

        let StoreError::Unavailable(source) = server else {
            panic!("not unavailable: {server:?}");
        };
        assert_eq!(
            source.to_string(),
            "COS answered 503 ServiceUnavailable: busy (request id req-1)"
        );
        assert!(matches!(throttled, StoreError::Unavailable(_)));
        assert!(matches!(late_failure, StoreError::Unavailable(_)));
    }

    #[test]
    fn other_client_errors_are_rejections_with_code_and_message() {
        let error = fault(400, "InvalidPart", "part 2 is missing").into_store_error();

        let StoreError::Rejected {
            status,
            code,
            message,
        } = error
        else {
            panic!("not rejected: {error:?}");
        };
        assert_eq!((status, code.as_str()), (400, "InvalidPart"));
        assert_eq!(message, "part 2 is missing");
    }

    #[test]
    fn bodiless_answers_get_a_code_from_their_status() {
        assert_eq!(Fault::code_for_status(403), "AccessDenied");
        assert_eq!(Fault::code_for_status(503), "InternalError");
        assert_eq!(Fault::code_for_status(418), "Unknown");
    }
}
