//! What every HTTP and websocket adapter shares: the state, the caller, the accept loop,
//! the layers that bound every request, fair use per key, and the health routes.
pub mod caller;
pub mod health;
pub mod keys;
pub mod layers;
pub mod observe;
pub mod serve;
pub mod state;
pub mod throttle;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, AppResult};

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

/// The request body, or LIMIT_EXCEEDED past the body cap.
pub fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> AppResult<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::LimitExceeded(format!(
                "request body is larger than {limit} bytes (--max-body-bytes or TALLY_MAX_BODY_BYTES)"
            ))
        } else {
            AppError::BadUserInput { message: rejection.body_text(), field: None }
        }
    })
}
