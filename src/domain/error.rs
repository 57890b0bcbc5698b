//! What the rules refuse, in the domain's own words: which input is at fault and why,
//! what does not exist, which move is not allowed. No API names and no error codes:
//! `crate::error` maps these to SPEC §2's codes and each adapter's field names.
use std::fmt;

use entity::enums::Approval;

/// The inputs the rules check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Name,
    Handle,
    Email,
    Currency,
    StoreUrl,
    Role,
    CouponCode,
    AffiliateCode,
    CommissionRate,
    CommissionFlat,
    DefaultCommissionRate,
    /// The creator of a new membership.
    Creator,
    ExternalId,
    Amount,
    Status,
    OccurredAt,
    OrderedAt,
    ReferralCode,
    Reason,
    Range,
}

impl Input {
    /// How messages name it.
    pub fn label(self) -> &'static str {
        match self {
            Input::Name => "the name",
            Input::Handle => "the handle",
            Input::Email => "the email",
            Input::Currency => "the currency",
            Input::StoreUrl => "the store URL",
            Input::Role => "the role",
            Input::CouponCode => "the coupon code",
            Input::AffiliateCode => "the affiliate code",
            Input::CommissionRate => "the commission rate",
            Input::CommissionFlat => "the flat commission",
            Input::DefaultCommissionRate => "the default commission rate",
            Input::Creator => "the creator",
            Input::ExternalId => "the store's order id",
            Input::Amount => "the amount",
            Input::Status => "the status",
            Input::OccurredAt => "the event time",
            Input::OrderedAt => "the order time",
            Input::ReferralCode => "the referral code",
            Input::Reason => "the reason",
            Input::Range => "the time range",
        }
    }
}

/// What may not be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thing {
    Brand,
    Creator,
    Campaign,
    Membership,
    Conversion,
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Thing::Brand => "brand",
            Thing::Creator => "creator",
            Thing::Campaign => "campaign",
            Thing::Membership => "membership",
            Thing::Conversion => "conversion",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// An input breaks a rule; `input` is None when no single input is at fault.
    #[error("{message}")]
    Invalid { input: Option<Input>, message: String },
    #[error("{0} not found")]
    NotFound(Thing),
    /// An approval change that is not allowed from the conversion's current approval.
    #[error("the conversion is {current:?}; it cannot become {to:?}")]
    InvalidTransition { current: Approval, to: Approval },
    #[error("no valid API key")]
    Unauthenticated,
    #[error("this API key may only read")]
    ReadOnly,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type DomainResult<T> = Result<T, DomainError>;

pub fn invalid(input: Input, message: impl Into<String>) -> DomainError {
    DomainError::Invalid { input: Some(input), message: message.into() }
}

pub fn not_found(thing: Thing) -> DomainError {
    DomainError::NotFound(thing)
}

impl From<sea_orm::TransactionError<DomainError>> for DomainError {
    fn from(err: sea_orm::TransactionError<DomainError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(domain) => domain,
        }
    }
}
