//! What can go wrong when signing, and when checking someone else's signature.

/// A request that cannot be signed as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// A part of the credentials is empty.
    #[error("the {0} is empty")]
    EmptyCredential(&'static str),
    /// A part of the credentials holds characters that cannot travel in an `Authorization` value.
    #[error("the {0} holds characters that cannot be signed")]
    InvalidCredential(&'static str),
    /// The validity window ends before it starts.
    #[error("the validity window ends ({end}) before it starts ({start})")]
    WindowEndsBeforeStart {
        /// Unix seconds.
        start: u64,
        /// Unix seconds.
        end: u64,
    },
    /// A window that is not `<start>;<end>` in decimal Unix seconds.
    #[error("{0:?} is not a <start>;<end> window")]
    InvalidKeyTime(String),
    /// The method is empty or not an HTTP token.
    #[error("the method {0:?} is not an HTTP method")]
    InvalidMethod(String),
    /// An object key that starts with `/`: the SDKs disagree on what it means.
    #[error("the object key {0:?} starts with '/'")]
    KeyStartsWithSlash(String),
    /// Two headers whose names differ only in case.
    #[error("the header {0:?} is given twice")]
    DuplicateHeader(String),
    /// Two query parameters with the same name.
    #[error("the parameter {0:?} is given twice")]
    DuplicateParameter(String),
    /// A header name that is empty or holds characters HTTP does not allow.
    #[error("the header name {0:?} is not an HTTP token")]
    InvalidHeaderName(String),
    /// A header value with leading or trailing whitespace, or a control character: HTTP
    /// stacks change such values in transit, so the signature would not match.
    #[error("the value of header {0:?} has surrounding whitespace or a control character")]
    InvalidHeaderValue(String),
    /// A header named for signing that the request does not carry.
    #[error("the header {0:?} is named for signing but not given")]
    MissingHeader(String),
    /// A policy that is not a JSON object with `expiration` and `conditions`.
    #[error("the policy is malformed: {0}")]
    MalformedPolicy(String),
    /// An endpoint that is not `http(s)://host[:port]`.
    #[error("the endpoint {0:?} is not an http or https origin")]
    InvalidEndpoint(String),
    /// A bucket that is not `<name>-<appid>`, or a region that is not a COS region name.
    #[error("the {0} {1:?} is not valid")]
    InvalidBucket(&'static str, String),
}

/// Why a signature was refused. Each variant is a distinct cause, so a store can answer with
/// the fitting COS error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The request carries no signature at all.
    #[error("the request is not signed")]
    Unsigned,
    /// The signature is present but cannot be parsed.
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    /// A signature algorithm other than `sha1`.
    #[error("the signature algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    /// The secret id is not known to the caller.
    #[error("the secret id {0:?} is not known")]
    UnknownKey(String),
    /// The window's end has passed.
    #[error("the signature expired at {end} (now {now})")]
    Expired {
        /// Unix seconds.
        end: u64,
        /// Unix seconds.
        now: u64,
    },
    /// The window's start is still ahead.
    #[error("the signature is not valid before {start} (now {now})")]
    NotYetValid {
        /// Unix seconds.
        start: u64,
        /// Unix seconds.
        now: u64,
    },
    /// A header listed in `q-header-list` is not on the request.
    #[error("the signed header {0:?} is not on the request")]
    MissingSignedHeader(String),
    /// A parameter listed in `q-url-param-list` is not on the request.
    #[error("the signed parameter {0:?} is not on the request")]
    MissingSignedParameter(String),
    /// Temporary credentials without their session token, or with another one.
    #[error("the security token is missing or does not belong to the secret id")]
    InvalidToken,
    /// Text that must be UTF-8 is not.
    #[error("the {0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// The signature does not match what the request and the secret key produce.
    #[error("the signature does not match")]
    SignatureMismatch {
        /// The string we signed to compare, for the client to diff against its own.
        string_to_sign: String,
        /// The canonical request behind it (empty for a POST form, which signs its policy).
        http_string: String,
    },
    /// A POST form without one of the fields every signed form needs.
    #[error("the form field {0:?} is missing")]
    MissingFormField(String),
    /// A POST form that breaks a condition of its policy.
    #[error("the policy condition {condition} is not met: {reason}")]
    PolicyViolation {
        /// The condition, as written in the policy.
        condition: String,
        /// What the form did instead.
        reason: String,
    },
    /// The upload is smaller than the policy's `content-length-range` allows.
    #[error("the body is {size} bytes, below the policy's minimum of {min}")]
    EntityTooSmall {
        /// Bytes uploaded.
        size: u64,
        /// The policy's minimum.
        min: u64,
    },
    /// The upload is larger than the policy's `content-length-range` allows.
    #[error("the body is {size} bytes, above the policy's maximum of {max}")]
    EntityTooLarge {
        /// Bytes uploaded.
        size: u64,
        /// The policy's maximum.
        max: u64,
    },
}
