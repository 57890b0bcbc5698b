//! `Creator`: a person in the brand's community.
use super::*;

pub struct Creator(pub entity::creator::Model);

#[Object]
impl Creator {
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Creator, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn handle(&self) -> Option<&str> {
        self.0.handle.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn deleted_at(&self) -> Option<DateTime> {
        self.0.deleted_at.map(DateTime)
    }
    /// Earned commission over all campaigns: approved conversions of paid orders.
    async fn total_commission(&self, ctx: &Context<'_>, range: Option<TimeRange>) -> Result<Decimal> {
        let r = self::range(range.as_ref())?;
        let key = CommissionOfCreator { creator: self.0.id, from: r.from, to: r.to };
        let minor = loader(ctx).load_one(key).await?.unwrap_or(0);
        Ok(caller(ctx).money(minor))
    }
}
