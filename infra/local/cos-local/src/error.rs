//! The errors a client sees, shaped as COS shapes them: a status, a stable code, a message,
//! and an XML body that carries them with the request id.

use http::StatusCode;

use crate::xml::XmlWriter;

/// A COS error answer.
///
/// `cause` is what went wrong inside the store (a file-system error, say); it is logged and
/// never sent, so a client learns the code and a fixed message, not our paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The COS error code, such as `NoSuchKey`.
    pub code: &'static str,
    /// A sentence for the client.
    pub message: String,
    /// For a signature mismatch, the StringToSign the store computed.
    pub string_to_sign: Option<String>,
    /// For a signature mismatch, the HttpString behind it.
    pub format_string: Option<String>,
    /// The internal cause of a server-side failure, for the log only.
    pub cause: Option<String>,
    /// Whether the connection must close after the answer, because the request body was
    /// left unread and cannot be skipped safely.
    pub close: bool,
}

impl CosError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            string_to_sign: None,
            format_string: None,
            cause: None,
            close: false,
        }
    }

    /// Marks the connection for closing after this answer.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// Attaches an internal cause for the log.
    pub fn caused_by(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// 403 AccessDenied.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    /// 400 InvalidArgument.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// 400 InvalidRequest.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// 400 MalformedXML.
    pub fn malformed_xml(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            format!("The XML you provided was not well-formed or did not validate: {detail}."),
        )
    }

    /// 404 NoSuchKey.
    pub fn no_such_key() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
    }

    /// 404 NoSuchBucket.
    pub fn no_such_bucket(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchBucket", message)
    }

    /// 404 NoSuchUpload.
    pub fn no_such_upload() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        )
    }

    /// 400 EntityTooLarge.
    pub fn entity_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "EntityTooLarge", message)
    }

    /// 400 EntityTooSmall.
    pub fn entity_too_small(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "EntityTooSmall", message)
    }

    /// 501 NotImplemented, for COS operations this store does not offer.
    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("cos-local does not implement {what}."),
        )
    }

    /// 500 InternalError with a fixed message; the cause goes to the log.
    pub fn internal(message: impl Into<String>, cause: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message).caused_by(cause)
    }

    /// The XML body COS sends with an error.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut xml = XmlWriter::new();
        xml.open("Error");
        xml.element("Code", self.code);
        xml.element("Message", &self.message);
        if !resource.is_empty() {
            xml.element("Resource", resource);
        }
        xml.element("RequestId", request_id);
        xml.element("TraceId", request_id);
        if let Some(string_to_sign) = &self.string_to_sign {
            xml.element("StringToSign", string_to_sign);
        }
        if let Some(format_string) = &self.format_string {
            xml.element("FormatString", format_string);
        }
        xml.close("Error");
        xml.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_code_message_resource_and_request_id() {
        let error = CosError::no_such_key();

        let xml = error.to_xml("b-1.cos.ap-guangzhou.myqcloud.com/a&b", "req-1");

        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"));
        assert!(xml.contains("<Code>NoSuchKey</Code>"));
        assert!(xml.contains("<Resource>b-1.cos.ap-guangzhou.myqcloud.com/a&amp;b</Resource>"));
        assert!(xml.contains("<RequestId>req-1</RequestId>"));
        assert!(!xml.contains("StringToSign"));
    }

    #[test]
    fn a_mismatch_carries_the_string_to_sign() {
        let mut error = CosError::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", "no");
        error.string_to_sign = Some("sha1\n1;2\nabc\n".into());

        let xml = error.to_xml("", "req-2");

        assert!(xml.contains("<StringToSign>sha1\n1;2\nabc\n</StringToSign>"));
        assert!(!xml.contains("<Resource>"));
    }
}
