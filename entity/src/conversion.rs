use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub brand_id: i64,
    #[sea_orm(unique)]
    pub order_id: i64,
    pub campaign_id: i64,
    pub creator_id: i64,
    pub membership_id: i64,
    /// `COUPON_CODE` or `AFFILIATE_LINK`.
    pub attribution: String,
    /// Minor units, pinned when the conversion was created.
    pub commission: i64,
    /// `APPROVED` or `REJECTED`.
    pub approval: String,
    pub reviewed_at: Option<i64>,
    pub rejection_reason: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
