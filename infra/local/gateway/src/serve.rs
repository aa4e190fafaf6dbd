//! `cosigner-local serve`: every route on one port, the way API Gateway and the Lambda
//! authorizer would serve them, over the same handlers and the same configuration.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{info, warn};

use cosigner_api::{
    ApiError, ApiRequest, ApiResponse, Authenticator, Caller, ErrorCode, MAX_BODY_BYTES,
    bearer_token, cause_chain as chain, dispatch, sweep,
};
use cosigner_cold_start::{Environment, RouteDeps};

/// The API description, served at `/openapi.json`.
const OPENAPI: &str = cosigner_api::OPENAPI;

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeOptions {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Port to listen on; 0 takes any free port (the ready line says which).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Run the sweep of abandoned uploads every this many seconds (0: never), as the
    /// deployment's schedule does.
    #[arg(long, default_value_t = 60)]
    sweep_every: u64,
}

/// What every request needs: the routes' dependencies and the token verifier.
struct Gateway {
    deps: RouteDeps,
    authenticator: Authenticator,
}

/// Starts the API and serves until the process is stopped.
pub async fn run(options: ServeOptions) -> Result<(), String> {
    let gateway = Arc::new(build().await?);
    let listener = TcpListener::bind(SocketAddr::new(options.bind, options.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", options.bind, options.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    // The one line a supervisor (`dev`, a test) waits for.
    println!("cosigner-local serving on http://{address}");

    if options.sweep_every > 0 {
        let gateway = Arc::clone(&gateway);
        let every = Duration::from_secs(options.sweep_every);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let report = sweep(&gateway.deps, now()).await;
                if report.examined > 0 {
                    info!(?report, "swept");
                }
            }
        });
    }

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Running out of file descriptors passes; keep serving.
                warn!(cause = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small JSON answers must leave at once, not wait for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let gateway = Arc::clone(&gateway);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let gateway = Arc::clone(&gateway);
                async move { Ok::<_, Infallible>(answer(&gateway, request).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                info!(cause = %err, "connection ended");
            }
        });
    }
}

/// `sweep`: one run of the scheduled sweep, configured from the environment.
pub async fn sweep_once() -> Result<(), String> {
    let gateway = build().await?;
    let report = sweep(&gateway.deps, now()).await;
    println!(
        "examined {}, expired {}, already expired {}, skipped {}, failed {}",
        report.examined, report.expired, report.already_expired, report.skipped, report.failed
    );
    if report.failed > 0 || report.incomplete {
        return Err("the sweep did not finish; run it again".into());
    }
    Ok(())
}

async fn build() -> Result<Gateway, String> {
    cosigner_api::lambda::init_tracing();
    let environment = Environment::load().await.map_err(|e| chain(&e))?;
    let authenticator = environment.authenticator().await.map_err(|e| chain(&e))?;
    let deps = environment.route_deps().await.map_err(|e| chain(&e))?;
    Ok(Gateway {
        deps,
        authenticator,
    })
}

/// One request: who is calling (as the Lambda authorizer would say), then the route.
async fn answer(gateway: &Gateway, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = ulid::Ulid::new().to_string();
    let api_request = match api_request(request, request_id.clone()).await {
        Ok(api_request) => api_request,
        Err(err) => return http_response(err.into_response(&request_id)),
    };
    if api_request.method == "GET"
        && let Some(page) = crate::web::asset(&api_request.path)
    {
        return http_response(page);
    }
    if api_request.method == "GET" && api_request.path == "/openapi.json" {
        let mut response = ApiResponse::empty(200);
        response
            .headers
            .push(("content-type".into(), "application/json".into()));
        response.body = OPENAPI.as_bytes().to_vec();
        return http_response(response);
    }
    let caller = match caller(gateway, &api_request).await {
        Ok(caller) => caller,
        Err(err) => {
            info!(request_id, status = 401, reason = %err, "refused by the authorizer");
            return http_response(err.into_response(&request_id));
        }
    };
    http_response(dispatch(&gateway.deps, caller, api_request).await)
}

/// The routes without a bearer token are the health check and the signed event route;
/// every other route needs a verified token, as the deployment's authorizer demands.
async fn caller(gateway: &Gateway, request: &ApiRequest) -> Result<Caller, ApiError> {
    if matches!(request.path.as_str(), "/healthz" | "/v1/events/cos") {
        return Ok(Caller::Anonymous);
    }
    let token = request
        .header("authorization")
        .and_then(bearer_token)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "send a bearer token in the Authorization header",
            )
        })?;
    let user = gateway.authenticator.verify(token).await?;
    Ok(Caller::User(user))
}

async fn api_request(
    request: Request<Incoming>,
    request_id: String,
) -> Result<ApiRequest, ApiError> {
    let (parts, body) = request.into_parts();
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    // One byte over the limit is enough for the route to refuse the body as too large.
    let body = Limited::new(body, MAX_BODY_BYTES + 1)
        .collect()
        .await
        .map(|collected| collected.to_bytes().to_vec())
        .map_err(|_| {
            ApiError::new(
                ErrorCode::TooLarge,
                format!("the request body is over {MAX_BODY_BYTES} bytes"),
            )
        })?;
    Ok(ApiRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query,
        headers,
        body,
        request_id,
    })
}

fn http_response(response: ApiResponse) -> Response<Full<Bytes>> {
    let mut http = Response::new(Full::new(Bytes::from(response.body)));
    *http.status_mut() = hyper::StatusCode::from_u16(response.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            http.headers_mut().append(name, value);
        }
    }
    http
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
