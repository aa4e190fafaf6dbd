//! Hostile inputs for the parsers and verifiers, each with the one error it must give.
//!
//! The fuzz targets in `fuzz/` look for panics and broken round trips; what they find is
//! kept here, beside inputs picked by hand for being nasty: empty strings, a lone `=`,
//! `&&&`, numbers past `u64::MAX`, bytes that are not UTF-8 inside base64 or percent
//! escapes, and inputs of a megabyte. None may panic, and each must name its own failure.

#![allow(clippy::unwrap_used)] // A test that cannot build its fixture should stop right there.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

use cos_sign::{
    Authorization, Credentials, KeyTime, PostPolicy, ReceivedRequest, RequestToSign, SignError,
    VerifyError, decode_v4, parse_query, sign_post_policy, sign_v4_plaintext, verify_post_form,
    verify_request, verify_v4,
};

const SECRET_ID: &str = "AKIDexample";
const SECRET_KEY: &str = "secret";
const NOW: u64 = 1_700_000_100;
const MEGABYTE: usize = 1 << 20;

fn creds() -> Credentials {
    Credentials::new(SECRET_ID, SECRET_KEY).unwrap()
}

fn window() -> KeyTime {
    KeyTime::new(1_700_000_000, 1_700_000_900).unwrap()
}

fn lookup(id: &str) -> Option<Credentials> {
    (id == SECRET_ID).then(creds)
}

fn malformed(why: &str) -> VerifyError {
    VerifyError::Malformed(why.to_owned())
}

/// A valid `Authorization` value for `GET /a`, to be broken one field at a time.
fn valid_authorization() -> String {
    RequestToSign::new("GET", "a")
        .sign(&creds(), window())
        .unwrap()
        .authorization
}

/// Verifies `GET <path>?<query>` with the given headers.
fn verify(path: &str, query: &str, headers: &[(&str, &[u8])]) -> Result<(), VerifyError> {
    let request = ReceivedRequest {
        method: "GET",
        path,
        query,
        headers,
    };
    verify_request(&request, NOW, lookup).map(|_| ())
}

/// Verifies a request written as the `verify_query` fuzz target reads it: up to six lines,
/// method, path, query, `Host`, `Authorization` and `x-cos-security-token`, against the
/// target's key table.
fn verify_lines(text: &str) -> Result<cos_sign::Verified, VerifyError> {
    let lines: Vec<&str> = text.splitn(6, '\n').collect();
    let line = |i: usize| lines.get(i).copied().unwrap_or_default();
    let names = ["Host", "Authorization", "x-cos-security-token"];
    let headers: Vec<(&str, &[u8])> = names
        .iter()
        .zip(lines.iter().skip(3))
        .map(|(n, v)| (*n, v.as_bytes()))
        .collect();
    let request = ReceivedRequest {
        method: line(0),
        path: line(1),
        query: line(2),
        headers: &headers,
    };
    verify_request(&request, NOW, |id| match id {
        "AKIDexample" => Some(creds()),
        "AKIDtemp" => Credentials::new("AKIDtemp", "temp-secret")
            .and_then(|c| c.with_session_token("token+value"))
            .ok(),
        _ => None,
    })
}

/// A token whose MAC is right for its bytes, whatever they are.
fn v4_token_over(plaintext: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    mac.update(plaintext);
    let mut bytes = mac.finalize().into_bytes().to_vec();
    bytes.extend_from_slice(plaintext);
    STANDARD.encode(bytes)
}

#[test]
fn authorization_values_with_nothing_in_them_are_malformed() {
    for value in ["", "=", "&&&", "   ", "&=&=&"] {
        assert_eq!(
            Authorization::parse(value),
            Err(malformed("q-sign-algorithm is missing")),
            "{value:?}"
        );
    }
    // A name without `=` is present with an empty value.
    assert_eq!(
        Authorization::parse("q-sign-algorithm"),
        Err(malformed("q-ak is missing"))
    );
}

