//! `PostPolicy::parse` on arbitrary text, the JSON round trip of what parses, and the whole
//! form path: a policy we sign must never fail on its signature or a missing field.

#![no_main]

use libfuzzer_sys::fuzz_target;

use cos_sign::{Credentials, KeyTime, PostPolicy, VerifyError, sign_post_policy, verify_post_form};

const NOW: u64 = 1_700_000_100;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let Ok(policy) = PostPolicy::parse(&text) else {
        return;
    };
    let json = policy.to_json();
    match PostPolicy::parse(&json) {
        Ok(again) => assert_eq!(again, policy, "{json}"),
        Err(err) => panic!("{json}, written from a parsed policy, fails: {err}"),
    }
    let fields = vec![
        ("key".to_owned(), "a/b.txt".to_owned()),
        ("Content-Type".to_owned(), "text/plain".to_owned()),
    ];
    let _ = policy.check(&fields, 10, "examplebucket-1250000000", NOW);

    let (Ok(creds), Ok(window)) = (
        Credentials::new("AKIDexample", "secret"),
        KeyTime::new(1_700_000_000, 1_700_000_900),
    ) else {
        return;
    };
    let Ok(form) = sign_post_policy(&text, &creds, window) else {
        panic!("a policy that parses does not sign");
    };
    let lookup = |id: &str| (id == "AKIDexample").then(|| creds.clone());
    let result = verify_post_form(&form.fields, 10, "examplebucket-1250000000", NOW, lookup);
    assert!(
        !matches!(
            result,
            Err(VerifyError::SignatureMismatch { .. } | VerifyError::MissingFormField(_))
        ),
        "a form we signed was refused: {result:?}"
    );
});
