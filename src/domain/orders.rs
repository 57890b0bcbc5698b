//! Orders in (SPEC §1 rules 1–3): attribution, the pinned commission, and live status
//! applied in event-time order. `record` is the one door for GraphQL and both webhooks.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, Iterable, ModelTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    TryInsertResult,
};

use super::money::{self, Currency, Rate};
use super::outbox::{self, OrderStatusChanged};
use super::rollup::{self, Bucket, Contribution};
use super::time::{self, Millis, TimeRange};
use super::{BrandId, text};
use crate::db::Sql;
use crate::error::{AppError, AppResult, bad_input};
use entity::enums::{Approval, EventKind};
use entity::{conversion, membership, order, order_event};

pub use entity::enums::{Attribution, OrderStatus};

/// Which of two events stamped at the same instant wins, so that every arrival order ends
/// in the same state: a refund over a cancellation over a payment (the later steps of an
/// order's life).
pub fn precedence(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::Paid => 0,
        OrderStatus::Canceled => 1,
        OrderStatus::Refunded => 2,
    }
}

/// A status as clients write it: `PAID`, `CANCELED` or `REFUNDED`.
pub fn parse_status(text: &str) -> Option<OrderStatus> {
    OrderStatus::iter().find(|s| s.to_value() == text)
}

/// A status event about a store order, parsed and valid.
#[derive(Clone, Debug)]
pub struct OrderEvent {
    pub external_id: String,
    pub amount: i64,
    pub status: OrderStatus,
    pub occurred_at: Millis,
    pub ordered_at: Option<Millis>,
    pub coupon_code: Option<String>,
    pub referral_code: Option<String>,
    pub source: String,
}

/// The fields of `OrderEventInput` as clients send them, before parsing.
#[derive(Clone, Debug, Default)]
pub struct RawOrderEvent {
    pub external_id: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub occurred_at: String,
    pub ordered_at: Option<String>,
    pub coupon_code: Option<String>,
    pub referral_code: Option<String>,
}

impl OrderEvent {
    pub fn parse(raw: &RawOrderEvent, currency: Currency, source: &str) -> AppResult<OrderEvent> {
        let external_id = text::required("externalId", &raw.external_id, 255)?;
        let sent = Currency::parse(&raw.currency).map_err(|m| bad_input("currency", m))?;
        if sent != currency {
            return Err(bad_input("currency", format!("currency {sent} differs from the brand's currency {currency}")));
        }
        let amount = currency.parse_amount(raw.amount.trim()).map_err(|m| bad_input("amount", m))?;
        let status = parse_status(raw.status.trim()).ok_or_else(|| {
            bad_input("status", format!("'{}' is not a status: PAID, CANCELED or REFUNDED", raw.status))
        })?;
        let occurred_at = time::parse_event_time(&raw.occurred_at).map_err(|m| bad_input("occurredAt", m))?;
        let ordered_at = match &raw.ordered_at {
            Some(t) => Some(time::parse_event_time(t).map_err(|m| bad_input("orderedAt", m))?),
            None => None,
        };
        Ok(OrderEvent {
            external_id,
            amount,
            status,
            occurred_at,
            ordered_at,
            coupon_code: text::optional("couponCode", raw.coupon_code.as_deref(), 255)?,
            referral_code: text::optional("referralCode", raw.referral_code.as_deref(), 255)?,
            source: source.to_string(),
        })
    }
}

/// What `record` did.
#[derive(Debug)]
pub struct Recorded {
    /// The order, or None when nothing was attributed (and nothing stored).
    pub order: Option<order::Model>,
    /// Whether a status change was announced (the outbox has a new row).
    pub announced: bool,
}

/// Attributes, stores and applies one order event, all in one transaction.
pub async fn record(db: &DatabaseConnection, brand: BrandId, event: &OrderEvent) -> AppResult<Recorded> {
    let brand_row = super::brands::get(db, brand).await?;
    let currency = super::brands::currency(&brand_row)?;
    let txn = db.begin().await?;
    let outcome = match find_for_update(&txn, brand, &event.external_id).await? {
        Some(existing) => apply_status(&txn, existing, event).await?,
        None => match attribute(&txn, brand, event).await? {
            None => Recorded { order: None, announced: false },
            Some((membership, attribution)) => {
                match insert_order(&txn, &membership, attribution, currency, event).await? {
                    Some(created) => created,
                    // Another delivery of the same new order committed first: apply to it.
                    None => {
                        let existing = find_for_update(&txn, brand, &event.external_id)
                            .await?
                            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("order vanished")))?;
                        apply_status(&txn, existing, event).await?
                    }
                }
            }
        },
    };
    txn.commit().await?;
    Ok(outcome)
}

async fn find_for_update(
    db: &impl ConnectionTrait,
    brand: BrandId,
    external_id: &str,
) -> AppResult<Option<order::Model>> {
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
pub(crate) async fn lock(db: &impl ConnectionTrait, order_id: i64) -> AppResult<order::Model> {
    order::Entity::find_by_id(order_id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("conversion without order {order_id}")))
}

/// Rule 1: the coupon (case-insensitive) wins over the affiliate code. A current
/// membership is preferred; otherwise the latest removed one holding the code.
async fn attribute(
    db: &impl ConnectionTrait,
    brand: BrandId,
    event: &OrderEvent,
) -> AppResult<Option<(membership::Model, Attribution)>> {
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
) -> AppResult<Option<membership::Model>> {
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
) -> AppResult<Option<Recorded>> {
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
) -> AppResult<bool> {
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
async fn apply_status(db: &impl ConnectionTrait, existing: order::Model, event: &OrderEvent) -> AppResult<Recorded> {
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
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("order {} has no conversion", before.id)))?;
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