#[test]
fn authorization_times_past_u64_max_are_malformed() {
    let valid = valid_authorization();
    let cases = [
        // One more than u64::MAX: twenty digits, so only the number parse can refuse it.
        "18446744073709551616;1",
        // Twenty-one digits.
        "1;100000000000000000000",
        "99999999999999999999;99999999999999999999",
    ];
    for time in cases {
        let value = valid.replacen("1700000000;1700000900", time, 1);

        let result = Authorization::parse(&value);

        assert_eq!(
            result,
            Err(malformed(&format!(
                "q-sign-time: {time:?} is not a <start>;<end> window"
            )))
        );
    }
}

#[test]
fn a_window_of_u64_max_parses_and_is_not_yet_valid() {
    let max = u64::MAX;
    let value = valid_authorization().replace("1700000000;1700000900", &format!("{max};{max}"));
    let headers: [(&str, &[u8]); 1] = [("Authorization", value.as_bytes())];

    let result = verify("/a", "", &headers);

    assert_eq!(
        result,
        Err(VerifyError::NotYetValid {
            start: max,
            now: NOW
        })
    );
}

#[test]
fn an_authorization_signature_that_is_not_hex_is_malformed() {
    let valid = valid_authorization();
    let signature = valid.rsplit_once("q-signature=").unwrap().1;
    let not_hex = format!("{}g", &signature[..39]);

    let result = Authorization::parse(&valid.replace(signature, &not_hex));

    assert_eq!(result, Err(malformed("q-signature is not 40 hex digits")));
}

#[test]
fn an_unknown_algorithm_is_named() {
    let value = valid_authorization().replace("q-sign-algorithm=sha1", "q-sign-algorithm=sha256");

    assert_eq!(
        Authorization::parse(&value),
        Err(VerifyError::UnsupportedAlgorithm("sha256".into()))
    );
}

#[test]
fn empty_names_in_the_header_list_are_missing_headers() {
    let value = valid_authorization().replace("q-header-list=", "q-header-list=;;");
    let headers: [(&str, &[u8]); 1] = [("Authorization", value.as_bytes())];

    let parsed = Authorization::parse(&value).unwrap();
    let result = verify("/a", "", &headers);

    assert_eq!(parsed.header_list, ["", "", ""]);
    assert_eq!(result, Err(VerifyError::MissingSignedHeader(String::new())));
}

#[test]
fn a_header_listed_twice_is_malformed() {
    let signed = RequestToSign::new("GET", "a")
        .header("Host", "h")
        .sign(&creds(), window())
        .unwrap();
    let value = signed
        .authorization
        .replace("q-header-list=host", "q-header-list=host;host");
    let headers: [(&str, &[u8]); 2] = [("Host", b"h"), ("Authorization", value.as_bytes())];

    assert_eq!(
        verify("/a", "", &headers),
        Err(malformed("host is listed twice"))
    );
}

#[test]
fn a_megabyte_authorization_value_is_handled() {
    let long_id = valid_authorization().replace(
        &format!("q-ak={SECRET_ID}"),
        &format!("q-ak={}", "A".repeat(MEGABYTE)),
    );
    let only_ampersands = "&".repeat(MEGABYTE);
    let repeated = "q-ak=x&".repeat(MEGABYTE / 7);
    let headers: [(&str, &[u8]); 1] = [("Authorization", long_id.as_bytes())];

    assert_eq!(
        verify("/a", "", &headers),
        Err(VerifyError::UnknownKey("A".repeat(MEGABYTE)))
    );
    assert_eq!(
        Authorization::parse(&only_ampersands),
        Err(malformed("q-sign-algorithm is missing"))
    );
    assert_eq!(
        Authorization::parse(&repeated),
        Err(malformed("q-ak is given twice"))
    );
}

