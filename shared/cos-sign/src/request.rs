//! Request signatures: the `Authorization` value of a COS XML API request.

use crate::authorization::Authorization;
use crate::canonical::{Pair, PairOrder, SignedPairs, http_string};
use crate::key_time::KeyTime;
use crate::signature::{sign_key, signature, string_to_sign};
use crate::{Credentials, SignError};

/// The header that carries the session token of temporary credentials.
pub const SECURITY_TOKEN: &str = "x-cos-security-token";

/// Headers signed by default (besides every `x-cos-*` and `x-ci-*` header): those that
/// change what COS stores or returns. `Date`, `User-Agent`, `Accept` and `Connection` are
/// left out, as every official SDK leaves them out.
const DEFAULT_SIGNED: [&str; 17] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-length",
    "content-md5",
    "content-type",
    "expect",
    "expires",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "origin",
    "pic-operations",
    "range",
    "transfer-encoding",
];

/// Whether a header is signed when the caller does not name the signed headers.
pub fn signed_by_default(name: &str) -> bool {
    let has_prefix = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    has_prefix("x-cos-")
        || has_prefix("x-ci-")
        || DEFAULT_SIGNED.iter().any(|d| d.eq_ignore_ascii_case(name))
}

/// A request to sign: method, object key, query parameters and headers.
///
/// ```
/// use cos_sign::{Credentials, KeyTime, RequestToSign};
///
/// let creds = Credentials::new("AKIDexample", "secret")?;
/// let signed = RequestToSign::new("PUT", "photos/cat.jpg")
///     .header("Host", "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com")
///     .header("Content-Type", "image/jpeg")
///     .sign(&creds, KeyTime::new(1700000000, 1700000900)?)?;
///
/// assert!(signed.authorization.starts_with("q-sign-algorithm=sha1&q-ak=AKIDexample&"));
/// assert!(signed.authorization.contains("&q-header-list=content-type;host&"));
/// # Ok::<(), cos_sign::SignError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestToSign {
    pub(crate) method: String,
    pub(crate) key: String,
    pub(crate) params: Vec<(String, Option<String>)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) signed_headers: Option<Vec<String>>,
}

impl RequestToSign {
    /// A request for `key` (`""` is the bucket root), with no parameters or headers yet.
    pub fn new(method: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            key: key.into(),
            params: Vec::new(),
            headers: Vec::new(),
            signed_headers: None,
        }
    }

    /// Adds a query parameter with a value. Every parameter is signed.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), Some(value.into())));
        self
    }

    /// Adds a parameter without a value, such as `uploads` in `?uploads`; it signs as `name=`.
    pub fn flag(mut self, name: impl Into<String>) -> Self {
        self.params.push((name.into(), None));
        self
    }

    /// Adds a header the request will carry.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Signs exactly these headers (case-insensitive) instead of the default rule.
    pub fn sign_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.signed_headers = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Signs the request.
    ///
    /// With temporary credentials, `x-cos-security-token` is added to the signed headers;
    /// [`RequestSignature::headers_to_add`] says what the caller must send besides its own.
    ///
    /// # Errors
    ///
    /// A [`SignError`] for an invalid method, a key starting with `/`, a header name that is
    /// not a token, a header value with surrounding whitespace or a control character, two
    /// headers or parameters with the same name, or a named header that is not given.
    pub fn sign(
        &self,
        creds: &Credentials,
        window: KeyTime,
    ) -> Result<RequestSignature, SignError> {
        let token_header = creds
            .session_token()
            .map(|t| (SECURITY_TOKEN.to_owned(), t.expose().to_owned()));
        let canonical =
            self.canonical(token_header.as_ref().map(|(n, v)| (n.as_str(), v.as_str())))?;
        Ok(canonical.sign(creds, window, token_header.into_iter().collect()))
    }

    /// Validates the request and forms its canonical parts, with an optional extra header.
    pub(crate) fn canonical(
        &self,
        extra_header: Option<(&str, &str)>,
    ) -> Result<Canonical, SignError> {
        let method = validate_method(&self.method)?;
        let path = object_path(&self.key)?;

        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        headers.extend(extra_header);
        for (name, value) in &headers {
            validate_header(name, value)?;
        }
        let signed: Vec<Pair> = match &self.signed_headers {
            None => headers
                .iter()
                .filter(|(n, _)| signed_by_default(n))
                .map(|(n, v)| Pair::new(n, v))
                .collect(),
            Some(names) => {
                let mut chosen = Vec::with_capacity(names.len() + 1);
                for wanted in names {
                    let (name, value) = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
                        .ok_or_else(|| SignError::MissingHeader(wanted.clone()))?;
                    chosen.push(Pair::new(name, value));
                }
                if let Some((name, value)) = extra_header
                    && !names.iter().any(|n| n.eq_ignore_ascii_case(name))
                {
                    chosen.push(Pair::new(name, value));
                }
                chosen
            }
        };
        // Duplicates are refused across all headers, signed or not: which copy an HTTP
        // stack would send is anyone's guess. A request carries a handful of headers, so
        // comparing every pair costs less than sorting lowercased copies; the error names
        // the smallest repeated name, as a sort would.
        let twin = headers
            .iter()
            .enumerate()
            .filter(|(i, (a, _))| headers[..*i].iter().any(|(b, _)| a.eq_ignore_ascii_case(b)))
            .map(|(_, (name, _))| name.to_ascii_lowercase())
            .min();
        if let Some(twin) = twin {
            return Err(SignError::DuplicateHeader(twin));
        }
        let headers = SignedPairs::new(signed).map_err(SignError::DuplicateHeader)?;

        let params = self
            .params
            .iter()
            .map(|(n, v)| Pair::new(n, v.as_deref().unwrap_or("")))
            .collect();
        let params = SignedPairs::new(params).map_err(SignError::DuplicateParameter)?;

        Ok(Canonical {
            method,
            path,
            params,
            headers,
        })
    }
}

