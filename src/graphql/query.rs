//! The read side of SPEC §2.
use async_graphql::{Context, ID, Object, Result};

use super::connection;
use super::types::*;
use crate::domain::orders::Scope;
use crate::domain::{approval, campaigns, creators, orders, performance};
use crate::ids::{self, Kind};

pub struct Query;

/// What an API key may read: its brand's data, and nothing of any other brand. ADMIN and
/// VIEWER keys may both query.
#[Object]
impl Query {
    /// Any object by its id; ids of another brand answer null, like unknown ids.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The global id of a Creator, Campaign, Order or Conversion.")] id: ID,
    ) -> Result<Option<Node>> {
        let r = caller(ctx);
        let brand = r.brand_id();
        let Some((kind, row)) = ids::decode_any(&id) else { return Ok(None) };
        Ok(match kind {
            Kind::Creator => creators::find(&r.db, brand, row).await?.map(|m| Node::Creator(Creator(m))),
            Kind::Campaign => campaigns::find(&r.db, brand, row).await?.map(|m| Node::Campaign(Campaign(m))),
            Kind::Order => orders::find(&r.db, brand, row).await?.map(|m| Node::Order(Order(m))),
            Kind::Conversion => approval::find(&r.db, brand, row).await?.map(|m| Node::Conversion(Conversion(m))),
            Kind::Brand | Kind::Membership => None,
        })
    }

    /// The brand of the API key.
    async fn brand(&self, ctx: &Context<'_>) -> Brand {
        Brand(caller(ctx).brand.clone())
    }

    /// The brand's campaigns, oldest first.
    #[graphql(complexity = "connection::page_size(first).unwrap_or(0) as usize * child_complexity + 1")]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many campaigns to return: 0 to 100, 50 when omitted; any other number is refused \
                          with BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(desc = "Return the campaigns after this cursor: an edge's `cursor` or `pageInfo.endCursor` \
                          of this list. Omitted: from the oldest. Anything else is refused with \
                          BAD_USER_INPUT.")]
        after: Option<String>,
    ) -> Result<CampaignConnection> {
        let r = caller(ctx);
        let limit = connection::page_size(first)?;
        let after = connection::parse_id_cursor(after.as_deref())?;
        let (rows, total) = campaigns::page(&r.db, r.brand_id(), after, limit + 1).await?;
        Ok(CampaignConnection::new(rows, limit, after, total))
    }

    /// A campaign by its id; null when the brand has no campaign with this id.
    async fn campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign's global id.")] id: ID,
    ) -> Result<Option<Campaign>> {
        let r = caller(ctx);
        let Some(row) = ids::decode(Kind::Campaign, &id) else { return Ok(None) };
        Ok(campaigns::find(&r.db, r.brand_id(), row).await?.map(Campaign))
    }

    /// The brand's creators, oldest first; creators deleted from the community only with
    /// `includeDeleted`.
    #[graphql(complexity = "connection::page_size(first).unwrap_or(0) as usize * child_complexity + 1")]
    async fn creators(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many creators to return: 0 to 100, 50 when omitted; any other number is refused \
                          with BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(desc = "Return the creators after this cursor: an edge's `cursor` or `pageInfo.endCursor` \
                          of this list. Omitted: from the oldest. Anything else is refused with \
                          BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Whether creators deleted from the community are listed too. Omitted or null: false."
        )]
        include_deleted: Option<bool>,
    ) -> Result<CreatorConnection> {
        let r = caller(ctx);
        let limit = connection::page_size(first)?;
        let after = connection::parse_id_cursor(after.as_deref())?;
        let include_deleted = include_deleted.unwrap_or(false);
        let (rows, total) = creators::page(&r.db, r.brand_id(), include_deleted, after, limit + 1).await?;
        Ok(CreatorConnection::new(rows, limit, after, total))
    }

    /// Every sale of the brand, removed members and deleted creators included; newest first.
    #[graphql(complexity = "connection::page_size(first).unwrap_or(0) as usize * child_complexity + 1")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many orders to return: 0 to 100, 50 when omitted; any other number is refused \
                          with BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(desc = "Return the orders after this cursor: an edge's `cursor` or `pageInfo.endCursor` \
                          of this list. Omitted: from the newest. Anything else is refused with \
                          BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Only the orders that meet every condition given.")] filter: Option<OrderFilter>,
    ) -> Result<OrderConnection> {
        let filter = order_filter(filter.as_ref())?;
        OrderConnection::load(ctx, Scope::Brand, filter, first, after.as_deref(), None).await
    }

    /// Totals across the whole brand, everyone included.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only orders placed (`orderedAt`) in this range, `from` included and `to` excluded; \
                          all time when omitted.")]
        range: Option<TimeRange>,
    ) -> Result<Dashboard> {
        let r = caller(ctx);
        let range = super::types::range(range.as_ref())?;
        Ok(Dashboard(performance::dashboard(&r.db, r.brand_id(), range).await?))
    }
}
