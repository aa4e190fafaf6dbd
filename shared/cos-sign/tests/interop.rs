//! Interoperability proof: our signatures against the official Python and Node COS SDKs.
//!
//! A seeded generator makes a few hundred requests (odd keys, valueless and reserved
//! parameters, header case and meta headers, temporary credentials, presigned URLs). One
//! process per SDK signs them all at fixed times, and this test demands that our crate
//! signs each one exactly as the two SDKs do where they agree, and as COS-SIGNING.md
//! section 0 chose where they differ. The verifier must then accept every signature any of
//! them produced, and refuse each one with a single byte of the request, the window or the
//! signature changed.
//!
//! It needs the official SDKs (`make deps`: the venv and node_modules) and fails, never
//! skips, without them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test that cannot build its fixture should stop right there.

#[path = "common/cases.rs"]
mod cases;
#[path = "common/drivers.rs"]
mod drivers;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use percent_encoding::percent_decode_str;

use cos_sign::encode::encode;
use cos_sign::{
    Carrier, Credentials, Endpoint, KeyTime, ReceivedRequest, RequestToSign, SECURITY_TOKEN,
    SignError, Verified, VerifyError, parse_query, verify_request,
};

use cases::{Case, Divergence, Kind, Sdk};
use drivers::SdkOutput;

/// The cases and what each SDK made of them, computed once for all tests of this file.
struct Batch {
    cases: Vec<Case>,
    python: Vec<SdkOutput>,
    node: Vec<SdkOutput>,
}

fn batch() -> &'static Batch {
    static BATCH: OnceLock<Batch> = OnceLock::new();
    BATCH.get_or_init(|| {
        let cases = cases::generate();
        let outputs = drivers::run_both(&cases);
        Batch {
            cases,
            python: outputs.python,
            node: outputs.node,
        }
    })
}

/// Who signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Signer {
    Python,
    Node,
    Ours,
}

/// A signature as produced, with the URL it goes to.
#[derive(Debug, Clone)]
enum Signed {
    /// An `Authorization` value and the unsigned URL of the object.
    Header { authorization: String, url: String },
    /// A presigned URL.
    Presign { url: String },
}

fn credentials(case: &Case) -> Credentials {
    let creds = Credentials::new(&case.secret_id, &case.secret_key).unwrap();
    match &case.token {
        Some(token) => creds.with_session_token(token).unwrap(),
        None => creds,
    }
}

fn request(case: &Case) -> RequestToSign {
    let mut request = RequestToSign::new(&case.method, &case.key);
    for (name, value) in &case.params {
        request = match value {
            Some(value) => request.param(name, value),
            None => request.flag(name),
        };
    }
    for (name, value) in &case.headers {
        request = request.header(name, value);
    }
    request
}

/// Our crate's signature for a case.
fn ours(case: &Case) -> Result<Signed, SignError> {
    let endpoint = Endpoint::cos(&case.bucket, &case.region)?;
    let window = KeyTime::new(case.start, case.end)?;
    let creds = credentials(case);
    let mut request = request(case);
    match case.kind {
        Kind::Header => {
            if case.sign_host {
                request = request.header("host", case.domain());
            }
            let signed = request.sign(&creds, window)?;
            Ok(Signed::Header {
                authorization: signed.authorization,
                url: endpoint.object_url(&case.key),
            })
        }
        Kind::Presign => Ok(Signed::Presign {
            url: request.presign(&endpoint, case.sign_host, &creds, window)?,
        }),
    }
}

fn sdk_signed(case: &Case, output: &SdkOutput, name: &str) -> Signed {
    if let Some(error) = &output.error {
        panic!("the {name} SDK refused case {}: {error}\n{case:?}", case.id);
    }
    let url = output.url.clone().expect("every answer carries a URL");
    match case.kind {
        Kind::Header => Signed::Header {
            authorization: output
                .authorization
                .clone()
                .expect("an Authorization value"),
            url,
        },
        Kind::Presign => Signed::Presign { url },
    }
}

/// `(path, query)` of a URL, both still encoded.
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_query = rest.find('/').map_or("/", |i| &rest[i..]);
    path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""))
}

fn signed_name(name: &str) -> String {
    encode(name).to_ascii_lowercase()
}

/// What a presigned URL says, independent of how it spells it: the decoded path, the seven
/// `q-*` fields, and each signed parameter's decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PresignView {
    path: String,
    fields: BTreeMap<String, String>,
    signed_params: BTreeMap<String, String>,
}

