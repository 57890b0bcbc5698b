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

/// A new creator of the brand's community. Text is trimmed, and control characters are
/// refused.
#[derive(InputObject)]
pub struct CreateCreatorInput {
    /// The creator's display name: required, not blank, at most 200 characters.
    pub name: String,
    /// The creator's social handle, e.g. "@ana": at most 100 characters; omitted, null or
    /// blank means none.
    pub handle: Option<String>,
    /// The creator's contact email, an address like ana@example.com: at most 254
    /// characters; omitted, null or blank means none.
    pub email: Option<String>,
}

/// A new campaign of the brand.
#[derive(InputObject)]
pub struct CreateCampaignInput {
    /// The campaign's name: required, not blank, at most 200 characters (trimmed).
    pub name: String,
    /// The commission rate, in percent ("12.5" means 12.5%), that creators added without a
    /// rate of their own get: 0 to 100 with at most 4 decimals; 0 when omitted or null.
    pub default_commission_rate: Option<Decimal>,
}

/// A creator joining a campaign, with the codes that will attribute orders to them and
/// their commission terms. Each order's commission is computed from these terms when the
/// order is first recorded, and never rewritten.
#[derive(InputObject)]
pub struct AddCreatorToCampaignInput {
    /// The campaign to join.
    pub campaign_id: ID,
    /// The creator to add: not deleted, and not already a current member of the campaign.
    pub creator_id: ID,
    /// A coupon code that attributes orders to this member: letters, digits, `-` and `_`,
    /// at most 64 characters, compared case-insensitively. No other current membership of
    /// the brand, in any campaign, may hold it. Omitted, null or blank: none.
    pub coupon_code: Option<String>,
    /// The code of the member's affiliate link (the store URL with `?ref=<code>`): letters,
    /// digits, `-` and `_`, at most 64 characters. No other current membership of the brand
    /// may hold it. Omitted, null or blank: none.
    pub affiliate_code: Option<String>,
    /// Percent of each attributed order's amount earned as commission ("12.5" means
    /// 12.5%): 0 to 100 with at most 4 decimals; the campaign's defaultCommissionRate when
    /// omitted or null.
    pub commission_rate: Option<Decimal>,
    /// A fixed amount added to the commission of every attributed order, in the brand's
    /// currency with at most its minor-unit digits ("2.50" in USD); 0 when omitted or null.
    pub commission_flat: Option<Decimal>,
}

/// One status event of an order in the brand's store, as a store integration reports it
/// (the signed JSON webhook takes the same fields). The first event of an order attributes
/// it and creates its conversion; later events with the same externalId update it.
#[derive(InputObject)]
pub struct OrderEventInput {
    /// The store's own id of the order: every event about one order carries the same one.
    /// Required, at most 255 characters.
    pub external_id: String,
    /// The order's subtotal after discounts, before tax and shipping, in the brand's
    /// currency: non-negative, with at most the currency's minor-unit digits ("19.99" in
    /// USD). A newer event updates the order's amount; the commission stays as computed
    /// from the first event.
    pub amount: Decimal,
    /// The ISO 4217 code of the amount, e.g. "USD": it must be the brand's currency.
    pub currency: String,
    /// The order's status as of occurredAt.
    pub status: OrderStatus,
    /// When the status took effect in the store (the event time, not the sending time): at
    /// most a day ahead of the server's clock. Events apply in event-time order, so an
    /// event older than the order's latest one only joins its history.
    pub occurred_at: DateTime,
    /// When the order was placed; read only on the order's first event, and occurredAt
    /// when omitted. At most a day ahead of the server's clock.
    pub ordered_at: Option<DateTime>,
    /// The coupon code the customer used, if any; compared case-insensitively with the
    /// memberships' coupon codes. At most 255 characters.
    pub coupon_code: Option<String>,
    /// The affiliate code the customer came with (the `ref` parameter of the landing URL),
    /// if any; compared exactly with the memberships' affiliate codes. At most 255
    /// characters.
    pub referral_code: Option<String>,
}

/// The outcome of an approval change.
#[derive(SimpleObject)]
pub struct ConversionPayload {
    /// The conversion after the change.
    pub conversion: Conversion,
    /// The creator's row of the campaign's Performance table (all time) after the change;
    /// null if they are no longer a current member.
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

/// Changes to the brand's data. Every mutation needs an ADMIN key: a VIEWER key is refused
/// with FORBIDDEN and nothing changes. Refused input answers BAD_USER_INPUT, with
/// `extensions.field` naming the input at fault; an id that is not one of the brand's
/// answers NOT_FOUND.
#[Object]
impl Mutation {
    /// APPROVED → REJECTED; anything else is INVALID_TRANSITION. The conversion stops
    /// earning commission; the change is recorded as a review and pushed to
    /// conversionApprovalChanged. Errors: FORBIDDEN (VIEWER key), NOT_FOUND (no such
    /// conversion), INVALID_TRANSITION (already REJECTED; nothing changes), BAD_USER_INPUT
    /// (reason).
    async fn reject_conversion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversion's global id.")] id: ID,
        #[graphql(desc = "Why it is rejected, shown as rejectionReason and in the review: at most 500 \
                          characters; omitted, null or blank means none.")]
        reason: Option<String>,
    ) -> Result<ConversionPayload> {
        review(ctx, &id, Approval::Rejected, reason.as_deref()).await
    }

