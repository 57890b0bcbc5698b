//! The write path: attribution (rule 1), the pinned commission (rule 2) and status
//! applied in event-time order (rule 3). Events are recorded in groups, each in one
//! transaction with its history, rollups and announcements, and a group takes the same
//! few statements whatever its size: a read of the orders it is about (locked), one of
//! the memberships that attribute the new ones, the new orders, the conversions of those
//! that move, and everything else it writes at once (`db::Batch`).
use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QuerySelect, TransactionTrait, Value,
};

use super::{Attribution, OrderEvent, Recorded, precedence};
use crate::db::{Batch, Column, Sql};
use crate::domain::BrandId;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::money::{self, Currency, Rate};
use crate::domain::outbox::{self, OrderStatusChanged};
use crate::domain::rollup::{self, Bucket, Contribution};
use crate::domain::time;
use entity::enums::{Approval, EventKind};
use entity::{conversion, membership, order};

/// An order event to record, of a brand whose currency is `currency`.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    pub brand: BrandId,
    pub currency: Currency,
    pub event: &'a OrderEvent,
}

impl Item<'_> {
    /// The order it is about: the brand and the store's id.
    pub fn key(&self) -> (i64, String) {
        (self.brand.0, self.event.external_id.clone())
    }
}

/// Attributes, stores and applies one order event of a brand whose currency is
/// `currency`, all in one transaction.
pub async fn record(
    db: &DatabaseConnection,
    brand: BrandId,
    currency: Currency,
    event: &OrderEvent,
) -> DomainResult<Recorded> {
    let txn = db.begin().await?;
    let mut outcomes = record_all(&txn, &[Item { brand, currency, event }]).await?;
    txn.commit().await?;
    Ok(outcomes.remove(0))
}

/// Records events about distinct orders (no two share a brand and external id) in the
/// caller's transaction, and says what each did, in the order given.
pub(super) async fn record_all(txn: &impl ConnectionTrait, items: &[Item<'_>]) -> DomainResult<Vec<Recorded>> {
    let mut outcomes: Vec<Option<Recorded>> = items.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..items.len()).collect();
    // A new order that another transaction inserted after this one looked for it is
    // found by a second look: the insert waited for that transaction's commit.
    for _ in 0..2 {
        if pending.is_empty() {
            break;
        }
        pending = record_pass(txn, items, &pending, &mut outcomes).await?;
    }
    if !pending.is_empty() {
        return Err(DomainError::Unexpected(anyhow::anyhow!("order vanished")));
    }
    Ok(outcomes.into_iter().map(|o| o.expect("every event has an outcome")).collect())
}

