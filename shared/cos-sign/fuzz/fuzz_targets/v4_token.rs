//! `decode_v4` and `verify_v4` on arbitrary tokens, and on tokens we sign over arbitrary
//! plaintexts (which must never fail on their MAC).

#![no_main]

use libfuzzer_sys::fuzz_target;

use cos_sign::{Credentials, VerifyError, decode_v4, sign_v4_plaintext, verify_v4};

const NOW: u64 = 1_700_000_100;

fn creds() -> Option<Credentials> {
    Credentials::new("AKIDexample", "secret").ok()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(creds) = creds() else {
        return;
    };

    // The input as a token.
    if let Ok(decoded) = decode_v4(&text) {
        // Claims that sign again decode to themselves.
        let mut claims = decoded.claims.clone();
        claims.secret_id = creds.secret_id().to_owned();
        if let Ok(token) = claims.sign(&creds) {
            match decode_v4(&token) {
                Ok(again) => assert_eq!(again.claims, claims),
                Err(err) => panic!("a token we signed does not decode: {err}"),
            }
        }
    }
    let _ = verify_v4(&text, NOW, |id| {
        (id == "AKIDexample").then(|| creds.clone())
    });

    // The input as a plaintext: our own MAC must always check out.
    let token = sign_v4_plaintext(&text, &creds);
    let result = verify_v4(&token, NOW, |id| {
        (id == "AKIDexample").then(|| creds.clone())
    });
    assert!(
        !matches!(result, Err(VerifyError::SignatureMismatch { .. })),
        "our own token was refused on its MAC: {result:?}"
    );
});
