//! `Campaign`: its members, its Performance table and its orders.
use super::*;

pub struct Campaign(pub entity::campaign::Model);

#[Object]
impl Campaign {
    pub async fn id(&self) -> ID {
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
    async fn members(&self, ctx: &Context<'_>) -> Result<SerialList<Serial<Membership>>> {
        let rows = loader(ctx).load_one(MembersOfCampaign(self.0.id)).await?.unwrap_or_default();
        Ok(SerialList(rows.iter().map(|(m, c)| Serial(Membership(m.clone(), Some(c.clone())))).collect()))
    }
    /// The Performance table: one row per current member, and totals over those rows.
    async fn performance(&self, ctx: &Context<'_>, range: Option<TimeRange>) -> Result<CampaignPerformance> {
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
        OrderConnection::load(ctx, Scope::Campaign(self.0.id), filter, first, after.as_deref(), Some(&self.0)).await
    }
}
