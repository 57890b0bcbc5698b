//! Tally: how a brand's creators sell, as a GraphQL API.
pub mod app;
pub mod cli;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod ingest;
