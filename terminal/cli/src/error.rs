//! What can fail, the one line a person reads about it, and the exit code a script reads.
//!
//! A failure is an action ("upload of photo.jpg") and an error; its line says which it was,
//! why, and what to do, with the server's error code and request id when the server
//! answered. No line ever holds a token, a signed URL or a signature.

use std::io;
use std::path::PathBuf;

use crate::human;

/// Exit codes, as documented in `--help` and the README.
pub mod exit {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// Any other failure: a local file, a corrupt download, an unexpected answer.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong.
    pub const USAGE: u8 = 2;
    /// Not logged in, or the token was rejected (401/403).
    pub const AUTH: u8 = 3;
    /// No such file (404).
    pub const NOT_FOUND: u8 = 4;
    /// Refused by the server's limits or the file's state (409/413/415/422/429).
    pub const REFUSED: u8 = 5;
    /// The server or the network is unavailable (5xx, connection errors).
    pub const UNAVAILABLE: u8 = 6;
    /// Interrupted with Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

/// The exit codes as the help text shows them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (local files, a download that does not verify, an unexpected answer)
  2  usage error
  3  not logged in, or the token was rejected (HTTP 401/403)
  4  no such file (HTTP 404)
  5  refused by limits or the file's state (HTTP 409/413/415/422/429)
  6  server or network unavailable (HTTP 5xx, connection errors)
130  interrupted (Ctrl-C); an interrupted upload resumes when the same command is run again

Environment:
  COSIGNER_API         the API's base URL (after --api, before the saved login)
  COSIGNER_TOKEN       a token to use instead of the saved one
  COSIGNER_CONFIG_DIR  where the login and the resume state are kept";

/// An error answer of the business server: `{"error": {"code", "message", "request_id"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: u16,
    /// The stable error code, when the body had one.
    pub code: Option<String>,
    /// The server's message for people.
    pub message: String,
    /// The request id to quote to the operator.
    pub request_id: Option<String>,
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No saved login (or one for another API) and no `COSIGNER_TOKEN`.
    #[error("not logged in{}; run `cosigner login --api URL --token-stdin` first", for_api(.0))]
    NotLoggedIn(Option<String>),
    /// The business server answered with an error.
    #[error("{}", human::byte_counts_in(&.0.message))]
    Api(ApiFailure),
    /// A request did not get an answer: the connection was refused, reset or timed out.
    #[error("cannot reach {host}: {reason}; check the address and the connection, then try again")]
    Unreachable {
        /// Host and port, never the path or query (a signed URL carries its signature there).
        host: String,
        /// What went wrong, in a few words.
        reason: &'static str,
        /// The client's error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// The object store answered a transfer with an error status.
    #[error("the object store at {host} answered {status}{}{}", code_of(.code), hint_of(*.status))]
    Store {
        /// Host and port of the store.
        host: String,
        /// The HTTP status.
        status: u16,
        /// COS's error code from the XML body, when there was one.
        code: Option<String>,
    },
    /// The server's answer was not what this version of the command understands.
    #[error(
        "the server's answer could not be understood: {0}; check that --api points at a Cosigner API"
    )]
    BadResponse(String),
    /// A local file or folder could not be read or written.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "cannot read".
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// Refused before asking the server, for a reason the server would refuse too.
    #[error("{0}")]
    Refused(String),
    /// The download target exists already.
    #[error("{} exists; pass --force to replace it, or -o to choose another path", .0.display())]
    Exists(PathBuf),
    /// The file cannot be downloaded in its state.
    #[error("the file is {state}, not ready; {hint}", state = .0, hint = not_ready_hint(.0))]
    NotReady(String),
    /// The downloaded bytes do not match the record.
    #[error("the downloaded bytes do not match the file: {0}; nothing was saved, try again")]
    Corrupt(String),
    /// Several files failed; each was reported on its own line already.
    #[error(
        "{failed} of {total} files failed (see above); run the same command again to retry them"
    )]
    Several {
        /// How many failed.
        failed: usize,
        /// How many were attempted.
        total: usize,
        /// The exit code of the first failure.
        exit: u8,
    },
    /// Ctrl-C.
    #[error("interrupted; run the same command again to resume")]
    Interrupted,
}

fn for_api(api: &Option<String>) -> String {
    api.as_ref().map(|a| format!(" to {a}")).unwrap_or_default()
}

fn code_of(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn hint_of(status: u16) -> &'static str {
    match status {
        403 => "; the signature was refused (expired, or the clock is far off); try again",
        404 => "; the object is not there",
        500..=599 => "; try again later",
        _ => "",
    }
}

fn not_ready_hint(state: &str) -> &'static str {
    if state == "pending" {
        "its upload is not finished: run the same `cosigner upload` again to finish it"
    } else {
        "its upload was given up; upload the file again"
    }
}

