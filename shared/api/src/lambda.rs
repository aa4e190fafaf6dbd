//! The Lambda glue: API Gateway HTTP API (payload 2.0) events in and out of
//! [`ApiRequest`]/[`ApiResponse`], the authorizer's handler, the handlers of the direct COS
//! event and the schedule, and the tracing set-up every function starts with.
//!
//! The route functions trust the caller the gateway hands them in
//! `requestContext.authorizer`: they are only reachable through the gateway, whose authorizer
//! has checked the token. They never read the `Authorization` header themselves.

use std::convert::Infallible;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
    ApiGatewayV2httpResponse,
};
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response, service_fn};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::SubscriberBuilder;
use tracing_subscriber::fmt::format::{Format, FormatFields, Json, JsonFields};

use cosigner_core::{Clock, FileTable, ObjectStore, SystemClock, UserId};

use crate::auth::{AuthError, Authenticator, bearer_token};
use crate::{
    ApiError, ApiRequest, ApiResponse, Caller, Deps, ErrorCode, RecordOutcome, SweepReport,
    dispatch, handle_cos_event, sweep,
};

/// The authorizer context key that carries the verified user id to the routes.
pub const USER_ID_CONTEXT_KEY: &str = "user_id";

/// Sets up `tracing` for a function: JSON lines in Lambda (where `AWS_LAMBDA_FUNCTION_NAME`
/// is set), human-readable text elsewhere; the level from `AWS_LAMBDA_LOG_LEVEL`, then
/// `RUST_LOG`, then `info`. Calling it twice keeps the first set-up.
pub fn init_tracing() {
    let env = |name: &str| std::env::var(name).ok();
    let directives = log_filter(
        env("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        env("RUST_LOG").as_deref(),
    );
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);

    // An error here means a subscriber is already installed (a test, a second call): the
    // first one stays, which is what we want.
    let _ = if env("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        json_lines(builder).try_init()
    } else {
        let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
        builder.with_target(false).with_ansi(colour).try_init()
    };
}

/// The functions' log format in Lambda, on any filter and writer: one JSON object a line,
/// the event's fields at the top level, the current span (which carries the request id)
/// beside them, and no time stamp, since CloudWatch stamps each line itself.
pub fn json_lines<N, L, T, F, W>(
    builder: SubscriberBuilder<N, Format<L, T>, F, W>,
) -> SubscriberBuilder<JsonFields, Format<Json, ()>, F, W>
where
    N: for<'writer> FormatFields<'writer> + 'static,
{
    builder
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_ansi(false)
}

/// The filter directives from Lambda's log level, else `RUST_LOG`, else `info`.
///
/// When Lambda's level is `debug` or `trace`, the HTTP and AWS client crates stay at
/// `info`, so a debugging session does not log wire payloads that may hold secrets.
/// `RUST_LOG` is taken as it is: whoever sets it chooses.
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> String {
    let lambda =
        lambda_level
            .map(str::trim)
            .and_then(|level| match level.to_ascii_lowercase().as_str() {
                "trace" => Some("trace"),
                "debug" => Some("debug"),
                "info" => Some("info"),
                "warn" => Some("warn"),
                "error" | "fatal" => Some("error"),
                _ => None,
            });
    match (lambda, rust_log.map(str::trim).filter(|s| !s.is_empty())) {
        (Some(level @ ("trace" | "debug")), _) => {
            let quiet = [
                "hyper",
                "hyper_util",
                "h2",
                "rustls",
                "reqwest",
                "aws_smithy_runtime",
            ];
            let mut directives = level.to_owned();
            for target in quiet {
                directives.push_str(&format!(",{target}=info"));
            }
            directives
        }
        (Some(level), _) => level.to_owned(),
        (None, Some(rust_log)) => rust_log.to_owned(),
        (None, None) => "info".to_owned(),
    }
}

/// The caller and the request of an HTTP API event as `lambda_http` parsed it.
///
/// The path is the raw path the client sent (no stage prefix), the query is decoded from the
/// raw query string in its order (`+` is a space), header names are lower case, a base64
/// body is already decoded by `lambda_http`, and the request id is the gateway's (or, failing
/// that, Lambda's).
pub fn api_request(request: Request) -> (Caller, ApiRequest) {
    let caller = caller_of(request.request_context_ref());
    let request_id = request_id_of(&request);
    let raw_path = request.raw_http_path();
    let path = if raw_path.is_empty() {
        request.uri().path()
    } else {
        raw_path
    }
    .to_owned();
    let query = request.uri().query().map(decode_query).unwrap_or_default();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_ascii_lowercase(), value)
        })
        .collect();
    let method = request.method().as_str().to_ascii_uppercase();
    let body = match request.into_body() {
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };

    let request = ApiRequest {
        method,
        path,
        query,
        headers,
        body,
        request_id,
    };
    (caller, request)
}

