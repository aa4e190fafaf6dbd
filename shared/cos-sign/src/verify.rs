//! The store's side: checking a signed request or a signed POST form.
//!
//! A verifier recomputes the signature from what actually arrived: the path, every header
//! and parameter the signature lists, with the values they carry now. Anything changed in
//! transit changes the HttpString and so the signature. The window is checked on both
//! `q-sign-time` and `q-key-time`, and the two must be equal: only the key time is under the
//! HMAC, so a sign time checked alone, or allowed to differ, could be edited at will.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::authorization::Authorization;
use crate::canonical::{Pair, PairOrder, SignedPairs, http_string};
use crate::encode::{decode_bytes, decode_query_component, signed_name};
use crate::key_time::KeyTime;
use crate::post_policy::PostPolicy;
use crate::request::SECURITY_TOKEN;
use crate::secret::constant_time_eq;
use crate::signature::{sha1_hex, sign_key, signature, string_to_sign};
use crate::{Credentials, VerifyError};

/// A request as it arrived at the store.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The object path after any bucket prefix, as on the request line (percent-encoded),
    /// starting with `/`: `/` for the bucket root.
    pub path: &'a str,
    /// The query string without `?`, as on the request line.
    pub query: &'a str,
    /// The headers, names as received and values as raw bytes.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// In the `Authorization` header.
    Header,
    /// In the query string (a presigned URL).
    Query,
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Who signed.
    pub secret_id: String,
    /// The window that was checked.
    pub window: KeyTime,
    /// Where the signature was.
    pub carrier: Carrier,
    /// The signed header names, encoded and lowercased.
    pub signed_headers: Vec<String>,
    /// The signed parameter names, encoded and lowercased.
    pub signed_params: Vec<String>,
}

/// One decoded query parameter; `None` for a name without `=`.
type QueryPair = (String, Option<String>);

/// Splits and decodes a query string.
///
/// # Errors
///
/// [`VerifyError::NotUtf8`] when a name or value does not decode to UTF-8.
pub fn parse_query(query: &str) -> Result<Vec<QueryPair>, VerifyError> {
    let text = |bytes: std::borrow::Cow<'_, [u8]>| {
        String::from_utf8(bytes.into_owned()).map_err(|_| VerifyError::NotUtf8("query string"))
    };
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, value)) => Ok((
                text(decode_query_component(name))?,
                Some(text(decode_query_component(value))?),
            )),
            None => Ok((text(decode_query_component(part))?, None)),
        })
        .collect()
}

/// Checks the signature of a request, in its `Authorization` header or its query string.
///
/// `lookup` returns the credentials of a secret id; temporary credentials also require
/// their session token on the request, as the `x-cos-security-token` header or parameter.
///
/// # Errors
///
/// A distinct [`VerifyError`] for each cause: unsigned, malformed, unknown key, outside the
/// window, a listed header or parameter missing, a wrong or missing token, text that is not
/// UTF-8, and a signature mismatch (with the StringToSign the store expected).
pub fn verify_request<F>(
    request: &ReceivedRequest<'_>,
    now: u64,
    lookup: F,
) -> Result<Verified, VerifyError>
where
    F: FnOnce(&str) -> Option<Credentials>,
{
    let query = parse_query(request.query)?;
    let (auth, carrier) = find_authorization(request, &query)?;
    check_window(auth.sign_time, now)?;
    check_window(auth.key_time, now)?;
    // Only the key time is under the HMAC; a sign time that differs from it could be
    // edited freely. Every SDK writes the two equal.
    if auth.sign_time != auth.key_time {
        return Err(VerifyError::Malformed(
            "q-sign-time differs from q-key-time".into(),
        ));
    }
    let creds =
        lookup(&auth.secret_id).ok_or_else(|| VerifyError::UnknownKey(auth.secret_id.clone()))?;
    check_token(&creds, token_on_request(request, &query)?)?;

    let path = String::from_utf8(decode_bytes(request.path).into_owned())
        .map_err(|_| VerifyError::NotUtf8("path"))?;
    let params = signed_params(&auth.param_list, &query)?;
    let mut hosts: Vec<Option<String>> = vec![None];
    let mut headers = Vec::with_capacity(auth.header_list.len());
    for listed in &auth.header_list {
        let (name, value) = find_header(request, listed)?;
        if listed == "host" {
            // The Python SDK signs the host without its port, the Node SDK with it.
            if let Some(bare) = strip_port(&value) {
                hosts.push(Some(bare.to_owned()));
            }
        }
        headers.push((name, value));
    }

    let key_time = auth.key_time.text();
    let sign_key = sign_key(creds.secret_key(), &key_time);
    let mut first_mismatch = None;
    for host in &hosts {
        let pairs = headers
            .iter()
            .map(|(name, value)| match host {
                Some(bare) if name.eq_ignore_ascii_case("host") => Pair::new(name, bare),
                _ => Pair::new(name, value),
            })
            .collect();
        let headers = SignedPairs::new(pairs)
            .map_err(|n| VerifyError::Malformed(format!("{n} is listed twice")))?;
        let mut orders = vec![PairOrder::Encoded];
        if params.orders_differ() || headers.orders_differ() {
            orders.push(PairOrder::Raw);
        }
        for order in orders {
            let http = http_string(request.method, &path, &params, &headers, order);
            let to_sign = string_to_sign(&key_time, &http);
            if constant_time_eq(
                signature(&sign_key, &to_sign).as_bytes(),
                auth.signature.as_bytes(),
            ) {
                return Ok(Verified {
                    secret_id: auth.secret_id,
                    window: auth.key_time,
                    carrier,
                    signed_headers: auth.header_list,
                    signed_params: auth.param_list,
                });
            }
            first_mismatch.get_or_insert((to_sign, http));
        }
    }
    let (string_to_sign, http_string) = first_mismatch.unwrap_or_default();
    Err(VerifyError::SignatureMismatch {
        string_to_sign,
        http_string,
    })
}