impl CliError {
    /// The client error of a request to `url`, with the URL left out: reqwest's own message
    /// would quote it, query string and signature included.
    pub fn transport(url: &reqwest::Url, source: reqwest::Error) -> Self {
        let reason = if source.is_timeout() {
            "the request timed out"
        } else if source.is_connect() {
            "the connection failed"
        } else if source.is_body() || source.is_request() {
            "the connection broke during the transfer"
        } else if source.is_decode() {
            "the answer broke off"
        } else {
            "the request failed"
        };
        Self::Unreachable {
            host: host_of(url),
            reason,
            source: source.without_url(),
        }
    }

    /// Whether trying the same request again may work: the network or a 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Store { status, .. } => *status >= 500,
            Self::Api(failure) => matches!(failure.status, 502..=504),
            _ => false,
        }
    }

    /// The exit code of this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NotLoggedIn(_) => exit::AUTH,
            Self::Api(failure) => exit_code_of_status(failure.status),
            Self::Unreachable { .. } => exit::UNAVAILABLE,
            Self::Store { status, .. } => match status {
                // The store's 403 is about the server's signature, not the user's token.
                403 => exit::FAILURE,
                _ => exit_code_of_status(*status),
            },
            Self::Usage(_) => exit::USAGE,
            Self::Refused(_) => exit::REFUSED,
            Self::Several { exit, .. } => *exit,
            Self::Interrupted => exit::INTERRUPTED,
            Self::BadResponse(_)
            | Self::Io { .. }
            | Self::Exists(_)
            | Self::NotReady(_)
            | Self::Corrupt(_) => exit::FAILURE,
        }
    }

    /// Whether the action was refused (a client error) rather than failed.
    fn is_refusal(&self) -> bool {
        match self {
            Self::Api(failure) => (400..500).contains(&failure.status),
            Self::Refused(_) | Self::Exists(_) | Self::NotReady(_) => true,
            Self::Store { status, .. } => (400..500).contains(status) && *status != 403,
            _ => false,
        }
    }
}

/// The exit code for an HTTP status.
pub fn exit_code_of_status(status: u16) -> u8 {
    match status {
        401 | 403 => exit::AUTH,
        404 => exit::NOT_FOUND,
        409 | 413 | 415 | 422 | 429 => exit::REFUSED,
        500..=599 => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    }
}

/// `host:port` of a URL, the only part of a signed URL that may be shown.
pub fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "the server".to_owned(),
    }
}

/// A failed action.
#[derive(Debug)]
pub struct Failure {
    /// What was being done: "upload of photo.jpg", "listing files".
    pub action: String,
    /// Why it failed.
    pub error: CliError,
    /// What to do, when the error alone does not say.
    pub hint: Option<&'static str>,
}

impl Failure {
    /// A failure of `action`.
    pub fn new(action: impl Into<String>, error: CliError) -> Self {
        Self {
            action: action.into(),
            error,
            hint: None,
        }
    }

