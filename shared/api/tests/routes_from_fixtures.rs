//! Every route driven by a recorded API Gateway HTTP API (payload 2.0) event, converted by
//! the Lambda glue's own converter, through `dispatch`; and the recorded COS events through
//! `handle_cos_event`.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use serde_json::{Value, json};

use common::*;
use cos_sign::VerifyError;
use cosigner_api::{Caller, RecordOutcome, handle_cos_event};
use cosigner_core::{FileState, UploadKind, UserId};

async fn run(world: &World, fixture: &str) -> Reply {
    let (caller, request) = gateway_request(fixture);
    world.send(caller, request).await
}

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

#[tokio::test]
async fn healthz_answers_without_a_caller() {
    let world = World::new();

    let reply = run(&world, "http/healthz.json").await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.json, json!({"status": "ok"}));
    assert_eq!(world.table().calls(), 0);
}

#[tokio::test]
async fn issue_upload_signs_a_put_bound_to_length_type_md5_and_no_overwrite() {
    let world = World::new();

    let reply = run(&world, "http/issue-upload-put.json").await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    let issued = &reply.json;
    let id = issued["file_id"].as_str().unwrap();
    assert_eq!(issued["method"], "put");
    assert_eq!(issued["name"], "holiday photo.jpg");
    assert_eq!(issued["server_time"], NOW);
    assert_eq!(issued["starts_at"], NOW - 60);
    assert_eq!(issued["expires_at"], NOW + 900);
    assert_eq!(
        issued["url"],
        format!("https://{HOST}/uploads/alice/{id}/holiday_photo.jpg")
    );
    let headers = header_pairs(&issued["headers"]);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("Content-Length"), Some("204800"));
    assert_eq!(header("Content-Type"), Some("image/jpeg"));
    assert_eq!(header("Content-MD5"), Some("1B2M2Y8AsgTpgAmY7PhCfg=="));
    assert_eq!(header("x-cos-forbid-overwrite"), Some("true"));
    let url = issued["url"].as_str().unwrap();
    let verified = cos_verifies("PUT", url, &headers, NOW + 10).unwrap();
    assert_eq!(
        verified.signed_headers,
        [
            "content-length",
            "content-md5",
            "content-type",
            "host",
            "x-cos-forbid-overwrite"
        ]
    );
    let record = world.record("alice", id);
    assert_eq!(record.state, FileState::Pending);
    assert_eq!(
        record.content_md5.as_deref(),
        Some("1B2M2Y8AsgTpgAmY7PhCfg==")
    );
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn a_signed_put_used_for_another_size_type_md5_key_or_time_fails_verification() {
    let world = World::new();
    let reply = run(&world, "http/issue-upload-put.json").await;
    let url = reply.json["url"].as_str().unwrap().to_owned();
    let headers = header_pairs(&reply.json["headers"]);
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.clone(), if n == name { value.into() } else { v.clone() }))
            .collect()
    };
    let without = |name: &str| -> Vec<(String, String)> {
        headers.iter().filter(|(n, _)| n != name).cloned().collect()
    };

    let other_key = url.replace("holiday_photo.jpg", "other.jpg");
    let outcomes = [
        cos_verifies("PUT", &url, &with("Content-Length", "204801"), NOW),
        cos_verifies("PUT", &url, &with("Content-Type", "text/html"), NOW),
        cos_verifies(
            "PUT",
            &url,
            &with("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="),
            NOW,
        ),
        cos_verifies("PUT", &url, &without("x-cos-forbid-overwrite"), NOW),
        cos_verifies("PUT", &other_key, &headers, NOW),
        cos_verifies("POST", &url, &headers, NOW),
        cos_verifies("PUT", &url, &headers, NOW + 901),
    ];

    for (i, outcome) in outcomes.into_iter().enumerate() {
        assert!(outcome.is_err(), "case {i} verified");
    }
    assert!(matches!(
        cos_verifies("PUT", &url, &headers, NOW + 901),
        Err(VerifyError::Expired { .. })
    ));
}

