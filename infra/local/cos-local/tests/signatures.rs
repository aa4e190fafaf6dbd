//! Every kind of tampering is refused with the code COS uses, and nothing is stored: a
//! changed byte in the signature, the key, a signed header or parameter; a window that
//! has closed or not opened; an unknown secret id; a wrong secret key; a POST policy broken
//! condition by condition; a body that does not match its Content-MD5; an overwrite under
//! x-cos-forbid-overwrite.

// Test helpers outside #[test] functions panic on setup failures, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cos_sign::{Credentials, KeyTime, PostPolicy};

use common::{BUCKET, CosLocal, REGION, Reply, SECRET_ID, client, creds, now, window};

/// Flips one hex digit of the q-signature.
fn flip_signature(authorization: String) -> String {
    let at = authorization.find("q-signature=").unwrap() + "q-signature=".len();
    let mut bytes = authorization.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

async fn absent(server: &CosLocal, key: &str) {
    let reply = server.request("HEAD", key).send().await;
    assert_eq!(reply.status, 404, "{key} should not exist");
}

#[tokio::test]
async fn a_valid_signature_is_accepted_in_the_header_and_as_a_virtual_host() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);

    let put = server
        .request("PUT", "signed/ok.txt")
        .header("Content-Type", "text/plain")
        .body("fine")
        .send()
        .await;
    let vhost = server
        .request("GET", "signed/ok.txt")
        .host(&format!("{BUCKET}.cos.{REGION}.myqcloud.com"))
        .send()
        .await;
    let path_style = server
        .request("GET", "signed/ok.txt")
        .path_style(BUCKET)
        .send()
        .await;
    let bucket_in_signed_path = server
        .request("GET", &format!("{BUCKET}/signed/ok.txt"))
        .send()
        .await;

    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(vhost.body, b"fine");
    assert_eq!(path_style.body, b"fine");
    // Path-style signs the key's path without the bucket, as the SDKs do.
    bucket_in_signed_path.assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn each_tampered_request_is_refused_with_the_cos_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let put = || {
        server
            .request("PUT", "t/obj.txt")
            .header("Content-Type", "text/plain")
            .header("x-cos-meta-owner", "42")
            .body("payload")
    };

    let honest = put().send().await;
    assert_eq!(
        honest.status,
        200,
        "the untampered request works: {}",
        honest.text()
    );

    let signature = put().send_with(flip_signature).await;
    let (url, authorization, _) = put().parts();
    let other_key = client()
        .put(url.replace("t/obj.txt", "t/obj2.txt"))
        .header("Authorization", authorization.clone().unwrap())
        .header("Content-Type", "text/plain")
        .header("x-cos-meta-owner", "42")
        .body("payload")
        .send()
        .await
        .unwrap();
    let other_key = Reply::from(other_key).await;
    let other_header = client()
        .put(url.clone())
        .header("Authorization", authorization.clone().unwrap())
        .header("Content-Type", "text/html")
        .header("x-cos-meta-owner", "42")
        .body("payload")
        .send()
        .await
        .unwrap();
    let other_header = Reply::from(other_header).await;
    let dropped_header = client()
        .put(url)
        .header("Authorization", authorization.unwrap())
        .header("x-cos-meta-owner", "42")
        .body("payload")
        .send()
        .await
        .unwrap();
    let dropped_header = Reply::from(dropped_header).await;

    signature.assert_error(403, "SignatureDoesNotMatch");
    // The answer shows the StringToSign we computed, for the client to compare.
    assert!(signature.xml("StringToSign").unwrap().starts_with("sha1\n"));
    other_key.assert_error(403, "SignatureDoesNotMatch");
    other_header.assert_error(403, "SignatureDoesNotMatch");
    assert!(
        other_header
            .xml("FormatString")
            .unwrap()
            .contains("content-type=text%2Fhtml")
    );
    dropped_header.assert_error(403, "SignatureDoesNotMatch");
    absent(&server, "t/obj2.txt").await;
}