    /// The same failure with what to do about it.
    pub fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// The one line printed on stderr.
    pub fn line(&self) -> String {
        let verb = if self.error.is_refusal() {
            "refused"
        } else {
            "failed"
        };
        let mut line = format!("error: {} {verb}: {}", self.action, self.error);
        if let CliError::Api(failure) = &self.error
            && matches!(failure.status, 401 | 403)
        {
            line.push_str("; log in again with `cosigner login` and a valid token");
        }
        if let Some(hint) = self.hint {
            line.push_str("; ");
            line.push_str(hint);
        }
        if let CliError::Api(failure) = &self.error {
            match (&failure.code, &failure.request_id) {
                (Some(code), Some(id)) => line.push_str(&format!(" ({code}, request {id})")),
                (Some(code), None) => line.push_str(&format!(" ({code})")),
                (None, Some(id)) => {
                    line.push_str(&format!(" (HTTP {}, request {id})", failure.status))
                }
                (None, None) => line.push_str(&format!(" (HTTP {})", failure.status)),
            }
        }
        line
    }

    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.error.exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, message: &str) -> CliError {
        CliError::Api(ApiFailure {
            status,
            code: Some(code.into()),
            message: message.into(),
            request_id: Some("01HXREQ".into()),
        })
    }

    #[test]
    fn a_refusal_names_the_action_the_reason_the_code_and_the_request() {
        let failure = Failure::new(
            "upload of photo.jpg",
            api(
                413,
                "quota_exceeded",
                "the file does not fit: 12000000 bytes of your quota are free",
            ),
        );

        assert_eq!(
            failure.line(),
            "error: upload of photo.jpg refused: the file does not fit: 12 MB of your quota are \
             free (quota_exceeded, request 01HXREQ)"
        );
        assert_eq!(failure.exit_code(), exit::REFUSED);
    }

    #[test]
    fn a_rejected_token_says_to_log_in_again() {
        let failure = Failure::new(
            "listing files",
            api(401, "unauthorized", "the token expired"),
        );

        assert_eq!(
            failure.line(),
            "error: listing files refused: the token expired; log in again with `cosigner \
             login` and a valid token (unauthorized, request 01HXREQ)"
        );
        assert_eq!(failure.exit_code(), exit::AUTH);
    }

    #[test]
    fn a_server_fault_is_a_failure_not_a_refusal() {
        let failure = Failure::new(
            "download of 01HX",
            api(503, "unavailable", "try again shortly"),
        );

        assert_eq!(
            failure.line(),
            "error: download of 01HX failed: try again shortly (unavailable, request 01HXREQ)"
        );
        assert_eq!(failure.exit_code(), exit::UNAVAILABLE);
    }

    #[test]
    fn an_answer_without_the_error_shape_shows_its_status() {
        let failure = Failure::new(
            "login",
            CliError::Api(ApiFailure {
                status: 403,
                code: None,
                message: "Forbidden".into(),
                request_id: None,
            }),
        );

        assert!(
            failure.line().ends_with("a valid token (HTTP 403)"),
            "{}",
            failure.line()
        );
    }

    #[test]
    fn statuses_map_to_the_documented_exit_codes() {
        let cases = [
            (400, exit::FAILURE),
            (401, exit::AUTH),
            (403, exit::AUTH),
            (404, exit::NOT_FOUND),
            (409, exit::REFUSED),
            (413, exit::REFUSED),
            (415, exit::REFUSED),
            (422, exit::REFUSED),
            (429, exit::REFUSED),
            (500, exit::UNAVAILABLE),
            (502, exit::UNAVAILABLE),
            (503, exit::UNAVAILABLE),
        ];

        for (status, code) in cases {
            assert_eq!(exit_code_of_status(status), code, "{status}");
        }
    }

    #[test]
    fn local_errors_have_their_own_exit_codes() {
        assert_eq!(CliError::NotLoggedIn(None).exit_code(), exit::AUTH);
        assert_eq!(CliError::Usage("x".into()).exit_code(), exit::USAGE);
        assert_eq!(CliError::Refused("x".into()).exit_code(), exit::REFUSED);
        assert_eq!(CliError::Corrupt("x".into()).exit_code(), exit::FAILURE);
        assert_eq!(CliError::Interrupted.exit_code(), exit::INTERRUPTED);
        let several = CliError::Several {
            failed: 2,
            total: 3,
            exit: exit::NOT_FOUND,
        };
        assert_eq!(several.exit_code(), exit::NOT_FOUND);
    }

    #[test]
    fn the_stores_refusal_of_a_signature_is_not_a_login_problem() {
        let store = CliError::Store {
            host: "cos.local:9000".into(),
            status: 403,
            code: Some("AccessDenied".into()),
        };
        let failure = Failure::new("upload of a.bin", store);

        assert_eq!(failure.exit_code(), exit::FAILURE);
        assert_eq!(
            failure.line(),
            "error: upload of a.bin failed: the object store at cos.local:9000 answered 403 \
             AccessDenied; the signature was refused (expired, or the clock is far off); try again"
        );
    }

    #[tokio::test]
    async fn a_connection_error_shows_the_host_but_never_the_path_or_query() {
        let url = reqwest::Url::parse("http://127.0.0.1:1/bucket/key?q-signature=secret").unwrap();
        let err = reqwest::Client::new()
            .get(url.clone())
            .send()
            .await
            .unwrap_err();

        let failure = Failure::new("upload of a.bin", CliError::transport(&url, err));
        let line = failure.line();
        let debug = format!("{failure:?}");

        assert!(
            line.contains("cannot reach 127.0.0.1:1: the connection failed"),
            "{line}"
        );
        assert!(
            !line.contains("secret") && !debug.contains("secret"),
            "{line} {debug}"
        );
        assert_eq!(failure.exit_code(), exit::UNAVAILABLE);
        assert!(failure.error.is_transient());
    }

    #[test]
    fn a_hint_comes_before_the_code_and_request() {
        let failure = Failure::new("upload of a.bin", api(503, "unavailable", "busy"))
            .with_hint("run the same command again to resume");

        assert_eq!(
            failure.line(),
            "error: upload of a.bin failed: busy; run the same command again to resume \
             (unavailable, request 01HXREQ)"
        );
    }

    #[test]
    fn a_summary_of_several_failures_says_how_to_retry() {
        let failure = Failure::new(
            "upload",
            CliError::Several {
                failed: 2,
                total: 5,
                exit: exit::REFUSED,
            },
        );

        assert_eq!(
            failure.line(),
            "error: upload failed: 2 of 5 files failed (see above); run the same command again \
             to retry them"
        );
    }
}