#[tokio::test]
async fn issue_upload_returns_a_post_form_whose_policy_pins_key_size_type_and_bucket() {
    let world = World::new();

    let reply = run(&world, "http/issue-upload-post.json").await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["method"], "post");
    assert_eq!(reply.json["url"], format!("https://{HOST}/"));
    let id = reply.json["file_id"].as_str().unwrap();
    let fields: Vec<(String, String)> = reply.json["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields[0],
        ("key".into(), format!("uploads/alice/{id}/scan.pdf"))
    );
    let lookup = |sid: &str| {
        (sid == SECRET_ID).then(|| cos_sign::Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
    };
    let verified = cos_sign::verify_post_form(&fields, 1_048_576, BUCKET, NOW, lookup).unwrap();
    assert_eq!(verified.policy.expiration(), NOW + 900);
    assert!(cos_sign::verify_post_form(&fields, 1_048_575, BUCKET, NOW, lookup).is_err());
    assert!(cos_sign::verify_post_form(&fields, 1_048_577, BUCKET, NOW, lookup).is_err());
    assert!(
        cos_sign::verify_post_form(&fields, 1_048_576, "other-1250000000", NOW, lookup).is_err()
    );
    assert!(cos_sign::verify_post_form(&fields, 1_048_576, BUCKET, NOW + 901, lookup).is_err());
    let retyped: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == "Content-Type" {
                    "text/html".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    assert!(cos_sign::verify_post_form(&retyped, 1_048_576, BUCKET, NOW, lookup).is_err());
    let rekeyed: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == "key" {
                    "uploads/alice/x/y".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    assert!(cos_sign::verify_post_form(&rekeyed, 1_048_576, BUCKET, NOW, lookup).is_err());
    assert_eq!(world.record("alice", id).upload, UploadKind::Post);
}

#[tokio::test]
async fn issue_upload_starts_a_multipart_upload_above_the_threshold() {
    let world = World::new();

    let reply = run(&world, "http/issue-upload-multipart.json").await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    let issued = &reply.json;
    assert_eq!(issued["method"], "multipart");
    assert_eq!(issued["part_size"], 8 << 20);
    assert_eq!(issued["part_count"], 3);
    let upload_id = issued["upload_id"].as_str().unwrap();
    assert!(world.store().has_upload(upload_id));
    let record = world.record("alice", issued["file_id"].as_str().unwrap());
    assert_eq!(
        record.upload,
        UploadKind::Multipart {
            upload_id: upload_id.into(),
            part_size: 8 << 20
        }
    );
    assert_eq!(
        world.table().user(&alice()).unwrap().reserved_bytes,
        20 << 20
    );
}

#[tokio::test]
async fn a_base64_body_is_read_and_its_content_type_normalised() {
    let world = World::new();

    let reply = run(&world, "http/issue-upload-base64.json").await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["content_type"], "text/plain; charset=utf-8");
    assert_eq!(
        reply.json["headers"]["Content-Type"],
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn sign_parts_presigns_each_part_with_its_number_upload_id_and_length() {
    let world = World::new();
    world.seed_fixture_records().await;

    let reply = run(&world, "http/sign-parts.json").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let parts = reply.json["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let upload_id = reply.json["upload_id"].as_str().unwrap();
    for (part, (number, size)) in parts.iter().zip([(1, 8 << 20), (2, 8 << 20), (3, 4 << 20)]) {
        assert_eq!(part["part_number"], number);
        let url = part["url"].as_str().unwrap();
        assert!(url.contains(&format!("partNumber={number}")) && url.contains(upload_id));
        let length = vec![("Content-Length".to_owned(), size.to_string())];
        let verified = cos_verifies("PUT", url, &length, NOW).unwrap();
        assert_eq!(verified.signed_params, ["partnumber", "uploadid"]);
        let wrong = vec![("Content-Length".to_owned(), (size - 1).to_string())];
        assert!(cos_verifies("PUT", url, &wrong, NOW).is_err());
        assert_eq!(part["headers"]["Content-Length"], size.to_string());
    }
}

#[tokio::test]
async fn complete_upload_confirms_with_cos_and_marks_the_file_ready() {
    let world = World::new();
    world.seed_fixture_records().await;
    let key = world.record("alice", PENDING_ID).key;
    world.store().put_object(&key, 204800, "\"abc123\"");

    let reply = run(&world, "http/complete-upload.json").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["state"], "ready");
    assert_eq!(reply.json["file_id"], PENDING_ID);
    assert_eq!(world.record("alice", PENDING_ID).state, FileState::Ready);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn abort_upload_releases_the_reservation() {
    let world = World::new();
    world.seed_fixture_records().await;

    let reply = run(&world, "http/abort-upload.json").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["state"], "aborted");
    assert_eq!(world.record("alice", ABORT_ID).state, FileState::Aborted);
    world.table().assert_counters_match(&alice());
}

#[tokio::test]
async fn list_files_pages_newest_first_with_a_cursor() {
    let world = World::new();
    world.seed_fixture_records().await;

    let first = run(&world, "http/list-files.json").await;

    assert_eq!(first.status, 200, "{}", first.text);
    let ids: Vec<&str> = first.json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ABORT_ID, MULTI_ID]);
    let cursor = first.json["next_cursor"].as_str().unwrap();
    let second = world
        .call(
            Some("alice"),
            "GET",
            &format!("/v1/files?limit=2&cursor={cursor}"),
            "",
        )
        .await;
    let ids: Vec<&str> = second.json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [PENDING_ID, READY_ID]);
    assert!(second.json.get("next_cursor").is_none());
}

