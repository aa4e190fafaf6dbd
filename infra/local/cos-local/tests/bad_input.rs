//! Bad input gets a clear COS error, the server stays up, and no stray file is left:
//! malformed XML, absurd part numbers, oversized headers, truncated and stalled bodies,
//! bodies over the limit, and a data directory that refuses to be written.

// Test helpers outside #[test] functions panic on setup failures, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use cos_sign::RequestToSign;

use common::{CosLocal, Reply, creds, temp_files, window};

/// The server still answers a signed request.
async fn still_up(server: &CosLocal) {
    let reply = server.request("GET", "").send().await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Waits for `dir` to hold no temporary file (a dropped connection is noticed a moment
/// after the client leaves).
async fn no_temp_files(dir: &Path) {
    for _ in 0..100 {
        if temp_files(dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("stray files: {:?}", temp_files(dir));
}

/// The head of a signed PUT of `key`, declaring `length` bytes.
fn put_head(server: &CosLocal, key: &str, length: usize) -> String {
    let host = format!("127.0.0.1:{}", server.port);
    let signed = RequestToSign::new("PUT", key)
        .header("Host", &host)
        .sign(&creds(), window())
        .unwrap();
    format!(
        "PUT /{key} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\nContent-Length: {length}\r\n\r\n",
        signed.authorization
    )
}

/// Status and body of the answer on a raw connection, or `None` when it was closed first.
async fn read_answer(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}

fn code(text: &str) -> &str {
    text.split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .unwrap_or("")
}

#[tokio::test]
async fn malformed_part_lists_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let initiated = server
        .request("POST", "mp.bin")
        .flag("uploads")
        .send()
        .await;
    let upload_id = initiated.xml("UploadId").unwrap();
    let complete = |body: &'static str| {
        server
            .request("POST", "mp.bin")
            .param("uploadId", &upload_id)
            .body(body)
    };

    for (body, expected) in [
        ("", "MalformedXML"),
        ("this is not xml", "MalformedXML"),
        (
            "<CompleteMultipartUpload><Part><PartNumber>1",
            "MalformedXML",
        ),
        (
            "<Wrong><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Wrong>",
            "MalformedXML",
        ),
        ("<CompleteMultipartUpload/>", "MalformedXML"),
        (
            "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
            "InvalidArgument",
        ),
        (
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"0\"</ETag></Part></CompleteMultipartUpload>",
            "InvalidPart",
        ),
    ] {
        let reply = complete(body).send().await;

        reply.assert_error(400, expected);
    }
    still_up(&server).await;
    let parts = server
        .request("GET", "mp.bin")
        .param("uploadId", &upload_id)
        .send()
        .await;
    assert_eq!(
        parts.status,
        200,
        "the upload is still there: {}",
        parts.text()
    );
}

#[tokio::test]
async fn part_lists_are_checked_against_the_stored_parts() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &["--min-part-bytes", "5"]);
    let initiated = server
        .request("POST", "mp.bin")
        .flag("uploads")
        .send()
        .await;
    let upload_id = initiated.xml("UploadId").unwrap();
    let mut etags = Vec::new();
    for (number, body) in [(1, "abc"), (2, "defgh"), (3, "ijklmn")] {
        let part = server
            .request("PUT", "mp.bin")
            .param("partNumber", &number.to_string())
            .param("uploadId", &upload_id)
            .body(body)
            .send()
            .await;
        etags.push(part.header("etag").unwrap());
    }
    let listing = |parts: &[(u32, &str)]| {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml + "</CompleteMultipartUpload>"
    };
    let complete = |body: String| {
        server
            .request("POST", "mp.bin")
            .param("uploadId", &upload_id)
            .body(body)
    };

    let out_of_order = complete(listing(&[(3, &etags[2]), (2, &etags[1])]))
        .send()
        .await;
    let missing = complete(listing(&[(2, &etags[1]), (4, &etags[2])]))
        .send()
        .await;
    let wrong_etag = complete(listing(&[(2, &etags[0]), (3, &etags[2])]))
        .send()
        .await;
    let too_small = complete(listing(&[(1, &etags[0]), (2, &etags[1])]))
        .send()
        .await;
    let fine = complete(listing(&[(2, &etags[1]), (3, &etags[2])]))
        .send()
        .await;
    let again = complete(listing(&[(2, &etags[1]), (3, &etags[2])]))
        .send()
        .await;

    out_of_order.assert_error(400, "InvalidPartOrder");
    missing.assert_error(400, "InvalidPart");
    wrong_etag.assert_error(400, "InvalidPart");
    too_small.assert_error(400, "EntityTooSmall");
    assert_eq!(fine.status, 200, "{}", fine.text());
    assert!(fine.xml("ETag").unwrap().ends_with("-2\""));
    again.assert_error(404, "NoSuchUpload");
    let object = server.request("GET", "mp.bin").send().await;
    assert_eq!(object.body, b"defghijklmn");
    no_temp_files(&server.data).await;
}

