//! The `authorizer` binary under the Lambda Runtime API: the recorded authorizer request
//! with a good token is allowed with the user id in the context, a forged one is denied,
//! and neither token reaches the log; an RS256 token is checked against a JWKS the binary
//! fetches over HTTP.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use cosigner_runtime_harness::{Function, LocalStack, bearer_for, fixture, serve_document};

fn with_authorization(value: &str) -> Value {
    let mut event = fixture("authorizer-request.json");
    event["identitySource"] = json!([value]);
    event["headers"]["authorization"] = json!(value);
    event
}

#[tokio::test]
async fn allows_a_good_token_and_denies_a_forged_one_through_the_runtime_interface() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = bearer_for("user-alice", now);
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.c2lnbmF0dXJlLW9mLW5vYm9keQ");
    let stack = LocalStack::without_aws();
    let mut function =
        Function::start(env!("CARGO_BIN_EXE_authorizer"), "authorizer", &stack.env()).await;

    let allowed = function.respond(with_authorization(&good)).await;
    let denied = function.respond(with_authorization(&forged)).await;
    let missing = function.respond(with_authorization("")).await;

    let cold_start = function.cold_start();
    let logs = function.stop().await;
    assert_eq!(
        allowed,
        json!({ "isAuthorized": true, "context": { "user_id": "user-alice" } })
    );
    assert_eq!(denied, json!({ "isAuthorized": false, "context": {} }));
    assert_eq!(missing, json!({ "isAuthorized": false, "context": {} }));
    let signature = good.rsplit('.').next().unwrap();
    assert!(
        !logs.contains(signature) && !logs.contains(head),
        "a token reached the log:\n{logs}"
    );
    assert!(logs.contains("\"message\":\"denied\""), "{logs}");
    println!("authorizer: cold start to first poll {cold_start:?}");
}

#[tokio::test]
async fn allows_an_rs256_token_checked_against_a_jwks_through_the_runtime_interface() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/api/tests/fixtures/jwt");
    let jwks_url = serve_document(std::fs::read(fixtures.join("jwks.json")).unwrap()).await;
    let key = EncodingKey::from_rsa_pem(&std::fs::read(fixtures.join("rsa-private.pem")).unwrap())
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rsa-1".into());
    let claims = json!({ "sub": "idp-user-42", "iss": "https://idp.test", "exp": now + 300 });
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let stack = LocalStack::without_aws();
    let env = stack.env_with(&[
        ("AUTH_JWKS_URL", &jwks_url),
        ("AUTH_ISSUER", "https://idp.test"),
    ]);
    let mut function = Function::start(env!("CARGO_BIN_EXE_authorizer"), "authorizer", &env).await;

    let allowed = function
        .respond(with_authorization(&format!("Bearer {token}")))
        .await;

    let logs = function.stop().await;
    assert_eq!(
        allowed,
        json!({ "isAuthorized": true, "context": { "user_id": "idp-user-42" } }),
        "{logs}"
    );
}
