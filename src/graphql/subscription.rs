//! Live updates over websockets: outbox events of the caller's brand, optionally of one
//! campaign, resolved to objects when they are pushed.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, Subscription};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::scalars::DateTime;
use super::types::*;
use super::ws::{Closer, TOO_SLOW};
use crate::domain::outbox::{ConversionApprovalChanged, OrderStatusChanged};
use crate::domain::{approval, orders};
use crate::events::Bus;
use crate::ids::{self, Kind};
use entity::enums::EventKind;
use entity::event;

pub struct Subscription;

pub struct OrderStatusChange {
    order: entity::order::Model,
    change: OrderStatusChanged,
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
}

/// The events of one kind for the caller's brand (and campaign), or an error that ends
/// the subscription when the subscriber fell too far behind.
fn events(
    ctx: &Context<'_>,
    kind: EventKind,
    campaign_id: Option<ID>,
) -> Result<impl Stream<Item = Result<Arc<event::Model>>> + use<>> {
    let brand = caller(ctx).brand_id().0;
    let campaign = campaign_id.map(|id| ids::decode(Kind::Campaign, &id).unwrap_or(0));
    let bus = ctx.data::<Bus>()?;
    let closer = ctx.data_opt::<Closer>().cloned();
    let stream = BroadcastStream::new(bus.subscribe());
    Ok(stream
        .take_while(move |item| {
            let lagged = matches!(item, Err(BroadcastStreamRecvError::Lagged(_)));
            if lagged {
                // Dropping events silently would be worse than telling the client to
                // reconnect and re-read: close the whole connection with a clear code.
                if let Some(c) = &closer {
                    c.close(TOO_SLOW, "Subscriber too slow: events were missed; reconnect and refetch");
                }
            }
            async move { !lagged }
        })
        .filter_map(move |item| async move {
            let e = item.ok()?;
            let wanted = e.brand_id == brand && e.kind == kind && campaign.is_none_or(|c| c == e.campaign_id);
            wanted.then_some(Ok(e))
        }))
}

#[Subscription]
impl Subscription {
    /// Every applied order status change (the first sighting too, previousStatus null).
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        campaign_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<OrderStatusChange>> + use<>> {
        let r = caller(ctx);
        let (db, brand) = (r.db.clone(), r.brand_id());
        Ok(events(ctx, EventKind::OrderStatusChanged, campaign_id)?.filter_map(move |e| {
            let db = db.clone();
            async move {
                let e = e.ok()?;
                let change: OrderStatusChanged = serde_json::from_str(&e.payload).ok()?;
                let order = orders::find(&db, brand, change.order_id).await.ok()??;
                Some(Ok(OrderStatusChange { order, change }))
            }
        }))
    }

    /// The conversion after every reject or undo.
    async fn conversion_approval_changed(
        &self,
        ctx: &Context<'_>,
        campaign_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<Conversion>> + use<>> {
        let r = caller(ctx);
        let (db, brand) = (r.db.clone(), r.brand_id());
        Ok(events(ctx, EventKind::ConversionApprovalChanged, campaign_id)?.filter_map(move |e| {
            let db = db.clone();
            async move {
                let e = e.ok()?;
                let change: ConversionApprovalChanged = serde_json::from_str(&e.payload).ok()?;
                let conversion = approval::find(&db, brand, change.conversion_id).await.ok()??;
                Some(Ok(Conversion(conversion)))
            }
        }))
    }
}