#[tokio::test]
async fn absurd_part_numbers_and_unknown_uploads_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let initiated = server.request("POST", "n.bin").flag("uploads").send().await;
    let upload_id = initiated.xml("UploadId").unwrap();

    for number in [
        "0",
        "10001",
        "-1",
        "99999999999999999999999",
        "1.5",
        "abc",
        "",
    ] {
        let reply = server
            .request("PUT", "n.bin")
            .param("partNumber", number)
            .param("uploadId", &upload_id)
            .body("x")
            .send()
            .await;

        reply.assert_error(400, "InvalidArgument");
    }
    for upload in ["0123abcd", "../../etc", ""] {
        let reply = server
            .request("PUT", "n.bin")
            .param("partNumber", "1")
            .param("uploadId", upload)
            .body("x")
            .send()
            .await;

        reply.assert_error(404, "NoSuchUpload");
    }
    let other_key = server
        .request("PUT", "other.bin")
        .param("partNumber", "1")
        .param("uploadId", &upload_id)
        .body("x")
        .send()
        .await;
    other_key.assert_error(404, "NoSuchUpload");
    let aborted = server
        .request("DELETE", "n.bin")
        .param("uploadId", &upload_id)
        .send()
        .await;
    assert_eq!(aborted.status, 204);
    server
        .request("DELETE", "n.bin")
        .param("uploadId", &upload_id)
        .send()
        .await
        .assert_error(404, "NoSuchUpload");
    still_up(&server).await;
    no_temp_files(&server.data).await;
}

#[tokio::test]
async fn oversized_headers_are_refused_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);

    let large = server
        .request("GET", "")
        .unsigned_header("x-padding", &"a".repeat(20 << 10))
        .send()
        .await;
    let huge = common::client()
        .get(format!("{}/", server.url))
        .header("x-padding", "a".repeat(200 << 10))
        .send()
        .await;

    large.assert_error(400, "RequestHeaderSectionTooLarge");
    // Past the connection's buffer the HTTP layer answers 431 itself, or drops the
    // connection; either way the request goes no further.
    if let Ok(huge) = huge {
        assert_eq!(huge.status().as_u16(), 431);
    }
    still_up(&server).await;
}

#[tokio::test]
async fn a_truncated_body_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);

    // The client sends 1000 of 100000 bytes, then says it is done sending.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream
        .write_all(put_head(&server, "cut.bin", 100_000).as_bytes())
        .await
        .unwrap();
    stream.write_all(&[7u8; 1000]).await.unwrap();
    stream.shutdown().await.unwrap();
    let answer = read_answer(&mut stream).await;

    // And one that just goes away mid-body.
    let mut gone = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    gone.write_all(put_head(&server, "gone.bin", 100_000).as_bytes())
        .await
        .unwrap();
    gone.write_all(&[7u8; 5000]).await.unwrap();
    drop(gone);

    let (status, text) = answer.expect("an answer before the connection closed");
    assert_eq!((status, code(&text)), (400, "IncompleteBody"), "{text}");
    no_temp_files(&server.data).await;
    for key in ["cut.bin", "gone.bin"] {
        assert_eq!(server.request("HEAD", key).send().await.status, 404);
    }
    still_up(&server).await;
}

#[tokio::test]
async fn a_stalled_body_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &["--idle-timeout", "1"]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream
        .write_all(put_head(&server, "stalled.bin", 1000).as_bytes())
        .await
        .unwrap();
    stream.write_all(b"only a little").await.unwrap();

    let answer = read_answer(&mut stream).await;

    let (status, text) = answer.expect("an answer");
    assert_eq!((status, code(&text)), (400, "RequestTimeout"), "{text}");
    no_temp_files(&server.data).await;
    assert_eq!(
        server.request("HEAD", "stalled.bin").send().await.status,
        404
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &["--max-object-bytes", "1000"]);
    let initiated = server
        .request("POST", "big.bin")
        .flag("uploads")
        .send()
        .await;
    let upload_id = initiated.xml("UploadId").unwrap();

    let declared = server
        .request("PUT", "big.bin")
        .body(vec![1u8; 2000])
        .send()
        .await;
    let (url, authorization, headers) = server.request("PUT", "chunked.bin").parts();
    let mut chunked = common::client()
        .put(url)
        .header("Authorization", authorization.unwrap())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            (0..4).map(|_| Ok::<_, std::io::Error>(vec![2u8; 600])),
        )));
    for (name, value) in headers {
        chunked = chunked.header(name, value);
    }
    let chunked = Reply::from(chunked.send().await.unwrap()).await;
    let part = server
        .request("PUT", "big.bin")
        .param("partNumber", "1")
        .param("uploadId", &upload_id)
        .body(vec![3u8; 1001])
        .send()
        .await;
    let exact = server
        .request("PUT", "exact.bin")
        .body(vec![4u8; 1000])
        .send()
        .await;

    declared.assert_error(400, "EntityTooLarge");
    chunked.assert_error(400, "EntityTooLarge");
    part.assert_error(400, "EntityTooLarge");
    assert_eq!(exact.status, 200);
    for key in ["big.bin", "chunked.bin"] {
        assert_eq!(server.request("HEAD", key).send().await.status, 404);
    }
    no_temp_files(&server.data).await;
    still_up(&server).await;
}

