//! `POST /graphql`: one GraphQL request or a batch, each operation through `exec`.
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::exec;
use crate::error::AppError;
use crate::http::caller::Caller;
use crate::http::read_body;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/graphql", post(graphql_http))
}

/// A request refused as a whole: the error's HTTP status, and a GraphQL answer.
fn graphql_error(err: AppError) -> Response {
    let (status, retry_after) = (err.http_status(), err.retry_after());
    let mut response = (status, Json(exec::error_response(err))).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

async fn graphql_http(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let caller = match caller {
        Ok(c) => c,
        Err(err) => return graphql_error(err),
    };
    let body = match read_body(body, state.limits.body_bytes) {
        Ok(b) => b,
        Err(err) => return graphql_error(err),
    };
    let (requests, single) = match serde_json::from_slice(&body) {
        Ok(BatchRequest::Single(r)) => (vec![r], true),
        Ok(BatchRequest::Batch(list)) => (list, false),
        Err(err) => {
            return graphql_error(AppError::BadUserInput {
                message: format!("the body is not a GraphQL request: {err}"),
                field: None,
            });
        }
    };
    if requests.len() > state.limits.batch {
        let limit = state.limits.batch;
        return graphql_error(AppError::LimitExceeded(format!(
            "a batch may hold at most {limit} requests (--max-batch or TALLY_MAX_BATCH)"
        )));
    }
    let rate = match state.throttle.admit(caller.key_id(), requests.len()) {
        Ok(rate) => rate,
        Err(err) => return graphql_error(err),
    };
    // Every operation is parsed and measured first; one that fails a check answers its
    // error in its place, and the others still run.
    let mut answers: Vec<Option<async_graphql::Response>> = Vec::with_capacity(requests.len());
    let mut runnable = Vec::new();
    for request in requests {
        match exec::prepare(&state.cost, &state.limits, &state.documents, request) {
            Ok(prepared) => {
                answers.push(None);
                runnable.push(prepared);
            }
            Err(err) => answers.push(Some(exec::error_response(err))),
        }
    }
    let total = runnable.iter().fold(0u64, |sum, p| sum.saturating_add(p.measured.cost));
    if total > state.limits.complexity as u64 {
        return graphql_error(AppError::LimitExceeded(format!(
            "the batch costs {total} in all, more than the limit of {} (--max-complexity or TALLY_MAX_COMPLEXITY)",
            state.limits.complexity
        )));
    }
    let mut results = match exec::run(&state, &caller, runnable).await {
        Ok(results) => results.into_iter(),
        Err(err) => return graphql_error(err),
    };
    let answers: Vec<async_graphql::Response> =
        answers.into_iter().map(|a| a.or_else(|| results.next()).unwrap_or_default()).collect();
    // An operation the database was away for: the whole request is worth retrying.
    let retry = answers.iter().find_map(|a| a.http_headers.get(header::RETRY_AFTER).cloned());
    let body = if single {
        BatchResponse::Single(answers.into_iter().next().unwrap_or_default())
    } else {
        BatchResponse::Batch(answers)
    };
    let mut response = Json(body).into_response();
    if let Some(seconds) = retry {
        *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    if let Some(rate) = rate {
        rate.apply_to(response.headers_mut());
    }
    response
}
