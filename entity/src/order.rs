use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub brand_id: i64,
    pub campaign_id: i64,
    pub creator_id: i64,
    pub membership_id: i64,
    pub external_id: String,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// `PAID`, `CANCELED` or `REFUNDED`.
    pub status: String,
    pub coupon_code: Option<String>,
    pub ordered_at: i64,
    /// Event time of the event that set the current status.
    pub status_changed_at: i64,
    /// Event time of the newest event seen; older events never override the status.
    pub last_event_at: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
