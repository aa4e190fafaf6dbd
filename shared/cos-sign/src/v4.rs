//! Legacy v4 tokens of the JSON API ("file ID" era): reusable and one-time.
//!
//! A token is `base64(HMAC-SHA1(SecretKey, plaintext) ‖ plaintext)`, the raw 20-byte digest
//! followed by the plaintext `a=<appid>&b=<bucket>&k=<SecretId>&e=<expiry>&t=<now>&r=<rand>&f=<fileid>`.
//! The plaintext travels inside the token, so its field order is free; we write the
//! documented order `a,b,k,e,t,r,f` and read any order.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::encode::encode_keep_slash;
use crate::key_time::parse_seconds;
use crate::secret::constant_time_eq;
use crate::signature::hmac_sha1;
use crate::{Credentials, SignError, VerifyError};

/// The largest random number a v4 token may carry: ten decimal digits.
pub const MAX_RAND: u64 = 9_999_999_999;

/// What a v4 token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Claims {
    /// `a`: the account's APPID.
    pub appid: String,
    /// `b`: the bucket's short name, without `-<appid>`.
    pub bucket: String,
    /// `k`: the secret id that signed.
    pub secret_id: String,
    /// `e`: expiry in Unix seconds; `0` marks a one-time token.
    pub expired: u64,
    /// `t`: when it was signed, Unix seconds.
    pub current: u64,
    /// `r`: a random number of at most ten digits.
    pub rand: u64,
    /// `f`: the file id the token is bound to, already encoded (see [`v4_fileid`]); empty for
    /// a reusable token that is not bound to one object.
    pub fileid: String,
}

impl V4Claims {
    /// Whether this is a one-time token (`e=0`), valid for the one object in `f`.
    pub fn is_one_time(&self) -> bool {
        self.expired == 0
    }

    /// The plaintext, in the documented order `a,b,k,e,t,r,f`.
    pub fn plaintext(&self) -> String {
        format!(
            "a={}&b={}&k={}&e={}&t={}&r={}&f={}",
            self.appid,
            self.bucket,
            self.secret_id,
            self.expired,
            self.current,
            self.rand,
            self.fileid
        )
    }

