//! `Membership`: a creator in a campaign, with codes and terms.
use super::*;

/// A membership, with its creator when that was read with it (a campaign's members).
pub struct Membership(pub entity::membership::Model, pub Option<entity::creator::Model>);

impl Membership {
    pub fn of(row: entity::membership::Model) -> Membership {
        Membership(row, None)
    }
}

/// A creator in a campaign: the codes that attribute orders to them, and their commission
/// terms. Removal is soft: a removed membership keeps its orders, which still count in the
/// dashboard and the all-sales export.
#[Object]
impl Membership {
    /// The membership's id. Opaque; a membership cannot be fetched through `node`.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Membership, self.0.id))
    }
    /// The member.
    async fn creator(&self, ctx: &Context<'_>) -> Result<Serial<Creator>> {
        match &self.1 {
            Some(creator) => Ok(Serial(Creator(creator.clone()))),
            None => creator_of(ctx, self.0.creator_id).await.map(Serial),
        }
    }
    /// The campaign.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    /// The coupon code that attributes orders to this membership (compared
    /// case-insensitively); null when it has none.
    async fn coupon_code(&self) -> Option<&str> {
        self.0.coupon_code.as_deref()
    }
    /// The code of the membership's affiliate link, sent back by the store as the `ref`
    /// parameter; null when it has none.
    async fn affiliate_code(&self) -> Option<&str> {
        self.0.affiliate_code.as_deref()
    }
    /// The brand's storeUrl with `?ref=<affiliateCode>`; null without either.
    async fn affiliate_link(&self, ctx: &Context<'_>) -> Option<String> {
        memberships::affiliate_link(caller(ctx).brand.store_url.as_deref(), self.0.affiliate_code.as_deref())
    }
    /// Percent of each attributed order's amount earned as commission ("12.5" means 12.5%),
    /// 0 to 100. Fixed into each conversion when it is created.
    async fn commission_rate(&self) -> Decimal {
        Decimal::of(Rate::from_scaled(self.0.commission_rate).to_decimal())
    }
    /// A fixed amount added to the commission of each attributed order, in the brand's
    /// currency. Fixed into each conversion when it is created.
    async fn commission_flat(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission_flat)
    }
    /// When the creator was added to the campaign.
    async fn joined_at(&self) -> DateTime {
        DateTime(self.0.joined_at)
    }
    /// When the creator was removed from the campaign; null while a current member.
    async fn removed_at(&self) -> Option<DateTime> {
        self.0.removed_at.map(DateTime)
    }
}
