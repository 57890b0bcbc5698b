//! SeaORM entities, one module per table. Times are epoch milliseconds (UTC) and money is
//! integer minor units, so both backends store and sum them exactly (SPEC §1 rule 8).
pub mod api_key;
pub mod brand;
pub mod campaign;
pub mod conversion;
pub mod conversion_review;
pub mod creator;
pub mod demo_brand;
pub mod enums;
pub mod event;
pub mod figures;
pub mod membership;
pub mod order;
pub mod order_event;
