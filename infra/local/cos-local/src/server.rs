//! The HTTP side: accepting connections, turning each request into an answer (error
//! included), the headers every answer carries, and one log line per request.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{self, HeaderValue};
use http::{Extensions, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::address::{Target, resolve};
use crate::auth::authenticate;
use crate::body::{self, Limits, ResponseBody};
use crate::config::Config;
use crate::error::CosError;
use crate::events::Notifier;
use crate::ops::{self, Call, cors, form};
use crate::store::Store;

/// The largest request head (request line and headers) answered with a COS error;
/// anything larger is refused with that error before routing.
pub const MAX_HEADER_BYTES: usize = 16 << 10;

/// The connection's read buffer: above [`MAX_HEADER_BYTES`] so that the COS error can be
/// given; a head that does not even fit here gets a bare 431 from the HTTP layer.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// How long a client may take to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// A request body left unread by a refusal is read and discarded up to this size, so the
/// client gets the answer rather than a connection reset; past it, the connection closes.
const DRAIN_BYTES: u64 = 8 << 20;

/// Header names as COS spells them on the wire. Clients read them case-sensitively: the
/// Python SDK turns response headers into a plain dict and reads `Content-Length` and
/// `ETag` from it, coscmd reads `Content-Length` and `x-cos-meta-md5`. Names not listed
/// (every `x-cos-*`) go out in lowercase, as COS sends them.
const HEADER_SPELLINGS: [&str; 21] = [
    "Accept-Ranges",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Cache-Control",
    "Connection",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Range",
    "Content-Type",
    "Date",
    "ETag",
    "Expires",
    "Last-Modified",
    "Location",
    "Server",
    "Vary",
];

/// Everything a request may need, built once at start.
#[derive(Debug)]
pub struct App {
    /// The configuration.
    pub config: Config,
    /// The buckets' objects.
    pub store: Store,
    /// The event queue.
    pub notifier: Arc<Notifier>,
    ids: RequestIds,
    spellings: Extensions,
}

impl App {
    /// Puts the parts together.
    pub async fn new(config: Config, store: Store, notifier: Arc<Notifier>) -> Self {
        Self {
            config,
            store,
            notifier,
            ids: RequestIds::new(),
            spellings: header_spellings().await,
        }
    }
}

/// Response extensions that make the HTTP layer write [`HEADER_SPELLINGS`] as spelled.
///
/// The HTTP layer writes header names in lowercase unless a response carries its private
/// map of original spellings, which it records only while parsing a request. So we parse
/// one: a request carrying each header as COS spells it, sent over an in-memory pipe to a
/// connection that records spellings, and keep its extensions for every response.
async fn header_spellings() -> Extensions {
    let (mut client, server) = tokio::io::duplex(8 << 10);
    let captured = Arc::new(std::sync::Mutex::new(Extensions::new()));
    let slot = Arc::clone(&captured);
    let service = service_fn(move |request: Request<Incoming>| {
        if let Ok(mut slot) = slot.lock() {
            *slot = request.extensions().clone();
        }
        std::future::ready(Ok::<_, Infallible>(Response::new(body::empty())))
    });
    let connection = http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), service);
    let mut head = String::from("GET / HTTP/1.1\r\nHost: spellings\r\n");
    for name in HEADER_SPELLINGS {
        if name != "Connection" && name != "Content-Length" {
            head.push_str(&format!("{name}: x\r\n"));
        }
    }
    head.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    let exchange = async {
        client.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(())
    };
    let (served, sent) = tokio::join!(connection, exchange);
    if let Err(error) = served
        .map_err(|e| e.to_string())
        .and(sent.map_err(|e| e.to_string()))
    {
        tracing::warn!(cause = %error, "header names will be sent in lowercase");
    }
    captured.lock().map(|e| e.clone()).unwrap_or_default()
}

/// Request ids in COS's style (base64 of an underscore-joined tuple), unique per process
/// and, through the start time and random bits, across restarts.
#[derive(Debug)]
struct RequestIds {
    prefix: String,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        Self {
            prefix: format!(
                "{:x}_{:08x}_{:x}",
                crate::now_secs(),
                fastrand::u32(..),
                std::process::id()
            ),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        STANDARD.encode(format!("{}_{n:x}", self.prefix))
    }
}

/// Serves connections until `shutdown` resolves, then lets requests in flight finish for a
/// few seconds.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(cause = %error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers must leave at once: with Nagle's algorithm on, each waits for the
        // client's delayed ACK (about 40 ms on Linux).
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let service = service_fn(move |request| handle(Arc::clone(&app), request, peer));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(READ_BUFFER_BYTES)
            // A client may close its sending side after a truncated body and still wait for
            // our IncompleteBody answer.
            .half_close(true)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(cause = %error, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => {
            tracing::warn!("requests still in flight after 5 s were cut off");
        }
    }
}

