use sea_orm::entity::prelude::*;

pub use crate::enums::{Approval, Attribution};

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
    pub attribution: Attribution,
    /// Minor units, pinned when the conversion was created.
    pub commission: i64,
    pub approval: Approval,
    pub reviewed_at: Option<i64>,
    pub rejection_reason: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::brand::Entity", from = "Column::BrandId", to = "super::brand::Column::Id")]
    Brand,
    #[sea_orm(belongs_to = "super::order::Entity", from = "Column::OrderId", to = "super::order::Column::Id")]
    Order,
    #[sea_orm(belongs_to = "super::campaign::Entity", from = "Column::CampaignId", to = "super::campaign::Column::Id")]
    Campaign,
    #[sea_orm(belongs_to = "super::creator::Entity", from = "Column::CreatorId", to = "super::creator::Column::Id")]
    Creator,
    #[sea_orm(
        belongs_to = "super::membership::Entity",
        from = "Column::MembershipId",
        to = "super::membership::Column::Id"
    )]
    Membership,
    #[sea_orm(has_many = "super::conversion_review::Entity")]
    ConversionReview,
}

impl Related<super::brand::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Brand.def()
    }
}

impl Related<super::order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::creator::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Creator.def()
    }
}

impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Membership.def()
    }
}

impl Related<super::conversion_review::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ConversionReview.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
