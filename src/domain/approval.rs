//! Conversion approval (SPEC §1 rule 4): APPROVED ⇄ REJECTED through one conditional
//! UPDATE, so concurrent reviewers never lose a change and each applied change has
//! exactly one review entry and one announcement.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use super::auth::Principal;
use super::outbox::{self, ConversionApprovalChanged};
use super::rollup::{self, Bucket, Contribution};
use super::{BrandId, text, time};
use crate::domain::error::{DomainError, DomainResult, Input, Thing, not_found};
use entity::enums::EventKind;
use entity::{conversion, conversion_review};

pub const MAX_REASON: usize = 500;

pub use entity::enums::Approval;

/// Moves a conversion to `to` from the other approval, or refuses with INVALID_TRANSITION.
pub async fn review(
    db: &DatabaseConnection,
    who: &Principal,
    conversion_id: i64,
    to: Approval,
    reason: Option<&str>,
) -> DomainResult<conversion::Model> {
    let reason = match to {
        Approval::Rejected => text::optional(Input::Reason, reason, MAX_REASON)?,
        Approval::Approved => None,
    };
    let from = match to {
        Approval::Rejected => Approval::Approved,
        Approval::Approved => Approval::Rejected,
    };
    let now = time::now();
    let txn = db.begin().await?;
    // One conditional UPDATE: of concurrent reviewers exactly one moves it.
    let applied = conversion::Entity::update_many()
        .col_expr(conversion::Column::Approval, Expr::value(to))
        .col_expr(conversion::Column::ReviewedAt, Expr::value(now))
        .col_expr(conversion::Column::RejectionReason, Expr::value(reason.clone()))
        .filter(conversion::Column::Id.eq(conversion_id))
        .filter(conversion::Column::BrandId.eq(who.brand.0))
        .filter(conversion::Column::Approval.eq(from))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let current = find(&txn, who.brand, conversion_id).await?.ok_or_else(|| not_found(Thing::Conversion))?;
    if !applied {
        return Err(DomainError::InvalidTransition { current: current.approval, to });
    }
    // The order's row lock orders this against a concurrent status change, so the two
    // deltas are computed from each other's committed results, never from stale reads.
    let order = super::orders::lock(&txn, current.order_id).await?;
    let before = Contribution::of(order.status, order.amount, from, current.commission);
    let after = Contribution::of(order.status, order.amount, to, current.commission);
    rollup::apply(&txn, [(Bucket::of(&order), after.minus(before))]).await?;
    conversion_review::ActiveModel {
        brand_id: Set(who.brand.0),
        conversion_id: Set(conversion_id),
        action: Set(to),
        by_key: Set(who.key_name.clone()),
        at: Set(now),
        reason: Set(reason),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let change = ConversionApprovalChanged { conversion_id, approval: to, at: now };
    outbox::append(&txn, who.brand.0, current.campaign_id, EventKind::ConversionApprovalChanged, &change).await?;
    txn.commit().await?;
    Ok(current)
}

pub async fn find(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> DomainResult<Option<conversion::Model>> {
    Ok(conversion::Entity::find_by_id(id).filter(conversion::Column::BrandId.eq(brand.0)).one(db).await?)
}

pub async fn reviews(db: &impl ConnectionTrait, conversion_id: i64) -> DomainResult<Vec<conversion_review::Model>> {
    Ok(conversion_review::Entity::find()
        .filter(conversion_review::Column::ConversionId.eq(conversion_id))
        .order_by_asc(conversion_review::Column::Id)
        .all(db)
        .await?)
}
