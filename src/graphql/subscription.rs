//! Live updates: the outbox events of the caller's brand (optionally of one campaign), each
//! resolved to objects once per group of identical subscriptions (`live::hub`), which
//! puts the event being published in the request's data.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, Subscription};
use futures_util::Stream;

use super::connection;
use super::scalars::DateTime;
use super::types::*;
use crate::domain::error::{DomainError, Thing};
use crate::domain::outbox::{ConversionApprovalChanged, OrderStatusChanged};
use crate::domain::{approval, campaigns, orders};
use crate::ids::{self, Kind};
use entity::enums::EventKind;
use entity::event;

pub struct Subscription;

/// The event a live execution publishes; without one, an execution only checks that the
/// subscription can run.
pub struct CurrentEvent(pub Arc<event::Model>);

pub struct OrderStatusChange {
    order: entity::order::Model,
    change: OrderStatusChanged,
    event: i64,
}

#[Object]
impl OrderStatusChange {
    async fn order(&self) -> Order {
        Order(self.order.clone())
    }
    async fn previous_status(&self) -> Option<OrderStatus> {
        self.change.previous_status.map(Into::into)
    }
    async fn status(&self) -> OrderStatus {
        self.change.status.into()
    }
    async fn changed_at(&self) -> DateTime {
        DateTime(self.change.changed_at)
    }
    /// Where this change stands in the brand's stream of changes: pass it as `after` to
    /// resume from here.
    async fn cursor(&self) -> String {
        connection::event_cursor(self.event)
    }
}

/// The event of this execution if this subscription wants it: of `kind`, of the caller's
/// brand and of the campaign asked for. Without an event (a subscription being checked),
/// a campaign that does not exist for the brand is refused.
async fn wanted(ctx: &Context<'_>, kind: EventKind, campaign_id: Option<&ID>) -> Result<Option<Arc<event::Model>>> {
    let who = caller(ctx);
    let campaign = match campaign_id {
        None => None,
        Some(id) => Some(ids::decode(Kind::Campaign, id).ok_or(DomainError::NotFound(Thing::Campaign))?),
    };
    let Some(CurrentEvent(event)) = ctx.data_opt::<CurrentEvent>() else {
        if let Some(campaign) = campaign {
            campaigns::find(&who.db, who.brand_id(), campaign).await?.ok_or(DomainError::NotFound(Thing::Campaign))?;
        }
        return Ok(None);
    };
    let matches =
        event.brand_id == who.brand_id().0 && event.kind == kind && campaign.is_none_or(|c| c == event.campaign_id);
    Ok(matches.then(|| event.clone()))
}

#[Subscription]
impl Subscription {
    /// Every applied order status change (the first sighting too, previousStatus null).
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        campaign_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<OrderStatusChange>> + use<>> {
        let mut change = None;
        if let Some(event) = wanted(ctx, EventKind::OrderStatusChanged, campaign_id.as_ref()).await? {
            let who = caller(ctx);
            let payload: OrderStatusChanged = serde_json::from_str(&event.payload).map_err(anyhow::Error::from)?;
            if let Some(order) = orders::find(&who.db, who.brand_id(), payload.order_id).await? {
                change = Some(Ok(OrderStatusChange { order, change: payload, event: event.id }));
            }
        }
        Ok(futures_util::stream::iter(change))
    }

    /// The conversion after every reject or undo.
    async fn conversion_approval_changed(
        &self,
        ctx: &Context<'_>,
        campaign_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<Conversion>> + use<>> {
        let mut conversion = None;
        if let Some(event) = wanted(ctx, EventKind::ConversionApprovalChanged, campaign_id.as_ref()).await? {
            let who = caller(ctx);
            let payload: ConversionApprovalChanged =
                serde_json::from_str(&event.payload).map_err(anyhow::Error::from)?;
            if let Some(row) = approval::find(&who.db, who.brand_id(), payload.conversion_id).await? {
                conversion = Some(Ok(Conversion(row)));
            }
        }
        Ok(futures_util::stream::iter(conversion))
    }
}
