//! The object types of SPEC §2. Each wraps a stored row; nested objects resolve through
//! the per-request loaders.
use async_graphql::dataloader::DataLoader;
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
use entity::{brand, campaign, conversion, conversion_review, creator, membership, order, order_event};

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

pub fn loader<'a>(ctx: &Context<'a>) -> &'a DataLoader<Loaders> {
    ctx.data_unchecked::<DataLoader<Loaders>>()
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
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::OrderStatus")]
pub enum OrderStatus {
    Paid,
    Canceled,
    Refunded,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Approval")]
pub enum ConversionApproval {
    Approved,
    Rejected,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Attribution")]
pub enum Attribution {
    CouponCode,
    AffiliateLink,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct TimeRange {
    pub from: Option<DateTime>,
    pub to: Option<DateTime>,
}

pub fn range(input: Option<&TimeRange>) -> AppResult<DomainRange> {
    let (from, to) = (input.and_then(|r| r.from).map(|t| t.0), input.and_then(|r| r.to).map(|t| t.0));
    DomainRange::new(from, to).map_err(|m| bad_input("range", m))
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct OrderFilter {
    pub status: Option<Vec<OrderStatus>>,
    pub range: Option<TimeRange>,
    pub creator_id: Option<ID>,
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

pub struct Brand(pub brand::Model);

#[Object]
impl Brand {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Brand, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn store_url(&self) -> Option<&str> {
        self.0.store_url.as_deref()
    }
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Creator(Creator),
    Campaign(Campaign),
    Order(Order),
    Conversion(Conversion),
}

pub struct Creator(pub creator::Model);

#[Object]
impl Creator {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Creator, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn handle(&self) -> Option<&str> {
        self.0.handle.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn deleted_at(&self) -> Option<DateTime> {
        self.0.deleted_at.map(DateTime)
    }
    /// Earned commission over all campaigns: approved conversions of paid orders.
    async fn total_commission(&self, ctx: &Context<'_>, range: Option<TimeRange>) -> Result<Decimal> {
        let r = self::range(range.as_ref())?;
        let key = CommissionOfCreator { creator: self.0.id, from: r.from, to: r.to };
        let minor = loader(ctx).load_one(key).await?.unwrap_or(0);
        Ok(caller(ctx).money(minor))
    }
}

pub struct Campaign(pub campaign::Model);

#[Object]
impl Campaign {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Campaign, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn default_commission_rate(&self) -> Decimal {
        Decimal::of(Rate::from_scaled(self.0.default_commission_rate).to_decimal())
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// Current members: not removed, creator not deleted.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Membership>> {
        let rows = memberships::current_members(&caller(ctx).db, self.0.id).await?;
        Ok(rows.into_iter().map(Membership).collect())
    }
    /// The Performance table: one row per current member, and totals over those rows.
    async fn performance(&self, ctx: &Context<'_>, range: Option<TimeRange>) -> Result<CampaignPerformance> {
        let r = self::range(range.as_ref())?;
        let rows = performance::campaign_rows(&caller(ctx).db, caller(ctx).brand_id(), self.0.id, r, None).await?;
        Ok(CampaignPerformance { totals: performance::totals(&rows), rows })
    }
    /// The campaign's orders of current members, newest first.
    #[graphql(complexity = "connection::page_size(first).unwrap_or(0) as usize * child_complexity + 1")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OrderFilter>,
    ) -> Result<OrderConnection> {
        let filter = order_filter(filter.as_ref())?;
        Ok(OrderConnection::load(ctx, Scope::Campaign(self.0.id), filter, first, after.as_deref()).await?)
    }
}

pub struct Membership(pub membership::Model);

#[Object]
impl Membership {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Membership, self.0.id))
    }
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.0.creator_id).await
    }
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    async fn coupon_code(&self) -> Option<&str> {
        self.0.coupon_code.as_deref()
    }
    async fn affiliate_code(&self) -> Option<&str> {
        self.0.affiliate_code.as_deref()
    }
    /// The brand's storeUrl with `?ref=<affiliateCode>`; null without either.
    async fn affiliate_link(&self, ctx: &Context<'_>) -> Option<String> {
        memberships::affiliate_link(caller(ctx).brand.store_url.as_deref(), self.0.affiliate_code.as_deref())
    }
    async fn commission_rate(&self) -> Decimal {
        Decimal::of(Rate::from_scaled(self.0.commission_rate).to_decimal())
    }
    async fn commission_flat(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission_flat)
    }
    async fn joined_at(&self) -> DateTime {
        DateTime(self.0.joined_at)
    }
    async fn removed_at(&self) -> Option<DateTime> {
        self.0.removed_at.map(DateTime)
    }
}

