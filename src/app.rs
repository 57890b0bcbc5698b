//! The composition root: each adapter's router and the layers every request passes.
//! Nothing in the crate imports it; `cli` serves what it builds.
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, header};
use axum::{Router, middleware};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::http::layers::{self, Bounds};
use crate::http::observe;
pub use crate::http::state::AppState;

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
        .merge(crate::graphiql::router())
        .merge(crate::graphql::http::router())
        .merge(crate::graphql::live::router())
        .merge(crate::http::health::router())
        .merge(crate::ingest::router())
        .merge(crate::export::router())
        .merge(crate::http::observe::router())
        .merge(extra)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(bounds, layers::bounded_body))
        .layer(middleware::from_fn_with_state(bounds, layers::request_timeout))
        .layer(cors)
        .layer(middleware::from_fn(observe::observe))
        .layer(middleware::from_fn(layers::catch_panic))
        .with_state(state)
}

/// Serves until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, std::future::pending()).await
}

/// Serves until `shutdown` resolves, then stops taking connections, closes every websocket
/// with 1012 (service restart: clients reconnect and resume) and lets requests in flight
/// finish.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.limits.header_timeout;
    let sockets = state.sockets.clone();
    let shutdown = async move {
        shutdown.await;
        sockets.close_all(1012, "Service restart: reconnect and resume with your last cursor");
    };
    crate::http::serve::serve(listener, router(state), header_timeout, shutdown).await
}
