//! The Lambda glue against recorded API Gateway HTTP API (payload 2.0) events: what
//! `lambda_http` parses is turned into the request a route sees, answers go back in the
//! shape the gateway expects, and the authorizer allows or denies.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::path::PathBuf;
use std::time::Duration;

use lambda_http::Body;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};

use cos_sign::Secret;
use cosigner_api::lambda::{
    api_request, authorize_at, gateway_response, http_request_of, is_http_event, lambda_response,
    log_filter,
};
use cosigner_api::{ApiResponse, Authenticator, Caller, mint_token};
use cosigner_core::{JwtConfig, UserId};

const NOW: u64 = 1_750_000_689;
const SECRET: &str = "gateway-test-secret-0123456789-0123456789";

fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gateway")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap()
}

fn parsed(name: &str) -> (Caller, cosigner_api::ApiRequest) {
    api_request(lambda_http::request::from_str(&fixture_text(name)).unwrap())
}

fn user(id: &str) -> Caller {
    Caller::User(UserId::new(id).unwrap())
}

#[test]
fn an_issue_upload_post_carries_the_authorizers_user_and_its_body() {
    let (caller, request) = parsed("issue-upload.json");

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(caller, user("user-alice"));
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/uploads");
    assert!(request.query.is_empty());
    assert_eq!(request.request_id, "bXr3ZiW2oAMEVfA=");
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(body["name"], "holiday photo.jpg");
    assert_eq!(body["size"], 12345);
    assert!(
        request
            .headers
            .iter()
            .all(|(name, _)| *name == name.to_ascii_lowercase())
    );
}

#[test]
fn a_base64_body_is_decoded_byte_for_byte() {
    let (caller, request) = parsed("complete-upload-base64.json");

    assert_eq!(caller, user("user-alice"));
    assert_eq!(
        request.path,
        "/v1/uploads/01JXYZ0000000000000000000A/complete"
    );
    assert_eq!(request.body, b"{\"md5\": \"abc\"}\x00\x01\xff".to_vec());
}

#[test]
fn the_query_is_decoded_from_the_raw_string_in_order_with_repeats() {
    let (_, request) = parsed("list-files-query.json");

    let expected = [
        ("limit", "2"),
        ("cursor", "ab+cd/="),
        ("note", "two words"),
        ("limit", "3"),
        ("flag", ""),
    ];
    let query: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(query, expected);
    assert_eq!(request.query_param("limit"), Some("2"));
    assert_eq!(request.header("cookie"), Some("session=ignored"));
    assert_eq!(request.header("x-custom"), Some("first,second"));
}

#[test]
fn a_request_without_an_authorizer_is_anonymous() {
    let (caller, request) = parsed("healthz.json");

    assert_eq!(caller, Caller::Anonymous);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/healthz")
    );
    assert!(request.body.is_empty());
}

#[test]
fn an_unusable_user_id_in_the_context_makes_the_caller_anonymous() {
    let mut event = fixture("me.json");
    event["requestContext"]["authorizer"]["lambda"]["user_id"] = json!("../other-user");

    let (caller, _) = api_request(http_request_of(event).unwrap());

    assert_eq!(caller, Caller::Anonymous);
}

#[test]
fn the_subject_of_the_gateways_own_jwt_authorizer_is_the_caller() {
    let mut event = fixture("me.json");
    event["requestContext"]["authorizer"] = json!({ "jwt": { "claims": { "sub": "cognito-7f3a", "iss": "https://idp" }, "scopes": null } });

    let (caller, _) = api_request(http_request_of(event).unwrap());

    assert_eq!(caller, user("cognito-7f3a"));
}

#[test]
fn the_path_is_the_raw_path_even_on_a_named_stage() {
    let mut event = fixture("me.json");
    event["requestContext"]["stage"] = json!("prod");

    let (_, request) = api_request(http_request_of(event).unwrap());

    assert_eq!(request.path, "/v1/me");
}

#[test]
fn a_json_answer_goes_back_as_text_with_its_status_and_headers() {
    let mut answer = ApiResponse::json(413, &json!({ "error": { "code": "quota_exceeded" } }));
    answer.headers.push(("retry-after".into(), "2".into()));

    let response = lambda_response(answer);

    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["retry-after"], "2");
    match response.body() {
        Body::Text(text) => assert!(text.contains("quota_exceeded")),
        other => panic!("expected a text body, got {other:?}"),
    }
}

