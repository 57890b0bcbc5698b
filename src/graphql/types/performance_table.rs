//! The Performance table: one row per current member and the totals line.
use super::*;

pub struct CampaignPerformance {
    pub rows: Vec<performance::PerformanceRow>,
    pub totals: performance::Totals,
}

/// A campaign's Performance table over a time range: one row per current member and the
/// totals line. Orders count by when they were placed (`orderedAt`); orders of removed
/// members and deleted creators are left out.
#[Object]
impl CampaignPerformance {
    /// One row per current member, in the order they joined; members without orders have
    /// a row of zeros.
    async fn rows(&self, ctx: &Context<'_>) -> Result<Vec<CreatorPerformance>> {
        self.rows.iter().map(|r| CreatorPerformance::new(caller(ctx), r.clone())).collect()
    }
    /// The sums of all rows.
    async fn totals(&self, ctx: &Context<'_>) -> Result<PerformanceTotals> {
        PerformanceTotals::new(caller(ctx), &self.totals)
    }
}

/// One creator's row: who, their codes, and the same figures as the totals line, over
/// their orders in the campaign.
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
    /// The member.
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.row.creator_id).await
    }
    /// The membership's coupon code; null when it has none.
    async fn coupon_code(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let m = loader(ctx).load_one(MembershipKey(self.row.membership_id)).await?;
        Ok(m.and_then(|m| m.coupon_code))
    }
    /// The membership's affiliate link: the brand's storeUrl with `?ref=<affiliateCode>`;
    /// null without either.
    async fn affiliate_link(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let m = loader(ctx).load_one(MembershipKey(self.row.membership_id)).await?;
        let store = caller(ctx).brand.store_url.as_deref();
        Ok(m.and_then(|m| memberships::affiliate_link(store, m.affiliate_code.as_deref())))
    }
}

/// Orders of all statuses; sales of paid orders; earned commission.
#[derive(SimpleObject)]
pub struct PerformanceTotals {
    /// Orders of every status (PAID, CANCELED and REFUNDED).
    orders: i64,
    /// Sum of the amounts of PAID orders, in the brand's currency.
    sales: Decimal,
    /// Conversions that are APPROVED, whatever their order's status.
    approved_conversions: i64,
    /// Conversions that are REJECTED.
    rejected_conversions: i64,
    /// Earned commission, in the brand's currency: the commission of APPROVED conversions
    /// whose order is PAID.
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
