//! `Membership`: a creator in a campaign, with codes and terms.
use super::*;

/// A membership, with its creator when that was read with it (a campaign's members).
pub struct Membership(pub entity::membership::Model, pub Option<entity::creator::Model>);

impl Membership {
    pub fn of(row: entity::membership::Model) -> Membership {
        Membership(row, None)
    }
}

#[Object]
impl Membership {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Membership, self.0.id))
    }
    async fn creator(&self, ctx: &Context<'_>) -> Result<Serial<Creator>> {
        match &self.1 {
            Some(creator) => Ok(Serial(Creator(creator.clone()))),
            None => creator_of(ctx, self.0.creator_id).await.map(Serial),
        }
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