/// One request to one answer; errors are answers too.
async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let request_id = app.ids.next();
    let (parts, incoming) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let has_body = method == Method::PUT || method == Method::POST;

    let mut outcome = Outcome {
        target: None,
        body: Some(incoming),
    };
    let result = route(&app, parts, peer.ip(), &request_id, &mut outcome).await;
    let target = outcome.target;

    let (mut response, error) = match result {
        Ok(response) => (response, None),
        Err(error) => {
            let resource = target.as_ref().map(Target::resource).unwrap_or_default();
            let mut close = error.close;
            if let Some(mut unread) = outcome.body.take().filter(|_| has_body && !close) {
                let limits = Limits {
                    max_bytes: DRAIN_BYTES,
                    idle: app.config.idle_timeout,
                };
                close = !body::drain(&mut unread, limits).await;
            }
            let mut response = error_response(&error, &resource, &request_id, &method);
            if close {
                set_header(&mut response, header::CONNECTION, "close");
            }
            (response, Some(error))
        }
    };

    *response.extensions_mut() = app.spellings.clone();
    set_header(&mut response, "x-cos-request-id", &request_id);
    set_header(&mut response, header::SERVER, "cos-local");
    if let (Some(origin), Some(target)) = (&origin, &target)
        && method != Method::OPTIONS
    {
        cors::decorate(response.headers_mut(), &target.bucket, origin, &method);
    }

    let status = response.status().as_u16();
    let millis = started.elapsed().as_millis() as u64;
    let bucket = target.as_ref().map_or("", |t| t.bucket.name.as_str());
    match &error {
        None => tracing::info!(%method, bucket, path, status, request_id, millis, "request"),
        Some(error) if error.status.is_server_error() => tracing::error!(
            %method, bucket, path, status, request_id, millis,
            reason = error.code,
            cause = error.cause.as_deref().unwrap_or(""),
            "request failed"
        ),
        Some(error) => tracing::info!(
            %method, bucket, path, status, request_id, millis,
            reason = error.code,
            "request refused"
        ),
    }
    Ok(response)
}

/// What routing learned and left, for the answer and the log.
struct Outcome {
    target: Option<Target>,
    body: Option<Incoming>,
}

async fn route(
    app: &App,
    parts: http::request::Parts,
    peer: IpAddr,
    request_id: &str,
    outcome: &mut Outcome,
) -> Result<Response<ResponseBody>, CosError> {
    check_head_size(&parts)?;
    let target = resolve(&app.config, &parts.uri, &parts.headers)?;
    outcome.target = Some(target.clone());
    let store = app
        .store
        .bucket(&target.bucket.name)
        .cloned()
        .ok_or_else(|| CosError::no_such_bucket("The specified bucket does not exist."))?;
    if parts.method == Method::OPTIONS {
        return cors::preflight(&target.bucket, &parts.headers);
    }
    let query =
        cos_sign::parse_query(parts.uri.query().unwrap_or("")).map_err(crate::auth::refusal)?;
    let is_form = parts.method == Method::POST
        && target.key.is_empty()
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            });
    let verified = if is_form {
        None
    } else {
        Some(authenticate(
            &app.config,
            &target,
            &parts,
            crate::now_secs(),
        )?)
    };
    let mut call = Call {
        parts,
        body: outcome.body.take(),
        target,
        store,
        query,
        request_id: request_id.to_owned(),
        peer,
        verified,
    };
    let result = if is_form {
        form::post_object(app, &mut call).await
    } else {
        ops::dispatch(app, &mut call).await
    };
    // An operation that failed before reading the body leaves it here, to be drained.
    outcome.body = call.body.take();
    result
}

/// Refuses a request head above [`MAX_HEADER_BYTES`] with a COS error.
fn check_head_size(parts: &http::request::Parts) -> Result<(), CosError> {
    let size = parts.uri.to_string().len()
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if size > MAX_HEADER_BYTES {
        return Err(CosError::new(
            StatusCode::BAD_REQUEST,
            "RequestHeaderSectionTooLarge",
            format!(
                "Your request header section is {size} bytes, above the maximum of \
                 {MAX_HEADER_BYTES}."
            ),
        ));
    }
    Ok(())
}

fn error_response(
    error: &CosError,
    resource: &str,
    request_id: &str,
    method: &Method,
) -> Response<ResponseBody> {
    let xml = error.to_xml(resource, request_id);
    let length = xml.len();
    // A HEAD answer has no body, but says how long the error body would have been.
    let content = if *method == Method::HEAD {
        body::empty()
    } else {
        body::full(xml)
    };
    let mut response = ops::response(error.status, content);
    set_header(&mut response, header::CONTENT_TYPE, "application/xml");
    set_header(&mut response, header::CONTENT_LENGTH, &length.to_string());
    response
}

fn set_header(
    response: &mut Response<ResponseBody>,
    name: impl header::IntoHeaderName,
    value: &str,
) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
