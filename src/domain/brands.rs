//! Brands (tenants) and their secrets.
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionSession, TransactionTrait};

use super::auth::{self, Role};
use super::money::Currency;
use super::{BrandId, text, time};
use crate::domain::error::{DomainError, DomainResult, Input, Thing, invalid, not_found};
use entity::brand;

pub struct NewBrand {
    pub brand: brand::Model,
    pub api_key: String,
}

/// A brand with its webhook secret and a "default admin" key, in one transaction (a
/// savepoint when `db` is a transaction already).
pub async fn create(
    db: &impl TransactionTrait,
    name: &str,
    currency: &str,
    store_url: Option<&str>,
) -> DomainResult<NewBrand> {
    let name = text::required(Input::Name, name, text::MAX_NAME)?;
    let currency = Currency::parse(currency).map_err(|m| invalid(Input::Currency, m))?;
    let store_url = text::optional(Input::StoreUrl, store_url, 2000)?;
    if let Some(u) = &store_url {
        match url::Url::parse(u) {
            Ok(p) if p.scheme() == "https" || p.scheme() == "http" => {}
            _ => return Err(invalid(Input::StoreUrl, format!("'{u}' is not an http(s) URL"))),
        }
    }
    let txn = db.begin().await?;
    let brand = brand::ActiveModel {
        name: Set(name),
        currency: Set(currency.code().to_string()),
        store_url: Set(store_url),
        webhook_secret: Set(auth::random_secret("whsec_")),
        created_at: Set(time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let api_key = auth::create_key(&txn, BrandId(brand.id), "default admin", Role::Admin).await?;
    txn.commit().await?;
    Ok(NewBrand { brand, api_key })
}

pub async fn get(db: &impl sea_orm::ConnectionTrait, brand: BrandId) -> DomainResult<brand::Model> {
    find(db, brand).await?.ok_or_else(|| not_found(Thing::Brand))
}

pub async fn find(db: &impl sea_orm::ConnectionTrait, brand: BrandId) -> DomainResult<Option<brand::Model>> {
    Ok(brand::Entity::find_by_id(brand.0).one(db).await?)
}

pub fn currency(brand: &brand::Model) -> DomainResult<Currency> {
    Currency::parse(&brand.currency).map_err(|m| DomainError::Unexpected(anyhow::anyhow!("stored brand currency: {m}")))
}