#[tokio::test]
async fn a_changed_signed_parameter_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    server.request("PUT", "p.txt").body("x").send().await;
    let get = server
        .request("GET", "p.txt")
        .param("response-content-type", "text/plain");

    let (url, authorization, _) = get.parts();
    let honest = client()
        .get(&url)
        .header("Authorization", authorization.clone().unwrap())
        .send()
        .await
        .unwrap();
    let changed = client()
        .get(url.replace("text%2Fplain", "text%2Fhtml"))
        .header("Authorization", authorization.clone().unwrap())
        .send()
        .await
        .unwrap();
    let removed = client()
        .get(url.split('?').next().unwrap())
        .header("Authorization", authorization.unwrap())
        .send()
        .await
        .unwrap();

    let honest = Reply::from(honest).await;
    assert_eq!(honest.status, 200);
    assert_eq!(honest.header("content-type").as_deref(), Some("text/plain"));
    Reply::from(changed)
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    Reply::from(removed)
        .await
        .assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn windows_keys_and_tokens_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(
        dir.path(),
        &[
            "--credential",
            "AKIDtemporary:tempkey:session-token",
            "--credential",
            "AKIDother:otherkey",
        ],
    );
    let t = now();
    let put = |key: &str| server.request("PUT", key).body("x");

    let expired = put("w/1")
        .window(KeyTime::new(t - 1000, t - 100).unwrap())
        .send()
        .await;
    let early = put("w/2")
        .window(KeyTime::new(t + 100, t + 1000).unwrap())
        .send()
        .await;
    let unknown = put("w/3")
        .creds(Some(Credentials::new("AKIDnobody", "k").unwrap()))
        .send()
        .await;
    let wrong_key = put("w/4")
        .creds(Some(Credentials::new(SECRET_ID, "not-the-key").unwrap()))
        .send()
        .await;
    let anonymous = put("w/5").creds(None).send().await;
    let temporary = Credentials::new("AKIDtemporary", "tempkey")
        .unwrap()
        .with_session_token("session-token")
        .unwrap();
    let with_token = put("w/6").creds(Some(temporary)).send().await;
    let without_token = put("w/7")
        .creds(Some(Credentials::new("AKIDtemporary", "tempkey").unwrap()))
        .send()
        .await;
    let stretched = put("w/8")
        .window(KeyTime::new(t - 1000, t - 100).unwrap())
        .send_with(|a| {
            a.replacen(
                &format!("q-sign-time={};{}", t - 1000, t - 100),
                &format!("q-sign-time={};{}", t - 1000, t + 1000),
                1,
            )
        })
        .await;

    expired.assert_error(403, "AccessDenied");
    assert!(
        expired
            .xml("Message")
            .unwrap()
            .starts_with("Request has expired")
    );
    early.assert_error(403, "RequestTimeTooSkewed");
    unknown.assert_error(403, "InvalidAccessKeyId");
    wrong_key.assert_error(403, "SignatureDoesNotMatch");
    anonymous.assert_error(403, "AccessDenied");
    assert_eq!(with_token.status, 200, "{}", with_token.text());
    without_token.assert_error(403, "InvalidAccessKeyId");
    stretched.assert_error(403, "AccessDenied");
    for key in ["w/1", "w/2", "w/3", "w/4", "w/5", "w/7", "w/8"] {
        absent(&server, key).await;
    }
}

