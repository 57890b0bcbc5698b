//! The object types of SPEC §2, one file each. Each wraps a stored row; nested objects
//! resolve through the per-request loaders. This module holds what they share: the
//! caller, the loaders, money, the enums and the input types.
mod brand;
mod campaign;
mod connections;
mod conversion;
mod creator;
mod dashboard;
mod membership;
mod node;
mod order;
mod performance_table;

pub use brand::*;
pub use campaign::*;
pub use connections::*;
pub use conversion::*;
pub use creator::*;
pub use dashboard::*;
pub use membership::*;
pub use node::*;
pub use order::*;
pub use performance_table::*;

use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Interface, Object, Result, SimpleObject};

use super::connection::{self, PageInfo};
use super::loaders::*;
use super::scalars::{DateTime, Decimal};
use crate::domain::money::Rate;
use crate::domain::orders::{self, OrderCursor, Scope};
use crate::domain::time::TimeRange as DomainRange;
use crate::domain::{memberships, performance};
use crate::error::{AppError, AppResult, bad_input};
use crate::http::caller::Caller;
use crate::ids::{self, Kind};

/// Money in the caller's currency, as the API prints it.
impl Caller {
    pub fn money(&self, minor: i64) -> Decimal {
        Decimal::of(self.currency.to_decimal(minor))
    }

    /// A sum over many rows; past what a decimal holds (10^28) it is an error, never a
    /// wrong number.
    pub fn money_sum(&self, minor: i128) -> Result<Decimal> {
        let value = self.currency.sum_to_decimal(minor);
        value.map(Decimal::of).ok_or_else(|| AppError::Internal(anyhow::anyhow!("a sum of {minor} minor units")).into())
    }
}

/// Who is asking, and for which brand: every resolver's context.
pub fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}

pub fn loader<'a>(ctx: &Context<'a>) -> &'a RequestLoader {
    ctx.data_unchecked::<RequestLoader>()
}

fn missing(what: &str) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!("dangling reference to a {what}")).into()
}

/// A referenced creator, through the request's loader.
async fn creator_of(ctx: &Context<'_>, id: i64) -> Result<Creator> {
    let row = loader(ctx).load_one(CreatorKey(id)).await?.ok_or_else(|| missing("creator"))?;
    Ok(Creator(row))
}

/// A referenced campaign, through the request's loader.
async fn campaign_of(ctx: &Context<'_>, id: i64) -> Result<Campaign> {
    let row = loader(ctx).load_one(CampaignKey(id)).await?.ok_or_else(|| missing("campaign"))?;
    Ok(Campaign(row))
}

// The API's enums mirror the stored ones; `remote` derives the conversions both ways.
/// The status of an order in the brand's store. Only a PAID order counts toward sales and
/// earns commission.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::OrderStatus")]
pub enum OrderStatus {
    /// Paid (a partially refunded order stays paid, at its reduced amount): counts toward
    /// sales, and its conversion earns commission while approved.
    Paid,
    /// Canceled or voided in the store: no sales and no earned commission.
    Canceled,
    /// Refunded in full: no sales and no earned commission.
    Refunded,
}

/// Whether a conversion's commission is approved. Every conversion starts APPROVED;
/// rejectConversion and undoRejection move it, and every move is recorded as a
/// ConversionReview.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Approval")]
pub enum ConversionApproval {
    /// Approved, the default: the conversion earns its commission while its order is PAID.
    Approved,
    /// Rejected by the brand: the conversion earns nothing, whatever its order's status.
    Rejected,
}

/// How an order was matched to a creator's membership when it was first recorded.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Attribution")]
pub enum Attribution {
    /// The order used the membership's coupon code (compared case-insensitively). A coupon
    /// wins when the order's referral code points to another membership.
    CouponCode,
    /// The order came through the membership's affiliate link: its referral code (the `ref`
    /// parameter of the landing URL) equals the membership's affiliate code.
    AffiliateLink,
}

