//! Builds the application state and the axum router; GraphQL and HTTP are thin adapters
//! that authenticate, parse, call the domain and shape the answer.
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::{BatchRequest, BatchResponse, Data};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::db::{self, StatementCounter};
use crate::domain::auth::{self, Principal};
use crate::domain::brands;
use crate::error::{AppError, AppResult, unauthenticated};
use crate::events::Bus;
use crate::graphql::loaders::Loaders;
use crate::graphql::types::RequestCtx;
use crate::graphql::{Limits, TallySchema, build_schema};

/// A client that has not sent connection_init by then is disconnected.
pub const WS_INIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: TallySchema,
    pub bus: Bus,
    pub limits: Limits,
    pub statements: StatementCounter,
    /// The key GraphiQL is pre-filled with (demo mode only).
    pub graphiql_key: Option<String>,
}

impl AppState {
    pub async fn new(database_url: &str, limits: Limits) -> anyhow::Result<AppState> {
        let (db, statements) = db::connect(database_url).await?;
        let bus = Bus::start(db.clone()).await?;
        Ok(AppState { schema: build_schema(&limits), db, bus, limits, statements, graphiql_key: None })
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.body_bytes;
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", post(graphql_http))
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .merge(crate::ingest::router())
        .merge(crate::export::router())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until the listener fails or the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    let bearer = state.graphiql_key.as_ref().map(|k| format!("Bearer {k}"));
    let mut source = GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("Tally");
    if let Some(b) = &bearer {
        source = source.header("Authorization", b).ws_connection_param("authorization", b);
    }
    Html(source.finish())
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.db.execute_unprepared("SELECT 1").await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The caller behind an `Authorization: Bearer` value.
pub async fn principal(db: &DatabaseConnection, value: Option<&str>) -> AppResult<Principal> {
    let key = value.filter(|k| !k.is_empty()).ok_or_else(unauthenticated)?;
    auth::authenticate(db, key).await
}

/// The caller and its brand, looked up once per HTTP request or websocket connection.
#[derive(Clone)]
pub struct Caller {
    principal: Principal,
    brand: entity::brand::Model,
    currency: crate::domain::money::Currency,
}

impl Caller {
    pub async fn load(state: &AppState, principal: Principal) -> AppResult<Caller> {
        let brand = brands::get(&state.db, principal.brand).await?;
        let currency = brands::currency(&brand)?;
        Ok(Caller { principal, brand, currency })
    }

    fn parts(&self, state: &AppState) -> (DataLoader<Loaders>, RequestCtx, Bus) {
        let loaders = Loaders { db: state.db.clone(), brand: self.principal.brand };
        let ctx = RequestCtx {
            db: state.db.clone(),
            principal: self.principal.clone(),
            brand: self.brand.clone(),
            currency: self.currency,
        };
        (DataLoader::new(loaders, tokio::spawn), ctx, state.bus.clone())
    }

    /// Fresh context data with fresh loaders: never shared between operations or brands.
    pub fn data(&self, state: &AppState) -> Data {
        let (loader, ctx, bus) = self.parts(state);
        let mut data = Data::default();
        data.insert(loader);
        data.insert(ctx);
        data.insert(bus);
        data
    }

    /// The same, attached to one operation.
    pub fn attach(&self, state: &AppState, request: async_graphql::Request) -> async_graphql::Request {
        let (loader, ctx, bus) = self.parts(state);
        request.data(loader).data(ctx).data(bus)
    }
}

fn error_body(err: &AppError) -> serde_json::Value {
    serde_json::json!({
        "data": null,
        "errors": [{ "message": err.public_message(), "extensions": { "code": err.code() } }]
    })
}

fn graphql_error(err: AppError) -> Response {
    (err.http_status(), Json(error_body(&err))).into_response()
}

async fn graphql_http(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, axum::extract::rejection::BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = state.limits.body_bytes;
            return graphql_error(AppError::LimitExceeded(format!("request body is larger than {limit} bytes")));
        }
        Err(rejection) => {
            return graphql_error(AppError::BadUserInput { message: rejection.body_text(), field: None });
        }
    };
    let principal = match principal(&state.db, bearer(&headers)).await {
        Ok(p) => p,
        Err(err) => return graphql_error(err),
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(err) => {
            return graphql_error(AppError::BadUserInput {
                message: format!("the body is not a GraphQL request: {err}"),
                field: None,
            });
        }
    };
    let size = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(list) => list.len(),
    };
    if size > state.limits.batch {
        let limit = state.limits.batch;
        return graphql_error(AppError::LimitExceeded(format!("a batch may hold at most {limit} requests")));
    }
    let caller = match Caller::load(&state, principal).await {
        Ok(c) => c,
        Err(err) => return graphql_error(err),
    };
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(caller.attach(&state, r)),
        BatchRequest::Batch(list) => BatchRequest::Batch(list.into_iter().map(|r| caller.attach(&state, r)).collect()),
    };
    let response = match state.schema.execute_batch(batch).await {
        BatchResponse::Single(r) => BatchResponse::Single(coded(r)),
        BatchResponse::Batch(list) => BatchResponse::Batch(list.into_iter().map(coded).collect()),
    };
    Json(response).into_response()
}

