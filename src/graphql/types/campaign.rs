//! `Campaign`: its members, its Performance table and its orders.
use super::*;

pub struct Campaign(pub entity::campaign::Model);

/// A marketing campaign of the brand: the creators in it, what they sold, and the
/// commission they earned.
#[Object]
impl Campaign {
    /// The campaign's global id (see Node).
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Campaign, self.0.id))
    }
    /// The campaign's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The commission rate, in percent ("12.5" means 12.5%), that a creator added without
    /// a rate of their own gets: 0 to 100, printed without trailing zeros.
    async fn default_commission_rate(&self) -> Decimal {
        Decimal::of(Rate::from_scaled(self.0.default_commission_rate).to_decimal())
    }
    /// When the campaign was created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// The current members, in the order they joined: removed memberships and deleted
    /// creators are left out.
    async fn members(&self, ctx: &Context<'_>) -> Result<SerialList<Serial<Membership>>> {
        let rows = loader(ctx).load_one(MembersOfCampaign(self.0.id)).await?.unwrap_or_default();
        Ok(SerialList(rows.iter().map(|(m, c)| Serial(Membership(m.clone(), Some(c.clone())))).collect()))
    }
    /// The Performance table: one row per current member, and totals over those rows.
    async fn performance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only orders placed (`orderedAt`) in this range, `from` included and `to` excluded; \
                          all time when omitted.")]
        range: Option<TimeRange>,
    ) -> Result<CampaignPerformance> {
        let r = self::range(range.as_ref())?;
        if !ctx.look_ahead().field("rows").exists() {
            // The totals line alone, summed in the database.
            let key = TotalsOfCampaign { campaign: self.0.id, from: r.from, to: r.to };
            let totals = loader(ctx).load_one(key).await?.unwrap_or_default();
            return Ok(CampaignPerformance { totals, rows: Vec::new() });
        }
        let key = PerformanceOfCampaign { campaign: self.0.id, from: r.from, to: r.to };
        let rows = loader(ctx).load_one(key).await?.unwrap_or_default();
        Ok(CampaignPerformance { totals: performance::totals(&rows), rows })
    }
    /// The orders of the campaign's current members, newest first (by `orderedAt`). Orders
    /// of removed members and deleted creators are left out; `Query.orders` lists them all.
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
        OrderConnection::load(ctx, Scope::Campaign(self.0.id), filter, first, after.as_deref(), Some(&self.0)).await
    }
}
