//! The write path: attribution (rule 1), the pinned commission (rule 2) and status
//! applied in event-time order (rule 3), each event in one transaction with its history,
//! rollup and announcement.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait, TryInsertResult,
};

use super::{Attribution, OrderEvent, OrderStatus, Recorded, precedence};
use crate::domain::BrandId;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::money::{self, Currency, Rate};
use crate::domain::outbox::{self, OrderStatusChanged};
use crate::domain::rollup::{self, Bucket, Contribution};
use crate::domain::time::{self, Millis};
use entity::enums::{Approval, EventKind};
use entity::{conversion, membership, order, order_event};

/// Attributes, stores and applies one order event of a brand whose currency is
/// `currency`, all in one transaction.
pub async fn record(
    db: &DatabaseConnection,
    brand: BrandId,
    currency: Currency,
    event: &OrderEvent,
) -> DomainResult<Recorded> {
    let txn = db.begin().await?;
    let outcome = record_in(&txn, brand, currency, event).await?;
    txn.commit().await?;
    Ok(outcome)
}

/// `record` inside the caller's transaction (or savepoint).
pub(super) async fn record_in(
    txn: &impl ConnectionTrait,
    brand: BrandId,
    currency: Currency,
    event: &OrderEvent,
) -> DomainResult<Recorded> {
    Ok(match find_for_update(txn, brand, &event.external_id).await? {
        Some(existing) => apply_status(txn, existing, event).await?,
        None => match attribute(txn, brand, event).await? {
            None => Recorded { order: None, announced: false },
            Some((membership, attribution)) => {
                match insert_order(txn, &membership, attribution, currency, event).await? {
                    Some(created) => created,
                    // Another delivery of the same new order committed first: apply to it.
                    None => {
                        let existing = find_for_update(txn, brand, &event.external_id)
                            .await?
                            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("order vanished")))?;
                        apply_status(txn, existing, event).await?
                    }
                }
            }
        },
    })
}

async fn find_for_update(
    db: &impl ConnectionTrait,
    brand: BrandId,
    external_id: &str,
) -> DomainResult<Option<order::Model>> {
    let found = order::Entity::find()
        .filter(order::Column::BrandId.eq(brand.0))
        .filter(order::Column::ExternalId.eq(external_id))
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(found)
}

/// An order by id, locked for the rest of the transaction (`FOR UPDATE` on PostgreSQL;
/// SQLite has one writer at a time anyway).
pub(crate) async fn lock(db: &impl ConnectionTrait, order_id: i64) -> DomainResult<order::Model> {
    order::Entity::find_by_id(order_id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("conversion without order {order_id}")))
}

/// Rule 1: the coupon (case-insensitive) wins over the affiliate code. A current
/// membership is preferred; otherwise the latest removed one holding the code.
async fn attribute(
    db: &impl ConnectionTrait,
    brand: BrandId,
    event: &OrderEvent,
) -> DomainResult<Option<(membership::Model, Attribution)>> {
    let by_coupon =
        event.coupon_code.as_ref().map(|c| (membership::Column::CouponKey, c.to_uppercase(), Attribution::CouponCode));
    let by_link = event
        .referral_code
        .as_ref()
        .map(|r| (membership::Column::AffiliateCode, r.clone(), Attribution::AffiliateLink));
    for (column, code, attribution) in [by_coupon, by_link].into_iter().flatten() {
        if let Some(m) = holder(db, brand, column, code).await? {
            return Ok(Some((m, attribution)));
        }
    }
    Ok(None)
}

/// The membership holding a code: the current one, else the latest removed one.
async fn holder(
    db: &impl ConnectionTrait,
    brand: BrandId,
    column: membership::Column,
    code: String,
) -> DomainResult<Option<membership::Model>> {
    let mut newest_first = membership::Entity::find()
        .filter(membership::Column::BrandId.eq(brand.0))
        .filter(column.eq(code))
        .order_by_desc(membership::Column::Id)
        .all(db)
        .await?;
    Ok(match newest_first.iter().position(|m| m.removed_at.is_none()) {
        Some(i) => Some(newest_first.swap_remove(i)),
        None => newest_first.into_iter().next(),
    })
}