/// Who the gateway says is calling: the user id our Lambda authorizer put in its context,
/// or the `sub` of a token checked by the gateway's own JWT authorizer; else nobody.
fn caller_of(context: Option<&RequestContext>) -> Caller {
    let Some(authorizer) = context.and_then(RequestContext::authorizer) else {
        return Caller::Anonymous;
    };
    let from_lambda = authorizer
        .fields
        .get(USER_ID_CONTEXT_KEY)
        .and_then(Value::as_str);
    let from_jwt = authorizer
        .jwt
        .as_ref()
        .and_then(|jwt| jwt.claims.get("sub"))
        .map(String::as_str);
    match from_lambda.or(from_jwt).map(UserId::new) {
        Some(Ok(user)) => Caller::User(user),
        Some(Err(_)) => {
            warn!(
                "the authorizer context holds an unusable user id; treating the caller as anonymous"
            );
            Caller::Anonymous
        }
        None => Caller::Anonymous,
    }
}

fn request_id_of(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// `application/x-www-form-urlencoded` decoding of a raw query string, keeping order and
/// repeats.
fn decode_query(raw: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let spaced = text.replace('+', " ");
        percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The Lambda response of an [`ApiResponse`]: text bodies (JSON, `text/*`) as text, anything
/// else base64-encoded by `lambda_http`.
pub fn lambda_response(response: ApiResponse) -> Response<Body> {
    let (status, headers, body) = into_parts(response);
    let mut lambda = Response::new(body);
    *lambda.status_mut() = status;
    for (name, value) in headers {
        lambda.headers_mut().append(name, value);
    }
    lambda
}

/// The same answer as a payload 2.0 response document, for handlers that read the event
/// as raw JSON (the function that takes both the event route and direct COS events).
pub fn gateway_response(response: ApiResponse) -> ApiGatewayV2httpResponse {
    let (status, headers, body) = into_parts(response);
    let mut gateway = ApiGatewayV2httpResponse::default();
    gateway.status_code = i64::from(status.as_u16());
    for (name, value) in headers {
        gateway.headers.append(name, value);
    }
    gateway.is_base64_encoded = matches!(body, Body::Binary(_));
    gateway.body = (!matches!(body, Body::Empty)).then_some(body);
    gateway
}

fn into_parts(response: ApiResponse) -> (StatusCode, Vec<(HeaderName, HeaderValue)>, Body) {
    let status = StatusCode::from_u16(response.status).unwrap_or_else(|_| {
        error!(
            status = response.status,
            "a route answered an invalid status; sending 500"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut headers = Vec::with_capacity(response.headers.len());
    let mut textual = false;
    for (name, value) in &response.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                if name == "content-type" {
                    textual = is_textual(value.to_str().unwrap_or_default());
                }
                headers.push((name, value));
            }
            _ => warn!(header = %name, "dropped a response header that is not valid HTTP"),
        }
    }
    let body = if response.body.is_empty() {
        Body::Empty
    } else if textual {
        match String::from_utf8(response.body) {
            Ok(text) => Body::Text(text),
            Err(err) => Body::Binary(err.into_bytes()),
        }
    } else {
        Body::Binary(response.body)
    };
    (status, headers, body)
}

fn is_textual(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/") || essence == "application/json" || essence.ends_with("+json")
}

/// Answers one HTTP API event: converts it, dispatches it, converts the answer back.
///
/// Never fails: every outcome is a response (an `Err` would reach the client as an
/// unexplained 502 from the gateway).
pub async fn handle_http<T, O, C>(
    deps: &Deps<T, O, C>,
    request: Request,
) -> Result<Response<Body>, Infallible>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let (caller, request) = api_request(request);

    let response = dispatch(deps, caller, request).await;

    Ok(lambda_response(response))
}

/// Serves HTTP API events with [`handle_http`] until the Lambda runtime stops.
///
/// # Errors
///
/// The runtime's error when the Runtime API cannot be reached.
pub async fn run_http<T, O, C>(deps: &Deps<T, O, C>) -> Result<(), lambda_http::Error>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    lambda_http::run(service_fn(|request| handle_http(deps, request))).await
}

/// The authorizer's answer to one request, in HTTP API "simple response" form: allowed with
/// the user id in the context, or denied.
pub async fn authorize(
    authenticator: &Authenticator,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    authorize_at(authenticator, request, SystemClock.now()).await
}

