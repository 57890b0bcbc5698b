//! The closed sets of values stored as text, as Rust enums end to end: a value read from
//! the database is one of these or the read fails, never a string to parse and default.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An order's status (SPEC §1 rule 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    #[sea_orm(string_value = "PAID")]
    Paid,
    #[sea_orm(string_value = "CANCELED")]
    Canceled,
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
}

/// A conversion's approval, and the action of a review (SPEC §1 rule 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Approval {
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// How an order was attributed to a member (SPEC §1 rule 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Attribution {
    #[sea_orm(string_value = "COUPON_CODE")]
    CouponCode,
    #[sea_orm(string_value = "AFFILIATE_LINK")]
    AffiliateLink,
}

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "VIEWER")]
    Viewer,
}

/// What an outbox event announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    #[sea_orm(string_value = "ORDER_STATUS_CHANGED")]
    OrderStatusChanged,
    #[sea_orm(string_value = "CONVERSION_APPROVAL_CHANGED")]
    ConversionApprovalChanged,
    /// API keys were revoked: every replica closes their open websockets.
    #[sea_orm(string_value = "KEYS_REVOKED")]
    KeysRevoked,
}