/// First sighting: the order, its first history entry, its conversion with the commission
/// pinned from the membership's terms now (rule 2), and the announcement. None if another
/// delivery inserted the same order first.
async fn insert_order(
    db: &impl ConnectionTrait,
    membership: &membership::Model,
    attribution: Attribution,
    currency: Currency,
    event: &OrderEvent,
) -> DomainResult<Option<Recorded>> {
    let now = time::now();
    let new = order::ActiveModel {
        brand_id: Set(membership.brand_id),
        campaign_id: Set(membership.campaign_id),
        creator_id: Set(membership.creator_id),
        membership_id: Set(membership.id),
        external_id: Set(event.external_id.clone()),
        amount: Set(event.amount),
        currency: Set(currency.code().to_string()),
        status: Set(event.status),
        coupon_code: Set(event.coupon_code.clone()),
        ordered_at: Set(event.ordered_at.unwrap_or(event.occurred_at)),
        status_changed_at: Set(event.occurred_at),
        last_event_at: Set(event.occurred_at),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = order::Entity::insert(new)
        .on_conflict_do_nothing_on([order::Column::BrandId, order::Column::ExternalId])
        .exec_with_returning(db)
        .await;
    let order = match inserted {
        Ok(TryInsertResult::Inserted(order)) => order,
        // On PostgreSQL, SeaORM 2.0 reports the empty RETURNING of a conflict as
        // RecordNotFound rather than Conflicted.
        Ok(TryInsertResult::Conflicted | TryInsertResult::Empty) | Err(DbErr::RecordNotFound(_)) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    insert_history(db, &order, event.status, event.occurred_at, &event.source).await?;
    let rate = Rate::from_scaled(membership.commission_rate);
    let commission = money::commission(event.amount, rate, membership.commission_flat);
    conversion::ActiveModel {
        brand_id: Set(order.brand_id),
        order_id: Set(order.id),
        campaign_id: Set(order.campaign_id),
        creator_id: Set(order.creator_id),
        membership_id: Set(membership.id),
        attribution: Set(attribution),
        commission: Set(commission),
        approval: Set(Approval::Approved),
        reviewed_at: Set(None),
        rejection_reason: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let counted = Contribution::of(order.status, order.amount, Approval::Approved, commission);
    rollup::apply(db, Bucket::of(&order), counted).await?;
    let change = OrderStatusChanged {
        order_id: order.id,
        previous_status: None,
        status: order.status,
        changed_at: order.status_changed_at,
    };
    outbox::append(db, order.brand_id, order.campaign_id, EventKind::OrderStatusChanged, &change).await?;
    Ok(Some(Recorded { order: Some(order), announced: true }))
}

/// Appends to the history unless this exact event is already there; false for a repeat.
async fn insert_history(
    db: &impl ConnectionTrait,
    order: &order::Model,
    status: OrderStatus,
    occurred_at: Millis,
    source: &str,
) -> DomainResult<bool> {
    let event = order_event::ActiveModel {
        brand_id: Set(order.brand_id),
        order_id: Set(order.id),
        status: Set(status),
        occurred_at: Set(occurred_at),
        source: Set(source.to_string()),
        received_at: Set(time::now()),
        ..Default::default()
    };
    let inserted = order_event::Entity::insert(event)
        .on_conflict_do_nothing_on([
            order_event::Column::OrderId,
            order_event::Column::OccurredAt,
            order_event::Column::Status,
        ])
        .exec_without_returning(db)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}

/// Rule 3 on a locked, existing order: newer events apply, older ones only join the
/// history, repeats change nothing; of events stamped at the same instant the one of
/// higher `precedence` wins, whatever order they arrive in. A newer event also carries
/// the order's current amount (a partial refund lowers Shopify's current subtotal), so
/// sales follow it; the commission stays as pinned when the conversion was created (rule 2).
async fn apply_status(db: &impl ConnectionTrait, existing: order::Model, event: &OrderEvent) -> DomainResult<Recorded> {
    let fresh = insert_history(db, &existing, event.status, event.occurred_at, &event.source).await?;
    let newer = (event.occurred_at, precedence(event.status)) > (existing.last_event_at, precedence(existing.status));
    if !fresh || !newer {
        return Ok(Recorded { order: Some(existing), announced: false });
    }
    let previous = existing.status;
    let changed = previous != event.status;
    let mut update = order::Entity::update_many().col_expr(order::Column::LastEventAt, Expr::value(event.occurred_at));
    if changed {
        update = update
            .col_expr(order::Column::Status, Expr::value(event.status))
            .col_expr(order::Column::StatusChangedAt, Expr::value(event.occurred_at));
    }
    if event.amount != existing.amount {
        update = update.col_expr(order::Column::Amount, Expr::value(event.amount));
    }
    update.filter(order::Column::Id.eq(existing.id)).exec(db).await?;
    let before = existing.clone();
    let mut updated = existing;
    updated.last_event_at = event.occurred_at;
    updated.amount = event.amount;
    updated.status = event.status;
    if changed || before.amount != updated.amount {
        let conversion = before
            .find_related(conversion::Entity)
            .one(db)
            .await?
            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("order {} has no conversion", before.id)))?;
        let was = Contribution::of(before.status, before.amount, conversion.approval, conversion.commission);
        let now = Contribution::of(updated.status, updated.amount, conversion.approval, conversion.commission);
        rollup::apply(db, Bucket::of(&updated), now.minus(was)).await?;
    }
    if !changed {
        return Ok(Recorded { order: Some(updated), announced: false });
    }
    updated.status_changed_at = event.occurred_at;
    let change = OrderStatusChanged {
        order_id: updated.id,
        previous_status: Some(previous),
        status: updated.status,
        changed_at: event.occurred_at,
    };
    outbox::append(db, updated.brand_id, updated.campaign_id, EventKind::OrderStatusChanged, &change).await?;
    Ok(Recorded { order: Some(updated), announced: true })
}
