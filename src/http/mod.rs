//! What every HTTP and websocket adapter shares beyond the router: the accept loop, the
//! layers that bound every request, and fair use per key.
pub mod layers;
pub mod serve;
pub mod throttle;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refusal in the shape its route answers errors in: a GraphQL answer on `/graphql`,
/// `{"error": {"code", "message"}}` elsewhere.
pub fn refusal(path: &str, status: StatusCode, code: &str, message: &str) -> Response {
    let body = if path.starts_with("/graphql") {
        serde_json::json!({ "data": null, "errors": [{ "message": message, "extensions": { "code": code } }] })
    } else {
        serde_json::json!({ "error": { "code": code, "message": message } })
    };
    (status, Json(body)).into_response()
}
