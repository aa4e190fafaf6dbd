//! The framework-free request and response every entry point converts to and from: the
//! Lambda glue, the local gateway, and the tests.

use serde::Serialize;

use cosigner_core::UserId;

/// Who is calling, as the authorizer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A user with a verified bearer token.
    User(UserId),
    /// Nobody verified (health checks, the signed event route).
    Anonymous,
}

/// A request to a route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiRequest {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path, without the query, such as `/v1/files/01HX…`.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The gateway's request id, echoed in errors and logs.
    pub request_id: String,
}

impl ApiRequest {
    /// The first header of that name (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter of that name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A route's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A JSON response.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        // Serialising our own response types cannot fail: they hold no maps with non-string
        // keys and no types with fallible `Serialize`.
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    /// An empty response, such as a 204.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}
