//! The GraphQL adapter: schema, per-request context, and the limits that protect it.
pub mod connection;
pub mod loaders;
pub mod mutation;
pub mod order;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;
pub mod ws;

use async_graphql::Schema;

pub type TallySchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Limits on what one request may ask for; exceeding one answers LIMIT_EXCEEDED.
#[derive(Clone, Debug)]
pub struct Limits {
    pub body_bytes: usize,
    pub depth: usize,
    pub complexity: usize,
    pub batch: usize,
    /// Events a subscriber may fall behind before it is disconnected (close code 4008).
    pub subscriber_buffer: usize,
    /// How long a websocket may wait before sending connection_init (then 4408).
    pub ws_init_timeout: std::time::Duration,
    /// How often an open websocket's key is checked again (a revoked key closes it, 4403).
    pub ws_key_recheck: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 1024 * 1024,
            depth: 12,
            complexity: 20_000,
            batch: 10,
            subscriber_buffer: 1024,
            ws_init_timeout: std::time::Duration::from_secs(10),
            ws_key_recheck: std::time::Duration::from_secs(30),
        }
    }
}

pub fn build_schema(limits: &Limits) -> TallySchema {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .finish()
}

/// The SDL that `tally print-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build_schema(&Limits::default()).sdl()
}
