//! `Dashboard`: the brand's totals, everyone included, and per campaign.
use super::*;

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
