//! `Authorization::parse` and `Authorization::from_pairs` on arbitrary text.
//!
//! Beyond "no panic": a value that parses prints back to a value that parses to the same
//! fields, so what a store logs or forwards is what it checked.

#![no_main]

use libfuzzer_sys::fuzz_target;

use cos_sign::{Authorization, parse_query};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    if let Ok(auth) = Authorization::parse(&text) {
        let printed = auth.to_string();
        match Authorization::parse(&printed) {
            Ok(again) => assert_eq!(again, auth, "{printed:?} parsed differently"),
            Err(err) => panic!("{printed:?}, printed from a parsed value, fails: {err}"),
        }
    }

    // The same text read as the query of a presigned URL.
    if let Ok(pairs) = parse_query(&text) {
        let pairs = pairs.into_iter().map(|(n, v)| (n, v.unwrap_or_default()));
        let _ = Authorization::from_pairs(pairs);
    }
});
