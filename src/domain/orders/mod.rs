//! Orders in (SPEC §1 rules 1–3) and orders out (rules 6 and 7): `ingest` attributes,
//! stores and applies status events (the one door for GraphQL and both webhooks), `query`
//! lists and counts them, `export` reads them for CSV.
mod export;
mod ingest;
mod query;
mod writer;

pub use export::{CHUNK, ExportRow, Read, export};
pub(crate) use ingest::lock;
pub use ingest::record;
pub use query::{OrderCursor, OrderFilter, PageRow, Scope, With, count, find, page};
pub use writer::Writer;

use sea_orm::{ActiveEnum, Iterable};

use super::money::Currency;
use super::text;
use super::time::{self, Millis};
use crate::domain::error::{DomainResult, Input, invalid};
use entity::order;

pub use entity::enums::{Attribution, OrderStatus};

/// Which of two events stamped at the same instant wins, so that every arrival order ends
/// in the same state: a refund over a cancellation over a payment (the later steps of an
/// order's life).
pub fn precedence(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::Paid => 0,
        OrderStatus::Canceled => 1,
        OrderStatus::Refunded => 2,
    }
}

/// A status as clients write it: `PAID`, `CANCELED` or `REFUNDED`.
pub fn parse_status(text: &str) -> Option<OrderStatus> {
    OrderStatus::iter().find(|s| s.to_value() == text)
}

/// A status event about a store order, parsed and valid.
#[derive(Clone, Debug)]
pub struct OrderEvent {
    pub external_id: String,
    pub amount: i64,
    pub status: OrderStatus,
    pub occurred_at: Millis,
    pub ordered_at: Option<Millis>,
    pub coupon_code: Option<String>,
    pub referral_code: Option<String>,
    pub source: String,
}

/// The fields of `OrderEventInput` as clients send them, before parsing.
#[derive(Clone, Debug, Default)]
pub struct RawOrderEvent {
    pub external_id: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub occurred_at: String,
    pub ordered_at: Option<String>,
    pub coupon_code: Option<String>,
    pub referral_code: Option<String>,
}

impl OrderEvent {
    pub fn parse(raw: &RawOrderEvent, currency: Currency, source: &str) -> DomainResult<OrderEvent> {
        let external_id = text::required(Input::ExternalId, &raw.external_id, 255)?;
        let sent = Currency::parse(&raw.currency).map_err(|m| invalid(Input::Currency, m))?;
        if sent != currency {
            return Err(invalid(
                Input::Currency,
                format!("currency {sent} differs from the brand's currency {currency}"),
            ));
        }
        let amount = currency.parse_amount(raw.amount.trim()).map_err(|m| invalid(Input::Amount, m))?;
        let status = parse_status(raw.status.trim()).ok_or_else(|| {
            invalid(Input::Status, format!("'{}' is not a status: PAID, CANCELED or REFUNDED", raw.status))
        })?;
        let occurred_at = time::parse_event_time(&raw.occurred_at).map_err(|m| invalid(Input::OccurredAt, m))?;
        let ordered_at = match &raw.ordered_at {
            Some(t) => Some(time::parse_event_time(t).map_err(|m| invalid(Input::OrderedAt, m))?),
            None => None,
        };
        Ok(OrderEvent {
            external_id,
            amount,
            status,
            occurred_at,
            ordered_at,
            coupon_code: text::optional(Input::CouponCode, raw.coupon_code.as_deref(), 255)?,
            referral_code: text::optional(Input::ReferralCode, raw.referral_code.as_deref(), 255)?,
            source: source.to_string(),
        })
    }
}

/// What `record` did.
#[derive(Debug)]
pub struct Recorded {
    /// The order, or None when nothing was attributed (and nothing stored).
    pub order: Option<order::Model>,
    /// Whether a status change was announced (the outbox has a new row).
    pub announced: bool,
}