/// Records the events at `pending`, but those about new orders that another transaction
/// inserted first, which it returns.
async fn record_pass(
    txn: &impl ConnectionTrait,
    items: &[Item<'_>],
    pending: &[usize],
    outcomes: &mut [Option<Recorded>],
) -> DomainResult<Vec<usize>> {
    let mut found = lock_orders(txn, items, pending).await?;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for &i in pending {
        match found.remove(&items[i].key()) {
            Some(order) => known.push((i, order)),
            None => unknown.push(i),
        }
    }
    let mut attributed = Vec::new();
    for (i, holder) in unknown.iter().zip(attribute(txn, items, &unknown).await?) {
        match holder {
            Some(holder) => attributed.push((*i, holder)),
            None => outcomes[*i] = Some(Recorded { order: None, announced: false }),
        }
    }
    let mut inserted = insert_orders(txn, items, &attributed).await?;
    let (mut created, mut conflicted) = (Vec::new(), Vec::new());
    for (i, holder) in attributed {
        match inserted.remove(&items[i].key()) {
            Some(order) => created.push((i, order, holder)),
            None => conflicted.push(i),
        }
    }
    // Every event joins its order's history, unless that exact event is already there.
    let history: Vec<(&order::Model, &OrderEvent)> = known
        .iter()
        .map(|(i, o)| (o, items[*i].event))
        .chain(created.iter().map(|(i, o, _)| (o, items[*i].event)))
        .collect();
    let history = history_rows(history);

    let mut deltas = Vec::new();
    let mut changes = Vec::new();
    // First sightings: each order's conversion, with the commission pinned from the
    // membership's terms now (rule 2).
    let mut conversions = Vec::new();
    for (i, order, (membership, attribution)) in created {
        let rate = Rate::from_scaled(membership.commission_rate);
        let commission = money::commission(order.amount, rate, membership.commission_flat);
        conversions.push((
            [order.brand_id, order.id, order.campaign_id, order.creator_id, membership.id, commission],
            attribution,
        ));
        deltas.push((Bucket::of(&order), Contribution::of(order.status, order.amount, Approval::Approved, commission)));
        changes.push(announcement(&order, None));
        outcomes[i] = Some(Recorded { order: Some(order), announced: true });
    }

    // Rule 3 on known orders, locked: newer events apply, older ones only join the
    // history, repeats change nothing; of events stamped at the same instant the one of
    // higher `precedence` wins, whatever order they arrive in. A newer event also carries
    // the order's current amount (a partial refund lowers Shopify's current subtotal), so
    // sales follow it; the commission stays as pinned when the conversion was created.
    // A newer event is never already in the history: every event that was newer when it
    // came moved the order (under this same lock) to at least its own time and precedence.
    let mut updates = Vec::new();
    for (i, before) in known {
        let event = items[i].event;
        let newer = (event.occurred_at, precedence(event.status)) > (before.last_event_at, precedence(before.status));
        if !newer {
            outcomes[i] = Some(Recorded { order: Some(before), announced: false });
            continue;
        }
        let mut after = before.clone();
        after.last_event_at = event.occurred_at;
        after.amount = event.amount;
        if event.status != before.status {
            after.status = event.status;
            after.status_changed_at = event.occurred_at;
        }
        updates.push((i, before, after));
    }
    let moved =
        |before: &order::Model, after: &order::Model| before.status != after.status || before.amount != after.amount;
    let pinned = pinned_conversions(txn, updates.iter().filter(|(_, b, a)| moved(b, a)).map(|(_, b, _)| b.id)).await?;
    let order_updates = update_rows(updates.iter().map(|(_, _, after)| after));
    for (i, before, after) in updates {
        if moved(&before, &after) {
            let conversion = pinned
                .get(&before.id)
                .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("order {} has no conversion", before.id)))?;
            let was = Contribution::of(before.status, before.amount, conversion.approval, conversion.commission);
            let now = Contribution::of(after.status, after.amount, conversion.approval, conversion.commission);
            deltas.push((Bucket::of(&after), now.minus(was)));
        }
        let announced = before.status != after.status;
        if announced {
            changes.push(announcement(&after, Some(before.status)));
        }
        outcomes[i] = Some(Recorded { order: Some(after), announced });
    }

    // Everything the group writes, in one statement on PostgreSQL.
    let mut batch = Batch::new(txn.get_database_backend());
    write_history(&mut batch, history);
    write_conversions(&mut batch, conversions);
    write_updates(&mut batch, order_updates);
    let rollups = rollup::Sums::of(deltas).write(&mut batch);
    outbox::write_all(&mut batch, EventKind::OrderStatusChanged, changes)?;
    let counts = batch.run(txn).await?;
    rollups.check(&counts)?;
    Ok(conflicted)
}

/// The approved conversions of new orders, each `([brand, order, campaign, creator,
/// membership, commission], attribution)`.
fn write_conversions(batch: &mut Batch, conversions: Vec<([i64; 6], Attribution)>) {
    let now = time::now();
    let rows: Vec<Vec<Value>> = conversions
        .into_iter()
        .map(|(ids, attribution)| {
            let mut row: Vec<Value> = ids.map(Value::from).into();
            row.push(attribution.to_value().into());
            row
        })
        .collect();
    let backend = batch.backend();
    batch.add(rows.len(), |sql| {
        let id = Column::BigInt;
        let columns = [
            ("brand_id", id),
            ("order_id", id),
            ("campaign_id", id),
            ("creator_id", id),
            ("membership_id", id),
            ("commission", id),
            ("attribution", Column::Text),
        ];
        let rows = sql.rows(backend, &columns, rows);
        let names = columns.map(|(name, _)| name).join(", ");
        let (approved, now) = (sql.bind(Approval::Approved.to_value()), sql.bind(now));
        format!(
            "INSERT INTO conversions ({names}, approval, reviewed_at, rejection_reason, created_at) \
             SELECT {names}, {approved}, NULL, NULL, {now} FROM {rows}"
        )
    });
}

/// The outbox entry of an order's new status.
fn announcement(order: &order::Model, previous_status: Option<super::OrderStatus>) -> (i64, i64, OrderStatusChanged) {
    let change = OrderStatusChanged {
        order_id: order.id,
        previous_status,
        status: order.status,
        changed_at: order.status_changed_at,
    };
    (order.brand_id, order.campaign_id, change)
}

