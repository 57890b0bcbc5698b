//! `Order`, its history, and the orders connection.
use async_graphql::dataloader::Loader;

use super::*;

pub struct Order(pub entity::order::Model);

#[Object]
impl Order {
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.id))
    }
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Serial<Campaign>> {
        campaign_of(ctx, self.0.campaign_id).await.map(Serial)
    }
    async fn creator(&self, ctx: &Context<'_>) -> Result<Serial<Creator>> {
        creator_of(ctx, self.0.creator_id).await.map(Serial)
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
    node: entity::order::Model,
}

#[Object]
impl OrderEdge {
    async fn cursor(&self) -> &str {
        &self.cursor
    }
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
        let rows = orders::page(&r.db, r.brand_id(), scope, &filter, cursor, limit + 1).await?;
        let (rows, more) = connection::split_page(rows, limit);
        let edges: Vec<(String, entity::order::Model)> = rows
            .into_iter()
            .map(|o| (connection::order_cursor(OrderCursor { ordered_at: o.ordered_at, id: o.id }), o))
            .collect();
        let cursors: Vec<String> = edges.iter().map(|(c, _)| c.clone()).collect();
        let page_info = connection::page_info(&cursors, more, cursor.is_some());
        look_ahead(ctx, &edges, parent).await?;
        Ok(OrderConnection { edges, page_info, scope, filter })
    }
}

/// What the page's orders will ask for (their creator, campaign and conversion, whose
/// figures read the order), read now,
/// one statement each and all at once, and handed to the request's loader: the orders
/// then resolve them without waiting for a batch of their own.
async fn look_ahead(
    ctx: &Context<'_>,
    edges: &[(String, entity::order::Model)],
    parent: Option<&entity::campaign::Model>,
) -> Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    if edges.is_empty() || !node.exists() {
        return Ok(());
    }
    let r = caller(ctx);
    let loaders = Loaders { db: r.db.clone(), brand: r.brand_id() };
    let distinct = |key: fn(&entity::order::Model) -> i64| {
        let mut ids: Vec<i64> = edges.iter().map(|(_, o)| key(o)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let creators: Vec<CreatorKey> = distinct(|o| o.creator_id).into_iter().map(CreatorKey).collect();
    let campaigns: Vec<CampaignKey> = distinct(|o| o.campaign_id).into_iter().map(CampaignKey).collect();
    let conversions: Vec<ConversionOfOrder> = edges.iter().map(|(_, o)| ConversionOfOrder(o.id)).collect();
    let wanted = |name: &str| node.field(name).exists();
    // A campaign's own page: its orders' campaign is the one already read.
    let campaigns = match parent {
        Some(campaign) if campaigns.iter().all(|k| k.0 == campaign.id) => {
            loader(ctx).feed_one(CampaignKey(campaign.id), campaign.clone()).await;
            Vec::new()
        }
        _ => campaigns,
    };
    let (creators, campaigns, conversions) = futures_util::future::try_join3(
        async { if wanted("creator") { loaders.load(&creators).await.map(Some) } else { Ok(None) } },
        async {
            if wanted("campaign") && !campaigns.is_empty() {
                loaders.load(&campaigns).await.map(Some)
            } else {
                Ok(None)
            }
        },
        async { if wanted("conversion") { loaders.load(&conversions).await.map(Some) } else { Ok(None) } },
    )
    .await?;
    let cache = loader(ctx);
    if let Some(rows) = creators {
        cache.feed_many(rows).await;
    }
    if let Some(rows) = campaigns {
        cache.feed_many(rows).await;
    }
    if let Some(rows) = conversions {
        cache.feed_many(rows).await;
        // A conversion's figures read its order: the page's own rows.
        cache.feed_many(edges.iter().map(|(_, o)| (OrderKey(o.id), o.clone()))).await;
    }
    Ok(())
}

#[Object]
impl OrderConnection {
    async fn edges(&self) -> Vec<Serial<OrderEdge>> {
        self.edges
            .iter()
            .map(|(cursor, node)| Serial(OrderEdge { cursor: cursor.clone(), node: node.clone() }))
            .collect()
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
