//! `Creator`: a person in the brand's community.
use super::*;

pub struct Creator(pub entity::creator::Model);

/// A person in the brand's community (an influencer or affiliate) who can join campaigns
/// and bring in orders. Deleting a creator is soft: the record stays, with `deletedAt` set.
#[Object]
impl Creator {
    /// The creator's global id (see Node).
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Creator, self.0.id))
    }
    /// The creator's display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The creator's social handle, e.g. "@ana"; null when none was given.
    async fn handle(&self) -> Option<&str> {
        self.0.handle.as_deref()
    }
    /// The creator's contact email; null when none was given.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// When the creator was deleted from the community; null while they are part of it.
    async fn deleted_at(&self) -> Option<DateTime> {
        self.0.deleted_at.map(DateTime)
    }
    /// Earned commission over all campaigns, in the brand's currency: the commission of
    /// APPROVED conversions whose order is PAID, removed memberships included.
    async fn total_commission(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only orders placed (`orderedAt`) in this range, `from` included and `to` excluded; \
                          all time when omitted.")]
        range: Option<TimeRange>,
    ) -> Result<Decimal> {
        let r = self::range(range.as_ref())?;
        let key = CommissionOfCreator { creator: self.0.id, from: r.from, to: r.to };
        let minor = loader(ctx).load_one(key).await?.unwrap_or(0);
        Ok(caller(ctx).money(minor))
    }
}
