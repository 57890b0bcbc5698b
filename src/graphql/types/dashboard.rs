//! `Dashboard`: the brand's totals, everyone included, and per campaign.
use super::*;

pub struct Dashboard(pub performance::Dashboard);

/// The brand's figures over a time range: every order, removed members and deleted
/// creators included.
#[Object]
impl Dashboard {
    /// Sum of the amounts of PAID orders, in the brand's currency.
    async fn total_sales(&self, ctx: &Context<'_>) -> Result<Decimal> {
        caller(ctx).money_sum(self.0.total_sales)
    }
    /// Orders of every status.
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    /// Earned commission, in the brand's currency: the commission of APPROVED conversions
    /// whose order is PAID.
    async fn commission(&self, ctx: &Context<'_>) -> Result<Decimal> {
        caller(ctx).money_sum(self.0.commission)
    }
    /// The same figures for each campaign of the brand, oldest campaign first; campaigns
    /// without orders are listed with zeros.
    async fn by_campaign(&self) -> Vec<CampaignSales> {
        self.0.by_campaign.iter().cloned().map(CampaignSales).collect()
    }
}

pub struct CampaignSales(pub performance::CampaignSales);

/// One campaign's line of the dashboard, everyone included.
#[Object]
impl CampaignSales {
    /// The campaign.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    /// Sum of the amounts of the campaign's PAID orders, in the brand's currency.
    async fn sales(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.sales)
    }
    /// The campaign's orders of every status.
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    /// Earned commission of the campaign's orders, in the brand's currency: the commission
    /// of APPROVED conversions whose order is PAID.
    async fn commission(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission)
    }
}
