//! The `me` binary under the Lambda Runtime API: a recorded `GET /v1/me` event answered
//! with the caller's new profile, from a table in `moto_server`.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use cosigner_runtime_harness::{Function, Invocation, LocalStack, fixture, gateway_event};
use serde_json::Value;

#[tokio::test]
async fn answers_get_me_with_a_new_profile_through_the_runtime_interface() {
    let stack = LocalStack::start("me").await;
    let mut function = Function::start(env!("CARGO_BIN_EXE_me"), "me", &stack.env()).await;

    let answer = function.respond(fixture("me.json")).await;
    let anonymous = function
        .respond(gateway_event("GET", "/v1/me", None, None))
        .await;

    let cold_start = function.cold_start();
    let logs = function.stop().await;
    let profile: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}\n{logs}");
    assert_eq!(profile["user_id"], "user-alice");
    assert_eq!(profile["used_bytes"], 0);
    assert!(profile["quota_bytes"].as_u64().unwrap() > 0);
    assert_eq!(anonymous["statusCode"], 401);
    assert!(
        logs.lines()
            .any(|l| l.starts_with('{') && l.contains("bXr5Cz9aoAMEVjA=")),
        "{logs}"
    );
    println!("me: cold start to first poll {cold_start:?}");
}

#[tokio::test]
async fn a_bad_environment_stops_the_cold_start_with_one_clear_line() {
    let stack = LocalStack::without_aws();
    let env: Vec<(String, String)> = stack
        .env_with(&[("MAX_UPLOAD_BYTES", "lots")])
        .into_iter()
        .filter(|(name, _)| name != "COS_BUCKET")
        .collect();
    let mut function = Function::start(env!("CARGO_BIN_EXE_me"), "me", &env).await;

    let outcome = function.invoke(fixture("me.json")).await;

    let logs = function.stop().await;
    assert_eq!(outcome, Invocation::Exited(Some(1)), "{logs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 1, "{logs}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["level"], "ERROR");
    let cause = line["cause"].as_str().unwrap();
    assert!(
        cause.contains("COS_BUCKET: missing") && cause.contains("MAX_UPLOAD_BYTES"),
        "{cause}"
    );
}
