//! What an operator sees: a request id on every response and every log line of its
//! request, one access-log line per request at info level, and `GET /metrics` in the
//! Prometheus text format (the `metrics` crate, rendered by metrics-exporter-prometheus):
//! requests by route and status, GraphQL operations by name, type and outcome, latency
//! histograms, live sockets and subscriptions, events published and delivered, the
//! outbox's lag and each connection pool's use.
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tracing::Instrument;

use super::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// Latency buckets, in seconds: from a cached read to a long export.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's recorder: installed once, by the first server of the process.
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("latency buckets")
            .install_recorder()
            .expect("the only metrics recorder of the process");
        // Histograms are drained into their buckets by upkeep, here as the exporter's own
        // listener would.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread for metrics upkeep");
        handle
    })
}

pub fn router() -> Router<AppState> {
    recorder();
    Router::new().route("/metrics", get(render))
}

/// `GET /metrics`: the counters and histograms as they stand, and the gauges read now.
async fn render(State(state): State<AppState>) -> Response {
    let (awaiting, open) = state.sockets.counts();
    metrics::gauge!("tally_websockets_open").set(open as f64);
    metrics::gauge!("tally_websockets_awaiting_init").set(awaiting as f64);
    let (groups, members) = state.hub.counts();
    metrics::gauge!("tally_subscriptions_active").set(members as f64);
    metrics::gauge!("tally_subscription_groups").set(groups as f64);
    for (pool, db) in [
        ("main", &state.db),
        ("read", &state.read_db),
        ("writer", &state.writer_db),
        ("export", &state.export_db),
        ("live", &state.live_db),
    ] {
        let (size, idle) = pool_use(db);
        metrics::gauge!("tally_db_pool_connections", "pool" => pool).set(size as f64);
        metrics::gauge!("tally_db_pool_connections_idle", "pool" => pool).set(idle as f64);
        metrics::gauge!("tally_db_pool_connections_in_use", "pool" => pool)
            .set((size as usize).saturating_sub(idle) as f64);
    }
    let position = state.hub.position();
    metrics::gauge!("tally_outbox_published_position").set(position.high as f64);
    match outbox_end(&state.read_db).await {
        Some(end) => metrics::gauge!("tally_outbox_lag_events").set(end.saturating_sub(position.high).max(0) as f64),
        None => tracing::warn!("the outbox's end could not be read for /metrics"),
    }
    let handle = recorder();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// Connections open and idle in a pool.
fn pool_use(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    }
}

/// The newest event in the outbox, whoever wrote it.
async fn outbox_end(db: &DatabaseConnection) -> Option<i64> {
    let statement = Statement::from_string(db.get_database_backend(), "SELECT MAX(id) AS id FROM events");
    let row = tokio::time::timeout(Duration::from_secs(2), db.query_one_raw(statement)).await.ok()?.ok()??;
    Some(row.try_get::<Option<i64>>("", "id").ok()?.unwrap_or(0))
}

/// Ids for requests that came without one: this process's random prefix and a counter.
fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| format!("{:08x}", rand::random::<u32>()));
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The caller's `X-Request-Id` when it is a plain token (a proxy's, to follow a request
/// across services), else a new one.
fn request_id(request: &Request) -> String {
    let given = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok());
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            id.to_string()
        }
        _ => next_request_id(),
    }
}

/// Every request: its id (answered in `X-Request-Id` and carried by every log line of the
/// request), one access-log line, and its count and latency by route and status.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %id, operation = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(%method, %path, status, ms = elapsed.as_micros() as f64 / 1000.0, "request");
    });
    let labels = [("route", route), ("method", method.to_string()), ("status", status.to_string())];
    metrics::counter!("tally_http_requests_total", &labels).increment(1);
    metrics::histogram!("tally_http_request_duration_seconds", &labels[..2]).record(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The most operation names counted apart; later names are counted as `other`, so a
/// client cannot grow the metrics without bound.
const OPERATION_NAMES: usize = 200;

/// Counts one GraphQL operation, and names it in the request's log lines.
pub fn operation_done(name: Option<&str>, kind: &str, outcome: &str, elapsed: Duration) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let name = match name {
        None => "anonymous".to_string(),
        Some(name) => {
            tracing::Span::current().record("operation", name);
            let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
            if seen.contains(name) || (seen.len() < OPERATION_NAMES && seen.insert(name.to_string())) {
                name.to_string()
            } else {
                "other".to_string()
            }
        }
    };
    let labels = [("operation", name), ("type", kind.to_string()), ("outcome", outcome.to_string())];
    metrics::counter!("tally_graphql_operations_total", &labels).increment(1);
    metrics::histogram!("tally_graphql_operation_duration_seconds", &labels[1..2]).record(elapsed.as_secs_f64());
}
