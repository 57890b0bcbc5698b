//! The rules of SPEC §1, free of HTTP and GraphQL. Every function takes the caller's
//! brand and never reads or writes another brand's rows.
pub mod approval;
pub mod auth;
pub mod brands;
pub mod campaigns;
pub mod creators;
pub mod demo;
pub mod error;
pub mod memberships;
pub mod money;
pub mod orders;
pub mod outbox;
pub mod performance;
pub mod rollup;
pub mod seed;
pub mod text;
pub mod time;

/// The brand a request acts for, taken from its API key; never from client input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrandId(pub i64);
