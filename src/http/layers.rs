//! The layers every request passes: a panic answers 500 INTERNAL and the server keeps
//! serving; a request must finish within `request_timeout`; its body must arrive within
//! `body_timeout` and be no larger than `body_bytes`, and a declared `Content-Length` past
//! that is refused before a byte of the body is read.
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use http_body_util::BodyExt;

use super::refusal;

/// What the layers enforce.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub body_bytes: usize,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("")
}

/// A panic anywhere in a request answers 500 INTERNAL with a log line; the connection and
/// the server live on.
pub async fn catch_panic(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(%path, panic = panic_message(panic.as_ref()), "a request panicked");
            refusal(&path, StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
        }
    }
}

/// The whole request, body included, within `request_timeout`; a streamed export counts
/// until its first byte, a websocket until its upgrade. What was in flight is dropped, so
/// an open transaction rolls back.
pub async fn request_timeout(State(bounds): State<Bounds>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(bounds.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let seconds = bounds.request_timeout.as_secs_f64();
            tracing::warn!(%path, seconds, "request timed out");
            let message =
                format!("the request did not finish within {seconds} s (--request-timeout or TALLY_REQUEST_TIMEOUT)");
            let mut response = refusal(&path, StatusCode::SERVICE_UNAVAILABLE, "LIMIT_EXCEEDED", &message);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// Reads the body in full before the handler runs: refused with 413 from `Content-Length`
/// alone when it declares too much, with 413 once more than `body_bytes` arrived, and with
/// 408 when it does not arrive within `body_timeout`.
pub async fn bounded_body(State(bounds): State<Bounds>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let too_large = || {
        let message = format!(
            "request body is larger than {} bytes (--max-body-bytes or TALLY_MAX_BODY_BYTES)",
            bounds.body_bytes
        );
        refusal(&path, StatusCode::PAYLOAD_TOO_LARGE, "LIMIT_EXCEEDED", &message)
    };
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > bounds.body_bytes as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, bounds.body_bytes);
    let bytes = match tokio::time::timeout(bounds.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(err)) => {
            let message = format!("the request body could not be read: {err}");
            return refusal(&path, StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message);
        }
        Err(_) => {
            let message = format!(
                "the request body did not arrive within {} s (--body-timeout or TALLY_BODY_TIMEOUT)",
                bounds.body_timeout.as_secs_f64()
            );
            return refusal(&path, StatusCode::REQUEST_TIMEOUT, "LIMIT_EXCEEDED", &message);
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