/// A validated request in canonical form, ready for the HMAC steps.
pub(crate) struct Canonical {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) params: SignedPairs,
    pub(crate) headers: SignedPairs,
}

impl Canonical {
    pub(crate) fn sign(
        self,
        creds: &Credentials,
        window: KeyTime,
        headers_to_add: Vec<(String, String)>,
    ) -> RequestSignature {
        let key_time = window.text();
        let http_string = http_string(
            &self.method,
            &self.path,
            &self.params,
            &self.headers,
            PairOrder::Encoded,
        );
        let string_to_sign = string_to_sign(&key_time, &http_string);
        let signature = signature(&sign_key(creds.secret_key(), &key_time), &string_to_sign);
        let authorization = Authorization {
            secret_id: creds.secret_id().to_owned(),
            sign_time: window,
            key_time: window,
            header_list: self.headers.into_names(),
            param_list: self.params.into_names(),
            signature,
        };
        // Sized up front: `to_string` would grow the buffer five or six times.
        let mut text = String::with_capacity(authorization.text_len());
        authorization.push_to(&mut text);
        RequestSignature {
            authorization: text,
            fields: authorization,
            http_string,
            string_to_sign,
            headers_to_add,
        }
    }
}

/// A signed request.
///
/// `Debug` shows the intermediate strings for whoever is chasing a SignatureDoesNotMatch;
/// the signature itself is a credential for the window, so keep it out of logs.
#[derive(Debug, Clone)]
pub struct RequestSignature {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The same value, field by field.
    pub fields: Authorization,
    /// The canonical request that was hashed.
    pub http_string: String,
    /// The string that was HMACed.
    pub string_to_sign: String,
    /// Headers the caller must add to the request (the session token of temporary
    /// credentials), already signed.
    pub headers_to_add: Vec<(String, String)>,
}

fn validate_method(method: &str) -> Result<String, SignError> {
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(SignError::InvalidMethod(method.to_owned()));
    }
    Ok(method.to_ascii_lowercase())
}

/// `"/" + key`; the bucket root is `/`.
pub(crate) fn object_path(key: &str) -> Result<String, SignError> {
    if key.starts_with('/') {
        return Err(SignError::KeyStartsWithSlash(key.to_owned()));
    }
    let mut path = String::with_capacity(key.len() + 1);
    path.push('/');
    path.push_str(key);
    Ok(path)
}