#[tokio::test]
async fn a_data_directory_that_refuses_writes_gives_internal_errors_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &[]);
    let before = server.request("PUT", "kept.txt").body("kept").send().await;
    assert_eq!(before.status, 200);
    let bucket = server.data.join("buckets").join(common::BUCKET);
    let objects = bucket.join("objects");
    let uploads = bucket.join("uploads");
    let moved_objects = dir.path().join("objects.moved");
    let moved_uploads = dir.path().join("uploads.moved");
    // A file where a directory should be: every write below it fails, even for root.
    std::fs::rename(&objects, &moved_objects).unwrap();
    std::fs::write(&objects, "not a directory").unwrap();
    std::fs::rename(&uploads, &moved_uploads).unwrap();
    std::fs::write(&uploads, "not a directory").unwrap();

    let put = server
        .request("PUT", "refused.txt")
        .body("lost")
        .send()
        .await;
    let initiate = server
        .request("POST", "refused.bin")
        .flag("uploads")
        .send()
        .await;
    let listing = server.request("GET", "").send().await;

    put.assert_error(500, "InternalError");
    assert!(
        !put.text().contains(dir.path().to_str().unwrap()),
        "no paths leak: {}",
        put.text()
    );
    initiate.assert_error(500, "InternalError");
    assert_eq!(listing.status, 200);
    assert!(server.log_text().contains("InternalError"));

    std::fs::remove_file(&objects).unwrap();
    std::fs::rename(&moved_objects, &objects).unwrap();
    std::fs::remove_file(&uploads).unwrap();
    std::fs::rename(&moved_uploads, &uploads).unwrap();
    let after = server
        .request("PUT", "refused.txt")
        .body("stored")
        .send()
        .await;
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(server.request("GET", "kept.txt").send().await.body, b"kept");
    no_temp_files(&server.data).await;
}

#[tokio::test]
async fn missing_things_ranges_and_unknown_apis_get_their_cos_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = CosLocal::start(dir.path(), &["--cors-origin", "http://localhost:5173"]);
    server
        .request("PUT", "ten.txt")
        .body("0123456789")
        .send()
        .await;

    server
        .request("GET", "missing.txt")
        .send()
        .await
        .assert_error(404, "NoSuchKey");
    server
        .request("GET", "ten.txt")
        .header("Range", "bytes=10-")
        .send()
        .await
        .assert_error(416, "InvalidRange");
    let ranged = server
        .request("GET", "ten.txt")
        .header("Range", "bytes=2-4")
        .send()
        .await;
    assert_eq!((ranged.status, ranged.body.as_slice()), (206, &b"234"[..]));
    assert_eq!(
        ranged.header("content-range").as_deref(),
        Some("bytes 2-4/10")
    );
    server
        .request("PUT", "copy.txt")
        .header(
            "x-cos-copy-source",
            "photos-1250000000.cos.ap-guangzhou.myqcloud.com/ten.txt",
        )
        .send()
        .await
        .assert_error(501, "NotImplemented");
    server
        .request("PATCH", "ten.txt")
        .send()
        .await
        .assert_error(405, "MethodNotAllowed");
    let head_missing = server.request("HEAD", "missing.txt").send().await;
    assert_eq!((head_missing.status, head_missing.body.len()), (404, 0));

    let preflight = common::client()
        .request(reqwest::Method::OPTIONS, format!("{}/ten.txt", server.url))
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-cos-meta-a",
        )
        .send()
        .await
        .unwrap();
    let preflight = Reply::from(preflight).await;
    let refused = common::client()
        .request(reqwest::Method::OPTIONS, format!("{}/ten.txt", server.url))
        .header("Origin", "http://evil.test")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .unwrap();
    let cross_origin_get = server
        .request("GET", "ten.txt")
        .unsigned_header("Origin", "http://localhost:5173")
        .send()
        .await;

    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin").as_deref(),
        Some("http://localhost:5173")
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap()
            .contains("PUT")
    );
    Reply::from(refused)
        .await
        .assert_error(403, "AccessForbidden");
    assert_eq!(
        cross_origin_get
            .header("access-control-allow-origin")
            .as_deref(),
        Some("http://localhost:5173")
    );
    assert!(
        cross_origin_get
            .header("access-control-expose-headers")
            .unwrap()
            .contains("ETag")
    );
}