pub async fn find(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> AppResult<Option<order::Model>> {
    Ok(order::Entity::find_by_id(id).filter(order::Column::BrandId.eq(brand.0)).one(db).await?)
}

/// Which orders a table shows.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Every sale of the brand, everyone included (the dashboard's view).
    Brand,
    /// One campaign, current members only (the Performance tab's view, rule 6).
    Campaign(i64),
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub statuses: Vec<OrderStatus>,
    pub range: TimeRange,
    pub creator_id: Option<i64>,
    pub campaign_id: Option<i64>,
    /// Restricts to these order ids (exports of selected rows).
    pub ids: Option<Vec<i64>>,
}

/// Keyset position in newest-first order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    pub ordered_at: Millis,
    pub id: i64,
}

fn where_clause(sql: &mut Sql, brand: BrandId, scope: Scope, filter: &OrderFilter) {
    let p = sql.bind(brand.0);
    sql.push(" WHERE o.brand_id = ").push(&p);
    if let Scope::Campaign(campaign_id) = scope {
        // Rule 6: current members only. A list subquery, evaluated once, not per row.
        sql.and("o.campaign_id =", campaign_id);
        let p = sql.bind(campaign_id);
        sql.push(&format!(
            " AND o.creator_id IN (SELECT m.creator_id FROM memberships m JOIN creators c ON c.id = m.creator_id \
             WHERE m.campaign_id = {p} AND m.removed_at IS NULL AND c.deleted_at IS NULL)"
        ));
    }
    if !filter.statuses.is_empty() {
        // Each status once, however often the filter repeats it.
        let wanted = OrderStatus::iter().filter(|s| filter.statuses.contains(s));
        sql.and_in("o.status", wanted.map(|s| s.to_value()));
    }
    push_range(sql, filter.range);
    if let Some(creator) = filter.creator_id {
        sql.and("o.creator_id =", creator);
    }
    if let Some(campaign) = filter.campaign_id {
        sql.and("o.campaign_id =", campaign);
    }
    if let Some(ids) = &filter.ids {
        sql.and_in("o.id", ids.iter().copied());
    }
}

/// Rule 7: `[from, to)` on the order's `ordered_at`.
pub(crate) fn push_range(sql: &mut Sql, range: TimeRange) {
    if let Some(from) = range.from {
        sql.and("o.ordered_at >=", from);
    }
    if let Some(to) = range.to {
        sql.and("o.ordered_at <", to);
    }
}

/// Keyset paging in newest-first order: the cursor as a row-value comparison both
/// backends answer with a range scan of the (…, ordered_at, id) indexes, then the order
/// and the limit.
fn keyset_page(sql: &mut Sql, after: Option<OrderCursor>, limit: u64) {
    if let Some(c) = after {
        let t = sql.bind(c.ordered_at);
        let i = sql.bind(c.id);
        sql.push(&format!(" AND (o.ordered_at, o.id) < ({t}, {i})"));
    }
    let l = sql.bind(limit as i64);
    sql.push(" ORDER BY o.ordered_at DESC, o.id DESC LIMIT ").push(&l);
}

/// One page of orders, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    scope: Scope,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u64,
) -> AppResult<Vec<order::Model>> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new("SELECT o.* FROM orders o");
    where_clause(&mut sql, brand, scope, filter);
    keyset_page(&mut sql, after, limit);
    Ok(order::Model::find_by_statement(sql.build(backend)).all(db).await?)
}

/// One order with what an export row shows of its campaign, creator and conversion.
#[derive(Clone, Debug, FromQueryResult)]
pub struct ExportRow {
    pub id: i64,
    pub external_id: String,
    pub campaign_name: String,
    pub creator_name: String,
    pub creator_handle: Option<String>,
    pub coupon_code: Option<String>,
    pub ordered_at: Millis,
    pub status: OrderStatus,
    pub amount: i64,
    pub currency: String,
    pub approval: Approval,
    /// Earned commission (rule 5), so the column sums to the Performance total.
    pub earned: i64,
}

/// One chunk of export rows, newest first, after the cursor: a keyset page, so a long
/// export holds no transaction and no connection between chunks.
pub async fn export_page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    scope: Scope,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u64,
) -> AppResult<Vec<ExportRow>> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(
        "SELECT o.id AS id, o.external_id AS external_id, k.name AS campaign_name, c.name AS creator_name, \
         c.handle AS creator_handle, o.coupon_code AS coupon_code, o.ordered_at AS ordered_at, o.status AS status, \
         o.amount AS amount, o.currency AS currency, cv.approval AS approval, \
         CASE WHEN cv.approval = 'APPROVED' AND o.status = 'PAID' THEN cv.commission ELSE 0 END AS earned \
         FROM orders o JOIN campaigns k ON k.id = o.campaign_id JOIN creators c ON c.id = o.creator_id \
         JOIN conversions cv ON cv.order_id = o.id",
    );
    where_clause(&mut sql, brand, scope, filter);
    keyset_page(&mut sql, after, limit);
    Ok(ExportRow::find_by_statement(sql.build(backend)).all(db).await?)
}

pub async fn count(db: &impl ConnectionTrait, brand: BrandId, scope: Scope, filter: &OrderFilter) -> AppResult<u64> {
    #[derive(FromQueryResult)]
    struct Count {
        n: i64,
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new("SELECT COUNT(*) AS n FROM orders o");
    where_clause(&mut sql, brand, scope, filter);
    let row = Count::find_by_statement(sql.build(backend)).one(db).await?;
    Ok(row.map(|r| r.n.max(0) as u64).unwrap_or(0))
}