/// The known orders of the events at `at`, locked for the rest of the transaction, in id
/// order (`FOR UPDATE` on PostgreSQL; SQLite has one writer at a time anyway).
async fn lock_orders(
    txn: &impl ConnectionTrait,
    items: &[Item<'_>],
    at: &[usize],
) -> DomainResult<HashMap<(i64, String), order::Model>> {
    let backend = txn.get_database_backend();
    let mut sql = Sql::new("");
    let keys = at.iter().map(|&i| vec![items[i].brand.0.into(), items[i].event.external_id.clone().into()]).collect();
    let keys = sql.rows(backend, &[("brand_id", Column::BigInt), ("external_id", Column::Text)], keys);
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE" } else { "" };
    sql.push(&format!(
        "SELECT * FROM orders WHERE (brand_id, external_id) IN (SELECT v.brand_id, v.external_id FROM {keys}) \
         ORDER BY id{lock}"
    ));
    let orders = order::Entity::find().from_raw_sql(sql.build(backend)).all(txn).await?;
    Ok(orders.into_iter().map(|o| ((o.brand_id, o.external_id.clone()), o)).collect())
}

/// Rule 1 for the events at `at`, in order: the coupon (case-insensitive) wins over the
/// affiliate code; of the memberships holding a code, the current one, else the latest
/// removed one. One read for all of them.
async fn attribute(
    txn: &impl ConnectionTrait,
    items: &[Item<'_>],
    at: &[usize],
) -> DomainResult<Vec<Option<(membership::Model, Attribution)>>> {
    let coupon = |i: usize| items[i].event.coupon_code.as_ref().map(|c| c.to_uppercase());
    let link = |i: usize| items[i].event.referral_code.clone();
    let coupons: HashSet<String> = at.iter().filter_map(|&i| coupon(i)).collect();
    let links: HashSet<String> = at.iter().filter_map(|&i| link(i)).collect();
    if coupons.is_empty() && links.is_empty() {
        return Ok(at.iter().map(|_| None).collect());
    }
    let brands: HashSet<i64> = at.iter().map(|&i| items[i].brand.0).collect();
    let backend = txn.get_database_backend();
    let mut sql = Sql::new("");
    let values = |set: HashSet<String>| set.into_iter().map(Value::from).collect();
    let brands = sql.any(backend, "brand_id", Column::BigInt, brands.into_iter().map(Value::from).collect());
    let coupons = sql.any(backend, "coupon_key", Column::Text, values(coupons));
    let links = sql.any(backend, "affiliate_code", Column::Text, values(links));
    sql.push(&format!("SELECT * FROM memberships WHERE {brands} AND ({coupons} OR {links}) ORDER BY id DESC"));
    let newest_first = membership::Entity::find().from_raw_sql(sql.build(backend)).all(txn).await?;
    let holder = |brand: i64, holds: &dyn Fn(&membership::Model) -> bool| {
        let mut of = newest_first.iter().filter(|m| m.brand_id == brand && holds(m));
        of.clone().find(|m| m.removed_at.is_none()).or_else(|| of.next()).cloned()
    };
    Ok(at
        .iter()
        .map(|&i| {
            let brand = items[i].brand.0;
            let by_coupon = coupon(i).and_then(|c| holder(brand, &|m| m.coupon_key.as_deref() == Some(c.as_str())));
            let by_link = || link(i).and_then(|r| holder(brand, &|m| m.affiliate_code.as_deref() == Some(r.as_str())));
            match by_coupon {
                Some(m) => Some((m, Attribution::CouponCode)),
                None => by_link().map(|m| (m, Attribution::AffiliateLink)),
            }
        })
        .collect())
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

/// First sightings: the orders of the attributed events, but those another transaction
/// inserted first; by key.
async fn insert_orders(
    txn: &impl ConnectionTrait,
    items: &[Item<'_>],
    attributed: &[(usize, (membership::Model, Attribution))],
) -> DomainResult<HashMap<(i64, String), order::Model>> {
    if attributed.is_empty() {
        return Ok(HashMap::new());
    }
    let now = time::now();
    let mut new: Vec<(&Item, &membership::Model)> = attributed.iter().map(|(i, (m, _))| (&items[*i], m)).collect();
    // In key order, so that two transactions inserting the same new orders wait for each
    // other in the same order rather than for each other.
    new.sort_by_key(|(item, _)| item.key());
    let rows = new
        .into_iter()
        .map(|(item, membership)| {
            let event = item.event;
            vec![
                membership.brand_id.into(),
                membership.campaign_id.into(),
                membership.creator_id.into(),
                membership.id.into(),
                event.external_id.clone().into(),
                event.amount.into(),
                item.currency.code().into(),
                event.status.to_value().into(),
                event.coupon_code.clone().unwrap_or_default().into(),
                event.ordered_at.unwrap_or(event.occurred_at).into(),
                event.occurred_at.into(),
                event.occurred_at.into(),
                now.into(),
            ]
        })
        .collect();
    let backend = txn.get_database_backend();
    let mut sql = Sql::new("");
    let (id, text) = (Column::BigInt, Column::Text);
    let columns = [
        ("brand_id", id),
        ("campaign_id", id),
        ("creator_id", id),
        ("membership_id", id),
        ("external_id", text),
        ("amount", id),
        ("currency", text),
        ("status", text),
        ("coupon_code", text),
        ("ordered_at", id),
        ("status_changed_at", id),
        ("last_event_at", id),
        ("created_at", id),
    ];
    let rows = sql.rows(backend, &columns, rows);
    let names = columns.map(|(name, _)| name).join(", ");
    // No coupon is bound as '' (a parsed coupon code is never empty).
    let read =
        columns.map(
            |(name, _)| {
                if name == "coupon_code" { "NULLIF(v.coupon_code, '')".to_string() } else { format!("v.{name}") }
            },
        );
    sql.push(&format!(
        "INSERT INTO orders ({names}) SELECT {} FROM {rows} WHERE true \
         ON CONFLICT (brand_id, external_id) DO NOTHING RETURNING *",
        read.join(", ")
    ));
    let orders = order::Entity::find().from_raw_sql(sql.build(backend)).all(txn).await?;
    Ok(orders.into_iter().map(|o| ((o.brand_id, o.external_id.clone()), o)).collect())
}

/// The history entries of events about these orders.
fn history_rows(events: Vec<(&order::Model, &OrderEvent)>) -> Vec<Vec<Value>> {
    let received_at = time::now();
    events
        .into_iter()
        .map(|(order, event)| {
            vec![
                order.brand_id.into(),
                order.id.into(),
                event.status.to_value().into(),
                event.occurred_at.into(),
                event.source.clone().into(),
                received_at.into(),
            ]
        })
        .collect()
}

/// Appends each entry (`history_rows`) to its order's history unless that exact event is
/// already there.
fn write_history(batch: &mut Batch, rows: Vec<Vec<Value>>) {
    let backend = batch.backend();
    batch.add(rows.len(), |sql| {
        let (id, text) = (Column::BigInt, Column::Text);
        let columns = [
            ("brand_id", id),
            ("order_id", id),
            ("status", text),
            ("occurred_at", id),
            ("source", text),
            ("received_at", id),
        ];
        let rows = sql.rows(backend, &columns, rows);
        let names = columns.map(|(name, _)| name).join(", ");
        format!(
            "INSERT INTO order_events ({names}) SELECT {names} FROM {rows} WHERE true \
             ON CONFLICT (order_id, occurred_at, status) DO NOTHING"
        )
    });
}

/// Each order's status, amount and event times, as `write_updates` takes them.
fn update_rows<'a>(orders: impl Iterator<Item = &'a order::Model>) -> Vec<Vec<Value>> {
    orders
        .map(|o| {
            let values = [o.id, o.status_changed_at, o.last_event_at, o.amount].map(Value::from);
            let mut row = vec![o.status.to_value().into()];
            row.extend(values);
            row
        })
        .collect()
}

/// Writes each order's status, amount and event times (`update_rows`).
fn write_updates(batch: &mut Batch, rows: Vec<Vec<Value>>) {
    let backend = batch.backend();
    batch.add(rows.len(), |sql| {
        let id = Column::BigInt;
        let columns =
            [("status", Column::Text), ("id", id), ("status_changed_at", id), ("last_event_at", id), ("amount", id)];
        let rows = sql.rows(backend, &columns, rows);
        // Every row's new values, joined by id: SQL (UPDATE … FROM), which sea-query does not write.
        format!(
            "UPDATE orders SET status = v.status, status_changed_at = v.status_changed_at, \
             last_event_at = v.last_event_at, amount = v.amount FROM {rows} WHERE orders.id = v.id"
        )
    });
}

/// The conversions of these orders, by order.
async fn pinned_conversions(
    txn: &impl ConnectionTrait,
    order_ids: impl Iterator<Item = i64>,
) -> DomainResult<HashMap<i64, conversion::Model>> {
    let ids: Vec<Value> = order_ids.map(Value::from).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = txn.get_database_backend();
    let mut sql = Sql::new("");
    let of = sql.any(backend, "order_id", Column::BigInt, ids);
    sql.push(&format!("SELECT * FROM conversions WHERE {of}"));
    let found = conversion::Entity::find().from_raw_sql(sql.build(backend)).all(txn).await?;
    Ok(found.into_iter().map(|c| (c.order_id, c)).collect())
}