fn validate_header(name: &str, value: &str) -> Result<(), SignError> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(SignError::InvalidHeaderName(name.to_owned()));
    }
    let surrounded = value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']);
    if surrounded || value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(SignError::InvalidHeaderValue(name.to_owned()));
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("AKIDexample", "secret").unwrap()
    }

    fn window() -> KeyTime {
        KeyTime::new(1700000000, 1700000900).unwrap()
    }

    #[test]
    fn the_default_rule_signs_content_headers_and_x_cos_headers_only() {
        let signed = RequestToSign::new("PUT", "a.txt")
            .header("Content-Type", "text/plain")
            .header("User-Agent", "test")
            .header("X-COS-Meta-Owner", "42")
            .header("Date", "Tue, 14 Nov 2023 22:13:20 GMT")
            .sign(&creds(), window())
            .unwrap();

        assert_eq!(
            signed.fields.header_list,
            ["content-type", "x-cos-meta-owner"]
        );
        assert_eq!(
            signed.http_string,
            "put\n/a.txt\n\ncontent-type=text%2Fplain&x-cos-meta-owner=42\n"
        );
    }

    #[test]
    fn named_headers_replace_the_default_rule() {
        let signed = RequestToSign::new("GET", "")
            .header("Date", "now")
            .header("Content-Type", "x")
            .sign_headers(["date"])
            .sign(&creds(), window())
            .unwrap();

        assert_eq!(signed.fields.header_list, ["date"]);
        assert_eq!(signed.http_string, "get\n/\n\ndate=now\n");
    }

    #[test]
    fn a_named_header_that_is_not_given_is_an_error() {
        let result = RequestToSign::new("GET", "a")
            .sign_headers(["host"])
            .sign(&creds(), window());

        assert_eq!(result.unwrap_err(), SignError::MissingHeader("host".into()));
    }

    #[test]
    fn valueless_parameters_sign_as_empty_values() {
        let signed = RequestToSign::new("POST", "big.bin")
            .flag("uploads")
            .sign(&creds(), window())
            .unwrap();

        assert_eq!(signed.http_string, "post\n/big.bin\nuploads=\n\n");
        assert_eq!(signed.fields.param_list, ["uploads"]);
    }

    #[test]
    fn temporary_credentials_sign_their_token_header() {
        let creds = creds().with_session_token("tok+en").unwrap();

        let signed = RequestToSign::new("GET", "a")
            .sign(&creds, window())
            .unwrap();

        assert_eq!(signed.fields.header_list, ["x-cos-security-token"]);
        assert_eq!(
            signed.headers_to_add,
            [(SECURITY_TOKEN.to_owned(), "tok+en".to_owned())]
        );
        assert!(
            signed
                .http_string
                .ends_with("x-cos-security-token=tok%2Ben\n")
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let cases = [
            (
                RequestToSign::new("", "a"),
                SignError::InvalidMethod(String::new()),
            ),
            (
                RequestToSign::new("G T", "a"),
                SignError::InvalidMethod("G T".into()),
            ),
            (
                RequestToSign::new("GET", "/a"),
                SignError::KeyStartsWithSlash("/a".into()),
            ),
            (
                RequestToSign::new("GET", "a")
                    .header("Host", "x")
                    .header("host", "y"),
                SignError::DuplicateHeader("host".into()),
            ),
            (
                RequestToSign::new("GET", "a")
                    .header("User-Agent", "x")
                    .header("user-agent", "y"),
                SignError::DuplicateHeader("user-agent".into()),
            ),
            (
                RequestToSign::new("GET", "a").header("Content-Type", " text/plain"),
                SignError::InvalidHeaderValue("Content-Type".into()),
            ),
            (
                RequestToSign::new("GET", "a").header("x-cos-meta-a", "b\r\nc"),
                SignError::InvalidHeaderValue("x-cos-meta-a".into()),
            ),
            (
                RequestToSign::new("GET", "a").header("bad name", "v"),
                SignError::InvalidHeaderName("bad name".into()),
            ),
            (
                RequestToSign::new("GET", "a")
                    .param("Acl", "1")
                    .param("acl", "2"),
                SignError::DuplicateParameter("acl".into()),
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(request.sign(&creds(), window()).unwrap_err(), expected);
        }
    }
}
