//! The GraphQL adapter: schema, per-request context, and the limits that protect it.
pub mod connection;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use async_graphql::Schema;

pub type TallySchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Limits on what one request may ask for; exceeding one answers LIMIT_EXCEEDED.
#[derive(Clone, Debug)]
pub struct Limits {
    pub body_bytes: usize,
    pub depth: usize,
    pub complexity: usize,
    pub batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { body_bytes: 1024 * 1024, depth: 12, complexity: 20_000, batch: 10 }
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