/// Gives every error an `extensions.code`: ours carry one already; the engine's own are
/// limit errors (LIMIT_EXCEEDED) or malformed documents and arguments (BAD_USER_INPUT).
fn coded(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        let m = error.message.to_ascii_lowercase();
        let code = if m.contains("too complex") || m.contains("too deep") || m.contains("nested too") || m.contains("too many") {
            "LIMIT_EXCEEDED"
        } else {
            "BAD_USER_INPUT"
        };
        let mut ext = error.extensions.take().unwrap_or_default();
        ext.set("code", code);
        error.extensions = Some(ext);
    }
    response
}

/// Authenticates `connection_init` before handing the socket to the GraphQL protocol:
/// no init within the timeout closes with 4408, a missing or bad key with 4401.
async fn graphql_ws(State(state): State<AppState>, protocol: GraphQLProtocol, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| ws_session(state, protocol, socket))
}

async fn ws_session(state: AppState, protocol: GraphQLProtocol, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(WS_INIT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => return,
        Err(_) => {
            let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
            return;
        }
    };
    let init: serde_json::Value = serde_json::from_str(first.as_str()).unwrap_or_default();
    if init.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        let _ = sink.send(close(4401, "Unauthorized: send connection_init first")).await;
        return;
    }
    let payload = init.get("payload").cloned().unwrap_or_default();
    let key = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .map(|v| v.trim().strip_prefix("Bearer ").or_else(|| v.trim().strip_prefix("bearer ")).unwrap_or(v.trim()).to_string());
    let data = match principal(&state.db, key.as_deref()).await {
        Ok(p) => Caller::load(&state, p).await.map(|c| c.data(&state)),
        Err(e) => Err(e),
    };
    let data = match data {
        Ok(d) => d,
        Err(err) => {
            let code = if matches!(err, AppError::Unauthenticated(_)) { 4401 } else { 4500 };
            let _ = sink.send(close(code, "Unauthorized")).await;
            return;
        }
    };
    // Replay the init message to the protocol handler, which acknowledges it.
    let replay = futures_util::stream::once(async move { Ok::<Message, axum::Error>(Message::Text(first)) });
    let stream = replay.chain(stream);
    GraphQLWebSocket::new_with_pair(sink, stream, state.schema.clone(), protocol)
        .with_data(data)
        .on_connection_init(|_| async { Ok(Data::default()) })
        .keepalive_timeout(Duration::from_secs(30))
        .serve()
        .await;
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(axum::extract::ws::CloseFrame { code, reason: reason.into() }))
}
