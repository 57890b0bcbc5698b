//! The write side of SPEC §2. Every mutation needs an ADMIN key.
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use sea_orm::ActiveEnum;

use super::scalars::{DateTime, Decimal};
use super::types::*;
use crate::domain::approval::{self, Approval};
use crate::domain::orders::{OrderEvent, RawOrderEvent};
use crate::domain::{campaigns, creators, memberships, orders, performance, time};
use crate::error::{AppResult, not_found};
use crate::http::caller::Caller;
use crate::ids::{self, Kind};

pub struct Mutation;

#[derive(InputObject)]
pub struct CreateCreatorInput {
    pub name: String,
    pub handle: Option<String>,
    pub email: Option<String>,
}

#[derive(InputObject)]
pub struct CreateCampaignInput {
    pub name: String,
    /// Percent, 0 to 100; 0 when omitted.
    pub default_commission_rate: Option<Decimal>,
}

#[derive(InputObject)]
pub struct AddCreatorToCampaignInput {
    pub campaign_id: ID,
    pub creator_id: ID,
    pub coupon_code: Option<String>,
    pub affiliate_code: Option<String>,
    /// Percent, 0 to 100; the campaign's default when omitted.
    pub commission_rate: Option<Decimal>,
    /// Added to every conversion, in the brand's currency; 0 when omitted.
    pub commission_flat: Option<Decimal>,
}

#[derive(InputObject)]
pub struct OrderEventInput {
    pub external_id: String,
    /// Subtotal after discounts, before tax and shipping.
    pub amount: Decimal,
    pub currency: String,
    pub status: OrderStatus,
    pub occurred_at: DateTime,
    /// Defaults to occurredAt on the first event of an order.
    pub ordered_at: Option<DateTime>,
    pub coupon_code: Option<String>,
    pub referral_code: Option<String>,
}

#[derive(SimpleObject)]
pub struct ConversionPayload {
    pub conversion: Conversion,
    /// The creator's row in that campaign after the change; null if no longer a member.
    pub performance: Option<CreatorPerformance>,
}

fn admin<'a>(ctx: &Context<'a>) -> AppResult<&'a Caller> {
    let r = caller(ctx);
    r.principal.require_admin()?;
    Ok(r)
}

/// Tells this process's event bus that a change was committed, so it reads the outbox
/// now instead of at its next poll.
fn announce(ctx: &Context<'_>) {
    if let Some(events) = ctx.data_opt::<crate::events::Bus>() {
        events.announce();
    }
}

fn id_of(kind: Kind, id: &ID, what: &str) -> AppResult<i64> {
    ids::decode(kind, id).ok_or_else(|| not_found(what))
}

async fn review(ctx: &Context<'_>, id: &ID, to: Approval, reason: Option<&str>) -> Result<ConversionPayload> {
    let r = admin(ctx)?;
    let conversion_id = id_of(Kind::Conversion, id, "conversion")?;
    let updated = approval::review(&r.db, &r.principal, conversion_id, to, reason).await?;
    announce(ctx);
    let rows = performance::campaign_rows(
        &r.db,
        r.brand_id(),
        updated.campaign_id,
        Default::default(),
        Some(updated.creator_id),
    )
    .await?;
    Ok(ConversionPayload {
        conversion: Conversion(updated),
        performance: rows.into_iter().next().map(|row| CreatorPerformance::new(r, row)).transpose()?,
    })
}

#[Object]
impl Mutation {
    /// APPROVED → REJECTED; anything else is INVALID_TRANSITION.
    async fn reject_conversion(&self, ctx: &Context<'_>, id: ID, reason: Option<String>) -> Result<ConversionPayload> {
        review(ctx, &id, Approval::Rejected, reason.as_deref()).await
    }

    /// REJECTED → APPROVED; anything else is INVALID_TRANSITION.
    async fn undo_rejection(&self, ctx: &Context<'_>, id: ID) -> Result<ConversionPayload> {
        review(ctx, &id, Approval::Approved, None).await
    }

    async fn create_creator(&self, ctx: &Context<'_>, input: CreateCreatorInput) -> Result<Creator> {
        let r = admin(ctx)?;
        let new =
            creators::NewCreator { name: &input.name, handle: input.handle.as_deref(), email: input.email.as_deref() };
        Ok(Creator(creators::create(&r.db, r.brand_id(), new).await?))
    }

    /// Soft delete: the creator leaves every Performance table; their sales stay in the dashboard.
    async fn delete_creator(&self, ctx: &Context<'_>, id: ID) -> Result<Creator> {
        let r = admin(ctx)?;
        let row = id_of(Kind::Creator, &id, "creator")?;
        Ok(Creator(creators::delete(&r.db, r.brand_id(), row).await?))
    }

    async fn create_campaign(&self, ctx: &Context<'_>, input: CreateCampaignInput) -> Result<Campaign> {
        let r = admin(ctx)?;
        let rate = input.default_commission_rate.as_ref().map(|d| d.0.as_str());
        Ok(Campaign(campaigns::create(&r.db, r.brand_id(), &input.name, rate).await?))
    }

    async fn add_creator_to_campaign(&self, ctx: &Context<'_>, input: AddCreatorToCampaignInput) -> Result<Membership> {
        let r = admin(ctx)?;
        let new = memberships::NewMembership {
            campaign_id: id_of(Kind::Campaign, &input.campaign_id, "campaign")?,
            creator_id: id_of(Kind::Creator, &input.creator_id, "creator")?,
            coupon_code: input.coupon_code.as_deref(),
            affiliate_code: input.affiliate_code.as_deref(),
            commission_rate: input.commission_rate.as_ref().map(|d| d.0.as_str()),
            commission_flat: input.commission_flat.as_ref().map(|d| d.0.as_str()),
        };
        Ok(Membership::of(memberships::add(&r.db, r.brand_id(), r.currency, new).await?))
    }

    /// Soft removal: sets removedAt. Adding the creator again later makes a fresh membership.
    async fn remove_creator_from_campaign(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
        creator_id: ID,
    ) -> Result<Membership> {
        let r = admin(ctx)?;
        let campaign = id_of(Kind::Campaign, &campaign_id, "campaign")?;
        let creator = id_of(Kind::Creator, &creator_id, "creator")?;
        Ok(Membership::of(memberships::remove(&r.db, r.brand_id(), campaign, creator).await?))
    }

    /// Records a store order event; null when no membership matches (nothing is stored).
    async fn record_order_event(&self, ctx: &Context<'_>, input: OrderEventInput) -> Result<Option<Order>> {
        let r = admin(ctx)?;
        let raw = RawOrderEvent {
            external_id: input.external_id,
            amount: input.amount.0,
            currency: input.currency,
            status: orders::OrderStatus::from(input.status).to_value(),
            occurred_at: time::format(input.occurred_at.0),
            ordered_at: input.ordered_at.map(|t| time::format(t.0)),
            coupon_code: input.coupon_code,
            referral_code: input.referral_code,
        };
        let event = OrderEvent::parse(&raw, r.currency, "graphql")?;
        // Every operation runs with the server's writer (`exec::execute`).
        let recorded = ctx.data::<orders::Writer>()?.record(r.brand_id(), r.currency, event).await?;
        if recorded.announced {
            announce(ctx);
        }
        Ok(recorded.order.map(Order))
    }
}