fn presign_view(url: &str) -> PresignView {
    let (path, query) = split_url(url);
    let path = percent_decode_str(path).decode_utf8().unwrap().into_owned();
    let pairs = parse_query(query).unwrap();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone().unwrap_or_default())
    };
    let fields: BTreeMap<String, String> = [
        "q-sign-algorithm",
        "q-ak",
        "q-sign-time",
        "q-key-time",
        "q-header-list",
        "q-url-param-list",
        "q-signature",
    ]
    .into_iter()
    .map(|n| (n.to_owned(), field(n).unwrap_or_else(|| "<missing>".into())))
    .collect();
    let signed_params = fields["q-url-param-list"]
        .split(';')
        .filter(|n| !n.is_empty())
        .map(|listed| {
            let value = pairs
                .iter()
                .find(|(n, _)| signed_name(n) == listed)
                .map_or_else(
                    || "<missing>".into(),
                    |(_, v)| v.clone().unwrap_or_default(),
                );
            (listed.to_owned(), value)
        })
        .collect();
    PresignView {
        path,
        fields,
        signed_params,
    }
}

/// The part of a signature that must agree byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
enum View {
    Authorization(String),
    Presigned(PresignView),
}

fn view(signed: &Signed) -> View {
    match signed {
        Signed::Header { authorization, .. } => View::Authorization(authorization.clone()),
        Signed::Presign { url } => View::Presigned(presign_view(url)),
    }
}