#[test]
fn degenerate_queries_split_into_what_they_hold() {
    assert_eq!(parse_query(""), Ok(vec![]));
    assert_eq!(parse_query("&&&"), Ok(vec![]));
    assert_eq!(
        parse_query("="),
        Ok(vec![(String::new(), Some(String::new()))])
    );
    assert_eq!(
        parse_query("==&a"),
        Ok(vec![
            (String::new(), Some("=".to_owned())),
            ("a".to_owned(), None)
        ])
    );
    // A `%` without two hex digits stays itself, as browsers leave it.
    assert_eq!(
        parse_query("%&%4&%zz=+"),
        Ok(vec![
            ("%".to_owned(), None),
            ("%4".to_owned(), None),
            ("%zz".to_owned(), Some(" ".to_owned()))
        ])
    );
}

#[test]
fn percent_escapes_that_are_not_utf8_are_refused() {
    for query in ["%FF", "a=%C3", "%C3%28=b", "x=%ED%A0%80"] {
        assert_eq!(
            parse_query(query),
            Err(VerifyError::NotUtf8("query string")),
            "{query}"
        );
        assert_eq!(
            verify("/a", query, &[]),
            Err(VerifyError::NotUtf8("query string")),
            "{query}"
        );
    }
}

#[test]
fn unsigned_and_half_signed_queries_are_told_apart() {
    assert_eq!(verify("/a", "", &[]), Err(VerifyError::Unsigned));
    assert_eq!(verify("/a", "=&&&", &[]), Err(VerifyError::Unsigned));
    assert_eq!(
        verify("/a", "q-ak=x", &[]),
        Err(malformed("q-sign-algorithm is missing"))
    );
    assert_eq!(
        verify("/a", "sign=", &[]),
        Err(malformed("q-sign-algorithm is missing"))
    );
    assert_eq!(
        verify("/a", "sign=q-sign-algorithm%3Dmd5", &[]),
        Err(malformed("q-ak is missing"))
    );
}

#[test]
fn a_presigned_query_with_a_repeated_field_is_malformed() {
    let url = RequestToSign::new("GET", "a")
        .presign(
            &cos_sign::Endpoint::custom("http://127.0.0.1:9000").unwrap(),
            false,
            &creds(),
            window(),
        )
        .unwrap();
    let query = url.split_once('?').unwrap().1;

    let result = verify("/a", &format!("{query}&q-ak=other"), &[]);

    assert_eq!(result, Err(malformed("q-ak is given twice")));
}

#[test]
fn text_that_must_be_utf8_but_is_not_is_refused() {
    let valid = valid_authorization();
    let mut broken = valid.clone().into_bytes();
    broken.push(0xFF);
    let signed_host = RequestToSign::new("GET", "a")
        .header("Host", "h")
        .sign(&creds(), window())
        .unwrap();
    let two: [(&str, &[u8]); 2] = [
        ("Authorization", valid.as_bytes()),
        ("authorization", valid.as_bytes()),
    ];

    assert_eq!(
        verify("/a", "", &[("Authorization", &broken)]),
        Err(VerifyError::NotUtf8("Authorization header"))
    );
    assert_eq!(
        verify("/%FF%FE", "", &[("Authorization", valid.as_bytes())]),
        Err(VerifyError::NotUtf8("path"))
    );
    assert_eq!(
        verify(
            "/a",
            "",
            &[
                ("Host", b"h\xFF"),
                ("Authorization", signed_host.authorization.as_bytes())
            ]
        ),
        Err(VerifyError::NotUtf8("signed header value"))
    );
    assert_eq!(
        verify("/a", "", &two),
        Err(malformed("two Authorization headers"))
    );
}

#[test]
fn a_megabyte_query_is_handled() {
    let noise = "x=y&".repeat(MEGABYTE / 4);
    let escapes = "%41".repeat(MEGABYTE / 3);

    assert_eq!(verify("/a", &noise, &[]), Err(VerifyError::Unsigned));
    assert_eq!(
        parse_query(&escapes).unwrap(),
        [("A".repeat(MEGABYTE / 3), None)]
    );
}

