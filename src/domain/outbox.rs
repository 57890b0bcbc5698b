//! The outbox: every announced change is a row written in the same transaction as the
//! change, so an event exists exactly when its change committed. Publishing reads it.
use sea_orm::{ActiveEnum, ConnectionTrait, DbBackend, Value};
use serde::{Deserialize, Serialize};

use super::time;
use crate::db::{Batch, Column};
use crate::domain::error::DomainResult;
use entity::enums::{Approval, EventKind, OrderStatus};
use entity::event;

/// The PostgreSQL NOTIFY channel; its notifications carry nothing but the wake-up.
pub const CHANNEL: &str = "tally_events";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatusChanged {
    pub order_id: i64,
    pub previous_status: Option<OrderStatus>,
    pub status: OrderStatus,
    pub changed_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConversionApprovalChanged {
    pub conversion_id: i64,
    pub approval: Approval,
    pub at: i64,
}

/// Keys that stopped working: their open websockets are closed (4403).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeysRevoked {
    pub key_ids: Vec<i64>,
}

/// Writes an event in the caller's transaction. Announce it after the commit
/// (`events::Bus::announce` in a server, `wake_replicas` elsewhere), never inside it.
pub async fn append(
    db: &impl ConnectionTrait,
    brand_id: i64,
    campaign_id: i64,
    kind: EventKind,
    payload: &impl Serialize,
) -> DomainResult<()> {
    append_all(db, kind, [(brand_id, campaign_id, payload)]).await
}

/// `append` for several events of one kind, each `(brand, campaign, payload)`, in one
/// statement, in the order given (nothing for none).
pub async fn append_all<P: Serialize>(
    db: &impl ConnectionTrait,
    kind: EventKind,
    events: impl IntoIterator<Item = (i64, i64, P)>,
) -> DomainResult<()> {
    let events: Vec<_> = events.into_iter().collect();
    if events.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new(db.get_database_backend());
    write_all(&mut batch, kind, events)?;
    batch.run(db).await?;
    Ok(())
}

/// `append_all` as a part of the caller's batch.
pub fn write_all<P: Serialize>(
    batch: &mut Batch,
    kind: EventKind,
    events: impl IntoIterator<Item = (i64, i64, P)>,
) -> DomainResult<()> {
    let rows: Vec<Vec<Value>> = events
        .into_iter()
        .map(|(brand_id, campaign_id, payload)| {
            let payload = serde_json::to_string(&payload).map_err(anyhow::Error::from)?;
            Ok(vec![brand_id.into(), campaign_id.into(), payload.into()])
        })
        .collect::<DomainResult<_>>()?;
    let backend = batch.backend();
    batch.add(rows.len(), |sql| {
        let columns = [("brand_id", Column::BigInt), ("campaign_id", Column::BigInt), ("payload", Column::Text)];
        let rows = sql.rows(backend, &columns, rows);
        let (kind, now) = (sql.bind(kind.to_value()), sql.bind(time::now()));
        format!(
            "INSERT INTO events (brand_id, campaign_id, kind, payload, created_at) \
             SELECT v.brand_id, v.campaign_id, {kind}, v.payload, {now} FROM {rows}"
        )
    });
    Ok(())
}

/// Wakes every replica's bus to read the outbox (PostgreSQL; SQLite's buses poll). Sent
/// on its own, after the commit of the events it announces: a transaction that notifies
/// takes PostgreSQL's one notification lock at its commit, so all such commits queue.
pub async fn wake_replicas(db: &impl ConnectionTrait) -> DomainResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        // A function call, so SQL.
        let stmt =
            sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, "SELECT pg_notify($1, '')", [CHANNEL.into()]);
        db.execute_raw(stmt).await?;
    }
    Ok(())
}

/// Which of a brand's events a resuming subscriber missed: of `kind` (and `campaign`), with
/// an id above `above` and at most `through`, or one of `also` (ids that were still
/// uncommitted when it passed them), after `from_id`, in id order, at most `limit`.
pub struct Missed<'a> {
    pub brand_id: i64,
    pub kind: EventKind,
    pub campaign_id: Option<i64>,
    pub above: i64,
    pub through: i64,
    pub also: &'a [i64],
}

pub async fn missed(
    db: &impl ConnectionTrait,
    missed: &Missed<'_>,
    from_id: i64,
    limit: u64,
) -> DomainResult<Vec<event::Model>> {
    use sea_orm::sea_query::ExprTrait;
    use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut which = Condition::any().add(event::Column::Id.gt(missed.above).and(event::Column::Id.lte(missed.through)));
    if !missed.also.is_empty() {
        which = which.add(event::Column::Id.is_in(missed.also.iter().copied()));
    }
    let mut query = event::Entity::find()
        .filter(event::Column::BrandId.eq(missed.brand_id))
        .filter(event::Column::Kind.eq(missed.kind))
        .filter(event::Column::Id.gt(from_id))
        .filter(which);
    if let Some(campaign) = missed.campaign_id {
        query = query.filter(event::Column::CampaignId.eq(campaign));
    }
    Ok(query.order_by_asc(event::Column::Id).limit(limit).all(db).await?)
}
