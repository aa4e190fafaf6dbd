//! The client over the wire against the real `cos-local`: every call of the port, the error
//! mapping the domain relies on, key rotation, and a store that went away.
//!
//! Needs the `cos-local` binary built first: `cargo build -p cos-local` (see
//! `support/cos_local.rs`).

// Tests fail loudly on a broken fixture; unwrap is the clearest way to say so.
#![allow(clippy::unwrap_used)]

mod support;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest as _, Md5};

use cos_sign::Credentials;
use cosigner_core::{Clock, ObjectStore, Part, StoreError};
use cosigner_cos_client::{Addressing, ClientError};
use support::cos_local::{CosLocal, SECRET_ID, SECRET_KEY, TEMP_KEY, temporary_credentials};

const MIB: usize = 1024 * 1024;

fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag COS gives a multipart object: the MD5 of the parts' MD5s, then `-<count>`.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut digests = Vec::new();
    for part in parts {
        digests.extend_from_slice(&Md5::digest(part));
    }
    format!("{}-{}", md5_hex(&digests), parts.len())
}

/// A clock that runs `offset` seconds off the real one.
struct SkewedClock(i64);

impl Clock for SkewedClock {
    fn now(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        now.saturating_add_signed(self.0)
    }
}

fn error_text(error: &StoreError) -> String {
    let mut text = format!("{error:?} {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(" {cause:?} {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn head_of_a_present_object_reports_size_etag_crc64_and_type() {
    let server = CosLocal::start();
    let body = b"hello from the terminal";
    let put_etag = server.put("docs/report.txt", &[], body).await;

    let info = server
        .client()
        .head("docs/report.txt")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(info.size, body.len() as u64);
    assert_eq!(info.etag, md5_hex(body));
    assert_eq!(info.etag, put_etag);
    let crc64 = info.crc64.expect("cos-local sends x-cos-hash-crc64ecma");
    assert!(crc64.parse::<u64>().is_ok(), "{crc64}");
    assert_eq!(
        info.content_type.as_deref(),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn head_of_a_missing_object_is_none() {
    let server = CosLocal::start();

    let info = server.client().head("nobody/here.txt").await.unwrap();

    assert_eq!(info, None);
}

#[tokio::test]
async fn delete_removes_a_present_object_and_a_missing_one_is_fine() {
    let server = CosLocal::start();
    let client = server.client();
    server.put("old/file.bin", &[], b"bytes").await;

    client.delete("old/file.bin").await.unwrap();
    let again = client.delete("old/file.bin").await;
    let never = client.delete("never/was.bin").await;

    assert_eq!(client.head("old/file.bin").await.unwrap(), None);
    assert!(again.is_ok(), "{again:?}");
    assert!(never.is_ok(), "{never:?}");
}

#[tokio::test]
async fn a_multipart_upload_completes_from_its_listed_parts() {
    let server = CosLocal::start();
    let client = server.client();
    let key = "big/video 01.mp4";
    let first = vec![b'a'; MIB];
    let second = vec![b'b'; MIB];
    let last = b"the last short part".to_vec();

    let upload_id = client.initiate_multipart(key, "video/mp4").await.unwrap();
    let mut etags = Vec::new();
    // Uploaded out of order, as parallel terminals do.
    for (number, body) in [(2, &second), (1, &first), (3, &last)] {
        let etag = server
            .put(
                key,
                &[
                    ("partNumber", &number.to_string()),
                    ("uploadId", &upload_id),
                ],
                body,
            )
            .await;
        etags.push((number, etag));
    }
    let parts = client.list_parts(key, &upload_id).await.unwrap();
    let completed = client
        .complete_multipart(key, &upload_id, &parts)
        .await
        .unwrap();
    let info = client.head(key).await.unwrap().unwrap();

    let numbers: Vec<u32> = parts.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let sizes: Vec<u64> = parts.iter().map(|p| p.size).collect();
    assert_eq!(sizes, [MIB as u64, MIB as u64, last.len() as u64]);
    for (number, etag) in etags {
        assert_eq!(parts[number as usize - 1].etag, etag);
    }
    let expected = multipart_etag(&[&first, &second, &last]);
    assert!(expected.ends_with("-3"));
    assert_eq!(completed.etag, expected);
    assert_eq!(completed.size, (2 * MIB + last.len()) as u64);
    assert_eq!(info.etag, expected);
    assert_eq!(info.size, completed.size);
    assert_eq!(info.content_type.as_deref(), Some("video/mp4"));
    assert!(completed.crc64.is_some());
    assert_eq!(completed.crc64, info.crc64);
}

#[tokio::test]
async fn an_aborted_upload_is_gone_and_aborting_it_again_succeeds() {
    let server = CosLocal::start();
    let client = server.client();
    let upload_id = client
        .initiate_multipart("tmp/x.bin", "application/octet-stream")
        .await
        .unwrap();
    server
        .put(
            "tmp/x.bin",
            &[("partNumber", "1"), ("uploadId", &upload_id)],
            b"part",
        )
        .await;

    client
        .abort_multipart("tmp/x.bin", &upload_id)
        .await
        .unwrap();
    let again = client.abort_multipart("tmp/x.bin", &upload_id).await;
    let listed = client.list_parts("tmp/x.bin", &upload_id).await;

    assert!(again.is_ok(), "{again:?}");
    assert!(
        matches!(listed, Err(StoreError::NoSuchUpload)),
        "{listed:?}"
    );
    assert_eq!(client.head("tmp/x.bin").await.unwrap(), None);
}

#[tokio::test]
async fn an_unknown_upload_is_no_such_upload() {
    let server = CosLocal::start();
    let client = server.client();
    let part = Part {
        number: 1,
        etag: md5_hex(b"x"),
        size: 1,
    };

    let listed = client.list_parts("k.bin", "no-such-upload").await;
    let completed = client
        .complete_multipart("k.bin", "no-such-upload", &[part])
        .await;

    assert!(
        matches!(listed, Err(StoreError::NoSuchUpload)),
        "{listed:?}"
    );
    assert!(
        matches!(completed, Err(StoreError::NoSuchUpload)),
        "{completed:?}"
    );
}

#[tokio::test]
async fn a_complete_naming_a_part_that_was_not_uploaded_is_rejected() {
    let server = CosLocal::start();
    let client = server.client();
    let upload_id = client
        .initiate_multipart("p.bin", "application/octet-stream")
        .await
        .unwrap();
    let etag = server
        .put(
            "p.bin",
            &[("partNumber", "1"), ("uploadId", &upload_id)],
            b"only part",
        )
        .await;
    let parts = [Part {
        number: 1,
        etag: md5_hex(b"some other bytes"),
        size: 9,
    }];

    let result = client.complete_multipart("p.bin", &upload_id, &parts).await;

    assert!(
        matches!(&result, Err(StoreError::Rejected { status: 400, code, .. }) if code == "InvalidPart"),
        "{result:?}"
    );
    assert_ne!(etag, parts[0].etag);
}

#[tokio::test]
async fn refused_credentials_ask_for_fresh_ones_and_the_rotated_pair_then_works() {
    let server = CosLocal::start();
    server.put("a.txt", &[], b"abc").await;
    let unknown_id = Credentials::new("AKIDretired", SECRET_KEY).unwrap();
    let wrong_key = Credentials::new(SECRET_ID, "not-the-secret-key").unwrap();
    let client = server.client_with(Addressing::Domain, unknown_id);

    let by_id = client.initiate_multipart("b.bin", "text/plain").await;
    client.set_credentials(wrong_key);
    let by_key = client.list_parts("b.bin", "u").await;
    let by_head = client.head("a.txt").await;
    client.set_credentials(support::cos_local::credentials());
    let after = client.head("a.txt").await;

    assert!(
        matches!(&by_id, Err(StoreError::InvalidCredentials { code }) if code == "InvalidAccessKeyId"),
        "{by_id:?}"
    );
    assert!(
        matches!(&by_key, Err(StoreError::InvalidCredentials { code }) if code == "SignatureDoesNotMatch"),
        "{by_key:?}"
    );
    // A HEAD answer has no body to name the code; its 403 alone asks for fresh keys.
    assert!(
        matches!(&by_head, Err(StoreError::InvalidCredentials { .. })),
        "{by_head:?}"
    );
    assert_eq!(after.unwrap().unwrap().size, 3);
    for error in [
        by_id.unwrap_err(),
        by_key.unwrap_err(),
        by_head.unwrap_err(),
    ] {
        let text = error_text(&error);
        assert!(!text.contains(SECRET_KEY), "{text}");
        assert!(!text.contains("not-the-secret-key"), "{text}");
        assert!(!text.contains("q-signature"), "{text}");
    }
    assert!(!format!("{client:?}").contains(SECRET_KEY));
}

#[tokio::test]
async fn a_clock_an_hour_off_is_refused_without_blaming_the_key() {
    let server = CosLocal::start();
    let ahead = server.client().with_clock(Arc::new(SkewedClock(3600)));
    let behind = server.client().with_clock(Arc::new(SkewedClock(-3600)));

    let early = ahead.initiate_multipart("t.bin", "text/plain").await;
    let late = behind.initiate_multipart("t.bin", "text/plain").await;

    assert!(
        matches!(&early, Err(StoreError::Rejected { status: 403, code, .. }) if code == "RequestTimeTooSkewed"),
        "{early:?}"
    );
    assert!(
        matches!(&late, Err(StoreError::Rejected { status: 403, message, .. })
            if message.contains("expired")),
        "{late:?}"
    );
}

#[tokio::test]
async fn every_addressing_reaches_the_bucket() {
    let server = CosLocal::start();
    server.put("shared/one.txt", &[], b"one").await;

    for addressing in [
        Addressing::Domain,
        Addressing::VirtualHost,
        Addressing::PathStyle,
    ] {
        let client = server.client_with(addressing, support::cos_local::credentials());

        let info = client.head("shared/one.txt").await;
        let upload = client
            .initiate_multipart("shared/two.bin", "text/plain")
            .await;

        assert_eq!(info.unwrap().unwrap().size, 3, "{addressing:?}");
        let upload_id = upload.unwrap();
        client
            .abort_multipart("shared/two.bin", &upload_id)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn keys_with_spaces_plus_signs_and_unicode_round_trip() {
    let server = CosLocal::start();
    let client = server.client();
    let key = "u-1/01J0 a+b/résumé (final)!.pdf";
    server.put(key, &[], b"%PDF").await;

    let found = client.head(key).await.unwrap();
    client.delete(key).await.unwrap();
    let gone = client.head(key).await.unwrap();

    assert_eq!(found.unwrap().size, 4);
    assert_eq!(gone, None);
}

#[tokio::test]
async fn temporary_credentials_sign_with_their_session_token() {
    let server = CosLocal::start();
    server.put("t.txt", &[], b"temp").await;
    let client = server.client_with(Addressing::Domain, temporary_credentials());

    let info = client.head("t.txt").await.unwrap();

    assert_eq!(info.unwrap().size, 4);
    assert!(!format!("{client:?}").contains(TEMP_KEY));
}

#[tokio::test]
async fn a_stopped_store_is_unavailable_with_the_cause_kept() {
    let mut server = CosLocal::start();
    let client = server.client();
    assert_eq!(client.head("x").await.unwrap(), None);

    server.stop();
    let result = client.head("x").await;

    let Err(StoreError::Unavailable(source)) = result else {
        panic!("not unavailable: {result:?}");
    };
    assert!(
        matches!(
            source.downcast_ref::<ClientError>(),
            Some(ClientError::Transport(_))
        ),
        "{source:?}"
    );
    assert!(
        source.source().is_some(),
        "the transport error keeps its cause"
    );
}