#[test]
fn v4_tokens_with_nothing_in_them_are_malformed() {
    let short = malformed("v4 token: shorter than its digest");
    let not_base64 = malformed("v4 token: not standard base64");

    assert_eq!(decode_v4(""), Err(short.clone()));
    assert_eq!(decode_v4("   "), Err(short.clone()));
    assert_eq!(decode_v4(&STANDARD.encode([0u8; 20])), Err(short));
    assert_eq!(decode_v4("="), Err(not_base64.clone()));
    assert_eq!(decode_v4("&&&"), Err(not_base64.clone()));
    // Standard base64 wants its padding.
    assert_eq!(decode_v4("YWJ"), Err(not_base64.clone()));
    assert_eq!(verify_v4("=", NOW, lookup), Err(not_base64));
}

#[test]
fn v4_plaintext_that_is_not_utf8_is_refused() {
    let token = v4_token_over(b"a=1&b=\xFF\xFE&k=AKIDexample&e=1&t=1&r=1&f=");

    assert_eq!(decode_v4(&token), Err(VerifyError::NotUtf8("v4 plaintext")));
    assert_eq!(
        verify_v4(&token, NOW, lookup),
        Err(VerifyError::NotUtf8("v4 plaintext"))
    );
}

#[test]
fn v4_numbers_past_u64_max_are_malformed() {
    let number = malformed("v4 token: a missing or non-decimal number");
    for e in [
        "18446744073709551616",
        "100000000000000000000",
        "-1",
        "+1",
        "",
        " 1",
    ] {
        let plaintext = format!("a=1&b=b&k={SECRET_ID}&e={e}&t=1&r=1&f=");

        let result = decode_v4(&sign_v4_plaintext(&plaintext, &creds()));

        assert_eq!(result, Err(number.clone()), "e={e:?}");
    }
}

#[test]
fn a_v4_token_at_u64_max_verifies_and_a_forged_one_does_not() {
    let plaintext = format!("a=1&b=b&k={SECRET_ID}&e={0}&t={0}&r={0}&f=", u64::MAX);
    let token = sign_v4_plaintext(&plaintext, &creds());
    let mut forged = STANDARD.decode(&token).unwrap();
    forged[0] ^= 1;

    let claims = verify_v4(&token, NOW, lookup).unwrap();

    assert_eq!((claims.expired, claims.rand), (u64::MAX, u64::MAX));
    assert!(matches!(
        verify_v4(&STANDARD.encode(forged), NOW, lookup),
        Err(VerifyError::SignatureMismatch { .. })
    ));
}

#[test]
fn v4_fields_without_equals_or_unknown_are_malformed() {
    let cases = [
        ("&&&", "v4 token: a field without '='"),
        ("=", "v4 token: an unknown field"),
        (
            "a=1&b=2&k=3&e=4&t=5&r=6&f=7&",
            "v4 token: a field without '='",
        ),
        ("a=1&a=1", "v4 token: a repeated field"),
        ("a=1&b=2&k=3&e=4&t=5&r=6", "v4 token: a missing field"),
    ];
    for (plaintext, why) in cases {
        assert_eq!(
            decode_v4(&sign_v4_plaintext(plaintext, &creds())),
            Err(malformed(why)),
            "{plaintext:?}"
        );
    }
}

#[test]
fn a_megabyte_v4_token_is_handled() {
    let fileid = "f".repeat(MEGABYTE);
    let plaintext = format!("a=1&b=b&k=nobody&e=1&t=1&r=1&f={fileid}");
    let garbage = "A".repeat(MEGABYTE);

    let result = verify_v4(&sign_v4_plaintext(&plaintext, &creds()), NOW, lookup);

    assert_eq!(result, Err(VerifyError::UnknownKey("nobody".into())));
    // A megabyte of `A` is valid base64 for zero bytes: a plaintext of NULs, one field.
    assert_eq!(
        decode_v4(&garbage),
        Err(malformed("v4 token: a field without '='"))
    );
}

