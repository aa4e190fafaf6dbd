//! Upload events: one well-formed, correctly signed COS trigger event per created object,
//! retried while the receiver fails, and delivered after a restart when the receiver was
//! down and `cos-local` was killed with events still queued.

// Test helpers outside #[test] functions panic on setup failures, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;

use cos_sign::PostPolicy;

use common::{CosLocal, creds, now, window};

const SECRET: &str = "event-signing-secret";

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    timestamp: String,
    signature: String,
    body: String,
    accepted: bool,
}

/// A tiny event receiver on a loopback port: answers 503 to the first `failures` posts,
/// 200 after.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Delivery>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(listener: TcpListener, failures: usize) -> Self {
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let record = Arc::clone(&got);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let record = Arc::clone(&record);
                let service = service_fn(move |request: Request<Incoming>| {
                    let record = Arc::clone(&record);
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default()
                        };
                        let (timestamp, signature) = (
                            header("x-cosigner-timestamp"),
                            header("x-cosigner-signature"),
                        );
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let mut got = record.lock().unwrap();
                        let accepted = got.len() >= failures;
                        got.push(Delivery {
                            timestamp,
                            signature,
                            body: String::from_utf8(body.to_vec()).unwrap(),
                            accepted,
                        });
                        let status = if accepted { 200 } else { 503 };
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status.try_into().unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, got, task }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/events/cos", self.addr)
    }

    fn accepted(&self) -> Vec<Delivery> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.accepted)
            .cloned()
            .collect()
    }

    fn attempts(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Waits until `count` events were accepted, then a grace period, and returns them.
    async fn settle(&self, count: usize) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.accepted().len() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Long enough for a duplicate to show up if one were coming.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        self.accepted()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks the HMAC and the freshness of a delivery, and returns its only record.
fn verified_record(delivery: &Delivery) -> Value {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.{}", delivery.timestamp, delivery.body).as_bytes());
    assert_eq!(
        delivery.signature,
        hex::encode(mac.finalize().into_bytes()),
        "bad signature on {}",
        delivery.body
    );
    let sent: u64 = delivery.timestamp.parse().unwrap();
    assert!(sent.abs_diff(now()) < 120, "stale timestamp {sent}");
    let event: Value = serde_json::from_str(&delivery.body).unwrap();
    let records = event["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    records[0].clone()
}

fn by_key(deliveries: &[Delivery]) -> std::collections::BTreeMap<String, Value> {
    let mut map = std::collections::BTreeMap::new();
    for delivery in deliveries {
        let record = verified_record(delivery);
        let key = record["cos"]["cosObject"]["key"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            map.insert(key.clone(), record).is_none(),
            "duplicate event for {key}"
        );
    }
    map
}

fn notify_args(url: &str) -> Vec<String> {
    [
        "--notify",
        url,
        "--notify-secret",
        SECRET,
        "--notify-retry-max",
        "1",
        "--min-part-bytes",
        "4",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn start(dir: &std::path::Path, data: Option<&std::path::Path>, args: &[String]) -> CosLocal {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match data {
        Some(data) => CosLocal::start_with_data(data, &args),
        None => CosLocal::start(dir, &args),
    }
}

async fn post_form(server: &CosLocal, key: &str, body: &'static [u8]) {
    let form = PostPolicy::new(now() + 600)
        .equals("key", key)
        .sign(&creds(), window())
        .unwrap();
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in form.fields {
        multipart = multipart.text(name, value);
    }
    multipart = multipart.part("file", reqwest::multipart::Part::bytes(body));
    let response = common::client()
        .post(format!("{}/", server.url))
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

/// Initiate, two parts, complete.
async fn multipart_upload(server: &CosLocal, key: &str) {
    let initiated = server.request("POST", key).flag("uploads").send().await;
    let upload_id = initiated.xml("UploadId").unwrap();
    let mut listed = String::from("<CompleteMultipartUpload>");
    for (number, body) in [(1, "first part "), (2, "second part")] {
        let part = server
            .request("PUT", key)
            .param("partNumber", &number.to_string())
            .param("uploadId", &upload_id)
            .body(body)
            .send()
            .await;
        assert_eq!(part.status, 200, "{}", part.text());
        listed.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
            part.header("etag").unwrap()
        ));
    }
    listed.push_str("</CompleteMultipartUpload>");
    let completed = server
        .request("POST", key)
        .param("uploadId", &upload_id)
        .body(listed)
        .send()
        .await;
    assert_eq!(completed.status, 200, "{}", completed.text());
}

fn pending(server: &CosLocal) -> usize {
    std::fs::read_dir(server.data.join("events/pending"))
        .unwrap()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_created_object_sends_one_signed_event() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), 2).await;
    let server = start(dir.path(), None, &notify_args(&receiver.url()));

    let put = server
        .request("PUT", "ev/put me.txt")
        .header("Content-Type", "text/plain")
        .header("x-cos-meta-uploader", "42")
        .body("put body")
        .send()
        .await;
    assert_eq!(put.status, 200);
    post_form(&server, "ev/posted.txt", b"posted").await;
    multipart_upload(&server, "ev/multi.bin").await;
    // Neither a refused upload nor a delete is an object created.
    let refused = server
        .request("PUT", "ev/refused.txt")
        .header("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")
        .body("not empty")
        .send()
        .await;
    assert_eq!(refused.status, 400);
    server.request("DELETE", "ev/put me.txt").send().await;

    let accepted = receiver.settle(3).await;

    let events = by_key(&accepted);
    assert_eq!(
        events.keys().collect::<Vec<_>>(),
        [
            "/1250000000/photos/ev/multi.bin",
            "/1250000000/photos/ev/posted.txt",
            "/1250000000/photos/ev/put me.txt",
        ]
    );
    let put_event = &events["/1250000000/photos/ev/put me.txt"];
    assert_eq!(put_event["event"]["eventName"], "cos:ObjectCreated:Put");
    assert_eq!(put_event["cos"]["cosObject"]["size"], 8);
    assert_eq!(
        put_event["cos"]["cosObject"]["meta"]["Content-Type"],
        "text/plain"
    );
    assert_eq!(
        put_event["cos"]["cosObject"]["meta"]["x-cos-meta-uploader"],
        "42"
    );
    assert_eq!(
        put_event["cos"]["cosObject"]["meta"]["x-cos-request-id"],
        put.header("x-cos-request-id").unwrap()
    );
    assert_eq!(put_event["cos"]["cosBucket"]["name"], "photos");
    assert_eq!(put_event["cos"]["cosBucket"]["appid"], "1250000000");
    assert!(
        put_event["event"]["eventTime"]
            .as_u64()
            .unwrap()
            .abs_diff(now())
            < 120
    );
    assert_eq!(
        put_event["event"]["requestParameters"]["requestSourceIP"],
        "127.0.0.1"
    );
    let authorization = put_event["event"]["requestParameters"]["requestHeaders"]["Authorization"]
        .as_str()
        .unwrap();
    assert!(authorization.starts_with("q-sign-algorithm=sha1&q-ak="));
    let posted = &events["/1250000000/photos/ev/posted.txt"];
    assert_eq!(posted["event"]["eventName"], "cos:ObjectCreated:Post");
    assert_eq!(
        posted["event"]["requestParameters"]["requestHeaders"]["Authorization"],
        ""
    );
    let multi = &events["/1250000000/photos/ev/multi.bin"];
    assert_eq!(
        multi["event"]["eventName"],
        "cos:ObjectCreated:CompleteMultipartUpload"
    );
    assert_eq!(multi["cos"]["cosObject"]["size"], 22);
    // The first two attempts were refused and retried.
    assert_eq!(receiver.attempts(), 5);
    assert_eq!(pending(&server), 0);
    assert!(!server.log_text().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_events_survive_a_crash_and_are_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on yet: deliveries are refused until the receiver starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1/events/cos");
    let args = notify_args(&url);
    let mut server = start(dir.path(), None, &args);
    for key in ["crash/a.txt", "crash/b.txt"] {
        let put = server.request("PUT", key).body(key).send().await;
        assert_eq!(put.status, 200);
    }
    multipart_upload(&server, "crash/c.bin").await;
    assert_eq!(pending(&server), 3);

    server.kill();
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the reserved port is free again");
    let receiver = Receiver::start(listener, 0).await;
    let data = server.data.clone();
    let server = start(dir.path(), Some(&data), &args);
    let accepted = receiver.settle(3).await;

    let events = by_key(&accepted);
    assert_eq!(
        events.keys().collect::<Vec<_>>(),
        [
            "/1250000000/photos/crash/a.txt",
            "/1250000000/photos/crash/b.txt",
            "/1250000000/photos/crash/c.bin",
        ]
    );
    assert_eq!(accepted.len(), 3);
    assert_eq!(pending(&server), 0);
    let kept = server.request("GET", "crash/c.bin").send().await;
    assert_eq!(kept.body, b"first part second part");
}
