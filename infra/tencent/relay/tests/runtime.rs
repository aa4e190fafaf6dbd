//! The relay binary under a stand-in for SCF's runtime API, relaying to a stand-in event
//! route: one event accepted, one refused (reported to SCF as failed so it retries).

#![allow(clippy::unwrap_used)] // A test whose stand-ins cannot start should stop right there.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use cos_event_relay::sign;

#[derive(Default)]
struct Seen {
    events_to_hand_out: VecDeque<&'static str>,
    route_answers: VecDeque<u16>,
    relayed: Vec<(String, String, Vec<u8>)>,
    responses: Vec<String>,
    failures: Vec<String>,
    ready: bool,
}

async fn serve(seen: Arc<Mutex<Seen>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = seen.clone();
                    async move { Ok::<_, hyper::Error>(answer(&seen, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

async fn answer(seen: &Mutex<Seen>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (timestamp, signature) = (
        header("x-cosigner-timestamp"),
        header("x-cosigner-signature"),
    );
    let body = request
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    let mut seen = seen.lock().unwrap();
    let (status, reply) = match path.as_str() {
        "/runtime/init/ready" => {
            seen.ready = true;
            (200, String::new())
        }
        // With no events left, the runtime API "fails", which ends the binary's loop.
        "/runtime/invocation/next" => match seen.events_to_hand_out.pop_front() {
            Some(event) => (200, event.to_owned()),
            None => (500, String::new()),
        },
        "/runtime/invocation/response" => {
            seen.responses.push(String::from_utf8(body).unwrap());
            (200, String::new())
        }
        "/runtime/invocation/error" => {
            seen.failures.push(String::from_utf8(body).unwrap());
            (200, String::new())
        }
        "/v1/events/cos" => {
            seen.relayed.push((timestamp, signature, body));
            (seen.route_answers.pop_front().unwrap_or(200), String::new())
        }
        _ => (404, String::new()),
    };
    let mut response = Response::new(Full::new(Bytes::from(reply)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
}

#[tokio::test]
async fn relays_each_event_signed_and_reports_refusals_to_scf() {
    let seen = Arc::new(Mutex::new(Seen {
        events_to_hand_out: [r#"{"Records":[{"n":1}]}"#, r#"{"Records":[{"n":2}]}"#].into(),
        route_answers: [200, 503].into(),
        ..Seen::default()
    }));
    let address = serve(seen.clone()).await;

    let status = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_cos-event-relay"))
            .env("SCF_RUNTIME_API", address.ip().to_string())
            .env("SCF_RUNTIME_API_PORT", address.port().to_string())
            .env(
                "RELAY_TARGET_URL",
                format!("http://{address}/v1/events/cos"),
            )
            .env("RELAY_SECRET", "event-secret")
            .status(),
    )
    .await
    .unwrap()
    .unwrap();

    assert!(
        !status.success(),
        "the binary ends when the runtime API fails"
    );
    let seen = seen.lock().unwrap();
    assert!(seen.ready);
    assert_eq!(seen.relayed.len(), 2);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (timestamp, signature, body) in &seen.relayed {
        let timestamp: u64 = timestamp.parse().unwrap();
        assert!(now.abs_diff(timestamp) < 30);
        assert_eq!(*signature, sign(b"event-secret", timestamp, body));
    }
    assert_eq!(seen.relayed[0].2, br#"{"Records":[{"n":1}]}"#);
    assert_eq!(seen.responses, [r#"{"relayed":true}"#]);
    assert_eq!(seen.failures.len(), 1);
    assert!(seen.failures[0].contains("503"));
}

#[tokio::test]
async fn bad_settings_are_reported_to_scf_and_end_the_process() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let address = serve(seen.clone()).await;

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cos-event-relay"))
        .env("SCF_RUNTIME_API", address.ip().to_string())
        .env("SCF_RUNTIME_API_PORT", address.port().to_string())
        .env_remove("RELAY_TARGET_URL")
        .env("RELAY_SECRET", "event-secret")
        .output()
        .await
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("RELAY_TARGET_URL is missing"));
    assert!(!stderr.contains("event-secret"));
    assert!(!seen.lock().unwrap().ready);
}
