//! `parse_query` and `verify_request` on an arbitrary request, against a fixed key table.
//!
//! The input is up to six lines: method, path, query, `Host`, `Authorization` and
//! `x-cos-security-token` (the last three only sent when their line is there). The seeds
//! are valid presigned and header-signed requests, so mutations reach every check.

#![no_main]

use libfuzzer_sys::fuzz_target;

use cos_sign::{Credentials, ReceivedRequest, VerifyError, parse_query, verify_request};

/// Inside the window of the seeds.
const NOW: u64 = 1_700_000_100;

fn lookup(id: &str) -> Option<Credentials> {
    match id {
        "AKIDexample" => Credentials::new("AKIDexample", "secret").ok(),
        "AKIDtemp" => Credentials::new("AKIDtemp", "temp-secret")
            .and_then(|c| c.with_session_token("token+value"))
            .ok(),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(6, |b| *b == b'\n');
    let mut text = || lines.next().map(String::from_utf8_lossy);
    let method = text().unwrap_or_default();
    let path = text().unwrap_or_default();
    let query = text().unwrap_or_default();
    let optional = [
        ("Host", text()),
        ("Authorization", text()),
        ("x-cos-security-token", text()),
    ];
    let headers: Vec<(&str, &[u8])> = optional
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (*name, v.as_bytes())))
        .collect();

    let _ = parse_query(&query);

    let request = ReceivedRequest {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
    };
    match verify_request(&request, NOW, lookup) {
        Ok(verified) => assert!(
            lookup(&verified.secret_id).is_some(),
            "verified with a key the table does not hold"
        ),
        Err(VerifyError::SignatureMismatch { string_to_sign, .. }) => {
            assert!(string_to_sign.starts_with("sha1\n"), "{string_to_sign:?}");
        }
        Err(_) => {}
    }
});