fn find_authorization(
    request: &ReceivedRequest<'_>,
    query: &[QueryPair],
) -> Result<(Authorization, Carrier), VerifyError> {
    let mut found = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    if let Some((_, value)) = found.next() {
        if found.next().is_some() {
            return Err(VerifyError::Malformed("two Authorization headers".into()));
        }
        let value =
            std::str::from_utf8(value).map_err(|_| VerifyError::NotUtf8("Authorization header"))?;
        return Ok((Authorization::parse(value)?, Carrier::Header));
    }
    if query.iter().any(|(n, _)| n.starts_with("q-")) {
        let pairs = query
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().unwrap_or_default()));
        return Ok((Authorization::from_pairs(pairs)?, Carrier::Query));
    }
    // The merged form some SDKs use: one `sign` parameter holding the whole value.
    if let Some((_, Some(value))) = query.iter().find(|(n, _)| n == "sign") {
        return Ok((Authorization::parse(value)?, Carrier::Query));
    }
    Err(VerifyError::Unsigned)
}

fn check_window(window: KeyTime, now: u64) -> Result<(), VerifyError> {
    if now < window.start() {
        return Err(VerifyError::NotYetValid {
            start: window.start(),
            now,
        });
    }
    if now > window.end() {
        return Err(VerifyError::Expired {
            end: window.end(),
            now,
        });
    }
    Ok(())
}

fn token_on_request(
    request: &ReceivedRequest<'_>,
    query: &[QueryPair],
) -> Result<Option<String>, VerifyError> {
    if let Some((_, value)) = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(SECURITY_TOKEN))
    {
        let value =
            std::str::from_utf8(value).map_err(|_| VerifyError::NotUtf8("security token"))?;
        return Ok(Some(value.to_owned()));
    }
    Ok(query
        .iter()
        .find(|(n, _)| n == SECURITY_TOKEN)
        .map(|(_, v)| v.clone().unwrap_or_default()))
}

fn check_token(creds: &Credentials, presented: Option<String>) -> Result<(), VerifyError> {
    match (creds.session_token(), presented) {
        (None, _) => Ok(()),
        (Some(expected), Some(given))
            if constant_time_eq(expected.expose_bytes(), given.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), _) => Err(VerifyError::InvalidToken),
    }
}

fn signed_params(listed: &[String], query: &[QueryPair]) -> Result<SignedPairs, VerifyError> {
    let mut pairs = Vec::with_capacity(listed.len());
    for name in listed {
        let mut matches = query.iter().filter(|(n, _)| signed_name(n) == *name);
        let (raw, value) = matches
            .next()
            .ok_or_else(|| VerifyError::MissingSignedParameter(name.clone()))?;
        if matches.next().is_some() {
            return Err(VerifyError::Malformed(format!(
                "the signed parameter {name} appears twice"
            )));
        }
        pairs.push(Pair::new(raw, value.as_deref().unwrap_or("")));
    }
    SignedPairs::new(pairs).map_err(|n| VerifyError::Malformed(format!("{n} is listed twice")))
}