pub struct CampaignPerformance {
    pub rows: Vec<performance::PerformanceRow>,
    pub totals: performance::Totals,
}

#[Object]
impl CampaignPerformance {
    async fn rows(&self, ctx: &Context<'_>) -> Result<Vec<CreatorPerformance>> {
        self.rows.iter().map(|r| CreatorPerformance::new(caller(ctx), r.clone())).collect()
    }
    async fn totals(&self, ctx: &Context<'_>) -> Result<PerformanceTotals> {
        PerformanceTotals::new(caller(ctx), &self.totals)
    }
}

/// One creator's row: who, their codes, and the same figures as the totals line.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CreatorPerformance {
    #[graphql(skip)]
    row: performance::PerformanceRow,
    #[graphql(flatten)]
    figures: PerformanceTotals,
}

impl CreatorPerformance {
    pub fn new(r: &Caller, row: performance::PerformanceRow) -> Result<CreatorPerformance> {
        Ok(CreatorPerformance { figures: PerformanceTotals::new(r, &row.figures())?, row })
    }
}

#[ComplexObject]
impl CreatorPerformance {
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.row.creator_id).await
    }
    async fn coupon_code(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let m = loader(ctx).load_one(MembershipKey(self.row.membership_id)).await?;
        Ok(m.and_then(|m| m.coupon_code))
    }
    async fn affiliate_link(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let m = loader(ctx).load_one(MembershipKey(self.row.membership_id)).await?;
        let store = caller(ctx).brand.store_url.as_deref();
        Ok(m.and_then(|m| memberships::affiliate_link(store, m.affiliate_code.as_deref())))
    }
}

/// Orders of all statuses; sales of paid orders; earned commission.
#[derive(SimpleObject)]
pub struct PerformanceTotals {
    orders: i64,
    sales: Decimal,
    approved_conversions: i64,
    rejected_conversions: i64,
    commission: Decimal,
}

impl PerformanceTotals {
    pub fn new(r: &Caller, t: &performance::Totals) -> Result<PerformanceTotals> {
        Ok(PerformanceTotals {
            orders: t.orders,
            sales: r.money_sum(t.sales)?,
            approved_conversions: t.approved,
            rejected_conversions: t.rejected,
            commission: r.money_sum(t.commission)?,
        })
    }
}

pub struct Order(pub order::Model);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.id))
    }
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.0.creator_id).await
    }
    async fn amount(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.amount)
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }
    async fn coupon_code(&self) -> Option<&str> {
        self.0.coupon_code.as_deref()
    }
    async fn ordered_at(&self) -> DateTime {
        DateTime(self.0.ordered_at)
    }
    async fn status_changed_at(&self) -> DateTime {
        DateTime(self.0.status_changed_at)
    }
    async fn conversion(&self, ctx: &Context<'_>) -> Result<Conversion> {
        let row = loader(ctx).load_one(ConversionOfOrder(self.0.id)).await?.ok_or_else(|| missing("conversion"))?;
        Ok(Conversion(row))
    }
    /// Every status event received, in event-time order, including late ones not applied.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<OrderEvent>> {
        let rows = loader(ctx).load_one(HistoryOfOrder(self.0.id)).await?.unwrap_or_default();
        Ok(rows.into_iter().map(OrderEvent).collect())
    }
}

pub struct OrderEvent(pub order_event::Model);

#[Object]
impl OrderEvent {
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }
    async fn source(&self) -> &str {
        &self.0.source
    }
}

pub struct OrderEdge {
    cursor: String,
    node: order::Model,
}

#[Object]
impl OrderEdge {
    async fn cursor(&self) -> &str {
        &self.cursor
    }
    async fn node(&self) -> Order {
        Order(self.node.clone())
    }
}

pub struct OrderConnection {
    edges: Vec<(String, order::Model)>,
    page_info: PageInfo,
    scope: Scope,
    filter: orders::OrderFilter,
}

impl OrderConnection {
    pub async fn load(
        ctx: &Context<'_>,
        scope: Scope,
        filter: orders::OrderFilter,
        first: Option<i32>,
        after: Option<&str>,
    ) -> AppResult<OrderConnection> {
        let limit = connection::page_size(first)?;
        let cursor = connection::parse_order_cursor(after)?;
        let r = caller(ctx);
        let rows = orders::page(&r.db, r.brand_id(), scope, &filter, cursor, limit + 1).await?;
        let (rows, more) = connection::split_page(rows, limit);
        let edges: Vec<(String, order::Model)> = rows
            .into_iter()
            .map(|o| (connection::order_cursor(OrderCursor { ordered_at: o.ordered_at, id: o.id }), o))
            .collect();
        let cursors: Vec<String> = edges.iter().map(|(c, _)| c.clone()).collect();
        let page_info = connection::page_info(&cursors, more, cursor.is_some());
        Ok(OrderConnection { edges, page_info, scope, filter })
    }
}