#[tokio::test]
async fn get_file_returns_a_presigned_download_with_the_original_name() {
    let world = World::new();
    world.seed_fixture_records().await;

    let reply = run(&world, "http/get-file.json").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["name"], "Résumé 2023.pdf");
    assert_eq!(reply.json["url_expires_at"], NOW + 300);
    let url = reply.json["url"].as_str().unwrap();
    let verified = cos_verifies("GET", url, &[], NOW + 299).unwrap();
    assert_eq!(verified.signed_params, ["response-content-disposition"]);
    assert!(cos_verifies("GET", url, &[], NOW + 301).is_err());
    let (_, query) = path_and_query(url);
    let disposition = cos_sign::parse_query(&query)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == "response-content-disposition")
        .and_then(|(_, v)| v)
        .unwrap();
    assert_eq!(
        disposition,
        "attachment; filename=\"R_sum_ 2023.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202023.pdf"
    );
}

#[tokio::test]
async fn get_file_of_a_pending_upload_has_no_url() {
    let world = World::new();
    world.seed_fixture_records().await;

    let reply = world
        .call(Some("alice"), "GET", &format!("/v1/files/{PENDING_ID}"), "")
        .await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["state"], "pending");
    assert!(reply.json.get("url").is_none());
}

#[tokio::test]
async fn delete_file_deletes_the_object_then_the_record() {
    let world = World::new();
    world.seed_fixture_records().await;
    let key = world.record("alice", READY_ID).key;

    let reply = run(&world, "http/delete-file.json").await;

    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(world.store().object(&key).is_none());
    assert!(
        world
            .table()
            .file(&alice(), READY_ID.parse().unwrap())
            .is_none()
    );
    world.table().assert_counters_match(&alice());
    assert_eq!(world.table().user(&alice()).unwrap().used_bytes, 0);
}

#[tokio::test]
async fn me_reports_quota_and_counters() {
    let world = World::new();
    world.seed_fixture_records().await;

    let reply = run(&world, "http/me.json").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let reserved = 204800 + (20 << 20) + 1000;
    assert_eq!(
        reply.json,
        json!({
            "user_id": "alice",
            "quota_bytes": 1u64 << 30,
            "used_bytes": 5000,
            "reserved_bytes": reserved,
            "available_bytes": (1u64 << 30) - 5000 - reserved,
            "file_count": 1,
            "pending_count": 3,
        })
    );
}

#[tokio::test]
async fn a_first_call_creates_the_profile_with_the_default_quota() {
    let world = World::new();

    let reply = world.call(Some("carol"), "GET", "/v1/me", "").await;

    assert_eq!(reply.json["quota_bytes"], 200 << 20);
    assert_eq!(reply.json["file_count"], 0);
}