#[test]
fn our_signatures_match_the_sdks_where_they_agree_and_the_documented_choice_where_not() {
    let batch = batch();
    let mut failures = Vec::new();
    let mut by_feature: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
    let mut by_divergence: BTreeMap<Divergence, [usize; 2]> = BTreeMap::new();

    for (i, case) in batch.cases.iter().enumerate() {
        let python = view(&sdk_signed(case, &batch.python[i], "Python"));
        let node = view(&sdk_signed(case, &batch.node[i], "Node"));
        let ours = match ours(case) {
            Ok(signed) => view(&signed),
            Err(e) => {
                failures.push(format!(
                    "case {}: our crate refused it: {e}\n{case:?}",
                    case.id
                ));
                continue;
            }
        };
        let agree = python == node;
        let slot = usize::from(!agree);
        for feature in cases::features(case) {
            by_feature.entry(feature).or_default()[slot] += 1;
        }
        if let Some(divergence) = case.divergence {
            by_divergence.entry(divergence).or_default()[slot] += 1;
        }

        let problem = match (agree, case.divergence) {
            (true, None) if ours == python => None,
            (true, None) => Some("the SDKs agree and we differ".to_owned()),
            (false, Some(d)) => {
                let reference = match d.reference() {
                    Sdk::Python => &python,
                    Sdk::Node => &node,
                };
                (ours != *reference).then(|| {
                    format!(
                        "the SDKs differ on {d}; we must match {:?} and do not",
                        d.reference()
                    )
                })
            }
            (true, Some(d)) => Some(format!("expected the SDKs to differ on {d}, they agree")),
            (false, None) => Some("the SDKs differ where no difference is documented".into()),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "case {}: {problem}\n  case:   {case:?}\n  python: {python:?}\n  node:   {node:?}\n  ours:   {ours:?}",
                case.id
            ));
        }
    }

    let total = batch.cases.len();
    let presigned = batch
        .cases
        .iter()
        .filter(|c| c.kind == Kind::Presign)
        .count();
    eprintln!(
        "{total} cases ({} header signatures, {presigned} presigned URLs), seed {:#x}",
        total - presigned,
        cases::SEED
    );
    eprintln!(
        "\n{:<48} {:>6} {:>6}",
        "documented difference", "agree", "differ"
    );
    for (divergence, [agree, differ]) in &by_divergence {
        eprintln!("{:<48} {agree:>6} {differ:>6}", divergence.to_string());
    }
    let none = total - by_divergence.values().map(|[a, d]| a + d).sum::<usize>();
    eprintln!("{:<48} {none:>6}", "(none: the SDKs must agree)");
    eprintln!(
        "\n{:<48} {:>6} {:>6}",
        "cases exercising", "agree", "differ"
    );
    for (feature, [agree, differ]) in &by_feature {
        eprintln!("{feature:<48} {agree:>6} {differ:>6}");
    }

    assert!(total >= 300, "only {total} cases");
    for divergence in Divergence::ALL {
        let [_, differ] = by_divergence.get(&divergence).copied().unwrap_or_default();
        assert!(
            differ >= 5,
            "only {differ} cases where the SDKs differ on {divergence}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// A request as a store would receive it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

impl Received {
    fn verify(&self, now: u64, creds: &Credentials) -> Result<Verified, VerifyError> {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let request = ReceivedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
        };
        verify_request(&request, now, |id| {
            (id == creds.secret_id()).then(|| creds.clone())
        })
    }

    /// The same request with one field of the signature changed, wherever it travels.
    fn with_field(&self, field: &str, change: impl Fn(&str) -> String) -> Self {
        let mut out = self.clone();
        if let Some((_, auth)) = out
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        {
            *auth = auth
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((n, v)) if n == field => format!("{n}={}", change(v)),
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&");
        } else {
            out.query = out.changed_query(|n| n == field, change);
        }
        out
    }

    /// The same request with one signed header's value changed.
    fn with_header(&self, listed: &str, change: impl Fn(&str) -> String) -> Self {
        let mut out = self.clone();
        let (_, value) = out
            .headers
            .iter_mut()
            .find(|(n, _)| signed_name(n) == listed)
            .expect("a signed header is on the request");
        *value = change(value);
        out
    }

    /// The same request with one parameter's value changed.
    fn with_param(&self, listed: &str, change: impl Fn(&str) -> String) -> Self {
        let mut out = self.clone();
        out.query = out.changed_query(|n| signed_name(n) == listed, change);
        out
    }

    /// The query, decoded, with the first parameter `which` picks changed, encoded again.
    fn changed_query(
        &self,
        which: impl Fn(&str) -> bool,
        change: impl Fn(&str) -> String,
    ) -> String {
        let mut pairs = parse_query(&self.query).unwrap();
        let (_, value) = pairs
            .iter_mut()
            .find(|(n, _)| which(n))
            .expect("the parameter to change is in the query");
        *value = Some(change(value.as_deref().unwrap_or("")));
        render_query(&pairs)
    }
}

fn render_query(pairs: &[(String, Option<String>)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!("{}={}", encode(n), encode(v)),
            None => encode(n).into_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The request that carries a signature: the case's headers and the host, with the token
/// and `Authorization` header for header signatures, or the presigned URL's query.
fn received(case: &Case, signer: Signer, signed: &Signed) -> Received {
    let mut headers = case.headers.clone();
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        headers.push(("Host".into(), case.domain()));
    }
    match signed {
        Signed::Header { authorization, url } => {
            if let Some(token) = &case.token {
                headers.push((SECURITY_TOKEN.into(), token.clone()));
            }
            headers.push(("Authorization".into(), authorization.clone()));
            Received {
                method: case.method.clone(),
                path: split_url(url).0.to_owned(),
                query: header_case_query(case, signer),
                headers,
            }
        }
        Signed::Presign { url } => {
            let (path, query) = split_url(url);
            Received {
                method: case.method.clone(),
                path: path.to_owned(),
                query: query.to_owned(),
                headers,
            }
        }
    }
}

/// The query of a header-signed request, with each valueless parameter as its signer saw
/// it: Python's `None` signs the text `None`, its `""` an empty value.
fn header_case_query(case: &Case, signer: Signer) -> String {
    let pairs: Vec<(String, Option<String>)> = case
        .params
        .iter()
        .map(|(n, v)| {
            let v = match (v, signer) {
                (Some(v), _) => Some(v.clone()),
                (None, Signer::Python) if case.null_as_none => Some("None".into()),
                (None, Signer::Python) => Some(String::new()),
                (None, _) => None,
            };
            (n.clone(), v)
        })
        .collect();
    render_query(&pairs)
}

/// Changes one byte: the last ASCII letter or digit, else the last ASCII character; a text
/// with no ASCII character (or none at all) gets one appended instead.
fn change_one_byte(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let swap = |b: u8| if b == b'a' { b'b' } else { b'a' };
    if let Some(i) = bytes.iter().rposition(u8::is_ascii_alphanumeric) {
        bytes[i] = swap(bytes[i]);
    } else if let Some(i) = bytes.iter().rposition(u8::is_ascii) {
        bytes[i] = b'x';
    } else {
        bytes.push(b'x');
    }
    String::from_utf8(bytes).unwrap()
}

/// Changes one byte of an encoded path, never inside a `%XX` escape nor its leading `/`.
fn change_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut escape_left = 0;
    let mut last = None;
    for (i, b) in bytes.iter().enumerate() {
        if escape_left > 0 {
            escape_left -= 1;
        } else if *b == b'%' {
            escape_left = 2;
        } else if i > 0 && b.is_ascii_alphanumeric() {
            last = Some(i);
        }
    }
    let mut out = bytes.to_vec();
    match last {
        Some(i) => out[i] = if out[i] == b'a' { b'b' } else { b'a' },
        None => out.push(b'x'),
    }
    String::from_utf8(out).unwrap()
}

/// `<start>;<end>` with the last digit of the start moved by one.
fn nudge_start(window: &str) -> String {
    let (start, end) = window.split_once(';').unwrap();
    let mut start = start.as_bytes().to_vec();
    let last = start.last_mut().unwrap();
    *last = if *last == b'9' { b'8' } else { *last + 1 };
    format!("{};{end}", String::from_utf8(start).unwrap())
}

/// `<start>;<end>` with the last digit of the end moved by one.
fn nudge_end(window: &str) -> String {
    let (start, end) = window.split_once(';').unwrap();
    let swapped = nudge_start(&format!("{end};{start}"));
    let (end, _) = swapped.split_once(';').unwrap();
    format!("{start};{end}")
}

fn flip_hex_digit(signature: &str) -> String {
    let mut out = signature.as_bytes().to_vec();
    out[0] = if out[0] == b'0' { b'1' } else { b'0' };
    String::from_utf8(out).unwrap()
}

/// The error a tampered request must get.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Mismatch,
    Malformed,
    Expired { end: u64, now: u64 },
    NotYetValid { start: u64, now: u64 },
    InvalidToken,
}