#[tokio::test]
async fn a_bucket_may_allow_only_some_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cos-local.toml");
    std::fs::write(
        &config,
        r#"
        [[credentials]]
        secret_id = "AKIDlimited"
        secret_key = "limitedkey"
        [[buckets]]
        name = "private-1250000000"
        credentials = ["AKIDlimited"]
        "#,
    )
    .unwrap();
    let server = CosLocal::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let private_host = format!("private-1250000000.cos.{REGION}.myqcloud.com");
    let limited = Credentials::new("AKIDlimited", "limitedkey").unwrap();

    let allowed = server
        .request("PUT", "a.txt")
        .host(&private_host)
        .creds(Some(limited))
        .body("x")
        .send()
        .await;
    let refused = server
        .request("PUT", "a.txt")
        .host(&private_host)
        .body("x")
        .send()
        .await;
    let unknown_bucket = server
        .request("GET", "a.txt")
        .host(&format!("nobody-1250000000.cos.{REGION}.myqcloud.com"))
        .send()
        .await;

    assert_eq!(allowed.status, 200, "{}", allowed.text());
    refused.assert_error(403, "AccessDenied");
    unknown_bucket.assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn a_body_must_match_its_content_md5() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let md5_of = |bytes: &[u8]| {
        use md5::{Digest, Md5};
        STANDARD.encode(Md5::digest(bytes))
    };

    let good = server
        .request("PUT", "md5/good")
        .header("Content-MD5", &md5_of(b"right"))
        .body("right")
        .send()
        .await;
    let mismatch = server
        .request("PUT", "md5/bad")
        .header("Content-MD5", &md5_of(b"right"))
        .body("wrong")
        .send()
        .await;
    let malformed = server
        .request("PUT", "md5/malformed")
        .header("Content-MD5", "not-base64!")
        .body("wrong")
        .send()
        .await;

    assert_eq!(good.status, 200, "{}", good.text());
    mismatch.assert_error(400, "BadDigest");
    malformed.assert_error(400, "InvalidDigest");
    absent(&server, "md5/bad").await;
    absent(&server, "md5/malformed").await;
    assert!(common::temp_files(&server.data).is_empty());
}

#[tokio::test]
async fn forbid_overwrite_keeps_the_first_object() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let put = |body: &'static str| {
        server
            .request("PUT", "once.txt")
            .header("x-cos-forbid-overwrite", "true")
            .body(body)
    };

    let first = put("first").send().await;
    let second = put("second").send().await;
    let plain_overwrite = server.request("PUT", "once.txt").body("third").send().await;

    assert_eq!(first.status, 200);
    second.assert_error(409, "PathConflict");
    assert_eq!(plain_overwrite.status, 200);
    let now_there = server.request("GET", "once.txt").send().await;
    assert_eq!(now_there.body, b"third");
}

