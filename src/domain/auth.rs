//! API keys: random secrets shown once, stored as SHA-256 (they carry 256 bits of
//! entropy, so a slow password hash adds nothing), looked up by hash.
use rand::RngCore;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, Iterable, QueryFilter, QuerySelect,
    Set, TransactionTrait,
};
use sha2::{Digest, Sha256};

use super::outbox::{self, KeysRevoked};
use super::{BrandId, time};
use crate::domain::error::{DomainError, DomainResult, Input, invalid};
use entity::enums::EventKind;
use entity::{api_key, brand};

pub use entity::enums::Role;

/// A role as an operator writes it, in any case: `ADMIN` or `VIEWER`.
pub fn parse_role(text: &str) -> DomainResult<Role> {
    Role::iter()
        .find(|r| r.to_value().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| invalid(Input::Role, format!("'{text}' is not a role: ADMIN or VIEWER")))
}

/// Who is calling: the key's brand, name and role.
#[derive(Clone, Debug)]
pub struct Principal {
    pub brand: BrandId,
    pub key_id: i64,
    pub key_name: String,
    pub role: Role,
}

impl Principal {
    pub fn require_admin(&self) -> DomainResult<()> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(DomainError::ReadOnly),
        }
    }
}

pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a key and returns its secret, the only time it is ever seen.
pub async fn create_key(
    db: &impl sea_orm::ConnectionTrait,
    brand: BrandId,
    name: &str,
    role: Role,
) -> DomainResult<String> {
    let name = super::text::required(Input::Name, name, super::text::MAX_NAME)?;
    let secret = random_secret("tly_");
    api_key::ActiveModel {
        brand_id: Set(brand.0),
        name: Set(name),
        role: Set(role),
        key_hash: Set(hash_key(&secret)),
        revoked: Set(false),
        created_at: Set(time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// Revokes the key with this secret; it stops working at once over HTTP, and every
/// replica closes its open websockets when it reads the announcement from the outbox.
/// Returns how many keys were revoked.
pub async fn revoke_secret(db: &DatabaseConnection, secret: &str) -> DomainResult<u64> {
    revoke(db, api_key::Column::KeyHash.eq(hash_key(secret.trim()))).await
}

/// Revokes every key of the brand with this name.
pub async fn revoke_named(db: &DatabaseConnection, brand: BrandId, name: &str) -> DomainResult<u64> {
    revoke(db, api_key::Column::BrandId.eq(brand.0).and(api_key::Column::Name.eq(name))).await
}

/// Revokes the live keys matching `which` and announces them, per brand, in one transaction.
async fn revoke(db: &DatabaseConnection, which: sea_orm::sea_query::SimpleExpr) -> DomainResult<u64> {
    let txn = db.begin().await?;
    let keys = api_key::Entity::find()
        .filter(which)
        .filter(api_key::Column::Revoked.eq(false))
        .lock_exclusive()
        .all(&txn)
        .await?;
    let ids: Vec<i64> = keys.iter().map(|k| k.id).collect();
    api_key::Entity::update_many()
        .col_expr(api_key::Column::Revoked, sea_orm::sea_query::Expr::value(true))
        .filter(api_key::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    let mut by_brand: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for key in &keys {
        by_brand.entry(key.brand_id).or_default().push(key.id);
    }
    for (brand, key_ids) in by_brand {
        outbox::append(&txn, brand, 0, EventKind::KeysRevoked, &KeysRevoked { key_ids }).await?;
    }
    txn.commit().await?;
    // Every replica closes the keys' sockets as soon as it reads this.
    outbox::wake_replicas(db).await?;
    Ok(ids.len() as u64)
}

/// The principal behind a bearer secret, with its brand, in one statement; unknown and
/// revoked keys are the same failure.
pub async fn authenticate_with_brand(db: &DatabaseConnection, secret: &str) -> DomainResult<(Principal, brand::Model)> {
    let found = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_key(secret.trim())))
        .filter(api_key::Column::Revoked.eq(false))
        .find_also_related(brand::Entity)
        .one(db)
        .await?;
    let Some((key, Some(brand))) = found else { return Err(DomainError::Unauthenticated) };
    let principal = Principal { brand: BrandId(key.brand_id), key_id: key.id, key_name: key.name, role: key.role };
    Ok((principal, brand))
}

/// The principal behind a bearer secret; unknown and revoked keys are the same failure.
pub async fn authenticate(db: &DatabaseConnection, secret: &str) -> DomainResult<Principal> {
    let key = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_key(secret.trim())))
        .one(db)
        .await?
        .filter(|k| !k.revoked)
        .ok_or(DomainError::Unauthenticated)?;
    Ok(Principal { brand: BrandId(key.brand_id), key_id: key.id, key_name: key.name, role: key.role })
}