/// [`authorize`] at `now` (Unix seconds).
pub async fn authorize_at(
    authenticator: &Authenticator,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
    now: u64,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let request_id = request.request_context.request_id.as_deref().unwrap_or("-");
    // The identity source is `$request.header.Authorization`; the header itself is the
    // fallback for a route configured without one.
    let header = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().cloned())
        .or_else(|| {
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    let token = header.as_deref().and_then(bearer_token);

    let outcome = match token {
        None => Err(AuthError::Missing),
        Some(token) => authenticator.verify_at(token, now).await,
    };

    let mut answer = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match outcome {
        Ok(user) => {
            info!(request_id, user_id = %user, "allowed");
            answer.is_authorized = true;
            answer.context = json!({ USER_ID_CONTEXT_KEY: user.as_str() });
        }
        Err(err) if err.is_caller_fault() => {
            info!(request_id, reason = %err, "denied");
            answer.context = json!({});
        }
        Err(err) => {
            let cause = crate::dispatch::cause_chain(&err);
            error!(request_id, cause, "denied: tokens cannot be checked");
            answer.context = json!({});
        }
    }
    answer
}

/// Serves authorizer events with [`authorize`] until the Lambda runtime stops.
///
/// # Errors
///
/// The runtime's error when the Runtime API cannot be reached.
pub async fn run_authorizer(authenticator: &Authenticator) -> Result<(), lambda_http::Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, Infallible>(authorize(authenticator, &event.payload).await)
        },
    ))
    .await
}

/// Whether a raw event is an HTTP API payload 2.0 request (rather than, say, a COS event
/// handed to the function directly).
pub fn is_http_event(event: &Value) -> bool {
    event
        .get("requestContext")
        .and_then(|context| context.get("http"))
        .is_some()
}

/// An HTTP API event given as raw JSON, parsed the way `lambda_http` parses it.
///
/// # Errors
///
/// The parse error when the JSON is not an HTTP API event.
pub fn http_request_of(event: Value) -> Result<Request, serde_json::Error> {
    // Limitation: `lambda_http` panics on a body flagged base64 that is not base64; the
    // runtime reports that invocation as failed. API Gateway never sends such a body.
    serde_json::from_value::<LambdaRequest>(event).map(Request::from)
}

/// A direct COS event whose records partly failed in a way a new delivery may fix (the
/// table or COS was unavailable). Returned as the invocation's error so that Lambda's
/// asynchronous retries deliver it again; the handling is idempotent.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} records failed and may succeed on a new delivery")]
pub struct RedeliveryWanted {
    /// Records that failed.
    pub failed: usize,
    /// Records in the event.
    pub total: usize,
}

impl From<RedeliveryWanted> for lambda_runtime::Diagnostic {
    fn from(err: RedeliveryWanted) -> Self {
        Self {
            error_type: "RedeliveryWanted".into(),
            error_message: err.to_string(),
        }
    }
}

/// Answers one invocation of the function that takes both the signed event route
/// (`POST /v1/events/cos` through the gateway) and COS events handed to it directly.
///
/// # Errors
///
/// [`RedeliveryWanted`] when a direct event's records failed for a reason a retry may fix.
pub async fn handle_event<T, O, C>(
    deps: &Deps<T, O, C>,
    event: Value,
) -> Result<Value, RedeliveryWanted>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    if is_http_event(&event) {
        let response = match http_request_of(event) {
            Ok(request) => {
                let (caller, request) = api_request(request);
                dispatch(deps, caller, request).await
            }
            Err(err) => {
                warn!(cause = %err, "refused an HTTP API event that does not parse");
                ApiError::new(
                    ErrorCode::BadRequest,
                    "the event is not a valid HTTP API request",
                )
                .into_response("-")
            }
        };
        return Ok(serde_json::to_value(gateway_response(response)).unwrap_or_default());
    }

    // The report is built from the event's own bytes, as the event route builds it from the
    // request body; re-serialising a parsed `Value` cannot fail.
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let report = handle_cos_event(deps, &body).await;

    let total = report.records.len();
    let failed = report
        .records
        .iter()
        .filter(|r| r.outcome == RecordOutcome::Failed)
        .count();
    if report.should_retry() {
        return Err(RedeliveryWanted { failed, total });
    }
    Ok(serde_json::to_value(&report).unwrap_or_default())
}

/// Serves [`handle_event`] until the Lambda runtime stops.
///
/// # Errors
///
/// The runtime's error when the Runtime API cannot be reached.
pub async fn run_events<T, O, C>(deps: &Deps<T, O, C>) -> Result<(), lambda_http::Error>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handle_event(deps, event.payload)
    }))
    .await
}

/// Answers one scheduled invocation: sweeps the pending uploads whose window closed.
///
/// The event's content does not matter (any EventBridge schedule will do); its id is logged
/// so a run can be matched with its trigger.
pub async fn handle_schedule<T, O, C>(deps: &Deps<T, O, C>, event: &Value) -> SweepReport
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let event_id = event.get("id").and_then(Value::as_str).unwrap_or("-");

    let report = sweep(deps, deps.clock.now()).await;

    info!(
        event_id,
        examined = report.examined,
        expired = report.expired,
        failed = report.failed,
        incomplete = report.incomplete,
        "swept"
    );
    report
}

/// Serves [`handle_schedule`] until the Lambda runtime stops.
///
/// # Errors
///
/// The runtime's error when the Runtime API cannot be reached.
pub async fn run_schedule<T, O, C>(deps: &Deps<T, O, C>) -> Result<(), lambda_http::Error>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Infallible>(handle_schedule(deps, &event.payload).await)
    }))
    .await
}
