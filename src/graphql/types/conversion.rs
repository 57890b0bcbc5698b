//! `Conversion` and its reviews.
use super::*;

pub struct Conversion(pub entity::conversion::Model);

#[Object]
impl Conversion {
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Conversion, self.0.id))
    }
    async fn order(&self, ctx: &Context<'_>) -> Result<Order> {
        let row = loader(ctx).load_one(OrderKey(self.0.order_id)).await?.ok_or_else(|| missing("order"))?;
        Ok(Order(row))
    }
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.0.creator_id).await
    }
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    async fn attribution(&self) -> Attribution {
        self.0.attribution.into()
    }
    /// The commission pinned when the conversion was created.
    async fn commission(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission)
    }
    /// The commission when approved and the order is paid, else 0.
    async fn earned_commission(&self, ctx: &Context<'_>) -> Result<Decimal> {
        let order = loader(ctx).load_one(OrderKey(self.0.order_id)).await?.ok_or_else(|| missing("order"))?;
        Ok(caller(ctx).money(entity::figures::earned(order.status, self.0.approval, self.0.commission)))
    }
    async fn approval(&self) -> ConversionApproval {
        self.0.approval.into()
    }
    async fn reviewed_at(&self) -> Option<DateTime> {
        self.0.reviewed_at.map(DateTime)
    }
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    /// Every approval change, oldest first.
    async fn reviews(&self, ctx: &Context<'_>) -> Result<Vec<ConversionReview>> {
        let rows = loader(ctx).load_one(ReviewsOfConversion(self.0.id)).await?.unwrap_or_default();
        Ok(rows.into_iter().map(ConversionReview).collect())
    }
}

pub struct ConversionReview(pub entity::conversion_review::Model);

#[Object]
impl ConversionReview {
    async fn action(&self) -> ConversionApproval {
        self.0.action.into()
    }
    /// The name of the API key that made the change.
    async fn by(&self) -> &str {
        &self.0.by_key
    }
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}