/// Posts a form: the fields in order, then the file.
async fn post_form(server: &CosLocal, fields: &[(String, String)], file: &'static [u8]) -> Reply {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.clone(), value.clone());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(file).file_name("upload.bin"),
    );
    let response = client()
        .post(format!("{}/", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    Reply::from(response).await
}

/// A form case: name, fields, file, expected status and code.
type Case = (
    &'static str,
    Vec<(String, String)>,
    &'static [u8],
    u16,
    &'static str,
);

fn with_field(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = fields.to_vec();
    match fields
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(slot) => slot.1 = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
    fields
}

#[tokio::test]
async fn a_post_policy_is_checked_condition_by_condition() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let form = PostPolicy::new(now() + 600)
        .starts_with("key", "uploads/u42/")
        .equals("Content-Type", "image/png")
        .starts_with("x-cos-meta-owner", "u42")
        .equals("success_action_status", "201")
        .equals("bucket", BUCKET)
        .content_length_range(2, 10)
        .sign(&creds(), window())
        .unwrap();
    let base = with_field(&form.fields, "key", "uploads/u42/${filename}");
    let base = with_field(&base, "Content-Type", "image/png");
    let base = with_field(&base, "x-cos-meta-owner", "u42-phone");
    let base = with_field(&base, "success_action_status", "201");

    let ok = post_form(&server, &base, b"12345").await;
    assert_eq!(ok.status, 201, "{}", ok.text());
    assert_eq!(ok.xml("Key").as_deref(), Some("uploads/u42/upload.bin"));
    let stored = server.request("GET", "uploads/u42/upload.bin").send().await;
    assert_eq!(stored.body, b"12345");
    assert_eq!(stored.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(
        stored.header("x-cos-meta-owner").as_deref(),
        Some("u42-phone")
    );

    let broken_policy = {
        let policy = form.policy.clone();
        let text = String::from_utf8(STANDARD.decode(&policy).unwrap()).unwrap();
        assert!(text.contains(",10]"), "{text}");
        let forged = STANDARD.encode(text.replace(",10]", ",99]"));
        with_field(&base, "policy", &forged)
    };
    let cases: Vec<Case> = vec![
        (
            "key prefix",
            with_field(&base, "key", "uploads/u43/x"),
            b"12345",
            403,
            "AccessDenied",
        ),
        (
            "content type",
            with_field(&base, "Content-Type", "text/html"),
            b"12345",
            403,
            "AccessDenied",
        ),
        (
            "meta prefix",
            with_field(&base, "x-cos-meta-owner", "u43"),
            b"12345",
            403,
            "AccessDenied",
        ),
        (
            "status",
            with_field(&base, "success_action_status", "200"),
            b"12345",
            403,
            "AccessDenied",
        ),
        (
            "too large",
            base.clone(),
            b"12345678901",
            400,
            "EntityTooLarge",
        ),
        ("too small", base.clone(), b"1", 400, "EntityTooSmall"),
        (
            "forged policy",
            broken_policy,
            b"12345",
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "signature",
            with_field(&base, "q-signature", &"0".repeat(40)),
            b"12345",
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "unknown secret id",
            with_field(&base, "q-ak", "AKIDnobody"),
            b"12345",
            403,
            "InvalidAccessKeyId",
        ),
        (
            "missing signature",
            base.iter()
                .filter(|(n, _)| n != "q-signature")
                .cloned()
                .collect(),
            b"12345",
            403,
            "AccessDenied",
        ),
    ];
    for (name, fields, file, status, code) in cases {
        let reply = post_form(&server, &fields, file).await;

        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{name}: {}",
            reply.text()
        );
    }
    let expired = PostPolicy::new(now() - 10)
        .equals("key", "late.txt")
        .sign(&creds(), window())
        .unwrap();
    post_form(&server, &expired.fields, b"x")
        .await
        .assert_error(403, "AccessDenied");
    let other_bucket = PostPolicy::new(now() + 600)
        .equals("key", "b.txt")
        .equals("bucket", "other-1250000000")
        .sign(&creds(), window())
        .unwrap();
    post_form(&server, &other_bucket.fields, b"x")
        .await
        .assert_error(403, "AccessDenied");

    let listing = server
        .request("GET", "")
        .param("prefix", "uploads/")
        .send()
        .await;
    assert_eq!(
        listing.text().matches("<Key>").count(),
        1,
        "{}",
        listing.text()
    );
    absent(&server, "late.txt").await;
    absent(&server, "b.txt").await;
    assert!(common::temp_files(&server.data).is_empty());
}

#[tokio::test]
async fn a_post_form_can_redirect_with_the_object_in_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let form = PostPolicy::new(now() + 600)
        .equals("key", "r/a b.txt")
        .equals("success_action_redirect", "http://127.0.0.1:9/done?x=1")
        .sign(&creds(), window())
        .unwrap();

    let reply = post_form(&server, &form.fields, b"redirected").await;

    assert_eq!(reply.status, 303, "{}", reply.text());
    let location = reply.header("location").unwrap();
    assert!(
        location.starts_with(
            "http://127.0.0.1:9/done?x=1&bucket=photos-1250000000&key=r%2Fa%20b.txt&etag=%22"
        ),
        "{location}"
    );
    let stored = server.request("GET", "r/a b.txt").send().await;
    assert_eq!(stored.body, b"redirected");
}
