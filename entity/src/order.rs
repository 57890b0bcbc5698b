use sea_orm::entity::prelude::*;

pub use crate::enums::OrderStatus;

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
    pub status: OrderStatus,
    pub coupon_code: Option<String>,
    pub ordered_at: i64,
    /// Event time of the event that set the current status.
    pub status_changed_at: i64,
    /// Event time of the newest event seen; older events never override the status.
    pub last_event_at: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::brand::Entity", from = "Column::BrandId", to = "super::brand::Column::Id")]
    Brand,
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
    #[sea_orm(has_one = "super::conversion::Entity")]
    Conversion,
    #[sea_orm(has_many = "super::order_event::Entity")]
    OrderEvent,
}

impl Related<super::brand::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Brand.def()
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

impl Related<super::conversion::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversion.def()
    }
}

impl Related<super::order_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OrderEvent.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
