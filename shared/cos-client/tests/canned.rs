//! The client against a loopback server that answers from a script: the answers `cos-local`
//! never gives (a late error inside a 200, a paged part listing, silence), and a look at
//! exactly what goes on the wire.

// Tests fail loudly on a broken fixture; unwrap is the clearest way to say so.
#![allow(clippy::unwrap_used)]

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use cos_sign::Credentials;
use cosigner_core::{ObjectStore, Part, StoreError};
use cosigner_cos_client::{ClientError, CosClient, CosSettings};

const SECRET_KEY: &str = "canned-secret-key-value";

/// One answer of the script.
enum Answer {
    /// Send this response.
    Reply(String),
    /// Read the request and never answer.
    Silence,
}

/// A request as the server received it.
#[derive(Debug, Clone)]
struct Received {
    head: String,
    body: Vec<u8>,
}

impl Received {
    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

struct Canned {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Canned {
    async fn start(answers: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(answers.into_iter()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&script), Arc::clone(&log)));
            }
        });
        Self { addr, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn client(&self) -> CosClient {
        self.client_with(
            Credentials::new("AKIDcanned", SECRET_KEY).unwrap(),
            Duration::from_secs(5),
        )
    }

    fn client_with(&self, credentials: Credentials, timeout: Duration) -> CosClient {
        let settings = CosSettings {
            endpoint: Some(format!("http://{}", self.addr)),
            request_timeout: timeout,
            ..CosSettings::new("files-1250000000", "ap-guangzhou")
        };
        CosClient::new(&settings, credentials).unwrap()
    }
}

async fn serve(
    mut stream: TcpStream,
    script: Arc<Mutex<std::vec::IntoIter<Answer>>>,
    log: Arc<Mutex<Vec<Received>>>,
) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut request = Received {
            head,
            body: Vec::new(),
        };
        let length: usize = request
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        request.body = buffer[head_end..head_end + length].to_vec();
        buffer.drain(..head_end + length);
        log.lock().unwrap().push(request);

        let answer = script.lock().unwrap().next();
        match answer {
            Some(Answer::Reply(text)) => {
                if stream.write_all(text.as_bytes()).await.is_err() {
                    return;
                }
            }
            Some(Answer::Silence) => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            None => return,
        }
    }
}

fn reply(status: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut text = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    Answer::Reply(text)
}

fn xml(status: &str, body: &str) -> Answer {
    reply(status, &[("content-type", "application/xml")], body)
}

fn parts_page(numbers: &[u32], next: Option<u32>) -> Answer {
    let mut body = String::from("<ListPartsResult><Bucket>files-1250000000</Bucket>");
    match next {
        Some(next) => body.push_str(&format!(
            "<IsTruncated>true</IsTruncated><NextPartNumberMarker>{next}</NextPartNumberMarker>"
        )),
        None => body.push_str("<IsTruncated>false</IsTruncated>"),
    }
    for n in numbers {
        body.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"etag{n}\"</ETag><Size>{}</Size></Part>",
            n * 10
        ));
    }
    body.push_str("</ListPartsResult>");
    xml("200 OK", &body)
}

fn signed_header_list(request: &Received) -> String {
    let authorization = request.header("authorization").unwrap();
    authorization
        .split('&')
        .find_map(|field| field.strip_prefix("q-header-list="))
        .unwrap()
        .to_owned()
}

fn part(number: u32, etag: &str, size: u64) -> Part {
    Part {
        number,
        etag: etag.into(),
        size,
    }
}

#[tokio::test]
async fn a_complete_that_fails_inside_a_200_is_unavailable_when_cos_failed() {
    let server = Canned::start(vec![xml(
        "200 OK",
        "\n\n<Error><Code>InternalError</Code><Message>We encountered an internal error.\
         </Message><RequestId>late-1</RequestId></Error>",
    )])
    .await;

    let result = server
        .client()
        .complete_multipart("k", "u1", &[part(1, "a", 5)])
        .await;

    let Err(StoreError::Unavailable(source)) = result else {
        panic!("not unavailable: {result:?}");
    };
    assert_eq!(
        source.to_string(),
        "COS answered 200 InternalError: We encountered an internal error. (request id late-1)"
    );
}

