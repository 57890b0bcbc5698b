//! `/graphql` as the GraphQL over HTTP spec has it: `POST` with a JSON body (one request
//! or a batch), and `GET` with the request in the URL for queries only (a mutation over
//! GET answers 405: a GET must be safe to repeat and to prefetch). Every operation goes
//! through `exec`.
//!
//! The answer's media type follows `Accept`. Under `application/graphql-response+json` a
//! request that could not run at all (a document that does not parse or validate, a
//! variable that does not coerce) answers 400 with no `data` entry, so a client can tell
//! it from a partial answer. Under `application/json`, the default and what clients
//! written before the spec expect, it answers 200 as it always did.
use std::collections::HashMap;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::exec;
use crate::error::AppError;
use crate::http::caller::Caller;
use crate::http::read_body;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/graphql", post(graphql_post).get(graphql_get))
}

/// The media type of the answer, from the request's `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: what every client understands; request errors answer 200.
    Json,
    /// `application/graphql-response+json`: request errors answer 400 without `data`.
    GraphqlResponse,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

impl Media {
    /// The type `Accept` prefers (by `q`, the spec's type on a tie); `application/json`
    /// when neither is listed or there is no `Accept`.
    pub fn negotiate(headers: &HeaderMap) -> Media {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Media::Json;
        };
        let (mut json, mut graphql) = (None::<f32>, None::<f32>);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let ty = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q =
                parts.filter_map(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).next().unwrap_or(1.0);
            let slot = match ty.as_str() {
                GRAPHQL_RESPONSE => &mut graphql,
                "application/json" | "application/*" | "*/*" => &mut json,
                _ => continue,
            };
            *slot = Some(slot.unwrap_or(0.0).max(q));
        }
        match (graphql, json) {
            (Some(g), j) if g > 0.0 && g >= j.unwrap_or(0.0) => Media::GraphqlResponse,
            _ => Media::Json,
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::Json => "application/json; charset=utf-8",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }
}

/// A GraphQL answer as `media` wants it: without `data` when `request_error` is set and
/// the media type is the spec's.
fn answer(status: StatusCode, media: Media, body: &impl serde::Serialize, request_error: bool) -> Response {
    let bytes = if request_error && media == Media::GraphqlResponse {
        let mut value = serde_json::to_value(body).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("data");
        }
        serde_json::to_vec(&value)
    } else {
        serde_json::to_vec(body)
    };
    let mut response = (status, bytes.unwrap_or_default()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// A request refused as a whole: the error's HTTP status, and a GraphQL answer.
fn graphql_error(err: AppError, media: Media) -> Response {
    let (status, retry_after) = (err.http_status(), err.retry_after());
    let mut response = answer(status, media, &exec::error_response(err), true);
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// The request could not run at all: every error is the document's or the variables',
/// none a field's (a field's error has a path), and nothing was executed.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// `POST /graphql`: a JSON body (`Content-Type: application/json`).
async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Result<Caller, AppError>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let media = Media::negotiate(&headers);
    let caller = match caller {
        Ok(c) => c,
        Err(err) => return graphql_error(err, media),
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        let message = "a POST to /graphql carries its request as JSON: send Content-Type: application/json";
        let mut refused = graphql_error(AppError::BadUserInput { message: message.to_string(), field: None }, media);
        *refused.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return refused;
    }
    let body = match read_body(body, state.limits.body_bytes) {
        Ok(b) => b,
        Err(err) => return graphql_error(err, media),
    };
    let (requests, single) = match serde_json::from_slice(&body) {
        Ok(BatchRequest::Single(r)) => (vec![r], true),
        Ok(BatchRequest::Batch(list)) => (list, false),
        Err(err) => {
            return graphql_error(
                AppError::BadUserInput { message: format!("the body is not a GraphQL request: {err}"), field: None },
                media,
            );
        }
    };
    execute(&state, &caller, requests, single, media, false).await
}

/// `GET /graphql?query=…&variables=…&operationName=…`: queries only, `variables` and
/// `extensions` as URL-encoded JSON.
async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Result<Caller, AppError>,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let media = Media::negotiate(&headers);
    let caller = match caller {
        Ok(c) => c,
        Err(err) => return graphql_error(err, media),
    };
    let bad = |message: String| graphql_error(AppError::BadUserInput { message, field: None }, media);
    let Ok(Query(params)) = params else {
        return bad("the URL's parameters could not be read".to_string());
    };
    let mut request = async_graphql::Request::new(params.get("query").cloned().unwrap_or_default());
    if let Some(name) = params.get("operationName").filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    // Each a URL-encoded JSON object; absent or empty means none.
    let object = |key: &str| match params.get(key).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value @ serde_json::Value::Object(_)) => Ok(Some(value)),
            _ => Err(format!("the {key} parameter is not a JSON object")),
        },
    };
    match object("variables") {
        Ok(Some(value)) => request = request.variables(async_graphql::Variables::from_json(value)),
        Ok(None) => {}
        Err(message) => return bad(message),
    }
    match object("extensions").map(|v| v.map(serde_json::from_value)) {
        Ok(Some(Ok(extensions))) => request.extensions = extensions,
        Ok(None) => {}
        Ok(Some(Err(_))) => return bad("the extensions parameter is not a JSON object".to_string()),
        Err(message) => return bad(message),
    }
    execute(&state, &caller, vec![request], true, media, true).await
}