/// A half-open time range `[from, to)` on when orders were placed (`orderedAt`): `from` is
/// included, `to` is excluded. Either end may be omitted or null to leave that side open.
/// A `from` later than `to` is refused with BAD_USER_INPUT.
#[derive(InputObject, Clone, Debug, Default)]
pub struct TimeRange {
    /// Start, inclusive: orders placed at or after this time. Omitted or null: no lower bound.
    pub from: Option<DateTime>,
    /// End, exclusive: orders placed strictly before this time. Omitted or null: no upper
    /// bound.
    pub to: Option<DateTime>,
}

pub fn range(input: Option<&TimeRange>) -> AppResult<DomainRange> {
    let (from, to) = (input.and_then(|r| r.from).map(|t| t.0), input.and_then(|r| r.to).map(|t| t.0));
    DomainRange::new(from, to).map_err(|m| bad_input("range", m))
}

/// Narrows a list of orders: an order is kept when it meets every condition given. An
/// omitted or null condition keeps every order.
#[derive(InputObject, Clone, Debug, Default)]
pub struct OrderFilter {
    /// Only orders whose current status is one of these. Omitted, null or empty: every
    /// status.
    pub status: Option<Vec<OrderStatus>>,
    /// Only orders placed (`orderedAt`) in this range: `from` included, `to` excluded.
    pub range: Option<TimeRange>,
    /// Only orders attributed to this creator. An id that is not a creator of the brand
    /// matches no order (no error).
    pub creator_id: Option<ID>,
    /// Only orders of this campaign. An id that is not a campaign of the brand matches no
    /// order (no error).
    pub campaign_id: Option<ID>,
}

/// An id of another brand or kind matches nothing, exactly like an id that does not exist.
const NO_ROW: i64 = 0;

pub fn order_filter(input: Option<&OrderFilter>) -> AppResult<orders::OrderFilter> {
    let Some(f) = input else { return Ok(orders::OrderFilter::default()) };
    Ok(orders::OrderFilter {
        statuses: f.status.iter().flatten().map(|s| (*s).into()).collect(),
        range: range(f.range.as_ref())?,
        creator_id: f.creator_id.as_ref().map(|id| ids::decode(Kind::Creator, id).unwrap_or(NO_ROW)),
        campaign_id: f.campaign_id.as_ref().map(|id| ids::decode(Kind::Campaign, id).unwrap_or(NO_ROW)),
        ids: None,
    })
}

/// An object whose fields are resolved one after another rather than all at once. For the
/// objects of a page whose nested rows were read ahead (an order's creator, campaign and
/// conversion), every field is ready when asked, and resolving them concurrently only
/// costs a task and a wake-up each; in turn, the fields come out in query order. A field
/// that does wait (through the loader) still batches with the same field of the other
/// objects of the list, which resolve together.
pub struct Serial<T>(pub T);

impl<T: async_graphql::ContainerType + async_graphql::OutputType> async_graphql::OutputType for Serial<T> {
    fn type_name() -> std::borrow::Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &async_graphql::ContextSelectionSet<'_>,
        _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        async_graphql::resolver_utils::resolve_container_serial(ctx, &self.0).await
    }
}

/// A list whose items resolve one after another rather than as one future each, joined
/// in order. For lists whose items were read together with the list and never wait on a
/// batch of their own (a campaign's members, their creators read with them): resolving
/// thousands at once only costs a future, a wake-up and an ordered join each. An item
/// that does wait on the loader waits alone, so a list whose items each ask for rows of
/// their own must stay a `Vec`.
pub struct SerialList<T>(pub Vec<T>);

impl<T: async_graphql::OutputType> async_graphql::OutputType for SerialList<T> {
    fn type_name() -> std::borrow::Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &async_graphql::ContextSelectionSet<'_>,
        field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        let mut items = Vec::with_capacity(self.0.len());
        for (idx, item) in self.0.iter().enumerate() {
            let ctx_idx = ctx.with_index(idx);
            items.push(item.resolve(&ctx_idx, field).await.map_err(|err| ctx_idx.set_error_path(err))?);
        }
        Ok(async_graphql::Value::List(items))
    }
}