#[tokio::test]
async fn a_complete_that_fails_inside_a_200_is_rejected_when_the_parts_are_wrong() {
    let server = Canned::start(vec![xml(
        "200 OK",
        "<Error><Code>InvalidPart</Code><Message>part 1 is not there</Message></Error>",
    )])
    .await;

    let result = server
        .client()
        .complete_multipart("k", "u1", &[part(1, "a", 5)])
        .await;

    assert!(
        matches!(&result, Err(StoreError::Rejected { status: 200, code, .. }) if code == "InvalidPart"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_complete_sends_the_parts_in_order_and_reports_the_final_object() {
    let server = Canned::start(vec![xml(
        "200 OK",
        "<CompleteMultipartUploadResult><Location>x</Location><Bucket>files-1250000000</Bucket>\
         <Key>dir/a b.bin</Key><ETag>\"0123456789abcdef0123456789abcdef-2\"</ETag>\
         </CompleteMultipartUploadResult>",
    )])
    .await;
    let parts = [part(2, "bb", 3), part(1, "aa", 1048576)];

    let info = server
        .client()
        .complete_multipart("dir/a b.bin", "up/1", &parts)
        .await
        .unwrap();

    assert_eq!(info.etag, "0123456789abcdef0123456789abcdef-2");
    assert_eq!(info.size, 1048579);
    let received = server.received();
    assert_eq!(
        received[0].request_line(),
        "POST /dir/a%20b.bin?uploadId=up%2F1 HTTP/1.1"
    );
    assert_eq!(
        String::from_utf8(received[0].body.clone()).unwrap(),
        "<CompleteMultipartUpload>\
         <Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part>\
         </CompleteMultipartUpload>"
    );
    assert_eq!(
        signed_header_list(&received[0]),
        "content-length;content-md5;content-type;host"
    );
}

#[tokio::test]
async fn list_parts_follows_the_markers_across_pages() {
    let server = Canned::start(vec![
        parts_page(&[1, 2], Some(2)),
        parts_page(&[3, 4], Some(4)),
        parts_page(&[5], None),
    ])
    .await;

    let parts = server.client().list_parts("k", "u1").await.unwrap();

    let numbers: Vec<u32> = parts.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert_eq!(parts[2], part(3, "etag3", 30));
    let lines: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.request_line().to_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "GET /k?uploadId=u1&max-parts=1000 HTTP/1.1",
            "GET /k?uploadId=u1&max-parts=1000&part-number-marker=2 HTTP/1.1",
            "GET /k?uploadId=u1&max-parts=1000&part-number-marker=4 HTTP/1.1",
        ]
    );
}

#[tokio::test]
async fn a_part_listing_that_never_advances_is_an_error_not_a_loop() {
    let server = Canned::start(vec![
        parts_page(&[1, 2], Some(2)),
        parts_page(&[1, 2], Some(2)),
        parts_page(&[1, 2], Some(2)),
    ])
    .await;

    let result = server.client().list_parts("k", "u1").await;

    let Err(StoreError::Unavailable(source)) = result else {
        panic!("not unavailable: {result:?}");
    };
    assert!(matches!(
        source.downcast_ref::<ClientError>(),
        Some(ClientError::MalformedAnswer(_))
    ));
    assert_eq!(server.received().len(), 2);
}

#[tokio::test]
async fn a_silent_server_is_unavailable_once_the_request_timeout_passes() {
    let server = Canned::start(vec![Answer::Silence]).await;
    let client = server.client_with(
        Credentials::new("AKIDcanned", SECRET_KEY).unwrap(),
        Duration::from_millis(300),
    );
    let started = Instant::now();

    let result = client.head("k").await;

    let elapsed = started.elapsed();
    let Err(StoreError::Unavailable(source)) = result else {
        panic!("not unavailable: {result:?}");
    };
    let Some(ClientError::Transport(cause)) = source.downcast_ref::<ClientError>() else {
        panic!("not a transport error: {source:?}");
    };
    assert!(cause.is_timeout(), "{cause:?}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn each_call_signs_host_and_the_content_headers_it_sends() {
    let server = Canned::start(vec![
        reply(
            "200 OK",
            &[("etag", "\"e\""), ("content-type", "text/plain")],
            "",
        ),
        xml(
            "200 OK",
            "<InitiateMultipartUploadResult><UploadId>u9</UploadId></InitiateMultipartUploadResult>",
        ),
        reply("204 No Content", &[], ""),
        reply("204 No Content", &[], ""),
    ])
    .await;
    let client = server.client();

    client.head("a/b").await.unwrap();
    let upload_id = client.initiate_multipart("a/b", "video/mp4").await.unwrap();
    client.abort_multipart("a/b", &upload_id).await.unwrap();
    client.delete("a/b").await.unwrap();

    let received = server.received();
    let host = server.addr.to_string();
    let lines: Vec<&str> = received.iter().map(Received::request_line).collect();
    assert_eq!(
        lines,
        [
            "HEAD /a/b HTTP/1.1",
            "POST /a/b?uploads HTTP/1.1",
            "DELETE /a/b?uploadId=u9 HTTP/1.1",
            "DELETE /a/b HTTP/1.1",
        ]
    );
    assert_eq!(signed_header_list(&received[0]), "host");
    assert_eq!(
        signed_header_list(&received[1]),
        "content-length;content-type;host"
    );
    assert_eq!(received[1].header("content-length").as_deref(), Some("0"));
    assert_eq!(
        received[1].header("content-type").as_deref(),
        Some("video/mp4")
    );
    assert_eq!(signed_header_list(&received[2]), "host");
    for request in &received {
        assert_eq!(request.header("host").as_deref(), Some(host.as_str()));
        let authorization = request.header("authorization").unwrap();
        assert!(authorization.starts_with("q-sign-algorithm=sha1&q-ak=AKIDcanned&"));
        assert!(!request.request_line().contains("q-signature"));
    }
}

#[tokio::test]
async fn the_signature_window_opens_a_minute_early_and_closes_soon() {
    let server = Canned::start(vec![reply("404 Not Found", &[], "")]).await;

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    server.client().head("k").await.unwrap();

    let authorization = server.received()[0].header("authorization").unwrap();
    let window = authorization
        .split('&')
        .find_map(|f| f.strip_prefix("q-key-time="))
        .unwrap();
    let (start, end) = window.split_once(';').unwrap();
    let (start, end): (u64, u64) = (start.parse().unwrap(), end.parse().unwrap());
    assert!(start + 60 >= before && start + 60 <= before + 2, "{window}");
    assert_eq!(end - start, 120);
}

#[tokio::test]
async fn temporary_credentials_send_their_session_token() {
    let server = Canned::start(vec![reply("404 Not Found", &[], "")]).await;
    let credentials = Credentials::new("AKIDtemp", SECRET_KEY)
        .unwrap()
        .with_session_token("token-123")
        .unwrap();

    let found = server
        .client_with(credentials, Duration::from_secs(5))
        .head("k")
        .await
        .unwrap();

    assert_eq!(found, None);
    let request = &server.received()[0];
    assert_eq!(
        request.header("x-cos-security-token").as_deref(),
        Some("token-123")
    );
    assert_eq!(signed_header_list(request), "host;x-cos-security-token");
}

#[tokio::test]
async fn a_missing_object_deletes_fine_but_a_missing_bucket_does_not() {
    let server = Canned::start(vec![
        xml(
            "404 Not Found",
            "<Error><Code>NoSuchKey</Code><Message>no key</Message></Error>",
        ),
        xml(
            "404 Not Found",
            "<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>",
        ),
    ])
    .await;
    let client = server.client();

    let missing_key = client.delete("k").await;
    let missing_bucket = client.delete("k").await;

    assert!(missing_key.is_ok(), "{missing_key:?}");
    assert!(
        matches!(&missing_bucket, Err(StoreError::Rejected { status: 404, code, .. }) if code == "NoSuchBucket"),
        "{missing_bucket:?}"
    );
}

#[tokio::test]
async fn errors_hold_neither_the_secret_key_nor_the_signature() {
    let server = Canned::start(vec![
        xml(
            "403 Forbidden",
            "<Error><Code>SignatureDoesNotMatch</Code><Message>no match</Message>\
             <StringToSign>sha1\n1;2\nabc\n</StringToSign></Error>",
        ),
        xml(
            "503 Service Unavailable",
            "<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>",
        ),
        Answer::Silence,
    ])
    .await;
    let client = server.client_with(
        Credentials::new("AKIDcanned", SECRET_KEY).unwrap(),
        Duration::from_millis(300),
    );

    let errors = vec![
        client.list_parts("k", "u").await.unwrap_err(),
        client.list_parts("k", "u").await.unwrap_err(),
        client.list_parts("k", "u").await.unwrap_err(),
    ];

    let signatures: Vec<String> = server
        .received()
        .iter()
        .map(|r| {
            let authorization = r.header("authorization").unwrap();
            authorization
                .split('&')
                .find_map(|f| f.strip_prefix("q-signature="))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(signatures.len(), 3);
    assert!(matches!(errors[0], StoreError::InvalidCredentials { .. }));
    assert!(matches!(errors[1], StoreError::Unavailable(_)));
    assert!(matches!(errors[2], StoreError::Unavailable(_)));
    for error in &errors {
        let mut text = format!("{error:?} {error}");
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(&format!(" {cause:?} {cause}"));
            source = cause.source();
        }
        assert!(!text.contains(SECRET_KEY), "{text}");
        assert!(!text.contains("q-signature"), "{text}");
        for signature in &signatures {
            assert!(!text.contains(signature.as_str()), "{text}");
        }
    }
}

#[tokio::test]
async fn a_key_that_cannot_be_signed_is_refused_without_a_request() {
    let server = Canned::start(vec![]).await;

    let result = server.client().head("/leading/slash").await;

    assert!(
        matches!(&result, Err(StoreError::Rejected { status: 400, code, .. }) if code == "InvalidRequest"),
        "{result:?}"
    );
    assert!(server.received().is_empty());
}
