//! Live updates: the outbox events of the caller's brand (optionally of one campaign), each
//! resolved to objects once per group of identical subscriptions (`live::hub`), which
//! puts the event being published in the request's data. Executed without an event, a
//! subscription is only checked, and records what it wants (`Wanting`) for a replay.
use std::sync::{Arc, Mutex};

use async_graphql::{Context, ID, Object, Result, Subscription};
use futures_util::Stream;

use super::scalars::DateTime;
use super::types::*;
use crate::domain::error::{DomainError, Thing};
use crate::domain::outbox::{ConversionApprovalChanged, OrderStatusChanged};
use crate::domain::{approval, campaigns, orders};
use crate::error::{AppError, bad_input};
use crate::events::{CURSOR_LIFETIME, Position};
use crate::ids::{self, Kind};
use entity::enums::EventKind;
use entity::event;

pub struct Subscription;

/// The event a live execution publishes, and its cursor; without one, an execution only
/// checks that the subscription can run.
pub struct CurrentEvent {
    pub event: Arc<event::Model>,
    pub cursor: String,
}

/// What a checked subscription wants: events of one kind, of one campaign or all, and
/// those after a cursor first.
#[derive(Clone, Debug)]
pub struct Wants {
    pub kind: EventKind,
    pub campaign: Option<i64>,
    pub after: Option<Position>,
}

/// Where a checked subscription records its `Wants`.
#[derive(Default)]
pub struct Wanting(pub Mutex<Option<Wants>>);

pub struct OrderStatusChange {
    order: entity::order::Model,
    change: OrderStatusChanged,
    cursor: String,
}

/// A change of an order's status, as orderStatusChanged pushes it.
#[Object]
impl OrderStatusChange {
    /// The order, as it is when the change is pushed.
    async fn order(&self) -> Order {
        Order(self.order.clone())
    }
    /// The status before the change; null when the order was first seen.
    async fn previous_status(&self) -> Option<OrderStatus> {
        self.change.previous_status.map(Into::into)
    }
    /// The new status.
    async fn status(&self) -> OrderStatus {
        self.change.status.into()
    }
    /// The event time of the change in the store (the order's statusChangedAt then).
    async fn changed_at(&self) -> DateTime {
        DateTime(self.change.changed_at)
    }
    /// Where this change stands in the brand's stream of changes: pass it as `after` to
    /// resume from here.
    async fn cursor(&self) -> String {
        self.cursor.clone()
    }
}

/// The event of this execution if this subscription wants it: of `kind`, of the caller's
/// brand and of the campaign asked for. Without an event (a subscription being checked),
/// a campaign that does not exist for the brand and a cursor that is not one, or is too
/// old to resume from, are refused, and what the subscription wants is recorded.
async fn wanted(
    ctx: &Context<'_>,
    kind: EventKind,
    campaign_id: Option<&ID>,
    after: Option<&str>,
) -> Result<Option<Arc<CurrentEvent>>> {
    let who = caller(ctx);
    let campaign = match campaign_id {
        None => None,
        Some(id) => Some(ids::decode(Kind::Campaign, id).ok_or(DomainError::NotFound(Thing::Campaign))?),
    };
    let Some(current) = ctx.data_opt::<Arc<CurrentEvent>>() else {
        if let Some(campaign) = campaign {
            campaigns::find(&who.db, who.brand_id(), campaign).await?.ok_or(DomainError::NotFound(Thing::Campaign))?;
        }
        let after = after.map(resume_point).transpose()?;
        if let Some(wanting) = ctx.data_opt::<Arc<Wanting>>() {
            *wanting.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Wants { kind, campaign, after });
        }
        return Ok(None);
    };
    let event = &current.event;
    let matches =
        event.brand_id == who.brand_id().0 && event.kind == kind && campaign.is_none_or(|c| c == event.campaign_id);
    Ok(matches.then(|| current.clone()))
}

/// The position an `after` cursor names, if it is one and still young enough to resume from.
fn resume_point(after: &str) -> Result<Position, AppError> {
    let position = Position::decode(after)
        .ok_or_else(|| bad_input("after", "after is not a cursor of a pushed change (its `cursor`)"))?;
    let oldest = crate::domain::time::now() - CURSOR_LIFETIME.as_millis() as i64;
    if position.at < oldest {
        return Err(AppError::CursorExpired(format!(
            "the cursor is older than {} days, so changes since may be gone: fetch current state, then \
             subscribe without after",
            CURSOR_LIFETIME.as_secs() / 86_400
        )));
    }
    Ok(position)
}

/// Live changes of the brand, over the websocket at /graphql/ws (graphql-transport-ws, or
/// the legacy graphql-ws), with the API key sent in connection_init. ADMIN and VIEWER keys
/// may both subscribe. Subscribing is refused with NOT_FOUND for a campaignId that is not
/// one of the brand's, BAD_USER_INPUT for an `after` that is not a cursor, and
/// CURSOR_EXPIRED for one too old to resume from.
#[Subscription]
impl Subscription {
    /// Every applied order status change (the first sighting too, previousStatus null).
    /// Events too late to change a status, repeats, and amount-only updates push nothing.
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only changes of orders of this campaign.")] campaign_id: Option<ID>,
        #[graphql(desc = "Resume: first every change after this cursor (a pushed change's `cursor`), in \
                          commit order, then live, with no gaps and no duplicates. A cursor stays good for \
                          7 days; an older one is refused with CURSOR_EXPIRED.")]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<OrderStatusChange>> + use<>> {
        let mut change = None;
        if let Some(current) =
            wanted(ctx, EventKind::OrderStatusChanged, campaign_id.as_ref(), after.as_deref()).await?
        {
            let who = caller(ctx);
            let payload: OrderStatusChanged =
                serde_json::from_str(&current.event.payload).map_err(anyhow::Error::from)?;
            if let Some(order) = orders::find(&who.db, who.brand_id(), payload.order_id).await? {
                change = Some(Ok(OrderStatusChange { order, change: payload, cursor: current.cursor.clone() }));
            }
        }
        Ok(futures_util::stream::iter(change))
    }

    /// The conversion after every reject or undo; each push's `extensions.cursor` resumes
    /// from it.
    async fn conversion_approval_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only conversions of this campaign.")] campaign_id: Option<ID>,
        #[graphql(desc = "Resume: first every change after this cursor (a push's `extensions.cursor`), in \
                          commit order, then live, with no gaps and no duplicates. A cursor stays good for \
                          7 days; an older one is refused with CURSOR_EXPIRED.")]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Conversion>> + use<>> {
        let mut conversion = None;
        if let Some(current) =
            wanted(ctx, EventKind::ConversionApprovalChanged, campaign_id.as_ref(), after.as_deref()).await?
        {
            let who = caller(ctx);
            let payload: ConversionApprovalChanged =
                serde_json::from_str(&current.event.payload).map_err(anyhow::Error::from)?;
            if let Some(row) = approval::find(&who.db, who.brand_id(), payload.conversion_id).await? {
                conversion = Some(Ok(Conversion(row)));
            }
        }
        Ok(futures_util::stream::iter(conversion))
    }
}
