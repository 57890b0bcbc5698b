//! Conversion approval (SPEC §1 rule 4): APPROVED ⇄ REJECTED through one conditional
//! UPDATE, so concurrent reviewers never lose a change and each applied change has
//! exactly one review entry and one announcement.
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use super::auth::Principal;
use super::outbox::{self, ConversionApprovalChanged};
use super::rollup::{self, Bucket, Contribution};
use super::{BrandId, text, time};
use crate::db::Sql;
use crate::error::{AppError, AppResult, not_found};
use entity::{conversion, conversion_review};

pub const MAX_REASON: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    Approved,
    Rejected,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Approved => "APPROVED",
            Approval::Rejected => "REJECTED",
        }
    }
}

/// Moves a conversion to `to` from the other approval, or refuses with INVALID_TRANSITION.
pub async fn review(
    db: &DatabaseConnection,
    who: &Principal,
    conversion_id: i64,
    to: Approval,
    reason: Option<&str>,
) -> AppResult<conversion::Model> {
    let reason = match to {
        Approval::Rejected => text::optional("reason", reason, MAX_REASON)?,
        Approval::Approved => None,
    };
    let from = match to {
        Approval::Rejected => Approval::Approved,
        Approval::Approved => Approval::Rejected,
    };
    let now = time::now();
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let mut sql = Sql::new("UPDATE conversions SET approval = ");
    let p = sql.bind(to.as_str());
    sql.push(&p);
    let p = sql.bind(now);
    sql.push(", reviewed_at = ").push(&p);
    let p = sql.bind(reason.clone());
    sql.push(", rejection_reason = ").push(&p);
    let p = sql.bind(conversion_id);
    sql.push(" WHERE id = ").push(&p);
    let p = sql.bind(who.brand.0);
    sql.push(" AND brand_id = ").push(&p);
    let p = sql.bind(from.as_str());
    sql.push(" AND approval = ").push(&p);
    let applied = txn.execute_raw(sql.build(backend)).await?.rows_affected() == 1;
    let current = find(&txn, who.brand, conversion_id).await?.ok_or_else(|| not_found("conversion"))?;
    if !applied {
        return Err(AppError::InvalidTransition(format!(
            "the conversion is {}; only an {} conversion can be {}",
            current.approval,
            from.as_str(),
            match to {
                Approval::Rejected => "rejected",
                Approval::Approved => "restored by undoRejection",
            }
        )));
    }
    // The order's row lock orders this against a concurrent status change, so the two
    // deltas are computed from each other's committed results, never from stale reads.
    let order = super::orders::lock(&txn, current.order_id).await?;
    let before = Contribution::of(&order.status, order.amount, from.as_str(), current.commission);
    let after = Contribution::of(&order.status, order.amount, to.as_str(), current.commission);
    rollup::apply(&txn, Bucket::of(&order), after.minus(before)).await?;
    conversion_review::Entity::insert(conversion_review::ActiveModel {
        brand_id: sea_orm::Set(who.brand.0),
        conversion_id: sea_orm::Set(conversion_id),
        action: sea_orm::Set(to.as_str().to_string()),
        by_key: sea_orm::Set(who.key_name.clone()),
        at: sea_orm::Set(now),
        reason: sea_orm::Set(reason),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    let change = ConversionApprovalChanged { conversion_id, approval: to.as_str().to_string(), at: now };
    outbox::append(&txn, who.brand.0, current.campaign_id, outbox::CONVERSION_APPROVAL_CHANGED, &change).await?;
    txn.commit().await?;
    Ok(current)
}

pub async fn find(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> AppResult<Option<conversion::Model>> {
    Ok(conversion::Entity::find_by_id(id).filter(conversion::Column::BrandId.eq(brand.0)).one(db).await?)
}

pub async fn reviews(db: &impl ConnectionTrait, conversion_id: i64) -> AppResult<Vec<conversion_review::Model>> {
    Ok(conversion_review::Entity::find()
        .filter(conversion_review::Column::ConversionId.eq(conversion_id))
        .order_by_asc(conversion_review::Column::Id)
        .all(db)
        .await?)
}
