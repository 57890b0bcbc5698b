//! The outbox: every announced change is a row written in the same transaction as the
//! change, so an event exists exactly when its change committed. Publishing reads it.
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, Set};
use serde::{Deserialize, Serialize};

use super::time;
use crate::domain::error::DomainResult;
use entity::enums::{Approval, EventKind, OrderStatus};
use entity::event;

/// The PostgreSQL NOTIFY channel; payloads carry only the brand id.
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

pub async fn append(
    db: &impl ConnectionTrait,
    brand_id: i64,
    campaign_id: i64,
    kind: EventKind,
    payload: &impl Serialize,
) -> DomainResult<()> {
    let payload = serde_json::to_string(payload).map_err(anyhow::Error::from)?;
    event::ActiveModel {
        brand_id: Set(brand_id),
        campaign_id: Set(campaign_id),
        kind: Set(kind),
        payload: Set(payload),
        created_at: Set(time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Delivered by PostgreSQL only if and when this transaction commits. A function
        // call, so SQL.
        let stmt = sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), brand_id.to_string().into()],
        );
        db.execute_raw(stmt).await?;
    }
    Ok(())
}
