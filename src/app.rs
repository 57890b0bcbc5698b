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
use axum::{Json, Router, middleware};
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
use crate::graphql::cost::CostModel;
use crate::graphql::exec::{self, Prepared};
use crate::graphql::loaders::Loaders;
use crate::graphql::types::RequestCtx;
use crate::graphql::{Limits, TallySchema, build_schema};
use crate::http::layers::{self, Bounds};
use crate::http::throttle::Throttle;

/// How long a loader gathers keys before one batched statement. Over HTTP the batches run
/// in the request's own task (see `drive`), so they start only once every sibling field
/// has asked, however long a page takes to resolve; the delay just needs to be non-zero.
pub const LOADER_DELAY: Duration = Duration::from_millis(1);

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: TallySchema,
    /// What each field of the schema costs, for `graphql::exec::prepare`.
    pub cost: Arc<CostModel>,
    pub throttle: Arc<Throttle>,
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
        let (db, statements) = db::connect_with(database_url, Some(limits.statement_timeout)).await?;
        let bus = Bus::start(db.clone(), limits.subscriber_buffer).await?;
        let schema = build_schema();
        let cost = Arc::new(exec::model(&schema).await?);
        let throttle = Arc::new(Throttle::new(&limits));
        let idle = Arc::downgrade(&throttle);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                match idle.upgrade() {
                    Some(throttle) => throttle.forget_idle(),
                    None => break,
                }
            }
        });
        Ok(AppState {
            schema,
            cost,
            throttle,
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
    router_with(state, Router::new())
}

/// The router with `extra` routes behind the same layers (tests add one that panics).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let body_limit = state.limits.body_bytes;
    let bounds = Bounds {
        body_bytes: body_limit,
        body_timeout: state.limits.body_timeout,
        request_timeout: state.limits.request_timeout,
    };
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
        .merge(extra)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(bounds, layers::bounded_body))
        .layer(middleware::from_fn_with_state(bounds, layers::request_timeout))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(layers::catch_panic))
        .with_state(state)
}

/// Serves until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, std::future::pending()).await
}

/// Serves until `shutdown` resolves, then stops taking connections and lets requests
/// in flight finish.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.limits.header_timeout;
    crate::http::serve::serve(listener, router(state), header_timeout, shutdown).await
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

    pub fn key_id(&self) -> i64 {
        self.principal.key_id
    }

    /// Runs the prepared operations of one request in turn, each with fresh loaders whose
    /// batches run inside this task. Together they are one piece of work: when their
    /// aggregates make it expensive, it waits for a turn among the key's expensive operations.
    pub async fn run(&self, state: &AppState, operations: Vec<Prepared>) -> AppResult<Vec<async_graphql::Response>> {
        let aggregates = operations.iter().fold(0u64, |sum, p| sum.saturating_add(p.measured.aggregates));
        let _turn = state.throttle.turn(self.key_id(), aggregates).await?;
        let mut answers = Vec::with_capacity(operations.len());
        for prepared in operations {
            answers.push(self.execute(state, prepared).await);
        }
        Ok(answers)
    }

    async fn execute(&self, state: &AppState, prepared: Prepared) -> async_graphql::Response {
        let Prepared { request, document, .. } = prepared;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<BoxFuture<'static, ()>>();
        let loader = DataLoader::new(self.loaders(state), move |task| {
            let _ = tx.send(task);
        })
        .delay(LOADER_DELAY);
        let operation = request.operation_name.clone();
        let request = request.data(loader).data(self.ctx(state)).data(state.bus.clone());
        let mut response = drive(state.schema.execute(request), rx).await;
        crate::graphql::order::reorder(&document, operation.as_deref(), &mut response.data);
        coded(response)
    }
}

/// An error as a GraphQL answer: `data` null, the error with its code.
pub fn error_response(err: AppError) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![err.into_server_error()])
}

/// A request refused as a whole: the error's HTTP status, and a GraphQL answer.
fn graphql_error(err: AppError) -> Response {
    let (status, retry_after) = (err.http_status(), err.retry_after());
    let mut response = (status, Json(error_response(err))).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    }
    response
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
    let caller = match Caller::load(&state, principal).await {
        Ok(c) => c,
        Err(err) => return graphql_error(err),
    };
    let rate = match state.throttle.admit(caller.key_id(), requests.len()) {
        Ok(rate) => rate,
        Err(err) => return graphql_error(err),
    };
    // Every operation is parsed and measured first; one that fails a check answers its
    // error in its place, and the others still run.
    let mut answers: Vec<Option<async_graphql::Response>> = Vec::with_capacity(requests.len());
    let mut runnable = Vec::new();
    for request in requests {
        match exec::prepare(&state.cost, &state.limits, request) {
            Ok(prepared) => {
                answers.push(None);
                runnable.push(prepared);
            }
            Err(err) => answers.push(Some(error_response(err))),
        }
    }
    let total = runnable.iter().fold(0u64, |sum, p| sum.saturating_add(p.measured.cost));
    if total > state.limits.complexity as u64 {
        return graphql_error(AppError::LimitExceeded(format!(
            "the batch costs {total} in all, more than the limit of {} (--max-complexity or TALLY_MAX_COMPLEXITY)",
            state.limits.complexity
        )));
    }
    let mut results = match caller.run(&state, runnable).await {
        Ok(results) => results.into_iter(),
        Err(err) => return graphql_error(err),
    };
    let answers: Vec<async_graphql::Response> =
        answers.into_iter().map(|a| a.or_else(|| results.next()).unwrap_or_default()).collect();
    let body = if single {
        BatchResponse::Single(answers.into_iter().next().unwrap_or_default())
    } else {
        BatchResponse::Batch(answers)
    };
    let mut response = Json(body).into_response();
    if let Some(rate) = rate {
        rate.apply_to(response.headers_mut());
    }
    response
}

/// Gives every error of the engine's own (a malformed document, an unknown field, a bad
/// argument) the code BAD_USER_INPUT; Tally's errors carry their code already, and every
/// limit is checked before the engine runs.
fn coded(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            error.extensions.get_or_insert_with(Default::default).set("code", "BAD_USER_INPUT");
        }
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
