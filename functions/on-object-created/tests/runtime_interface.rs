//! The `on-object-created` binary under the Lambda Runtime API: a direct COS event for an
//! uploaded object confirms it, the recorded event for an unknown key is acknowledged as a
//! skip, and the relayed event route takes signed bodies only.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use cosigner_runtime_harness::{
    Function, LocalStack, body_of, fixture, gateway_event, signed_event_headers, upload_as_terminal,
};

/// The recorded COS event, for the object behind `url`.
fn event_for(url: &str, cos_endpoint: &str) -> Value {
    let key = url
        .strip_prefix(cos_endpoint)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let mut event = fixture("cos-event-direct.json");
    event["Records"][0]["cos"]["cosObject"]["key"] =
        json!(format!("/1250000000/examplebucket{key}"));
    event
}

fn relayed(body: &Value, headers: &[(String, String)]) -> Value {
    let mut event = gateway_event("POST", "/v1/events/cos", None, Some(body));
    for (name, value) in headers {
        event["headers"][name] = json!(value);
    }
    event
}

#[tokio::test]
async fn confirms_uploads_from_direct_and_relayed_events_through_the_runtime_interface() {
    let stack = LocalStack::start("on-object-created").await;
    let mut function = Function::start(
        env!("CARGO_BIN_EXE_on-object-created"),
        "on-object-created",
        &stack.env(),
    )
    .await;
    let issued = body_of(&function.respond(fixture("issue-upload.json")).await);
    assert_eq!(upload_as_terminal(&issued, vec![9; 12345]).await, 200);
    let event = event_for(issued["url"].as_str().unwrap(), stack.cos_endpoint());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = event.to_string();

    let direct = function.respond(event.clone()).await;
    let unknown = function.respond(fixture("cos-event-direct.json")).await;
    let signed = function
        .respond(relayed(&event, &signed_event_headers(body.as_bytes(), now)))
        .await;
    let unsigned = function.respond(relayed(&event, &[])).await;
    let (_, me) = function
        .call("GET", "/v1/me", Some("user-alice"), None)
        .await;

    let logs = function.stop().await;
    assert_eq!(
        direct["records"][0]["outcome"], "confirmed",
        "{direct}\n{logs}"
    );
    assert_eq!(unknown["records"][0]["outcome"], "skipped", "{unknown}");
    assert_eq!(signed["statusCode"], 200, "{signed}\n{logs}");
    assert_eq!(body_of(&signed)["records"][0]["outcome"], "already_ready");
    assert_eq!(unsigned["statusCode"], 401);
    assert_eq!(me["used_bytes"], 12345, "counted once");
    assert_eq!(me["file_count"], 1);
}