fn find_header(
    request: &ReceivedRequest<'_>,
    listed: &str,
) -> Result<(String, String), VerifyError> {
    let mut matches = request
        .headers
        .iter()
        .filter(|(n, _)| signed_name(n) == listed);
    let (name, value) = matches
        .next()
        .ok_or_else(|| VerifyError::MissingSignedHeader(listed.to_owned()))?;
    if matches.next().is_some() {
        return Err(VerifyError::Malformed(format!(
            "the signed header {listed} appears twice"
        )));
    }
    let value =
        std::str::from_utf8(value).map_err(|_| VerifyError::NotUtf8("signed header value"))?;
    Ok(((*name).to_owned(), value.to_owned()))
}

/// `host:port` → `host`; `[::1]:9000` → `[::1]`; `None` when there is no port.
fn strip_port(host: &str) -> Option<&str> {
    let (bare, port) = host.rsplit_once(':')?;
    let is_port = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    let bracketed_or_plain = bare.starts_with('[') == bare.ends_with(']')
        && (bare.ends_with(']') || !bare.contains(':'));
    (is_port && bracketed_or_plain && !bare.is_empty()).then_some(bare)
}

/// A POST form whose signature and policy checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPost {
    /// Who signed.
    pub secret_id: String,
    /// The window from `q-key-time`.
    pub window: KeyTime,
    /// The policy that was checked.
    pub policy: PostPolicy,
}

