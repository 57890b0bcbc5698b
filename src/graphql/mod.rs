//! The GraphQL adapter: schema, per-request context, and the limits that protect it.
pub mod connection;
pub mod cost;
pub mod exec;
pub mod field_order;
pub mod http;
pub mod literals;
pub mod live;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use std::time::Duration;

use async_graphql::Schema;

pub type TallySchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Limits on what one request may ask for; exceeding one answers LIMIT_EXCEEDED.
#[derive(Clone, Debug)]
pub struct Limits {
    pub body_bytes: usize,
    pub depth: usize,
    /// Largest cost of one request (`cost` weighs fields by their work).
    pub complexity: usize,
    /// Largest weighted introspection work of one request.
    pub introspection: u64,
    pub batch: usize,
    /// Operations one API key may start per second (0: no limit), and in one burst.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Operations whose aggregates cost at least this much are expensive (and every export):
    /// each key may run only
    /// `expensive_per_key` of them at once, and one waits at most `expensive_wait` for its turn.
    pub expensive_cost: u64,
    pub expensive_per_key: u32,
    pub expensive_wait: Duration,
    /// How long a client may take to send a request's headers, then its body, and how
    /// long a request may take in all (a streamed export counts until its first byte).
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for every statement of the server.
    pub statement_timeout: Duration,
    /// Messages queued for a websocket that it has not taken yet; past this it is
    /// disconnected (close code 4008).
    pub subscriber_buffer: usize,
    /// Operations one websocket may run at once.
    pub ws_max_subscriptions: usize,
    /// Websockets one key may hold open in this process (over it: close 1013).
    pub ws_max_sockets_per_key: usize,
    /// Websockets that may wait for their `connection_init` at once (over it: HTTP 503).
    pub ws_max_awaiting_init: usize,
    /// How long a websocket may wait before sending connection_init (then 4408).
    pub ws_init_timeout: Duration,
    /// How often an open websocket's key is checked again (a revoked key closes it, 4403).
    pub ws_key_recheck: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 1024 * 1024,
            depth: 12,
            complexity: 20_000,
            introspection: 250_000,
            batch: 10,
            rate_per_second: 100,
            rate_burst: 200,
            expensive_cost: 1000,
            expensive_per_key: 4,
            expensive_wait: Duration::from_secs(2),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(20),
            subscriber_buffer: 1024,
            ws_max_subscriptions: 100,
            ws_max_sockets_per_key: 10_000,
            ws_max_awaiting_init: 1_000,
            ws_init_timeout: Duration::from_secs(10),
            ws_key_recheck: Duration::from_secs(30),
        }
    }
}

/// The engine's own limits are left to `cost`, which checks them before the engine sees a
/// document (the engine's checks walk fragments without memoising); its recursion limit
/// is set to match `cost::MAX_NESTING`, so it never refuses what `cost` let through.
pub fn build_schema() -> TallySchema {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .limit_recursive_depth(cost::MAX_NESTING as usize)
        .finish()
}

/// The SDL that `tally print-schema` prints and `schema.graphql` holds, with the
/// `@specifiedBy` of the scalars that have one.
pub fn sdl() -> String {
    build_schema().sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