    /// Signs the claims with the secret key of `creds` (whose id must be `secret_id`).
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidCredential`] when `secret_id` is not the id of `creds`, or when a
    /// field holds `&` or `=` (which would change the plaintext's meaning), a random number
    /// over ten digits, or a one-time token without a file id.
    pub fn sign(&self, creds: &Credentials) -> Result<String, SignError> {
        if self.secret_id != creds.secret_id() {
            return Err(SignError::InvalidCredential("secret id of the v4 claims"));
        }
        let texts = [&self.appid, &self.bucket, &self.secret_id, &self.fileid];
        if texts.iter().any(|t| t.contains(['&', '='])) {
            return Err(SignError::InvalidCredential("v4 field with '&' or '='"));
        }
        if self.rand > MAX_RAND {
            return Err(SignError::InvalidCredential(
                "v4 random number over ten digits",
            ));
        }
        if self.is_one_time() && self.fileid.is_empty() {
            return Err(SignError::InvalidCredential(
                "one-time v4 token without a file id",
            ));
        }
        Ok(sign_v4_plaintext(&self.plaintext(), creds))
    }
}

/// Signs a v4 plaintext exactly as given.
pub fn sign_v4_plaintext(plaintext: &str, creds: &Credentials) -> String {
    let mac = hmac_sha1(creds.secret_key().expose_bytes(), plaintext.as_bytes());
    let mut bytes = Vec::with_capacity(20 + plaintext.len());
    bytes.extend_from_slice(&mac);
    bytes.extend_from_slice(plaintext.as_bytes());
    STANDARD.encode(bytes)
}

/// The file id of an object: `/<appid>/<bucket>/<path>`, every byte of the path encoded
/// but the unreserved characters and `/`.
pub fn v4_fileid(appid: &str, bucket: &str, path: &str) -> String {
    format!(
        "/{appid}/{bucket}/{}",
        encode_keep_slash(path.trim_start_matches('/'))
    )
}

/// A token taken apart, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedV4 {
    /// The fields of the plaintext.
    pub claims: V4Claims,
    /// The plaintext as carried (its field order is the signer's).
    pub plaintext: String,
    mac: [u8; 20],
}

/// Takes a token apart without checking its MAC.
///
/// # Errors
///
/// [`VerifyError::Malformed`] for bad base64, a token shorter than its digest, a missing,
/// repeated or unknown field, or a number that is not plain decimal;
/// [`VerifyError::NotUtf8`] for a plaintext that is not UTF-8.
pub fn decode_v4(token: &str) -> Result<DecodedV4, VerifyError> {
    let malformed = |why: &str| VerifyError::Malformed(format!("v4 token: {why}"));
    let bytes = STANDARD
        .decode(token.trim())
        .map_err(|_| malformed("not standard base64"))?;
    if bytes.len() <= 20 {
        return Err(malformed("shorter than its digest"));
    }
    let (mac, plaintext) = bytes.split_at(20);
    let plaintext =
        std::str::from_utf8(plaintext).map_err(|_| VerifyError::NotUtf8("v4 plaintext"))?;

    let mut fields: [Option<&str>; 7] = [None; 7];
    for pair in plaintext.split('&') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| malformed("a field without '='"))?;
        let slot = ["a", "b", "k", "e", "t", "r", "f"]
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| malformed("an unknown field"))?;
        if fields[slot].replace(value).is_some() {
            return Err(malformed("a repeated field"));
        }
    }
    let text = |i: usize| {
        fields[i]
            .ok_or_else(|| malformed("a missing field"))
            .map(str::to_owned)
    };
    let number = |i: usize| {
        fields[i]
            .and_then(parse_seconds)
            .ok_or_else(|| malformed("a missing or non-decimal number"))
    };
    let claims = V4Claims {
        appid: text(0)?,
        bucket: text(1)?,
        secret_id: text(2)?,
        expired: number(3)?,
        current: number(4)?,
        rand: number(5)?,
        fileid: text(6)?,
    };
    let mut digest = [0u8; 20];
    digest.copy_from_slice(mac);
    Ok(DecodedV4 {
        claims,
        plaintext: plaintext.to_owned(),
        mac: digest,
    })
}

/// Checks a token: its MAC under the secret key `lookup` returns for its secret id, and its
/// expiry.
///
/// One-time tokens do not expire; that each is used only once is for the caller to enforce.
///
/// # Errors
///
/// Those of [`decode_v4`], then [`VerifyError::UnknownKey`],
/// [`VerifyError::SignatureMismatch`] (carrying the plaintext), [`VerifyError::Expired`], and
/// [`VerifyError::Malformed`] for a one-time token without a file id.
pub fn verify_v4<F>(token: &str, now: u64, lookup: F) -> Result<V4Claims, VerifyError>
where
    F: FnOnce(&str) -> Option<Credentials>,
{
    let decoded = decode_v4(token)?;
    let claims = decoded.claims;
    let creds = lookup(&claims.secret_id)
        .ok_or_else(|| VerifyError::UnknownKey(claims.secret_id.clone()))?;
    let expected = hmac_sha1(
        creds.secret_key().expose_bytes(),
        decoded.plaintext.as_bytes(),
    );
    if !constant_time_eq(&expected, &decoded.mac) {
        return Err(VerifyError::SignatureMismatch {
            string_to_sign: decoded.plaintext,
            http_string: String::new(),
        });
    }
    if claims.is_one_time() {
        if claims.fileid.is_empty() {
            return Err(VerifyError::Malformed(
                "one-time v4 token without a file id".into(),
            ));
        }
    } else if now > claims.expired {
        return Err(VerifyError::Expired {
            end: claims.expired,
            now,
        });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("AKIDexample", "secret").unwrap()
    }

    fn claims() -> V4Claims {
        V4Claims {
            appid: "1250000000".into(),
            bucket: "examplebucket".into(),
            secret_id: "AKIDexample".into(),
            expired: 2000,
            current: 1000,
            rand: 123,
            fileid: String::new(),
        }
    }

    #[test]
    fn a_signed_token_decodes_and_verifies() {
        let token = claims().sign(&creds()).unwrap();

        assert_eq!(verify_v4(&token, 1500, |_| Some(creds())), Ok(claims()));
        assert!(matches!(
            verify_v4(&token, 2001, |_| Some(creds())),
            Err(VerifyError::Expired { .. })
        ));
        assert!(matches!(
            verify_v4(&token, 1500, |_| None),
            Err(VerifyError::UnknownKey(_))
        ));
        let other = Credentials::new("AKIDexample", "other").unwrap();
        assert!(matches!(
            verify_v4(&token, 1500, |_| Some(other)),
            Err(VerifyError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn one_time_tokens_need_a_file_id_and_do_not_expire() {
        let mut once = claims();
        once.expired = 0;
        assert!(once.sign(&creds()).is_err());

        once.fileid = v4_fileid("1250000000", "examplebucket", "dir/a b.txt");
        let token = once.sign(&creds()).unwrap();

        assert_eq!(once.fileid, "/1250000000/examplebucket/dir/a%20b.txt");
        assert!(verify_v4(&token, u64::MAX, |_| Some(creds())).is_ok());
    }

    #[test]
    fn any_field_order_decodes() {
        let plaintext = "a=1&k=AKIDexample&e=2000&t=1000&r=5&f=&b=bkt";
        let token = sign_v4_plaintext(plaintext, &creds());

        let decoded = decode_v4(&token).unwrap();

        assert_eq!(decoded.claims.bucket, "bkt");
        assert_eq!(decoded.plaintext, plaintext);
    }

    #[test]
    fn malformed_tokens_are_errors() {
        let sign = |p: &str| sign_v4_plaintext(p, &creds());
        let cases = [
            "not base64!".to_owned(),
            STANDARD.encode([0u8; 20]),
            sign("a=1&b=2&k=3&e=4&t=5&r=6"),
            sign("a=1&b=2&k=3&e=4&t=5&r=6&f=&f="),
            sign("a=1&b=2&k=3&e=x&t=5&r=6&f="),
            sign("a=1&b=2&k=3&e=4&t=5&r=6&f=&z=1"),
        ];
        for case in cases {
            assert!(
                matches!(decode_v4(&case), Err(VerifyError::Malformed(_))),
                "{case}"
            );
        }
        let mut not_utf8 = vec![0u8; 20];
        not_utf8.extend_from_slice(b"a=\xff");
        assert_eq!(
            decode_v4(&STANDARD.encode(not_utf8)),
            Err(VerifyError::NotUtf8("v4 plaintext"))
        );
    }
}
