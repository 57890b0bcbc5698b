use sea_orm::entity::prelude::*;

pub use crate::enums::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub brand_id: i64,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret, hex; the secret itself is never stored.
    #[sea_orm(unique)]
    pub key_hash: String,
    pub revoked: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::brand::Entity", from = "Column::BrandId", to = "super::brand::Column::Id")]
    Brand,
}

impl Related<super::brand::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Brand.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