#[tokio::test]
async fn a_request_without_the_authorizers_user_is_unauthorized() {
    let world = World::new();

    let reply = run(&world, "http/me-without-authorizer.json").await;

    reply.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn another_users_file_is_not_found_and_nothing_of_it_shows() {
    let world = World::new();
    world.seed_fixture_records().await;

    let reply = run(&world, "http/get-file-of-another-user.json").await;

    reply.assert_error(404, "not_found");
    assert!(!reply.text.contains("alice") && !reply.text.contains("sum"));
}

#[tokio::test]
async fn a_relayed_and_signed_cos_event_confirms_the_upload() {
    let world = World::new();
    world.seed_fixture_records().await;
    let key = world.record("alice", PENDING_ID).key;
    world.store().put_object(&key, 204800, "abc");

    let (caller, request) = gateway_request("http/cos-event-relayed.json");
    assert_eq!(caller, Caller::Anonymous);
    let reply = world.send(caller, request).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["records"][0]["outcome"], "confirmed");
    assert_eq!(world.record("alice", PENDING_ID).state, FileState::Ready);
}

#[tokio::test]
async fn a_relayed_event_with_a_changed_body_is_refused() {
    let world = World::new();
    world.seed_fixture_records().await;
    let (caller, mut request) = gateway_request("http/cos-event-relayed.json");
    request.body = String::from_utf8(request.body)
        .unwrap()
        .replace("204800", "1")
        .into_bytes();

    let reply = world.send(caller, request).await;

    reply.assert_error(401, "unauthorized");
    assert_eq!(world.record("alice", PENDING_ID).state, FileState::Pending);
}

async fn cos_fixture(world: &World, name: &str) -> cosigner_api::EventReport {
    handle_cos_event(&world.deps, fixture(&format!("cos/{name}")).as_bytes()).await
}

#[tokio::test]
async fn recorded_cos_events_confirm_in_each_of_their_shapes() {
    for name in [
        "object-created-put.json",
        "object-created-string-size.json",
        "object-created-encoded-key.json",
    ] {
        let world = World::new();
        world.seed_fixture_records().await;
        let key = world.record("alice", PENDING_ID).key;
        world.store().put_object(&key, 204800, "abc");

        let report = cos_fixture(&world, name).await;

        assert_eq!(
            report.count(RecordOutcome::Confirmed),
            1,
            "{name}: {report:?}"
        );
        assert_eq!(
            world.record("alice", PENDING_ID).state,
            FileState::Ready,
            "{name}"
        );
        world.table().assert_counters_match(&alice());
    }
}

#[tokio::test]
async fn a_multipart_completion_event_confirms_once_the_object_exists() {
    let world = World::new();
    world.seed_fixture_records().await;
    let key = world.record("alice", MULTI_ID).key;

    let early = cos_fixture(&world, "object-created-multipart.json").await;
    world.store().put_object(&key, 20 << 20, "multi-3");
    let late = cos_fixture(&world, "object-created-multipart.json").await;

    assert_eq!(early.records[0].outcome, RecordOutcome::Skipped);
    assert_eq!(late.records[0].outcome, RecordOutcome::Confirmed);
    assert_eq!(world.record("alice", MULTI_ID).state, FileState::Ready);
}

#[tokio::test]
async fn a_mixed_batch_confirms_ours_and_skips_the_rest_with_reasons() {
    let world = World::new();
    world.seed_fixture_records().await;
    let key = world.record("alice", PENDING_ID).key;
    world.store().put_object(&key, 204800, "abc");

    let report = cos_fixture(&world, "mixed-batch.json").await;

    let outcomes: Vec<RecordOutcome> = report.records.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            RecordOutcome::Confirmed,
            RecordOutcome::Skipped,
            RecordOutcome::Skipped,
            RecordOutcome::Skipped,
            RecordOutcome::Skipped,
        ]
    );
    let details: Vec<&str> = report.records.iter().map(|r| r.detail.as_str()).collect();
    assert!(details[1].contains("another bucket"), "{details:?}");
    assert!(
        details[2].contains("not an object-created event"),
        "{details:?}"
    );
    assert!(
        details[3].contains("outside the upload layout"),
        "{details:?}"
    );
    assert!(details[4].contains("no upload"), "{details:?}");
    assert!(!report.should_retry());
    let body: Value = serde_json::to_value(&report).unwrap();
    assert_eq!(body["records"][0]["outcome"], "confirmed");
}
