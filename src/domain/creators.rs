//! Creators of a brand's community. Deletion is soft: their sales stay in the dashboard.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::{BrandId, text, time};
use crate::domain::error::{DomainResult, Input, Thing, not_found};
use entity::creator;

pub struct NewCreator<'a> {
    pub name: &'a str,
    pub handle: Option<&'a str>,
    pub email: Option<&'a str>,
}

pub async fn create(db: &impl ConnectionTrait, brand: BrandId, input: NewCreator<'_>) -> DomainResult<creator::Model> {
    let name = text::required(Input::Name, input.name, text::MAX_NAME)?;
    let handle = text::optional(Input::Handle, input.handle, 100)?;
    let email = text::email(input.email)?;
    Ok(creator::ActiveModel {
        brand_id: Set(brand.0),
        name: Set(name),
        handle: Set(handle),
        email: Set(email),
        created_at: Set(time::now()),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn find(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> DomainResult<Option<creator::Model>> {
    Ok(creator::Entity::find_by_id(id).filter(creator::Column::BrandId.eq(brand.0)).one(db).await?)
}

/// Soft delete; deleting an already deleted creator changes nothing.
pub async fn delete(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> DomainResult<creator::Model> {
    let found = find(db, brand, id).await?.ok_or_else(|| not_found(Thing::Creator))?;
    if found.deleted_at.is_some() {
        return Ok(found);
    }
    let mut active: creator::ActiveModel = found.into();
    active.deleted_at = Set(Some(time::now()));
    Ok(active.update(db).await?)
}

/// One page in id order, plus the total count.
pub async fn page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    include_deleted: bool,
    after: Option<i64>,
    limit: u64,
) -> DomainResult<(Vec<creator::Model>, u64)> {
    let mut query = creator::Entity::find().filter(creator::Column::BrandId.eq(brand.0));
    if !include_deleted {
        query = query.filter(creator::Column::DeletedAt.is_null());
    }
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(creator::Column::Id.gt(after));
    }
    let rows = query.order_by_asc(creator::Column::Id).limit(limit).all(db).await?;
    Ok((rows, total))
}
