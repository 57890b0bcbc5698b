//! `Conversion` and its reviews.
use super::*;

pub struct Conversion(pub entity::conversion::Model);

/// The commission record of one attributed order, created together with the order. Its
/// commission is computed once, from the membership's terms at that moment, and never
/// rewritten; what it earns depends on its approval and its order's status.
#[Object]
impl Conversion {
    /// The conversion's global id (see Node).
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Conversion, self.0.id))
    }
    /// The order this conversion is the commission record of.
    async fn order(&self, ctx: &Context<'_>) -> Result<Order> {
        let row = loader(ctx).load_one(OrderKey(self.0.order_id)).await?.ok_or_else(|| missing("order"))?;
        Ok(Order(row))
    }
    /// The creator the order was attributed to.
    async fn creator(&self, ctx: &Context<'_>) -> Result<Creator> {
        creator_of(ctx, self.0.creator_id).await
    }
    /// The campaign of the membership the order was attributed to.
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Campaign> {
        campaign_of(ctx, self.0.campaign_id).await
    }
    /// How the order was matched to the membership: by coupon code or by affiliate link.
    async fn attribution(&self) -> Attribution {
        self.0.attribution.into()
    }
    /// The commission pinned when the conversion was created, in the brand's currency:
    /// amount × commissionRate / 100 + commissionFlat, rounded half-even to the currency's
    /// minor unit. It stays the same whatever the approval or the order's status.
    async fn commission(&self, ctx: &Context<'_>) -> Decimal {
        caller(ctx).money(self.0.commission)
    }
    /// What the conversion earns now, in the brand's currency: its commission when APPROVED
    /// and the order is PAID, else 0.
    async fn earned_commission(&self, ctx: &Context<'_>) -> Result<Decimal> {
        let order = loader(ctx).load_one(OrderKey(self.0.order_id)).await?.ok_or_else(|| missing("order"))?;
        Ok(caller(ctx).money(entity::figures::earned(order.status, self.0.approval, self.0.commission)))
    }
    /// APPROVED (every conversion's start) or REJECTED.
    async fn approval(&self) -> ConversionApproval {
        self.0.approval.into()
    }
    /// When the approval last changed; null if it never did.
    async fn reviewed_at(&self) -> Option<DateTime> {
        self.0.reviewed_at.map(DateTime)
    }
    /// The reason given when the conversion was rejected; null while APPROVED or when no
    /// reason was given.
    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }
    /// Every approval change, oldest first; empty if it never changed.
    async fn reviews(&self, ctx: &Context<'_>) -> Result<Vec<ConversionReview>> {
        let rows = loader(ctx).load_one(ReviewsOfConversion(self.0.id)).await?.unwrap_or_default();
        Ok(rows.into_iter().map(ConversionReview).collect())
    }
}

pub struct ConversionReview(pub entity::conversion_review::Model);

/// One approval change of a conversion, as recorded in its append-only audit trail.
#[Object]
impl ConversionReview {
    /// The approval the conversion moved to: REJECTED by rejectConversion, APPROVED by
    /// undoRejection.
    async fn action(&self) -> ConversionApproval {
        self.0.action.into()
    }
    /// The name of the API key that made the change.
    async fn by(&self) -> &str {
        &self.0.by_key
    }
    /// When the change was made.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
    /// The reason given with a rejection; null when none was given, and always null for
    /// undoRejection.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}