#[test]
fn binary_and_empty_answers_keep_their_form() {
    let binary = ApiResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/octet-stream".into())],
        body: vec![0, 159, 146, 150],
    };

    let as_response = lambda_response(binary.clone());
    let as_document = serde_json::to_value(gateway_response(binary)).unwrap();
    let empty = serde_json::to_value(gateway_response(ApiResponse::empty(204))).unwrap();

    assert_eq!(as_response.body(), &Body::Binary(vec![0, 159, 146, 150]));
    assert_eq!(as_document["isBase64Encoded"], true);
    assert_eq!(as_document["body"], "AJ+Slg==");
    assert_eq!(as_document["statusCode"], 200);
    assert_eq!(empty["statusCode"], 204);
    assert!(empty.get("body").is_none());
}

#[test]
fn an_invalid_status_or_header_does_not_break_the_answer() {
    let broken = ApiResponse {
        status: 42,
        headers: vec![
            ("bad header".into(), "x".into()),
            ("ok".into(), "fine".into()),
        ],
        body: Vec::new(),
    };

    let response = lambda_response(broken);

    assert_eq!(response.status(), 500);
    assert_eq!(response.headers().len(), 1);
}

#[test]
fn gateway_events_are_told_apart_from_direct_ones() {
    assert!(is_http_event(&fixture("issue-upload.json")));
    assert!(is_http_event(&fixture("healthz.json")));
    assert!(!is_http_event(&fixture("cos-event-direct.json")));
    assert!(!is_http_event(&fixture("scheduled-event.json")));
}

fn authorizer_event(header: Option<&str>) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event = fixture("authorizer-request.json");
    match header {
        Some(value) => {
            event["identitySource"] = json!([value]);
            event["headers"]["authorization"] = json!(value);
        }
        None => {
            event.as_object_mut().unwrap().remove("identitySource");
            event["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
        }
    }
    serde_json::from_value(event).unwrap()
}

fn authenticator() -> Authenticator {
    let config = JwtConfig {
        issuer: None,
        audience: None,
        jwks_url: None,
        leeway_secs: 30,
    };
    Authenticator::new(&config, Some(Secret::new(SECRET))).unwrap()
}

#[tokio::test]
async fn the_authorizer_allows_a_good_token_and_passes_the_user_id() {
    let token = mint_token(
        &Secret::new(SECRET),
        &UserId::new("user-alice").unwrap(),
        Duration::from_secs(300),
        NOW,
    )
    .unwrap();
    let event = authorizer_event(Some(&format!("Bearer {token}")));

    let answer = authorize_at(&authenticator(), &event, NOW).await;

    let document = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        document,
        json!({ "isAuthorized": true, "context": { "user_id": "user-alice" } })
    );
}

#[tokio::test]
async fn the_authorizer_denies_bad_expired_and_missing_tokens() {
    let secret = Secret::new(SECRET);
    let alice = UserId::new("user-alice").unwrap();
    let expired = mint_token(&secret, &alice, Duration::from_secs(60), NOW - 3600).unwrap();
    let forged = mint_token(
        &Secret::new("another-secret-0123456789-0123456789"),
        &alice,
        Duration::from_secs(60),
        NOW,
    )
    .unwrap();
    let cases = [
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {forged}")),
        Some("Basic dXNlcjpwYXNz".to_owned()),
        Some("Bearer not-a-jwt".to_owned()),
        None,
    ];

    for header in cases {
        let event = authorizer_event(header.as_deref());

        let answer = authorize_at(&authenticator(), &event, NOW).await;

        let document = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            document,
            json!({ "isAuthorized": false, "context": {} }),
            "{header:?}"
        );
    }
}

#[test]
fn the_log_level_comes_from_lambda_then_rust_log_then_info() {
    assert_eq!(log_filter(Some("WARN"), Some("debug")), "warn");
    assert_eq!(log_filter(Some("FATAL"), None), "error");
    assert!(log_filter(Some("DEBUG"), None).starts_with("debug,hyper=info"));
    assert_eq!(
        log_filter(Some("nonsense"), Some("cosigner_api=trace")),
        "cosigner_api=trace"
    );
    assert_eq!(log_filter(None, Some("  ")), "info");
    assert_eq!(log_filter(None, None), "info");
}
