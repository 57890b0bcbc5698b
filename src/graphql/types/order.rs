//! `Order`, its history, and the orders connection.
use async_graphql::dataloader::Loader;

use super::*;

pub struct Order(pub entity::order::Model);

/// A sale in the brand's store, attributed to a creator's membership by its coupon code or
/// affiliate link. Its status follows the store's events, applied in event-time order.
#[Object]
impl Order {
    /// The order's global id (see Node).
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.id))
    }
    /// The store's own id of the order; unique within the brand.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    /// The campaign of the membership the order was attributed to.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Serial<Campaign>> {
        campaign_of(ctx, self.0.campaign_id).await.map(Serial)
    }
    /// The creator the order was attributed to.
    async fn creator(&self, ctx: &Context<'_>) -> Result<Serial<Creator>> {
        creator_of(ctx, self.0.creator_id).await.map(Serial)
    }
    /// The order's subtotal after discounts, before tax and shipping, in the brand's
    /// currency. A newer event updates it (a partial refund lowers it); the conversion's
    /// commission stays as it was computed.
    async fn amount(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.amount)
    }
    /// The ISO 4217 code of the amount: always the brand's currency.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The current status: that of the latest event by event time (of events at the same
    /// instant, REFUNDED wins over CANCELED, and CANCELED over PAID).
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }
    /// The coupon code sent with the order's first event, as sent; null when none was. The
    /// order may still have been attributed by its affiliate link (see
    /// `conversion.attribution`).
    async fn coupon_code(&self) -> Option<&str> {
        self.0.coupon_code.as_deref()
    }
    /// When the order was placed in the store. Time ranges and the newest-first order of
    /// order lists use it.
    async fn ordered_at(&self) -> DateTime {
        DateTime(self.0.ordered_at)
    }
    /// The event time at which the order took its current status (its first event's time if
    /// the status never changed).
    async fn status_changed_at(&self) -> DateTime {
        DateTime(self.0.status_changed_at)
    }
    /// The order's commission record.
    async fn conversion(&self, ctx: &Context<'_>) -> Result<Serial<Conversion>> {
        let row = loader(ctx).load_one(ConversionOfOrder(self.0.id)).await?.ok_or_else(|| missing("conversion"))?;
        Ok(Serial(Conversion(row)))
    }
    /// Every status event received, in event-time order, including late ones not applied.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<OrderEvent>> {
        let rows = loader(ctx).load_one(HistoryOfOrder(self.0.id)).await?.unwrap_or_default();
        Ok(rows.into_iter().map(OrderEvent).collect())
    }
}

pub struct OrderEvent(pub entity::order_event::Model);

/// One status event received about an order. An order's history keeps every event, also
/// those too late to change its status.
#[Object]
impl OrderEvent {
    /// The status the event reported.
    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }
    /// When the status took effect in the store: the event time, not the arrival time.
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }
    /// Where the event came from: `graphql` (recordOrderEvent), `webhook` (the signed JSON
    /// webhook), `shopify:<topic>` (a Shopify webhook, e.g. `shopify:orders/paid`) or
    /// `demo` (the demo data).
    async fn source(&self) -> &str {
        &self.0.source
    }
}

pub struct OrderEdge {
    cursor: String,
    node: entity::order::Model,
}

/// One order of a page, with its cursor.
#[Object]
impl OrderEdge {
    /// This order's place in the list: pass it as `after` to get the orders that follow it.
    /// Opaque: pass it on as is.
    async fn cursor(&self) -> &str {
        &self.cursor
    }
    /// The order.
    async fn node(&self) -> Serial<Order> {
        Serial(Order(self.node.clone()))
    }
}

pub struct OrderConnection {
    edges: Vec<(String, entity::order::Model)>,
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
        parent: Option<&entity::campaign::Model>,
    ) -> Result<OrderConnection> {
        let limit = connection::page_size(first)?;
        let cursor = connection::parse_order_cursor(after)?;
        let r = caller(ctx);
        let node = ctx.look_ahead().field("edges").field("node");
        let with =
            orders::With { creator: node.field("creator").exists(), conversion: node.field("conversion").exists() };
        let rows = orders::page(&r.db, r.brand_id(), scope, &filter, cursor, limit + 1, with).await?;
        let (rows, more) = connection::split_page(rows, limit);
        let cursors: Vec<String> = rows
            .iter()
            .map(|row| connection::order_cursor(OrderCursor { ordered_at: row.order.ordered_at, id: row.order.id }))
            .collect();
        let page_info = connection::page_info(&cursors, more, cursor.is_some());
        let edges = look_ahead(ctx, rows, cursors, parent).await?;
        Ok(OrderConnection { edges, page_info, scope, filter })
    }
}

/// Hands what the page's orders will ask for to the request's loader, so that they resolve
/// without waiting for a batch of their own: the creators and conversions read with the
/// page, the orders themselves (a conversion's figures read its order), and the campaigns:
/// the parent's on a campaign's own page, else read now in one statement.
async fn look_ahead(
    ctx: &Context<'_>,
    rows: Vec<orders::PageRow>,
    cursors: Vec<String>,
    parent: Option<&entity::campaign::Model>,
) -> Result<Vec<(String, entity::order::Model)>> {
    let cache = loader(ctx);
    let mut creators = Vec::new();
    let mut conversions = Vec::new();
    let mut edges = Vec::with_capacity(rows.len());
    for (row, cursor) in rows.into_iter().zip(cursors) {
        if let Some(creator) = row.creator {
            creators.push((CreatorKey(creator.id), creator));
        }
        if let Some(conversion) = row.conversion {
            conversions.push((ConversionOfOrder(row.order.id), conversion));
        }
        edges.push((cursor, row.order));
    }
    let with_conversions = !conversions.is_empty();
    cache.feed_many(creators).await;
    cache.feed_many(conversions).await;
    if with_conversions {
        cache.feed_many(edges.iter().map(|(_, o)| (OrderKey(o.id), o.clone()))).await;
    }
    if edges.is_empty() || !ctx.look_ahead().field("edges").field("node").field("campaign").exists() {
        return Ok(edges);
    }
    let mut campaigns: Vec<i64> = edges.iter().map(|(_, o)| o.campaign_id).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    match parent {
        // A campaign's own page: its orders' campaign is the one already read.
        Some(campaign) if campaigns.iter().all(|&id| id == campaign.id) => {
            cache.feed_one(CampaignKey(campaign.id), campaign.clone()).await;
        }
        _ => {
            let r = caller(ctx);
            let loaders = Loaders { db: r.db.clone(), brand: r.brand_id() };
            let keys: Vec<CampaignKey> = campaigns.into_iter().map(CampaignKey).collect();
            cache.feed_many(loaders.load(&keys).await?).await;
        }
    }
    Ok(edges)
}

/// A page of orders, newest first by `orderedAt` (a Relay cursor connection).
#[Object]
impl OrderConnection {
    /// The orders of this page, each with its cursor.
    async fn edges(&self) -> Vec<Serial<OrderEdge>> {
        self.edges
            .iter()
            .map(|(cursor, node)| Serial(OrderEdge { cursor: cursor.clone(), node: node.clone() }))
            .collect()
    }
    /// Where this page stands: its first and last cursors, and whether more follow.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// All orders matching the filter, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let r = caller(ctx);
        Ok(orders::count(&r.db, r.brand_id(), self.scope, &self.filter).await? as i64)
    }
}
