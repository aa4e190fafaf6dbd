//! The outcome log line of every request, what never reaches the log, the quota under
//! concurrent reservations, and the handlers' futures being `Send` (as Lambda and the local
//! gateway need).

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;

use common::*;
use cosigner_api::{ApiRequest, Caller, dispatch, handle_cos_event, sweep};
use cosigner_core::{FileState, UserId};

/// Log lines written to memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (captured, guard)
}

#[tokio::test]
async fn every_request_logs_one_outcome_line_with_its_ids_and_a_reason_on_a_4xx() {
    let world = World::new();
    let (captured, _guard) = capture();

    world.call(Some("alice"), "GET", "/v1/me", "").await;
    world
        .call(Some("alice"), "GET", "/v1/files?limit=0", "")
        .await;

    let outcomes: Vec<Value> = captured
        .lines()
        .into_iter()
        .filter(|l| l["fields"].get("route").is_some())
        .collect();
    assert_eq!(outcomes.len(), 2, "{}", captured.text());
    assert_eq!(outcomes[0]["level"], "INFO");
    assert_eq!(outcomes[0]["fields"]["request_id"], "req-test");
    assert_eq!(outcomes[0]["fields"]["user_id"], "alice");
    assert_eq!(outcomes[0]["fields"]["route"], "me");
    assert_eq!(outcomes[0]["fields"]["status"], 200);
    assert_eq!(outcomes[1]["fields"]["route"], "list-files");
    assert_eq!(outcomes[1]["fields"]["status"], 400);
    assert!(
        outcomes[1]["fields"]["reason"]
            .as_str()
            .unwrap()
            .contains("limit")
    );
}

#[tokio::test]
async fn a_5xx_is_logged_as_an_error_with_its_cause_chain() {
    let world = World::new();
    world.table().fail("ensure_user", Fault::Unavailable, 1);
    let (captured, _guard) = capture();

    let reply = world.call(Some("alice"), "GET", "/v1/me", "").await;

    assert_eq!(reply.status, 503);
    let lines = captured.lines();
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .expect("an error line");
    let cause = error["fields"]["cause"].as_str().unwrap();
    assert!(
        cause.contains("unavailable") && cause.contains("connection refused"),
        "{cause}"
    );
    assert_eq!(error["fields"]["status"], 503);
    assert!(!reply.text.contains("connection refused"));
}

#[tokio::test]
async fn no_signature_signed_url_secret_or_token_reaches_the_log() {
    let world = World::new();
    let (captured, _guard) = capture();

    let put = world
        .issue(
            "alice",
            json!({"name": "a.txt", "size": 10, "content_type": "text/plain"}),
        )
        .await;
    let post = world
        .issue(
            "alice",
            json!({"name": "b.txt", "size": 10, "content_type": "text/plain", "method": "post"}),
        )
        .await;
    let multi = world
        .issue(
            "alice",
            json!({"name": "c.png", "size": 20 << 20, "content_type": "image/png"}),
        )
        .await;
    let parts = world
        .call(
            Some("alice"),
            "POST",
            &format!("/v1/uploads/{}/parts", multi["file_id"].as_str().unwrap()),
            r#"{"part_numbers":[1,2]}"#,
        )
        .await;
    let id = put["file_id"].as_str().unwrap();
    let key = world.record("alice", id).key;
    world.store().put_object(&key, 10, "e");
    let relayed = world.relay_event(&cos_event(&key, 10).to_string()).await;
    let got = world
        .call(Some("alice"), "GET", &format!("/v1/files/{id}"), "")
        .await;
    let mut forged = ApiRequest {
        method: "POST".into(),
        path: "/v1/events/cos".into(),
        body: b"{}".to_vec(),
        ..ApiRequest::default()
    };
    forged.headers.push((
        "authorization".into(),
        "Bearer eyJhbGciOiJIUzI1NiJ9.secret-token".into(),
    ));
    forged
        .headers
        .push(("x-cosigner-timestamp".into(), NOW.to_string()));
    forged
        .headers
        .push(("x-cosigner-signature".into(), "ab".repeat(32)));
    world.send(Caller::Anonymous, forged).await;
    sweep(&world.deps, NOW + 100_000).await;

    assert_eq!(relayed.status, 200);
    let log = captured.text();
    let mut secrets = vec![
        SECRET_KEY.to_owned(),
        EVENT_SECRET.to_owned(),
        CURSOR_SECRET.to_owned(),
        "q-signature".to_owned(),
        "secret-token".to_owned(),
        "https://".to_owned(),
        put["headers"]["Authorization"].as_str().unwrap().to_owned(),
        got.json["url"].as_str().unwrap().to_owned(),
        parts.json["parts"][0]["url"].as_str().unwrap().to_owned(),
        "ab".repeat(32),
    ];
    for field in post["fields"].as_array().unwrap() {
        if ["policy", "q-signature"].contains(&field["name"].as_str().unwrap()) {
            secrets.push(field["value"].as_str().unwrap().to_owned());
        }
    }
    assert!(!log.is_empty());
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "{secret} was logged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reservations_against_a_quota_for_fifty_leave_fifty() {
    let world = Arc::new(World::with_config(config(&[
        ("MAX_PENDING_UPLOADS", "1000"),
        ("DEFAULT_QUOTA_BYTES", "5000"),
    ])));

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let world = Arc::clone(&world);
        tasks.spawn(async move {
            let body =
                json!({"name": format!("f{i}.txt"), "size": 100, "content_type": "text/plain"});
            world
                .call(Some("alice"), "POST", "/v1/uploads", &body.to_string())
                .await
                .status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }

    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 50);
    assert_eq!(statuses.iter().filter(|s| **s == 413).count(), 150);
    let alice = UserId::new("alice").unwrap();
    let files = world.table().files_of(&alice);
    assert_eq!(files.len(), 50);
    assert!(files.iter().all(|f| f.state == FileState::Pending));
    assert_eq!(world.table().user(&alice).unwrap().reserved_bytes, 5000);
    world.table().assert_counters_match(&alice);
}

#[test]
fn the_entry_points_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let world = World::new();

    let dispatched = dispatch(&world.deps, Caller::Anonymous, ApiRequest::default());
    let event = handle_cos_event(&world.deps, b"{}");
    let swept = sweep(&world.deps, NOW);

    assert_send(&dispatched);
    assert_send(&event);
    assert_send(&swept);
}
