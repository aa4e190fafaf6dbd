//! Who may do what: every request is checked with `cos-sign`'s verifier, and each way a
//! signature can fail becomes the COS error a client would get from COS.

use http::StatusCode;
use http::request::Parts;

use cos_sign::{ReceivedRequest, Verified, VerifiedPost, VerifyError, verify_post_form};

use crate::address::Target;
use crate::config::Config;
use crate::error::CosError;

/// Checks the signature of a request, in its header or its query string, and that the
/// signer may use the bucket.
///
/// # Errors
///
/// The COS error for the first reason the request is refused (see [`refusal`]).
pub fn authenticate(
    config: &Config,
    target: &Target,
    parts: &Parts,
    now: u64,
) -> Result<Verified, CosError> {
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let request = ReceivedRequest {
        method: parts.method.as_str(),
        path: &target.signed_path,
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let verified =
        cos_sign::verify_request(&request, now, |id| config.credentials.get(id).cloned())
            .map_err(refusal)?;
    permit(target, &verified.secret_id)?;
    Ok(verified)
}

/// Checks a POST Object form and that the signer may use the bucket.
///
/// # Errors
///
/// As [`authenticate`], plus the policy's conditions.
pub fn authenticate_form(
    config: &Config,
    target: &Target,
    fields: &[(String, String)],
    size: u64,
    now: u64,
) -> Result<VerifiedPost, CosError> {
    let verified = verify_post_form(fields, size, &target.bucket.name, now, |id| {
        config.credentials.get(id).cloned()
    })
    .map_err(refusal)?;
    permit(target, &verified.secret_id)?;
    Ok(verified)
}

fn permit(target: &Target, secret_id: &str) -> Result<(), CosError> {
    if target.bucket.allows(secret_id) {
        Ok(())
    } else {
        Err(CosError::access_denied(format!(
            "The secret id {secret_id} may not access the bucket {}.",
            target.bucket.name
        )))
    }
}

/// The COS error for a refused signature.
pub fn refusal(error: VerifyError) -> CosError {
    let forbidden = |code, message: String| CosError::new(StatusCode::FORBIDDEN, code, message);
    match error {
        VerifyError::Unsigned => CosError::access_denied(
            "Access Denied: the request carries no signature, and anonymous access is not \
             allowed.",
        ),
        VerifyError::Malformed(why) => {
            CosError::access_denied(format!("The Authorization is invalid: {why}."))
        }
        VerifyError::UnsupportedAlgorithm(algorithm) => CosError::access_denied(format!(
            "The signature algorithm {algorithm:?} is not supported; use sha1."
        )),
        VerifyError::UnknownKey(id) => forbidden(
            "InvalidAccessKeyId",
            format!("The SecretId {id} you provided does not exist in our records."),
        ),
        VerifyError::Expired { end, now } => CosError::access_denied(format!(
            "Request has expired: the signature was valid until {end}, it is now {now}."
        )),
        VerifyError::NotYetValid { start, now } => forbidden(
            "RequestTimeTooSkewed",
            format!(
                "The difference between the request time and the server's time is too \
                 large: the signature is valid from {start}, it is now {now}."
            ),
        ),
        VerifyError::MissingSignedHeader(name) => forbidden(
            "SignatureDoesNotMatch",
            format!("The header {name} is in q-header-list but not on the request."),
        ),
        VerifyError::MissingSignedParameter(name) => forbidden(
            "SignatureDoesNotMatch",
            format!("The parameter {name} is in q-url-param-list but not on the request."),
        ),
        VerifyError::InvalidToken => forbidden(
            "InvalidAccessKeyId",
            "The x-cos-security-token is missing or does not belong to the SecretId.".into(),
        ),
        VerifyError::NotUtf8(what) => CosError::new(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            format!("The {what} is not valid UTF-8."),
        ),
        VerifyError::SignatureMismatch {
            string_to_sign,
            http_string,
        } => {
            let mut error = forbidden(
                "SignatureDoesNotMatch",
                "The Signature you specified does not match the one we calculated; compare \
                 your StringToSign with ours."
                    .into(),
            );
            error.string_to_sign = Some(string_to_sign);
            error.format_string = (!http_string.is_empty()).then_some(http_string);
            error
        }
        VerifyError::MissingFormField(field) => CosError::access_denied(format!(
            "The form has no {field} field; a POST Object form must be signed."
        )),
        VerifyError::PolicyViolation { condition, reason } => CosError::access_denied(format!(
            "Invalid according to Policy: Policy Condition failed: {condition} ({reason})."
        )),
        VerifyError::EntityTooSmall { size, min } => CosError::entity_too_small(format!(
            "Your proposed upload is smaller than the minimum allowed size: {size} bytes, \
             the policy asks for at least {min}."
        )),
        VerifyError::EntityTooLarge { size, max } => CosError::entity_too_large(format!(
            "Your proposed upload exceeds the maximum allowed size: {size} bytes, the policy \
             allows {max}."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_cos_code() {
        let cases = [
            (VerifyError::Unsigned, 403, "AccessDenied"),
            (
                VerifyError::UnknownKey("x".into()),
                403,
                "InvalidAccessKeyId",
            ),
            (VerifyError::Expired { end: 1, now: 2 }, 403, "AccessDenied"),
            (
                VerifyError::NotYetValid { start: 2, now: 1 },
                403,
                "RequestTimeTooSkewed",
            ),
            (
                VerifyError::MissingSignedHeader("host".into()),
                403,
                "SignatureDoesNotMatch",
            ),
            (
                VerifyError::EntityTooLarge { size: 2, max: 1 },
                400,
                "EntityTooLarge",
            ),
            (
                VerifyError::EntityTooSmall { size: 0, min: 1 },
                400,
                "EntityTooSmall",
            ),
            (VerifyError::NotUtf8("path"), 400, "InvalidURI"),
        ];

        for (error, status, code) in cases {
            let answer = refusal(error);

            assert_eq!(answer.status.as_u16(), status);
            assert_eq!(answer.code, code);
        }
    }

    #[test]
    fn a_mismatch_answers_with_the_expected_strings() {
        let answer = refusal(VerifyError::SignatureMismatch {
            string_to_sign: "sha1\n1;2\nab\n".into(),
            http_string: "get\n/a\n\n\n".into(),
        });

        assert_eq!(answer.code, "SignatureDoesNotMatch");
        assert_eq!(answer.string_to_sign.as_deref(), Some("sha1\n1;2\nab\n"));
        assert_eq!(answer.format_string.as_deref(), Some("get\n/a\n\n\n"));
    }

    #[test]
    fn an_expired_signature_says_so() {
        let answer = refusal(VerifyError::Expired { end: 1, now: 2 });

        assert!(answer.message.starts_with("Request has expired"));
    }
}