impl Expect {
    fn accepts(&self, error: &VerifyError) -> bool {
        match (self, error) {
            (Self::Mismatch, VerifyError::SignatureMismatch { .. }) => true,
            (Self::Malformed, VerifyError::Malformed(_)) => true,
            (Self::InvalidToken, VerifyError::InvalidToken) => true,
            (Self::Expired { end, now }, VerifyError::Expired { end: e, now: n }) => {
                (end, now) == (e, n)
            }
            (Self::NotYetValid { start, now }, VerifyError::NotYetValid { start: s, now: n }) => {
                (start, now) == (s, n)
            }
            _ => false,
        }
    }
}

/// One tampered request: what changed, the request, when it is checked, and the error due.
struct Tampered {
    what: &'static str,
    request: Received,
    now: u64,
    expect: Expect,
}

/// Every one-byte change the verifier must refuse, for a request it accepted.
fn tamperings(case: &Case, request: &Received, verified: &Verified) -> Vec<Tampered> {
    let now = case.now();
    let mut out = vec![
        Tampered {
            what: "path",
            request: Received {
                path: change_path(&request.path),
                ..request.clone()
            },
            now,
            expect: Expect::Mismatch,
        },
        Tampered {
            what: "q-sign-time digit",
            request: request.with_field("q-sign-time", nudge_start),
            now,
            expect: Expect::Malformed,
        },
        Tampered {
            what: "q-key-time digit",
            request: request.with_field("q-key-time", nudge_end),
            now,
            expect: Expect::Malformed,
        },
        Tampered {
            what: "both window fields, same digit",
            request: request
                .with_field("q-sign-time", nudge_start)
                .with_field("q-key-time", nudge_start),
            now,
            expect: Expect::Mismatch,
        },
        Tampered {
            what: "signature digit",
            request: request.with_field("q-signature", flip_hex_digit),
            now,
            expect: Expect::Mismatch,
        },
        Tampered {
            what: "now after the window",
            request: request.clone(),
            now: case.end + 1,
            expect: Expect::Expired {
                end: case.end,
                now: case.end + 1,
            },
        },
        Tampered {
            what: "now before the window",
            request: request.clone(),
            now: case.start - 1,
            expect: Expect::NotYetValid {
                start: case.start,
                now: case.start - 1,
            },
        },
    ];
    // Rotating through the signed names by case number spreads the changes over all of them.
    let headers: Vec<&String> = verified
        .signed_headers
        .iter()
        .filter(|n| *n != SECURITY_TOKEN)
        .collect();
    if !headers.is_empty() {
        let listed = headers[case.id % headers.len()];
        out.push(Tampered {
            what: "signed header value",
            request: request.with_header(listed, change_one_byte),
            now,
            expect: Expect::Mismatch,
        });
    }
    let params: Vec<&String> = verified
        .signed_params
        .iter()
        .filter(|n| *n != SECURITY_TOKEN)
        .collect();
    if !params.is_empty() {
        let listed = params[case.id % params.len()];
        out.push(Tampered {
            what: "signed parameter value",
            request: request.with_param(listed, change_one_byte),
            now,
            expect: Expect::Mismatch,
        });
    }
    if case.token.is_some() {
        let changed = match verified.carrier {
            Carrier::Header => request.with_header(SECURITY_TOKEN, change_one_byte),
            Carrier::Query => request.with_param(SECURITY_TOKEN, change_one_byte),
        };
        out.push(Tampered {
            what: "security token",
            request: changed,
            now,
            expect: Expect::InvalidToken,
        });
    }
    out
}

