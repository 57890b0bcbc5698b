use sea_orm::entity::prelude::*;

use crate::enums::Approval;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversion_reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub brand_id: i64,
    pub conversion_id: i64,
    /// The approval the change moved to.
    pub action: Approval,
    /// Name of the API key that made the change.
    pub by_key: String,
    pub at: i64,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::conversion::Entity",
        from = "Column::ConversionId",
        to = "super::conversion::Column::Id"
    )]
    Conversion,
}

impl Related<super::conversion::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversion.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