async fn execute(
    state: &AppState,
    caller: &Caller,
    requests: Vec<async_graphql::Request>,
    single: bool,
    media: Media,
    get: bool,
) -> Response {
    if requests.len() > state.limits.batch {
        let limit = state.limits.batch;
        return graphql_error(
            AppError::LimitExceeded(format!(
                "a batch may hold at most {limit} requests (--max-batch or TALLY_MAX_BATCH)"
            )),
            media,
        );
    }
    if requests.iter().any(|r| r.query.trim().is_empty()) {
        let message = if get { "the URL has no query parameter" } else { "the request has no query" };
        return graphql_error(AppError::BadUserInput { message: message.to_string(), field: None }, media);
    }
    let rate = match state.throttle.admit(caller.key_id(), requests.len()) {
        Ok(rate) => rate,
        Err(err) => return graphql_error(err, media),
    };
    // Every operation is parsed and measured first; one that fails a check answers its
    // error in its place, and the others still run.
    let mut answers: Vec<Option<async_graphql::Response>> = Vec::with_capacity(requests.len());
    let mut runnable = Vec::new();
    for request in requests {
        match exec::prepare(&state.cost, &state.limits, &state.documents, request) {
            Ok(prepared)
                if get && matches!(prepared.kind, Some(OperationType::Mutation | OperationType::Subscription)) =>
            {
                let mut refused = graphql_error(
                    AppError::BadUserInput {
                        message: "GET runs queries only: send mutations and subscriptions by POST (or the websocket)"
                            .to_string(),
                        field: None,
                    },
                    media,
                );
                *refused.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                refused.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                return refused;
            }
            Ok(prepared) => {
                answers.push(None);
                runnable.push(prepared);
            }
            Err(err) => answers.push(Some(exec::error_response(err))),
        }
    }
    let total = runnable.iter().fold(0u64, |sum, p| sum.saturating_add(p.measured.cost));
    if total > state.limits.complexity as u64 {
        return graphql_error(
            AppError::LimitExceeded(format!(
                "the batch costs {total} in all, more than the limit of {} (--max-complexity or TALLY_MAX_COMPLEXITY)",
                state.limits.complexity
            )),
            media,
        );
    }
    let mut results = match exec::run(state, caller, runnable).await {
        Ok(results) => results.into_iter(),
        Err(err) => return graphql_error(err, media),
    };
    let answers: Vec<async_graphql::Response> =
        answers.into_iter().map(|a| a.or_else(|| results.next()).unwrap_or_default()).collect();
    // An operation the database was away for: the whole request is worth retrying.
    let retry = answers.iter().find_map(|a| a.http_headers.get(header::RETRY_AFTER).cloned());
    let mut response = if single {
        let one = answers.into_iter().next().unwrap_or_default();
        let request_error = is_request_error(&one);
        let status =
            if request_error && media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
        answer(status, media, &one, request_error)
    } else {
        answer(StatusCode::OK, media, &BatchResponse::Batch(answers), false)
    };
    if let Some(seconds) = retry {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    if let Some(rate) = rate {
        rate.apply_to(response.headers_mut());
    }
    response
}