#[test]
fn policies_with_nothing_in_them_are_malformed() {
    let cases: [(&str, &str); 5] = [
        ("", "EOF while parsing a value at line 1 column 0"),
        ("=", "expected value at line 1 column 1"),
        ("&&&", "expected value at line 1 column 1"),
        ("{}", "expiration is missing or not a string"),
        (
            r#"{"expiration":"2030-01-01T00:00:00Z"}"#,
            "conditions is missing or not an array",
        ),
    ];
    for (text, why) in cases {
        assert_eq!(
            PostPolicy::parse(text),
            Err(SignError::MalformedPolicy(why.to_owned())),
            "{text:?}"
        );
    }
}

#[test]
fn policy_bounds_past_u64_max_or_below_zero_are_malformed() {
    for bound in ["18446744073709551616", "1e30", "-1", "1.5", "\"10\""] {
        let text = format!(
            r#"{{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",0,{bound}]]}}"#
        );

        assert_eq!(
            PostPolicy::parse(&text),
            Err(SignError::MalformedPolicy(
                "content-length-range bounds must be whole numbers".into()
            )),
            "{bound}"
        );
    }
}

#[test]
fn policy_expirations_outside_what_rfc3339_allows_are_malformed() {
    for expiration in ["10000-01-01T00:00:00Z", "2030-13-01T00:00:00Z", "", "soon"] {
        let text = format!(r#"{{"expiration":"{expiration}","conditions":[]}}"#);

        let result = PostPolicy::parse(&text);

        assert!(
            matches!(&result, Err(SignError::MalformedPolicy(why)) if why.starts_with("expiration")),
            "{expiration:?}: {result:?}"
        );
    }
}

#[test]
fn a_megabyte_of_nesting_is_refused_without_overflowing_the_stack() {
    let deep = "[".repeat(MEGABYTE);

    let result = PostPolicy::parse(&deep);

    assert_eq!(
        result,
        Err(SignError::MalformedPolicy(
            "recursion limit exceeded at line 1 column 128".into()
        ))
    );
}

#[test]
fn a_megabyte_policy_signs_and_verifies() {
    let key = "k".repeat(MEGABYTE);
    let policy = PostPolicy::new(1_700_000_900).equals("key", key.as_str());

    let form = policy.sign(&creds(), window()).unwrap();
    let result = verify_post_form(&form.fields, 1, "b-1", NOW, lookup);

    assert_eq!(result.unwrap().policy.conditions().len(), 4);
}

#[test]
fn a_form_whose_policy_is_not_base64_or_not_utf8_is_refused() {
    let form = sign_post_policy(
        r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[]}"#,
        &creds(),
        window(),
    )
    .unwrap();
    let with_policy = |policy: &str, signature: &str| -> Vec<(String, String)> {
        form.fields
            .iter()
            .map(|(name, value)| match name.as_str() {
                "policy" => (name.clone(), policy.to_owned()),
                "q-signature" => (name.clone(), signature.to_owned()),
                _ => (name.clone(), value.clone()),
            })
            .collect()
    };
    // A correct signature over bytes that are not UTF-8: only the text check can refuse it.
    let bytes = b"{\"expiration\":\"\xFF\"}";
    let mut sign_key = Hmac::<Sha1>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    sign_key.update(window().to_string().as_bytes());
    let sign_key = hex::encode(sign_key.finalize().into_bytes());
    let mut mac = Hmac::<Sha1>::new_from_slice(sign_key.as_bytes()).unwrap();
    mac.update(hex::encode(Sha1::digest(bytes)).as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());

    assert_eq!(
        verify_post_form(&with_policy("&&&", &form.signature), 1, "b-1", NOW, lookup),
        Err(malformed("the policy is not standard base64"))
    );
    assert_eq!(
        verify_post_form(
            &with_policy(&STANDARD.encode(bytes), &signature),
            1,
            "b-1",
            NOW,
            lookup
        ),
        Err(VerifyError::NotUtf8("policy"))
    );
}