    /// REJECTED → APPROVED; anything else is INVALID_TRANSITION. The conversion earns its
    /// commission again (while its order is PAID) and its rejectionReason is cleared; the
    /// change is recorded as a review and pushed to conversionApprovalChanged. Errors:
    /// FORBIDDEN (VIEWER key), NOT_FOUND (no such conversion), INVALID_TRANSITION (already
    /// APPROVED; nothing changes).
    async fn undo_rejection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversion's global id.")] id: ID,
    ) -> Result<ConversionPayload> {
        review(ctx, &id, Approval::Approved, None).await
    }

    /// Adds a creator to the brand's community. Errors: FORBIDDEN (VIEWER key),
    /// BAD_USER_INPUT (name, handle or email).
    async fn create_creator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new creator.")] input: CreateCreatorInput,
    ) -> Result<Creator> {
        let r = admin(ctx)?;
        let new =
            creators::NewCreator { name: &input.name, handle: input.handle.as_deref(), email: input.email.as_deref() };
        Ok(Creator(creators::create(&r.db, r.brand_id(), new).await?))
    }

    /// Soft delete: the creator leaves every Performance table; their sales stay in the dashboard.
    /// Sets deletedAt; `creators` then lists the creator only with includeDeleted, and they
    /// cannot join a campaign again. Deleting a deleted creator changes nothing. Errors: FORBIDDEN
    /// (VIEWER key), NOT_FOUND (no such creator).
    async fn delete_creator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The creator's global id.")] id: ID,
    ) -> Result<Creator> {
        let r = admin(ctx)?;
        let row = id_of(Kind::Creator, &id, "creator")?;
        Ok(Creator(creators::delete(&r.db, r.brand_id(), row).await?))
    }

    /// Creates a campaign without members. Errors: FORBIDDEN (VIEWER key), BAD_USER_INPUT
    /// (name or defaultCommissionRate).
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new campaign.")] input: CreateCampaignInput,
    ) -> Result<Campaign> {
        let r = admin(ctx)?;
        let rate = input.default_commission_rate.as_ref().map(|d| d.0.as_str());
        Ok(Campaign(campaigns::create(&r.db, r.brand_id(), &input.name, rate).await?))
    }

    /// Makes a creator a current member of a campaign, with their codes and commission
    /// terms. Errors: FORBIDDEN (VIEWER key), NOT_FOUND (campaign or creator),
    /// BAD_USER_INPUT with `extensions.field` one of creatorId (deleted, or already a current
    /// member), couponCode or affiliateCode (malformed, or held by another current
    /// membership), commissionRate, commissionFlat.
    async fn add_creator_to_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign, the creator, their codes and their terms.")] input: AddCreatorToCampaignInput,
    ) -> Result<Membership> {
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
    /// The member leaves the campaign's members, Performance table and orders, and frees
    /// their codes; their orders stay in the dashboard and the all-sales export. Errors:
    /// FORBIDDEN (VIEWER key), NOT_FOUND (no such campaign, or the creator is not a current
    /// member of it).
    async fn remove_creator_from_campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign's global id.")] campaign_id: ID,
        #[graphql(desc = "The global id of the creator to remove.")] creator_id: ID,
    ) -> Result<Membership> {
        let r = admin(ctx)?;
        let campaign = id_of(Kind::Campaign, &campaign_id, "campaign")?;
        let creator = id_of(Kind::Creator, &creator_id, "creator")?;
        Ok(Membership::of(memberships::remove(&r.db, r.brand_id(), campaign, creator).await?))
    }

    /// Records a store order event; null when no membership matches (nothing is stored).
    /// A new order is attributed by its coupon code (which wins) or its referral code, each
    /// looked up among the brand's memberships: the current holder of the code, else the
    /// last one that held it. Events apply in event-time order; a repeated event changes
    /// nothing. Each status change is pushed to orderStatusChanged. Errors: FORBIDDEN
    /// (VIEWER key), BAD_USER_INPUT (a field of the input, e.g. a currency other than the
    /// brand's).
    async fn record_order_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event, as the store reports it.")] input: OrderEventInput,
    ) -> Result<Option<Order>> {
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
