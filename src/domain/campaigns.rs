//! Campaigns of a brand.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::money::Rate;
use super::{BrandId, text, time};
use crate::domain::error::{DomainResult, Input, invalid};
use entity::campaign;

pub async fn create(
    db: &impl ConnectionTrait,
    brand: BrandId,
    name: &str,
    default_rate: Option<&str>,
) -> DomainResult<campaign::Model> {
    let name = text::required(Input::Name, name, text::MAX_NAME)?;
    let rate = match default_rate {
        Some(r) => Rate::parse(r).map_err(|m| invalid(Input::DefaultCommissionRate, m))?,
        None => Rate::from_scaled(0),
    };
    Ok(campaign::ActiveModel {
        brand_id: Set(brand.0),
        name: Set(name),
        default_commission_rate: Set(rate.scaled()),
        created_at: Set(time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn find(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> DomainResult<Option<campaign::Model>> {
    Ok(campaign::Entity::find_by_id(id).filter(campaign::Column::BrandId.eq(brand.0)).one(db).await?)
}

pub async fn page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    after: Option<i64>,
    limit: u64,
) -> DomainResult<(Vec<campaign::Model>, u64)> {
    let query = campaign::Entity::find().filter(campaign::Column::BrandId.eq(brand.0));
    let total = query.clone().count(db).await?;
    let mut paged = query;
    if let Some(after) = after {
        paged = paged.filter(campaign::Column::Id.gt(after));
    }
    let rows = paged.order_by_asc(campaign::Column::Id).limit(limit).all(db).await?;
    Ok((rows, total))
}
