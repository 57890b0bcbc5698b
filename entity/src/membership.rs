use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub brand_id: i64,
    pub campaign_id: i64,
    pub creator_id: i64,
    pub coupon_code: Option<String>,
    /// Upper-cased coupon code, the case-insensitive match key.
    pub coupon_key: Option<String>,
    pub affiliate_code: Option<String>,
    /// Percent scaled by 10^4.
    pub commission_rate: i64,
    /// Minor units of the brand's currency.
    pub commission_flat: i64,
    pub joined_at: i64,
    pub removed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::brand::Entity", from = "Column::BrandId", to = "super::brand::Column::Id")]
    Brand,
    #[sea_orm(belongs_to = "super::campaign::Entity", from = "Column::CampaignId", to = "super::campaign::Column::Id")]
    Campaign,
    #[sea_orm(belongs_to = "super::creator::Entity", from = "Column::CreatorId", to = "super::creator::Column::Id")]
    Creator,
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

impl ActiveModelBehavior for ActiveModel {}
