//! [`dispatch`]: from an [`ApiRequest`] to its route's handler and back to an
//! [`ApiResponse`], with the one outcome log line of every request.

use std::error::Error;
use std::fmt::Write as _;

use serde::de::DeserializeOwned;
use tracing::{error, info, warn};

use cosigner_core::{Clock, FileTable, ObjectStore, UserId};

use crate::routes::{
    abort_upload, complete_upload, delete_file, get_file, healthz, issue_upload, list_files, me,
    on_object_created, sign_parts,
};
use crate::{ApiError, ApiRequest, ApiResponse, Caller, Deps, ErrorCode};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A route, with the id from its path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Healthz,
    IssueUpload,
    SignParts(String),
    CompleteUpload(String),
    AbortUpload(String),
    CosEvent,
    ListFiles,
    GetFile(String),
    DeleteFile(String),
    Me,
}

impl Route {
    /// The route's name in logs: its function's name.
    fn name(&self) -> &'static str {
        match self {
            Self::Healthz => "healthz",
            Self::IssueUpload => "issue-upload",
            Self::SignParts(_) => "sign-parts",
            Self::CompleteUpload(_) => "complete-upload",
            Self::AbortUpload(_) => "abort-upload",
            Self::CosEvent => "on-object-created",
            Self::ListFiles => "list-files",
            Self::GetFile(_) => "get-file",
            Self::DeleteFile(_) => "delete-file",
            Self::Me => "me",
        }
    }

    /// The route of a method and path, or why there is none: 404 for an unknown path, 405
    /// (with the methods the path allows) for a known path with another method.
    fn of(method: &str, path: &str) -> Result<Self, (ApiError, Option<&'static str>)> {
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        let (allowed, route): (&'static str, Option<Self>) = match (segments.as_slice(), method) {
            (["healthz"], "GET") => ("GET", Some(Self::Healthz)),
            (["healthz"], _) => ("GET", None),
            (["v1", "uploads"], "POST") => ("POST", Some(Self::IssueUpload)),
            (["v1", "uploads"], _) => ("POST", None),
            (["v1", "uploads", id], "DELETE") if !id.is_empty() => {
                ("DELETE", Some(Self::AbortUpload((*id).to_owned())))
            }
            (["v1", "uploads", id], _) if !id.is_empty() => ("DELETE", None),
            (["v1", "uploads", id, "parts"], "POST") if !id.is_empty() => {
                ("POST", Some(Self::SignParts((*id).to_owned())))
            }
            (["v1", "uploads", id, "complete"], "POST") if !id.is_empty() => {
                ("POST", Some(Self::CompleteUpload((*id).to_owned())))
            }
            (["v1", "uploads", id, "parts" | "complete"], _) if !id.is_empty() => ("POST", None),
            (["v1", "events", "cos"], "POST") => ("POST", Some(Self::CosEvent)),
            (["v1", "events", "cos"], _) => ("POST", None),
            (["v1", "files"], "GET") => ("GET", Some(Self::ListFiles)),
            (["v1", "files"], _) => ("GET", None),
            (["v1", "files", id], "GET") if !id.is_empty() => {
                ("GET, DELETE", Some(Self::GetFile((*id).to_owned())))
            }
            (["v1", "files", id], "DELETE") if !id.is_empty() => {
                ("GET, DELETE", Some(Self::DeleteFile((*id).to_owned())))
            }
            (["v1", "files", id], _) if !id.is_empty() => ("GET, DELETE", None),
            (["v1", "me"], "GET") => ("GET", Some(Self::Me)),
            (["v1", "me"], _) => ("GET", None),
            _ => {
                return Err((
                    ApiError::new(ErrorCode::NoSuchRoute, "there is no such route"),
                    None,
                ));
            }
        };
        route.ok_or_else(|| {
            let message = format!("this route only answers {allowed}");
            (
                ApiError::new(ErrorCode::MethodNotAllowed, message),
                Some(allowed),
            )
        })
    }
}

