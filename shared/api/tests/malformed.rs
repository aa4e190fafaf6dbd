//! Bad input: malformed requests each get a clear 4xx in the one error shape and change
//! nothing; malformed or foreign COS events are refused (401/400) or acknowledged as skips.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use common::*;
use cos_sign::Secret;
use cosigner_api::{ApiRequest, Caller, sign_event};
use cosigner_core::UserId;

struct Case {
    what: &'static str,
    user: Option<&'static str>,
    method: &'static str,
    path: String,
    body: String,
    status: u16,
    code: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<String>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        user: Some("alice"),
        method,
        path: path.into(),
        body: body.into(),
        status,
        code,
    }
}

fn upload(fields: Value) -> String {
    let mut body = json!({"name": "a.txt", "size": 10, "content_type": "text/plain"});
    for (k, v) in fields.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body.to_string()
}

fn bad_requests(put_id: &str, multi_id: &str, cursor: &str) -> Vec<Case> {
    let issue =
        |what, body: String, status, code| case(what, "POST", "/v1/uploads", body, status, code);
    let parts = |what, body: &str, status, code| {
        case(
            what,
            "POST",
            format!("/v1/uploads/{multi_id}/parts"),
            body,
            status,
            code,
        )
    };
    let list = |what, query: &str, status, code| {
        case(what, "GET", format!("/v1/files?{query}"), "", status, code)
    };
    let mut tampered = URL_SAFE_NO_PAD.decode(cursor).unwrap();
    tampered[20] ^= 0x40;
    let tampered = URL_SAFE_NO_PAD.encode(tampered);
    let huge = format!(
        r#"{{"name":"a.txt","size":1,"content_type":"text/plain","pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let many: Vec<u32> = (1..=101).collect();
    let mut cases = vec![
        issue("empty body", String::new(), 400, "bad_request"),
        issue("not JSON", "name=a.txt".into(), 400, "bad_request"),
        issue("truncated JSON", "{".into(), 400, "bad_request"),
        issue("an array", "[]".into(), 400, "bad_request"),
        issue("null", "null".into(), 400, "bad_request"),
        issue("a number", "42".into(), 400, "bad_request"),
        issue("an empty object", "{}".into(), 400, "bad_request"),
        issue("no name", upload(json!({"name": null})), 400, "bad_request"),
        issue("no size", upload(json!({"size": null})), 400, "bad_request"),
        issue(
            "no content type",
            upload(json!({"content_type": null})),
            400,
            "bad_request",
        ),
        issue(
            "an unknown field",
            upload(json!({"owner": "bob"})),
            400,
            "bad_request",
        ),
        issue(
            "a key chosen by the terminal",
            upload(json!({"key": "x"})),
            400,
            "bad_request",
        ),
        issue(
            "a size as a string",
            upload(json!({"size": "10"})),
            400,
            "bad_request",
        ),
        issue(
            "a size as a boolean",
            upload(json!({"size": true})),
            400,
            "bad_request",
        ),
        issue(
            "a negative size",
            upload(json!({"size": -1})),
            422,
            "invalid",
        ),
        issue(
            "a fractional size",
            upload(json!({"size": 1.5})),
            422,
            "invalid",
        ),
        issue("a zero size", upload(json!({"size": 0})), 422, "invalid"),
        issue(
            "an absurd size",
            upload(json!({"size": 1e30})),
            422,
            "invalid",
        ),
        issue(
            "a size past u64",
            r#"{"name":"a.txt","size":18446744073709551616,"content_type":"text/plain"}"#.into(),
            422,
            "invalid",
        ),
        issue(
            "a size over the limit",
            upload(json!({"size": 104_857_601})),
            413,
            "too_large",
        ),
        issue("an empty name", upload(json!({"name": ""})), 422, "invalid"),
        issue(
            "a blank name",
            upload(json!({"name": "   "})),
            422,
            "invalid",
        ),
        issue(
            "a path name",
            upload(json!({"name": "../etc/passwd"})),
            422,
            "invalid",
        ),
        issue(
            "a name with a slash",
            upload(json!({"name": "a/b.txt"})),
            422,
            "invalid",
        ),
        issue(
            "a name with a backslash",
            upload(json!({"name": "a\\b.txt"})),
            422,
            "invalid",
        ),
        issue(
            "a name of two dots",
            upload(json!({"name": ".."})),
            422,
            "invalid",
        ),
        issue(
            "a name with a NUL",
            upload(json!({"name": "a\u{0}b"})),
            422,
            "invalid",
        ),
        issue(
            "a name with a newline",
            upload(json!({"name": "a\nb"})),
            422,
            "invalid",
        ),
        issue(
            "a name of 256 bytes",
            upload(json!({"name": "a".repeat(256)})),
            422,
            "invalid",
        ),
        issue(
            "a name of 128 two-byte letters",
            upload(json!({"name": "é".repeat(128)})),
            422,
            "invalid",
        ),
        issue(
            "a name as a number",
            upload(json!({"name": 123})),
            400,
            "bad_request",
        ),
        issue(
            "a type outside the list",
            upload(json!({"content_type": "text/html"})),
            415,
            "unsupported_media_type",
        ),
        issue(
            "an executable type",
            upload(json!({"content_type": "application/x-msdownload"})),
            415,
            "unsupported_media_type",
        ),
        issue(
            "an empty type",
            upload(json!({"content_type": ""})),
            422,
            "invalid",
        ),
        issue(
            "a type without subtype",
            upload(json!({"content_type": "image"})),
            422,
            "invalid",
        ),
        issue(
            "a type with a broken parameter",
            upload(json!({"content_type": "image/png; charset"})),
            422,
            "invalid",
        ),
        issue(
            "a type with a header injection",
            upload(json!({"content_type": "text/plain\r\nx-evil: 1"})),
            422,
            "invalid",
        ),
        issue(
            "an MD5 that is not base64",
            upload(json!({"content_md5": "not md5!"})),
            422,
            "invalid",
        ),
        issue(
            "an MD5 of 15 bytes",
            upload(json!({"content_md5": "AAAAAAAAAAAAAAAAAAAA"})),
            422,
            "invalid",
        ),
        issue(
            "an MD5 as a number",
            upload(json!({"content_md5": 42})),
            400,
            "bad_request",
        ),
        issue(
            "an unknown method",
            upload(json!({"method": "get"})),
            400,
            "bad_request",
        ),
        issue(
            "a method in capitals",
            upload(json!({"method": "PUT"})),
            400,
            "bad_request",
        ),
        issue(
            "an MD5 on a multipart upload",
            upload(json!({"method": "multipart", "content_md5": "1B2M2Y8AsgTpgAmY7PhCfg=="})),
            422,
            "invalid",
        ),
        issue(
            "a duplicated field",
            r#"{"name":"a.txt","name":"b.txt","size":1,"content_type":"text/plain"}"#.into(),
            400,
            "bad_request",
        ),
        issue("a body over 1 MiB", huge, 413, "too_large"),
        parts("parts without numbers", "{}", 400, "bad_request"),
        parts("no parts", r#"{"part_numbers":[]}"#, 422, "invalid"),
        parts("part zero", r#"{"part_numbers":[0]}"#, 422, "invalid"),
        parts(
            "a part past the last",
            r#"{"part_numbers":[4]}"#,
            422,
            "invalid",
        ),
        parts(
            "a part past 10000",
            r#"{"part_numbers":[10001]}"#,
            422,
            "invalid",
        ),
        parts(
            "a negative part",
            r#"{"part_numbers":[-1]}"#,
            400,
            "bad_request",
        ),
        parts("a part twice", r#"{"part_numbers":[1,1]}"#, 422, "invalid"),
        parts(
            "101 parts",
            &json!({"part_numbers": many}).to_string(),
            422,
            "invalid",
        ),
        parts(
            "parts as a string",
            r#"{"part_numbers":"1"}"#,
            400,
            "bad_request",
        ),
        parts(
            "a fractional part",
            r#"{"part_numbers":[1.5]}"#,
            400,
            "bad_request",
        ),
        case(
            "parts of a single upload",
            "POST",
            format!("/v1/uploads/{put_id}/parts"),
            r#"{"part_numbers":[1]}"#,
            409,
            "conflict",
        ),
        case(
            "parts of a malformed id",
            "POST",
            "/v1/uploads/not-an-id/parts",
            r#"{"part_numbers":[1]}"#,
            404,
            "not_found",
        ),
        case(
            "a CRC64 that is not a number",
            "POST",
            format!("/v1/uploads/{put_id}/complete"),
            r#"{"crc64":"abc"}"#,
            422,
            "invalid",
        ),
        case(
            "an unknown completion field",
            "POST",
            format!("/v1/uploads/{put_id}/complete"),
            r#"{"md5":"x"}"#,
            400,
            "bad_request",
        ),
        case(
            "a completion body that is not JSON",
            "POST",
            format!("/v1/uploads/{put_id}/complete"),
            "done",
            400,
            "bad_request",
        ),
        case(
            "a lower-case id",
            "POST",
            format!("/v1/uploads/{}/complete", put_id.to_lowercase()),
            "",
            404,
            "not_found",
        ),
        case(
            "an id of the wrong length",
            "GET",
            "/v1/files/01HF7YAT00",
            "",
            404,
            "not_found",
        ),
        case(
            "an id that is not a ULID",
            "DELETE",
            "/v1/files/ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "",
            404,
            "not_found",
        ),
        list("a limit of zero", "limit=0", 400, "bad_request"),
        list("a limit over 100", "limit=101", 400, "bad_request"),
        list(
            "a limit that is not a number",
            "limit=abc",
            400,
            "bad_request",
        ),
        list("a negative limit", "limit=-1", 400, "bad_request"),
        list("a garbage cursor", "cursor=garbage", 400, "invalid_cursor"),
        list("an empty cursor", "cursor=", 400, "invalid_cursor"),
        list(
            "a tampered cursor",
            &format!("cursor={tampered}"),
            400,
            "invalid_cursor",
        ),
        list(
            "a truncated cursor",
            &format!("cursor={}", &cursor[..30]),
            400,
            "invalid_cursor",
        ),
        case(
            "an unknown route",
            "GET",
            "/v1/nothing",
            "",
            404,
            "no_such_route",
        ),
        case("the root", "GET", "/", "", 404, "no_such_route"),
        case(
            "a trailing slash",
            "GET",
            "/v1/files/",
            "",
            404,
            "no_such_route",
        ),
        case(
            "a path below a file",
            "GET",
            format!("/v1/files/{put_id}/extra"),
            "",
            404,
            "no_such_route",
        ),
        case(
            "a dot-dot path",
            "GET",
            "/v1/files/../me",
            "",
            404,
            "no_such_route",
        ),
        case(
            "PUT on the list",
            "PUT",
            "/v1/files",
            "",
            405,
            "method_not_allowed",
        ),
        case(
            "PATCH on a file",
            "PATCH",
            format!("/v1/files/{put_id}"),
            "",
            405,
            "method_not_allowed",
        ),
        case(
            "GET on uploads",
            "GET",
            "/v1/uploads",
            "",
            405,
            "method_not_allowed",
        ),
        case(
            "POST on healthz",
            "POST",
            "/healthz",
            "",
            405,
            "method_not_allowed",
        ),
        case(
            "GET on the event route",
            "GET",
            "/v1/events/cos",
            "",
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path) in [
        ("GET", "/v1/files"),
        ("POST", "/v1/uploads"),
        ("GET", "/v1/me"),
    ] {
        cases.push(Case {
            what: "no caller",
            user: None,
            method,
            path: path.into(),
            body: upload(json!({})),
            status: 401,
            code: "unauthorized",
        });
    }
    cases
}

#[tokio::test]
async fn every_malformed_request_is_a_clear_4xx_in_the_one_shape_and_changes_nothing() {
    let world = World::new();
    let (put_id, _) = world.issue_put("alice", "p.txt", 10).await;
    let multi = world
        .issue(
            "alice",
            json!({"name": "m.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    for i in 0..3 {
        world.issue_put("alice", &format!("f{i}.txt"), 1).await;
    }
    let page = world
        .call(Some("alice"), "GET", "/v1/files?limit=2", "")
        .await;
    let cursor = page.json["next_cursor"].as_str().unwrap().to_owned();
    let alice = UserId::new("alice").unwrap();
    let files_before = world.table().files_of(&alice);
    let profile_before = world.table().user(&alice).unwrap();
    let cases = bad_requests(&put_id, multi["file_id"].as_str().unwrap(), &cursor);

    for case in &cases {
        let reply = world
            .call(case.user, case.method, &case.path, &case.body)
            .await;

        assert_eq!(reply.status, case.status, "{}: {}", case.what, reply.text);
        reply.assert_error(case.status, case.code);
    }
    assert!(cases.len() >= 80, "{} cases", cases.len());
    assert_eq!(world.table().files_of(&alice), files_before);
    assert_eq!(world.table().user(&alice).unwrap(), profile_before);
}

#[tokio::test]
async fn a_wrong_method_names_the_allowed_ones() {
    let world = World::new();

    let reply = world
        .call(
            Some("alice"),
            "PUT",
            "/v1/files/01HF7YAT00RQ4ZXT8W6M3D2KGA",
            "",
        )
        .await;

    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, DELETE"));
}

fn relayed(timestamp: &str, signature: &str, body: &str) -> ApiRequest {
    ApiRequest {
        method: "POST".into(),
        path: "/v1/events/cos".into(),
        headers: vec![
            ("x-cosigner-timestamp".into(), timestamp.into()),
            ("x-cosigner-signature".into(), signature.into()),
        ],
        body: body.as_bytes().to_vec(),
        request_id: "req-relay".into(),
        ..ApiRequest::default()
    }
}

#[tokio::test]
async fn unsigned_forged_stale_or_malformed_relayed_events_are_refused() {
    let world = World::new();
    let (_, key) = world.issue_put("alice", "a.txt", 10).await;
    world.store().put_object(&key, 10, "e");
    let body = cos_event(&key, 10).to_string();
    let secret = Secret::new(EVENT_SECRET);
    let sign = |ts: u64, body: &str| sign_event(&secret, ts, body.as_bytes());
    let now = NOW.to_string();
    let huge = format!(r#"{{"Records":[],"pad":"{}"}}"#, "x".repeat(1 << 20));
    let cases: Vec<(&str, ApiRequest, u16, &str)> = vec![
        (
            "no headers",
            ApiRequest {
                method: "POST".into(),
                path: "/v1/events/cos".into(),
                body: body.clone().into_bytes(),
                ..ApiRequest::default()
            },
            401,
            "unauthorized",
        ),
        (
            "a wrong signature",
            relayed(&now, &"0".repeat(64), &body),
            401,
            "unauthorized",
        ),
        (
            "a signature that is not hex",
            relayed(&now, "xyz", &body),
            401,
            "unauthorized",
        ),
        (
            "a stale timestamp",
            relayed(&(NOW - 301).to_string(), &sign(NOW - 301, &body), &body),
            401,
            "unauthorized",
        ),
        (
            "a future timestamp",
            relayed(&(NOW + 301).to_string(), &sign(NOW + 301, &body), &body),
            401,
            "unauthorized",
        ),
        (
            "a timestamp that is not a number",
            relayed("yesterday", &sign(NOW, &body), &body),
            401,
            "unauthorized",
        ),
        (
            "the signature of another body",
            relayed(&now, &sign(NOW, "{}"), &body),
            401,
            "unauthorized",
        ),
        (
            "another secret",
            relayed(
                &now,
                &sign_event(&Secret::new("x"), NOW, body.as_bytes()),
                &body,
            ),
            401,
            "unauthorized",
        ),
        (
            "a signed body that is not JSON",
            relayed(&now, &sign(NOW, "nope"), "nope"),
            400,
            "bad_request",
        ),
        (
            "a signed object without Records",
            relayed(&now, &sign(NOW, "{}"), "{}"),
            400,
            "bad_request",
        ),
        (
            "a signed array",
            relayed(&now, &sign(NOW, "[]"), "[]"),
            400,
            "bad_request",
        ),
        (
            "Records that are not a list",
            relayed(&now, &sign(NOW, r#"{"Records":{}}"#), r#"{"Records":{}}"#),
            400,
            "bad_request",
        ),
        (
            "a body over 1 MiB",
            relayed(&now, &sign(NOW, &huge), &huge),
            413,
            "too_large",
        ),
    ];

    for (what, request, status, code) in cases {
        let reply = world.send(Caller::Anonymous, request).await;

        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        reply.assert_error(status, code);
    }
    assert_eq!(
        world
            .store()
            .log()
            .iter()
            .filter(|l| l.starts_with("head"))
            .count(),
        0
    );
}

#[tokio::test]
async fn foreign_or_broken_event_records_are_acknowledged_as_skips() {
    let world = World::new();
    let (id, key) = world.issue_put("alice", "a.txt", 10).await;
    let other_name = key.replace("a.txt", "b.txt");
    let unknown = key.replace(&id, "01HF7YAT00RQ4ZXT8W6M3D2KGZ");
    let record = |name: &str, bucket: &str, appid: &str, key: &str| {
        cos_record(name, bucket, appid, key, json!(10))
    };
    let mut no_cos = record("cos:ObjectCreated:Put", "examplebucket", "1250000000", &key);
    no_cos.as_object_mut().unwrap().remove("cos");
    let mut key_number = record("cos:ObjectCreated:Put", "examplebucket", "1250000000", &key);
    key_number["cos"]["cosObject"]["key"] = json!(42);
    let mut no_event_name = record("cos:ObjectCreated:Put", "examplebucket", "1250000000", &key);
    no_event_name["event"]
        .as_object_mut()
        .unwrap()
        .remove("eventName");
    let mut unprefixed = record("cos:ObjectCreated:Put", "examplebucket", "1250000000", &key);
    unprefixed["cos"]["cosObject"]["key"] = json!(key.clone());
    let records: Vec<(&str, Value)> = vec![
        (
            "another bucket",
            record("cos:ObjectCreated:Put", "otherbucket", "1250000000", &key),
        ),
        (
            "another appid",
            record("cos:ObjectCreated:Put", "examplebucket", "1250000001", &key),
        ),
        (
            "a delete event",
            record(
                "cos:ObjectRemove:Delete",
                "examplebucket",
                "1250000000",
                &key,
            ),
        ),
        (
            "a restore event",
            record(
                "cos:ObjectRestore:Post",
                "examplebucket",
                "1250000000",
                &key,
            ),
        ),
        ("no event name", no_event_name),
        (
            "a key under another prefix",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                "elsewhere/a.txt",
            ),
        ),
        (
            "a key without a file segment",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                "uploads/alice",
            ),
        ),
        (
            "a key with a bad id",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                "uploads/alice/not-an-id/a.txt",
            ),
        ),
        (
            "a key with extra segments",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                &format!("{key}/x"),
            ),
        ),
        (
            "an unknown file",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                &unknown,
            ),
        ),
        (
            "another name for the file",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                &other_name,
            ),
        ),
        (
            "a key with broken escapes",
            record(
                "cos:ObjectCreated:Put",
                "examplebucket",
                "1250000000",
                "uploads/alice/%ZZ/a.txt",
            ),
        ),
        ("a key not under the bucket", unprefixed),
        ("a record without cos", no_cos),
        ("a key that is a number", key_number),
        ("a record that is a string", json!("cos:ObjectCreated:Put")),
        ("a record that is null", Value::Null),
        (
            "an object not uploaded yet",
            record("cos:ObjectCreated:Put", "examplebucket", "1250000000", &key),
        ),
    ];

    for (what, record) in &records {
        let body = json!({"Records": [record]}).to_string();

        let reply = world.relay_event(&body).await;

        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        assert_eq!(
            reply.json["records"][0]["outcome"], "skipped",
            "{what}: {}",
            reply.text
        );
        assert!(
            reply.json["records"][0]["detail"].as_str().unwrap().len() > 5,
            "{what}"
        );
    }
    assert_eq!(
        world.record("alice", &id).state,
        cosigner_core::FileState::Pending
    );
    world
        .table()
        .assert_counters_match(&UserId::new("alice").unwrap());
}
