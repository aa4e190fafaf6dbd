//! A minimal Lambda Runtime API: the four calls a custom runtime makes, served on
//! `127.0.0.1:0`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::Invocation;

const PREFIX: &str = "/2018-06-01/runtime";

/// How long a function may take per invocation, as the deadline header tells it.
const DEADLINE: Duration = Duration::from_secs(30);

/// An event waiting to be handed out, and where its answer goes.
pub(crate) struct Pending {
    pub(crate) event: Value,
    pub(crate) answer: oneshot::Sender<Invocation>,
}

struct State {
    function_name: String,
    queue: Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    init_error: Mutex<Option<oneshot::Sender<Invocation>>>,
    first_poll: std::sync::Mutex<Option<Instant>>,
    next_id: AtomicU64,
}

/// The Runtime API server. Dropping it stops it.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    events: mpsc::Sender<Pending>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts the server for a function named `function_name` on a free loopback port.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (the test cannot run at all).
    pub async fn start(function_name: &str, init_error: oneshot::Sender<Invocation>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind a loopback port for the Runtime API: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the Runtime API socket has no address: {e}"));
        let (events, queue) = mpsc::channel(16);
        let state = Arc::new(State {
            function_name: function_name.to_owned(),
            queue: Mutex::new(queue),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(Some(init_error)),
            first_poll: std::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        });
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&state), request));
                    // A connection the function drops (when it is killed) is not our error.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            events,
            task,
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an event: the end of its cold start.
    pub fn first_poll(&self) -> Option<Instant> {
        self.state.first_poll.lock().ok().and_then(|at| *at)
    }

    pub(crate) async fn queue(&self, pending: Pending) -> bool {
        self.events.send(pending).await.is_ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response
}

async fn answer(state: Arc<State>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    let Some(call) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, "not a Runtime API path"));
    };
    let json = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);

    let response = match (method, call) {
        (Method::GET, "/invocation/next") => next(&state).await,
        (Method::POST, "/init/error") => {
            if let Some(sender) = state.init_error.lock().await.take() {
                let _ = sender.send(Invocation::InitError(json()));
            }
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (Method::POST, call) => match call
            .strip_prefix("/invocation/")
            .and_then(|c| c.split_once('/'))
        {
            Some((id, kind @ ("response" | "error"))) => {
                let outcome = if kind == "response" {
                    Invocation::Response(json())
                } else {
                    Invocation::Error(json())
                };
                match state.waiting.lock().await.remove(id) {
                    Some(sender) => {
                        let _ = sender.send(outcome);
                        reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                    }
                    None => reply(StatusCode::BAD_REQUEST, "unknown request id"),
                }
            }
            _ => reply(StatusCode::NOT_FOUND, "unknown call"),
        },
        _ => reply(StatusCode::NOT_FOUND, "unknown call"),
    };
    Ok(response)
}

/// Hands out the next event, waiting as long as it takes (Lambda's long poll).
async fn next(state: &State) -> Reply {
    if let Ok(mut first) = state.first_poll.lock() {
        first.get_or_insert_with(Instant::now);
    }
    let Some(pending) = state.queue.lock().await.recv().await else {
        return reply(StatusCode::GONE, "no more events");
    };
    let id = format!(
        "harness-{:08}",
        state.next_id.fetch_add(1, Ordering::SeqCst)
    );
    state
        .waiting
        .lock()
        .await
        .insert(id.clone(), pending.answer);

    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d + DEADLINE).as_millis());
    let arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:{}",
        state.function_name
    );
    let mut response = reply(StatusCode::OK, &pending.event.to_string());
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

/// Serves `document` as JSON to every GET on a free loopback port, for as long as the
/// test's runtime runs; returns its URL. For a JWKS, say.
///
/// # Panics
///
/// When no loopback port can be bound.
pub async fn serve_document(document: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    let url = listener
        .local_addr()
        .map(|addr| format!("http://{addr}/document.json"))
        .unwrap_or_else(|e| panic!("the socket has no address: {e}"));
    let document = Bytes::from(document);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let document = document.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_request: Request<Incoming>| {
                    let mut response = Response::new(Full::new(document.clone()));
                    if let Ok(value) = "application/json".parse() {
                        response.headers_mut().insert("content-type", value);
                    }
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}