/// Checks a POST Object form: its signature over the policy, its window, and every
/// condition of the policy against the form's fields and the file's size.
///
/// `fields` are the form's text fields in order (the `key` already has `${filename}`
/// replaced), `bucket` the full bucket name the form was posted to.
///
/// # Errors
///
/// [`VerifyError::MissingFormField`] for a form without `policy` or a `q-*` field, then the
/// same causes as [`verify_request`], and those of [`PostPolicy::check`].
pub fn verify_post_form<F>(
    fields: &[(String, String)],
    size: u64,
    bucket: &str,
    now: u64,
    lookup: F,
) -> Result<VerifiedPost, VerifyError>
where
    F: FnOnce(&str) -> Option<Credentials>,
{
    let field = |name: &str| {
        let mut found = fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Ok(v.as_str()),
            (Some(_), Some(_)) => Err(VerifyError::Malformed(format!(
                "the form field {name} is given twice"
            ))),
            (None, _) => Err(VerifyError::MissingFormField(name.to_owned())),
        }
    };
    let policy_b64 = field("policy")?;
    let algorithm = field("q-sign-algorithm")?;
    let secret_id = field("q-ak")?;
    let key_time = field("q-key-time")?;
    let given_signature = field("q-signature")?;

    if !algorithm.eq_ignore_ascii_case("sha1") {
        return Err(VerifyError::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let window: KeyTime = key_time
        .parse()
        .map_err(|e| VerifyError::Malformed(format!("q-key-time: {e}")))?;
    check_window(window, now)?;
    let creds = lookup(secret_id).ok_or_else(|| VerifyError::UnknownKey(secret_id.to_owned()))?;
    let token = match field(SECURITY_TOKEN) {
        Ok(token) => Some(token.to_owned()),
        Err(VerifyError::MissingFormField(_)) => None,
        Err(other) => return Err(other),
    };
    check_token(&creds, token)?;

    let policy_bytes = STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| VerifyError::Malformed("the policy is not standard base64".into()))?;
    let string_to_sign = sha1_hex(&policy_bytes);
    let expected = signature(&sign_key(creds.secret_key(), key_time), &string_to_sign);
    if !constant_time_eq(
        expected.as_bytes(),
        given_signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(VerifyError::SignatureMismatch {
            string_to_sign,
            http_string: String::new(),
        });
    }
    let text = std::str::from_utf8(&policy_bytes).map_err(|_| VerifyError::NotUtf8("policy"))?;
    let policy = PostPolicy::parse(text).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    policy.check(fields, size, bucket, now)?;

    Ok(VerifiedPost {
        secret_id: secret_id.to_owned(),
        window,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endpoint, RequestToSign};

    const NOW: u64 = 1700000100;

    fn creds() -> Credentials {
        Credentials::new("AKIDexample", "secret").unwrap()
    }

    fn window() -> KeyTime {
        KeyTime::new(1700000000, 1700000900).unwrap()
    }

    fn check(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Verified, VerifyError> {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        let request = ReceivedRequest {
            method,
            path,
            query,
            headers: &headers,
        };
        verify_request(&request, NOW, |id| (id == "AKIDexample").then(creds))
    }

    #[test]
    fn accepts_a_header_signature_and_refuses_each_kind_of_tampering() {
        let signed = RequestToSign::new("PUT", "dir/a b.txt")
            .header("Host", "b-1.cos.ap-guangzhou.myqcloud.com")
            .header("Content-Type", "text/plain")
            .param("acl", "private")
            .sign(&creds(), window())
            .unwrap();
        let auth = signed.authorization.as_str();
        let headers = [
            ("Host", "b-1.cos.ap-guangzhou.myqcloud.com"),
            ("Content-Type", "text/plain"),
            ("Authorization", auth),
        ];

        assert!(check("PUT", "/dir/a%20b.txt", "acl=private", &headers).is_ok());

        let wrong_type = [headers[0], ("Content-Type", "text/html"), headers[2]];
        assert!(matches!(
            check("PUT", "/dir/a%20b.txt", "acl=private", &wrong_type),
            Err(VerifyError::SignatureMismatch { .. })
        ));
        assert!(matches!(
            check("PUT", "/dir/a%20c.txt", "acl=private", &headers),
            Err(VerifyError::SignatureMismatch { .. })
        ));
        assert!(matches!(
            check("GET", "/dir/a%20b.txt", "acl=private", &headers),
            Err(VerifyError::SignatureMismatch { .. })
        ));
        assert_eq!(
            check("PUT", "/dir/a%20b.txt", "", &headers),
            Err(VerifyError::MissingSignedParameter("acl".into()))
        );
        assert_eq!(
            check(
                "PUT",
                "/dir/a%20b.txt",
                "acl=private",
                &[headers[0], headers[2]]
            ),
            Err(VerifyError::MissingSignedHeader("content-type".into()))
        );
        assert_eq!(
            check("PUT", "/dir/a%20b.txt", "acl=private", &headers[..2]),
            Err(VerifyError::Unsigned)
        );
    }

    #[test]
    fn a_mismatch_carries_the_expected_string_to_sign() {
        let signed = RequestToSign::new("GET", "a")
            .sign(&creds(), window())
            .unwrap();

        let result = check("GET", "/b", "", &[("Authorization", &signed.authorization)]);

        let Err(VerifyError::SignatureMismatch {
            string_to_sign,
            http_string,
        }) = result
        else {
            panic!("expected a mismatch, got {result:?}");
        };
        assert_eq!(http_string, "get\n/b\n\n\n");
        assert!(string_to_sign.starts_with("sha1\n1700000000;1700000900\n"));
    }

    #[test]
    fn the_window_is_checked_on_both_times() {
        let signed = RequestToSign::new("GET", "a")
            .sign(&creds(), window())
            .unwrap();
        let stretched = signed.authorization.replacen(
            "q-sign-time=1700000000;1700000900",
            "q-sign-time=1700000000;1800000000",
            1,
        );
        let late = |auth: &str| {
            let headers: [(&str, &[u8]); 1] = [("Authorization", auth.as_bytes())];
            let request = ReceivedRequest {
                method: "GET",
                path: "/a",
                query: "",
                headers: &headers,
            };
            verify_request(&request, 1700001000, |_| Some(creds()))
        };

        assert!(matches!(
            late(&signed.authorization),
            Err(VerifyError::Expired { .. })
        ));
        assert!(matches!(late(&stretched), Err(VerifyError::Expired { .. })));
        let early = {
            let headers: [(&str, &[u8]); 1] = [("Authorization", signed.authorization.as_bytes())];
            let request = ReceivedRequest {
                method: "GET",
                path: "/a",
                query: "",
                headers: &headers,
            };
            verify_request(&request, 1600000000, |_| Some(creds()))
        };
        assert!(matches!(early, Err(VerifyError::NotYetValid { .. })));
    }

    #[test]
    fn a_sign_time_that_differs_from_the_key_time_is_refused() {
        let signed = RequestToSign::new("GET", "a")
            .sign(&creds(), window())
            .unwrap();
        let shifted = signed.authorization.replacen(
            "q-sign-time=1700000000;1700000900",
            "q-sign-time=1700000001;1700000900",
            1,
        );

        let result = check("GET", "/a", "", &[("Authorization", &shifted)]);

        assert!(check("GET", "/a", "", &[("Authorization", &signed.authorization)]).is_ok());
        assert_eq!(
            result,
            Err(VerifyError::Malformed(
                "q-sign-time differs from q-key-time".into()
            ))
        );
    }

    #[test]
    fn accepts_the_host_with_or_without_its_port() {
        let with_port = RequestToSign::new("GET", "a")
            .header("Host", "127.0.0.1:9000")
            .sign(&creds(), window())
            .unwrap();
        let without = RequestToSign::new("GET", "a")
            .header("Host", "127.0.0.1")
            .sign(&creds(), window())
            .unwrap();

        for auth in [&with_port.authorization, &without.authorization] {
            assert!(
                check(
                    "GET",
                    "/a",
                    "",
                    &[("host", "127.0.0.1:9000"), ("Authorization", auth)]
                )
                .is_ok()
            );
        }
        assert!(
            check(
                "GET",
                "/a",
                "",
                &[
                    ("host", "127.0.0.2:9000"),
                    ("Authorization", &without.authorization)
                ]
            )
            .is_err()
        );
    }

    #[test]
    fn accepts_a_presigned_url_and_refuses_a_changed_parameter() {
        let endpoint = Endpoint::custom("http://127.0.0.1:9000").unwrap();
        let url = RequestToSign::new("GET", "k")
            .param("response-content-type", "text/plain")
            .presign(&endpoint, true, &creds(), window())
            .unwrap();
        let query = url.split_once('?').unwrap().1;
        let host = [("Host", "127.0.0.1:9000")];

        let verified = check("GET", "/k", query, &host).unwrap();

        assert_eq!(verified.carrier, Carrier::Query);
        let tampered = query.replace("text%2Fplain", "text%2Fhtml");
        assert!(matches!(
            check("GET", "/k", &tampered, &host),
            Err(VerifyError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn temporary_credentials_need_their_token() {
        let temp = creds().with_session_token("tok").unwrap();
        let signed = RequestToSign::new("GET", "a")
            .sign(&temp, window())
            .unwrap();
        let run = |headers: &[(&str, &str)]| {
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            let request = ReceivedRequest {
                method: "GET",
                path: "/a",
                query: "",
                headers: &headers,
            };
            verify_request(&request, NOW, |_| Some(temp.clone()))
        };
        let auth = signed.authorization.as_str();

        assert!(run(&[("Authorization", auth), ("x-cos-security-token", "tok")]).is_ok());
        assert_eq!(
            run(&[("Authorization", auth)]),
            Err(VerifyError::InvalidToken)
        );
        assert_eq!(
            run(&[("Authorization", auth), ("x-cos-security-token", "tok2")]),
            Err(VerifyError::InvalidToken)
        );
    }

    #[test]
    fn non_utf8_is_an_error() {
        let signed = RequestToSign::new("GET", "a")
            .sign(&creds(), window())
            .unwrap();
        let auth = signed.authorization.as_str();

        assert_eq!(
            check("GET", "/%FF", "", &[("Authorization", auth)]),
            Err(VerifyError::NotUtf8("path"))
        );
        assert_eq!(
            check("GET", "/a", "x=%FF", &[("Authorization", auth)]),
            Err(VerifyError::NotUtf8("query string"))
        );
        assert!(matches!(
            check("GET", "/a", "", &[("Authorization", "garbage")]),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn strips_ports_only_where_there_is_one() {
        assert_eq!(strip_port("a.b:9000"), Some("a.b"));
        assert_eq!(strip_port("[::1]:9000"), Some("[::1]"));
        assert_eq!(strip_port("a.b"), None);
        assert_eq!(strip_port("[::1]"), None);
        assert_eq!(strip_port(":9000"), None);
    }

    #[test]
    fn a_post_form_verifies_and_each_tampering_is_refused() {
        let form = PostPolicy::new(1700000900)
            .equals("key", "u/1/a.png")
            .content_length_range(1, 100)
            .sign(&creds(), window())
            .unwrap();
        let lookup = |id: &str| (id == "AKIDexample").then(creds);

        assert!(verify_post_form(&form.fields, 10, "b-1", NOW, lookup).is_ok());

        let mut other_key = form.fields.clone();
        other_key[0].1 = "u/2/a.png".into();
        assert!(matches!(
            verify_post_form(&other_key, 10, "b-1", NOW, lookup),
            Err(VerifyError::PolicyViolation { .. })
        ));
        assert!(matches!(
            verify_post_form(&form.fields, 101, "b-1", NOW, lookup),
            Err(VerifyError::EntityTooLarge { .. })
        ));
        let mut forged = form.fields.clone();
        let signature = forged.iter_mut().find(|(n, _)| n == "q-signature").unwrap();
        signature.1.replace_range(
            0..1,
            if signature.1.starts_with('0') {
                "1"
            } else {
                "0"
            },
        );
        assert!(matches!(
            verify_post_form(&forged, 10, "b-1", NOW, lookup),
            Err(VerifyError::SignatureMismatch { .. })
        ));
        let no_policy: Vec<_> = form
            .fields
            .iter()
            .filter(|(n, _)| n != "policy")
            .cloned()
            .collect();
        assert_eq!(
            verify_post_form(&no_policy, 10, "b-1", NOW, lookup),
            Err(VerifyError::MissingFormField("policy".into()))
        );
    }
}
