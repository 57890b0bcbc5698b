//! Builds the application state and the axum router; GraphQL and HTTP are thin adapters
//! that authenticate, parse, call the domain and shape the answer.
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::http::GraphiQLSource;
use async_graphql::{BatchRequest, BatchResponse, Data};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::sync::mpsc::UnboundedReceiver;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::db::{self, StatementCounter};
use crate::domain::auth::{self, Principal};
use crate::domain::brands;
use crate::error::{AppError, AppResult, unauthenticated};
use crate::events::Bus;
use crate::graphql::loaders::Loaders;
use crate::graphql::types::RequestCtx;
use crate::graphql::{Limits, TallySchema, build_schema};

/// How long a loader gathers keys before one batched statement. Over HTTP the batches run
/// in the request's own task (see `drive`), so they start only once every sibling field
/// has asked, however long a page takes to resolve; the delay just needs to be non-zero.
pub const LOADER_DELAY: Duration = Duration::from_millis(1);

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: TallySchema,
    pub bus: Bus,
    pub limits: Limits,
    pub statements: StatementCounter,
    /// The key GraphiQL is pre-filled with (demo mode only).
    pub graphiql_key: Option<String>,
    /// Browser origins allowed to call the API (CORS); none by default.
    pub cors_origins: Vec<HeaderValue>,
}

impl AppState {
    pub async fn new(database_url: &str, limits: Limits) -> anyhow::Result<AppState> {
        let (db, statements) = db::connect(database_url).await?;
        let bus = Bus::start(db.clone(), limits.subscriber_buffer).await?;
        Ok(AppState {
            schema: build_schema(&limits),
            db,
            bus,
            limits,
            statements,
            graphiql_key: None,
            cors_origins: Vec::new(),
        })
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.body_bytes;
    // Front-end apps on other origins send the key in the Authorization header, never
    // cookies, so no credentials are allowed.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(state.cors_origins.clone()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600));
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", post(graphql_http))
        .route("/graphql/ws", get(crate::graphql::ws::upgrade))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .merge(crate::ingest::router())
        .merge(crate::export::router())
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until the listener fails or the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Serves until `shutdown` resolves, then stops taking connections and lets requests
/// in flight finish.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// What GraphiQL opens with: the dashboard and the first campaign's Performance table.
const GRAPHIQL_QUERY: &str = "# Tally: how your creators sell. Press Run (Ctrl-Enter).
query Overview {
  brand { name currency }
  dashboard { totalSales orders commission byCampaign { campaign { name } sales orders } }
  campaigns(first: 1) {
    edges {
      node {
        name
        performance {
          rows { creator { name handle } couponCode affiliateLink orders sales approvedConversions rejectedConversions commission }
          totals { orders sales commission }
        }
        orders(first: 5) { totalCount edges { node { externalId amount status orderedAt creator { name } conversion { id approval earnedCommission } } } }
      }
    }
  }
}
";

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    let bearer = state.graphiql_key.as_ref().map(|k| format!("Bearer {k}"));
    let mut source = GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("Tally");
    if let Some(b) = &bearer {
        source = source.header("Authorization", b).ws_connection_param("authorization", b);
    }
    let props = format!(
        "defaultQuery: {}, defaultHeaders: {}, defaultEditorToolsVisibility: true,",
        serde_json::Value::from(GRAPHIQL_QUERY),
        serde_json::Value::from(
            bearer.as_ref().map(|b| serde_json::json!({ "Authorization": b }).to_string()).unwrap_or_default()
        ),
    );
    Html(source.finish().replace("defaultEditorToolsVisibility: true,", &props))
}

async fn ready(State(state): State<AppState>) -> Response {
    let probe = tokio::time::timeout(Duration::from_secs(2), state.db.execute_unprepared("SELECT 1")).await;
    match probe {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database not answering").into_response(),
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The token of a `Bearer <token>` value (the scheme in any case).
pub fn bearer_token(value: &str) -> Option<&str> {
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

    fn ctx(&self, state: &AppState) -> RequestCtx {
        RequestCtx {
            db: state.db.clone(),
            principal: self.principal.clone(),
            brand: self.brand.clone(),
            currency: self.currency,
        }
    }

    fn loaders(&self, state: &AppState) -> Loaders {
        Loaders { db: state.db.clone(), brand: self.principal.brand }
    }

    /// Context data for a websocket connection of this caller; its loaders batch on tokio.
    pub fn data(&self, state: &AppState) -> Data {
        let mut data = Data::default();
        data.insert(DataLoader::new(self.loaders(state), tokio::spawn).delay(LOADER_DELAY));
        data.insert(self.ctx(state));
        data.insert(state.bus.clone());
        data
    }

    /// Runs one operation with fresh loaders whose batches run inside this task.
    pub async fn execute(&self, state: &AppState, request: async_graphql::Request) -> async_graphql::Response {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<BoxFuture<'static, ()>>();
        let loader = DataLoader::new(self.loaders(state), move |task| {
            let _ = tx.send(task);
        })
        .delay(LOADER_DELAY);
        let (query, operation) = (request.query.clone(), request.operation_name.clone());
        let request = request.data(loader).data(self.ctx(state)).data(state.bus.clone());
        let mut response = drive(state.schema.execute(request), rx).await;
        crate::graphql::order::reorder(&query, operation.as_deref(), &mut response.data);
        response
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

/// The request body, or LIMIT_EXCEEDED past the body cap.
pub fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> AppResult<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::LimitExceeded(format!("request body is larger than {limit} bytes"))
        } else {
            AppError::BadUserInput { message: rejection.body_text(), field: None }
        }
    })
}

async fn graphql_http(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body, state.limits.body_bytes) {
        Ok(b) => b,
        Err(err) => return graphql_error(err),
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
    let response = match batch {
        BatchRequest::Single(r) => BatchResponse::Single(coded(caller.execute(&state, r).await)),
        BatchRequest::Batch(list) => {
            let mut answers = Vec::with_capacity(list.len());
            for r in list {
                answers.push(coded(caller.execute(&state, r).await));
            }
            BatchResponse::Batch(answers)
        }
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
        let code = if m.contains("too complex")
            || m.contains("too deep")
            || m.contains("nested too")
            || m.contains("too many")
        {
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

/// Polls `main` together with the loader batches it starts, all in this one task. A batch
/// runs only while `main` is waiting on something, never while it is still walking a
/// page (async-graphql's list resolution yields every 32 items and wakes itself at once),
/// so every key that one level of a page asks for lands in one batch: the statement count
/// of a page does not depend on its size or on how fast this machine resolves it.
async fn drive<F: Future>(main: F, mut spawned: UnboundedReceiver<BoxFuture<'static, ()>>) -> F::Output {
    let mut running = FuturesUnordered::new();
    let mut main = std::pin::pin!(main);
    let woken = Arc::new(AtomicBool::new(false));
    std::future::poll_fn(move |cx| {
        let waker = Waker::from(Arc::new(Flagging { woken: woken.clone(), inner: cx.waker().clone() }));
        let mut flagged = Context::from_waker(&waker);
        loop {
            woken.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = main.as_mut().poll(&mut flagged) {
                return Poll::Ready(out);
            }
            if woken.load(Ordering::SeqCst) {
                continue;
            }
            while let Poll::Ready(Some(task)) = spawned.poll_recv(cx) {
                running.push(task);
            }
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            if !woken.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// A waker that notes it was used, and wakes the task.
struct Flagging {
    woken: Arc<AtomicBool>,
    inner: Waker,
}

impl Wake for Flagging {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}