/// Answers one request: routes it, checks the caller and the body size, runs the handler,
/// and turns every failure into the one error shape.
///
/// Never fails: every outcome, error included, is a response. Logs one `info` line per
/// request (request id, user id, route, status, and the reason of a 4xx), and an `error` line
/// with the cause chain for a 5xx. Tokens, secrets, signatures and signed URLs are never
/// logged.
pub async fn dispatch<T, O, C>(
    deps: &Deps<T, O, C>,
    caller: Caller,
    request: ApiRequest,
) -> ApiResponse
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    let user_id = match &caller {
        Caller::User(user) => user.as_str().to_owned(),
        Caller::Anonymous => "-".to_owned(),
    };
    let (route_name, outcome) = match Route::of(&request.method, &request.path) {
        Err((err, allowed)) => ("none", Err((err, allowed))),
        Ok(route) => {
            let name = route.name();
            (
                name,
                run(deps, caller, route, &request)
                    .await
                    .map_err(|e| (e, None)),
            )
        }
    };

    let request_id = request.request_id.as_str();
    match outcome {
        Ok(response) => {
            info!(
                request_id,
                user_id,
                route = route_name,
                status = response.status,
                "answered"
            );
            response
        }
        Err((err, allowed)) => {
            let status = err.code.status();
            if status >= 500 {
                let cause = cause_chain(&err);
                error!(
                    request_id,
                    user_id,
                    route = route_name,
                    status,
                    cause,
                    "failed"
                );
            } else {
                let reason = err.message.as_str();
                info!(
                    request_id,
                    user_id,
                    route = route_name,
                    status,
                    reason,
                    "refused"
                );
            }
            let mut response = err.into_response(request_id);
            if let Some(allowed) = allowed {
                response.headers.push(("allow".into(), allowed.into()));
            }
            response
        }
    }
}

async fn run<T, O, C>(
    deps: &Deps<T, O, C>,
    caller: Caller,
    route: Route,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError>
where
    T: FileTable,
    O: ObjectStore,
    C: Clock,
{
    if request.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("the request body is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    let user = || match &caller {
        Caller::User(user) => Ok(user),
        Caller::Anonymous => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this route needs a bearer token",
        )),
    };
    match route {
        Route::Healthz => Ok(healthz::handle()),
        Route::CosEvent => on_object_created::handle_http(deps, request).await,
        Route::IssueUpload => issue_upload::handle(deps, user()?, request).await,
        Route::SignParts(id) => sign_parts::handle(deps, user()?, &id, request).await,
        Route::CompleteUpload(id) => complete_upload::handle(deps, user()?, &id, request).await,
        Route::AbortUpload(id) => abort_upload::handle(deps, user()?, &id).await,
        Route::ListFiles => list_files::handle(deps, user()?, request).await,
        Route::GetFile(id) => get_file::handle(deps, user()?, &id).await,
        Route::DeleteFile(id) => delete_file::handle(deps, user()?, &id).await,
        Route::Me => me::handle(deps, user()?).await,
    }
}

/// Parses a JSON body into a request type; every failure is a 400 that says what is wrong.
pub(crate) fn parse_json<R: DeserializeOwned>(body: &[u8]) -> Result<R, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the request needs a JSON body",
        ));
    }
    serde_json::from_slice(body).map_err(|err| {
        let message = if err.is_data() {
            format!("the body does not have the expected fields: {err}")
        } else {
            format!("the body is not valid JSON: {err}")
        };
        ApiError::new(ErrorCode::BadRequest, message)
    })
}

/// The error's message and every cause below it, on one line, for the log.
pub fn cause_chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Parses a file id from a path; anything that is not one is the same 404 as another user's
/// file, so ids cannot be probed.
pub(crate) fn file_id_of(text: &str) -> Result<cosigner_core::FileId, ApiError> {
    text.parse().map_err(|_| not_found())
}

/// The one 404 for a file or upload the caller does not have.
pub(crate) fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such file")
}

/// Logs a degraded but answered request step.
pub(crate) fn warn_degraded(what: &str, user: &UserId, err: &(dyn Error + 'static)) {
    let cause = cause_chain(err);
    warn!(user_id = %user, cause, "{what}");
}