#[Object]
impl OrderConnection {
    async fn edges(&self) -> Vec<OrderEdge> {
        self.edges.iter().map(|(cursor, node)| OrderEdge { cursor: cursor.clone(), node: node.clone() }).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// All orders matching the filter, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let r = caller(ctx);
        Ok(orders::count(&r.db, r.brand_id(), self.scope, &self.filter).await? as i64)
    }
}

pub struct Conversion(pub conversion::Model);

#[Object]
impl Conversion {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Conversion, self.0.id))
    }
    async fn order(&self, ctx: &Context<'_>) -> Result<Order> {
        let row = loader(ctx).load_one(OrderKey(self.0.order_id)).await?.ok_or_else(|| missing("order"))?;
        Ok(Order(row))
    }
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.0.creator_id).await
    }
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    async fn attribution(&self) -> Attribution {
        self.0.attribution.into()
    }
    /// The commission pinned when the conversion was created.
    async fn commission(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission)
    }
    /// The commission when approved and the order is paid, else 0.
    async fn earned_commission(&self, ctx: &Context<'_>) -> Result<Decimal> {
        let order = loader(ctx).load_one(OrderKey(self.0.order_id)).await?.ok_or_else(|| missing("order"))?;
        let earned = self.0.approval == entity::enums::Approval::Approved && order.status == orders::OrderStatus::Paid;
        Ok(caller(ctx).money(if earned { self.0.commission } else { 0 }))
    }
    async fn approval(&self) -> ConversionApproval {
        self.0.approval.into()
    }
    async fn reviewed_at(&self) -> Option<DateTime> {
        self.0.reviewed_at.map(DateTime)
    }
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    /// Every approval change, oldest first.
    async fn reviews(&self, ctx: &Context<'_>) -> Result<Vec<ConversionReview>> {
        let rows = loader(ctx).load_one(ReviewsOfConversion(self.0.id)).await?.unwrap_or_default();
        Ok(rows.into_iter().map(ConversionReview).collect())
    }
}

pub struct ConversionReview(pub conversion_review::Model);

#[Object]
impl ConversionReview {
    async fn action(&self) -> ConversionApproval {
        self.0.action.into()
    }
    /// The name of the API key that made the change.
    async fn by(&self) -> &str {
        &self.0.by_key
    }
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

pub struct Dashboard(pub performance::Dashboard);

#[Object]
impl Dashboard {
    async fn total_sales(&self, ctx: &Context<'_>) -> Result<Decimal> {
        caller(ctx).money_sum(self.0.total_sales)
    }
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    async fn commission(&self, ctx: &Context<'_>) -> Result<Decimal> {
        caller(ctx).money_sum(self.0.commission)
    }
    async fn by_campaign(&self) -> Vec<CampaignSales> {
        self.0.by_campaign.iter().cloned().map(CampaignSales).collect()
    }
}

pub struct CampaignSales(pub performance::CampaignSales);

#[Object]
impl CampaignSales {
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    async fn sales(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.sales)
    }
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    /// Earned commission of the campaign's orders.
    async fn commission(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission)
    }
}

macro_rules! id_connection {
    ($conn:ident, $edge:ident, $node:ident, $model:ty) => {
        pub struct $edge {
            cursor: String,
            node: $model,
        }

        #[Object]
        impl $edge {
            async fn cursor(&self) -> &str {
                &self.cursor
            }
            async fn node(&self) -> $node {
                $node(self.node.clone())
            }
        }

        pub struct $conn {
            edges: Vec<$edge>,
            page_info: PageInfo,
            total: u64,
        }

        impl $conn {
            pub fn new(rows: Vec<$model>, limit: u64, after: Option<i64>, total: u64) -> $conn {
                let (rows, more) = connection::split_page(rows, limit);
                let edges: Vec<$edge> =
                    rows.into_iter().map(|r| $edge { cursor: connection::id_cursor(r.id), node: r }).collect();
                let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
                $conn { page_info: connection::page_info(&cursors, more, after.is_some()), edges, total }
            }
        }

        #[Object]
        impl $conn {
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }
            async fn total_count(&self) -> i64 {
                self.total as i64
            }
        }
    };
}

id_connection!(CampaignConnection, CampaignEdge, Campaign, campaign::Model);
id_connection!(CreatorConnection, CreatorEdge, Creator, creator::Model);
