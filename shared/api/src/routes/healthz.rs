//! `GET /healthz`: the function runs. It touches neither the table nor COS, so a probe
//! cannot put load on them.

use serde_json::json;

use crate::ApiResponse;

/// Always 200.
pub(crate) fn handle() -> ApiResponse {
    ApiResponse::json(200, &json!({ "status": "ok" }))
}