/// Found by the `post_policy` target: `["eq","$$key",…]` parsed to the field `$key`, which
/// was written back as `{"$key":…}` and so read again as `key`.
#[test]
fn a_policy_field_named_with_a_dollar_keeps_its_name_through_json() {
    let text =
        r#"{"expiration":"2023-11-14T22:28:20.000Z","conditions":[["eq","$$key","a/b.txt"]]}"#;

    let policy = PostPolicy::parse(text).unwrap();
    let again = PostPolicy::parse(&policy.to_json()).unwrap();

    assert_eq!(again, policy);
    assert_eq!(
        again.conditions(),
        [cos_sign::Condition::Equals {
            field: "$key".into(),
            value: "a/b.txt".into()
        }]
    );
}

/// Every input a fuzz target ever failed on, kept under `fuzz/regressions/<target>/` and
/// checked here the way the target checks it.
#[test]
fn every_kept_fuzz_finding_now_passes() {
    let root = format!("{}/fuzz/regressions", env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;

    for target in [
        "authorization_parse",
        "verify_query",
        "v4_token",
        "post_policy",
    ] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{target}")) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let name = path.display();
            match target {
                "authorization_parse" => {
                    if let Ok(auth) = Authorization::parse(&text) {
                        assert_eq!(Authorization::parse(&auth.to_string()), Ok(auth), "{name}");
                    }
                }
                "v4_token" => {
                    if let Ok(decoded) = decode_v4(&text) {
                        let token = sign_v4_plaintext(&decoded.plaintext, &creds());
                        assert!(decode_v4(&token).is_ok(), "{name}");
                    }
                }
                "post_policy" => {
                    if let Ok(policy) = PostPolicy::parse(&text) {
                        let again = PostPolicy::parse(&policy.to_json());
                        assert_eq!(again, Ok(policy), "{name}");
                    }
                }
                _ => {
                    let _ = verify_lines(&text);
                }
            }
            replayed += 1;
        }
    }

    assert!(replayed >= 1, "no findings under {root}");
}

/// The fuzz targets start from the seeds in `fuzz/seeds`; a seed that no longer verifies
/// would leave the deep checks unreached, so each must still pass as it stands.
#[test]
fn every_fuzz_seed_is_still_accepted() {
    let seeds = |target: &str| {
        let dir = format!("{}/fuzz/seeds/{target}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds in {dir}");
        files
            .into_iter()
            .map(|path| (path.display().to_string(), std::fs::read(path).unwrap()))
            .collect::<Vec<_>>()
    };
    for (name, seed) in seeds("authorization_parse") {
        let text = String::from_utf8(seed).unwrap();
        let pairs = parse_query(&text).unwrap();
        let as_query =
            Authorization::from_pairs(pairs.into_iter().map(|(n, v)| (n, v.unwrap_or_default())));
        assert!(as_query.is_ok(), "{name}: {as_query:?}");
    }
    for (name, seed) in seeds("verify_query") {
        let text = String::from_utf8(seed).unwrap();

        let result = verify_lines(&text);

        assert!(result.is_ok(), "{name}: {result:?}");
    }
    for (name, seed) in seeds("v4_token") {
        let text = String::from_utf8(seed).unwrap();
        if text.starts_with("a=") {
            continue; // A plaintext, which the target signs itself.
        }
        assert!(verify_v4(&text, NOW, lookup).is_ok(), "{name}");
    }
    for (name, seed) in seeds("post_policy") {
        let text = String::from_utf8(seed).unwrap();
        assert!(PostPolicy::parse(&text).is_ok(), "{name}");
    }
}