#[test]
fn the_verifier_accepts_every_signature_and_refuses_each_one_byte_change() {
    let batch = batch();
    let mut failures = Vec::new();
    let mut accepted: BTreeMap<Signer, usize> = BTreeMap::new();
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();

    for (i, case) in batch.cases.iter().enumerate() {
        let creds = credentials(case);
        let signatures = [
            (Signer::Python, sdk_signed(case, &batch.python[i], "Python")),
            (Signer::Node, sdk_signed(case, &batch.node[i], "Node")),
            (Signer::Ours, ours(case).unwrap()),
        ];
        for (signer, signed) in &signatures {
            let request = received(case, *signer, signed);

            let verified = match request.verify(case.now(), &creds) {
                Ok(verified) => verified,
                Err(e) => {
                    failures.push(format!(
                        "case {}: {signer:?}'s signature refused: {e:?}\n  {request:?}",
                        case.id
                    ));
                    continue;
                }
            };

            let carrier = match case.kind {
                Kind::Header => Carrier::Header,
                Kind::Presign => Carrier::Query,
            };
            assert_eq!(verified.carrier, carrier, "case {}", case.id);
            assert_eq!(verified.secret_id, case.secret_id, "case {}", case.id);
            *accepted.entry(*signer).or_default() += 1;
            for tampered in tamperings(case, &request, &verified) {
                let result = tampered.request.verify(tampered.now, &creds);
                match &result {
                    Err(e) if tampered.expect.accepts(e) => {
                        *refused.entry(tampered.what).or_default() += 1;
                    }
                    _ => failures.push(format!(
                        "case {}: {signer:?}'s signature with the {} changed: expected {:?}, got {result:?}\n  {:?}",
                        case.id, tampered.what, tampered.expect, tampered.request
                    )),
                }
            }
        }
    }

    eprintln!("signatures accepted: {accepted:?}");
    eprintln!("{:<36} {:>8}", "one-byte change", "refused");
    for (what, count) in &refused {
        eprintln!("{what:<36} {count:>8}");
    }
    assert!(
        failures.is_empty(),
        "{} verifier checks failed; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    let signatures = batch.cases.len() * 3;
    for what in [
        "path",
        "q-sign-time digit",
        "q-key-time digit",
        "both window fields, same digit",
        "signature digit",
        "now after the window",
        "now before the window",
    ] {
        assert_eq!(refused.get(what), Some(&signatures), "{what}");
    }
    for what in [
        "signed header value",
        "signed parameter value",
        "security token",
    ] {
        assert!(
            refused.get(what).is_some_and(|n| *n >= 30),
            "{what}: {refused:?}"
        );
    }
}

#[test]
fn inputs_the_sdks_read_differently_are_refused() {
    let creds = Credentials::new("AKIDexample", "secret").unwrap();
    let window = KeyTime::new(1_700_000_000, 1_700_000_900).unwrap();
    let endpoint = Endpoint::cos("examplebucket-1250000000", "ap-guangzhou").unwrap();
    let cases = [
        (
            RequestToSign::new("GET", "/a/b"),
            SignError::KeyStartsWithSlash("/a/b".into()),
        ),
        (
            RequestToSign::new("GET", "//a"),
            SignError::KeyStartsWithSlash("//a".into()),
        ),
        (
            RequestToSign::new("PUT", "a")
                .header("Content-Type", "text/plain")
                .header("content-type", "text/html"),
            SignError::DuplicateHeader("content-type".into()),
        ),
        (
            RequestToSign::new("PUT", "a")
                .header("X-Cos-Meta-A", "1")
                .header("x-cos-meta-a", "2"),
            SignError::DuplicateHeader("x-cos-meta-a".into()),
        ),
        (
            RequestToSign::new("PUT", "a").header("x-cos-meta-a", " padded"),
            SignError::InvalidHeaderValue("x-cos-meta-a".into()),
        ),
        (
            RequestToSign::new("PUT", "a").header("Content-Type", "text/plain\t"),
            SignError::InvalidHeaderValue("Content-Type".into()),
        ),
    ];

    for (request, expected) in cases {
        let signed = request.sign(&creds, window);
        let presigned = request.presign(&endpoint, true, &creds, window);

        assert_eq!(signed.unwrap_err(), expected);
        assert_eq!(presigned.unwrap_err(), expected);
    }
}
