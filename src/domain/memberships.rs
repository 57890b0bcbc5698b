//! Membership of creators in campaigns, with their codes and commission terms.
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::money::{Currency, Rate};
use super::{BrandId, campaigns, creators, text, time};
use crate::error::{AppError, AppResult, bad_input, not_found};
use entity::membership;

pub struct NewMembership<'a> {
    pub campaign_id: i64,
    pub creator_id: i64,
    pub coupon_code: Option<&'a str>,
    pub affiliate_code: Option<&'a str>,
    pub commission_rate: Option<&'a str>,
    pub commission_flat: Option<&'a str>,
}

pub async fn add(
    db: &impl ConnectionTrait,
    brand: BrandId,
    currency: Currency,
    input: NewMembership<'_>,
) -> AppResult<membership::Model> {
    let campaign = campaigns::find(db, brand, input.campaign_id).await?.ok_or_else(|| not_found("campaign"))?;
    let creator = creators::find(db, brand, input.creator_id).await?.ok_or_else(|| not_found("creator"))?;
    if creator.deleted_at.is_some() {
        return Err(bad_input("creatorId", "this creator was deleted from the community"));
    }
    let coupon = text::code("couponCode", input.coupon_code)?;
    let affiliate = text::code("affiliateCode", input.affiliate_code)?;
    let rate = match input.commission_rate {
        Some(r) => Rate::parse(r).map_err(|m| bad_input("commissionRate", m))?,
        None => Rate::from_scaled(campaign.default_commission_rate),
    };
    let flat = match input.commission_flat {
        Some(f) => currency.parse_amount(f).map_err(|m| bad_input("commissionFlat", m))?,
        None => 0,
    };
    if current(db, campaign.id, creator.id).await?.is_some() {
        return Err(bad_input("creatorId", "this creator is already a member of the campaign"));
    }
    let active = membership::Entity::find()
        .filter(membership::Column::BrandId.eq(brand.0))
        .filter(membership::Column::RemovedAt.is_null());
    if let Some(c) = &coupon {
        let taken = active.clone().filter(membership::Column::CouponKey.eq(c.to_uppercase())).one(db).await?;
        if taken.is_some() {
            return Err(bad_input("couponCode", format!("coupon code '{c}' is already in use")));
        }
    }
    if let Some(a) = &affiliate {
        let taken = active.filter(membership::Column::AffiliateCode.eq(a.as_str())).one(db).await?;
        if taken.is_some() {
            return Err(bad_input("affiliateCode", format!("affiliate code '{a}' is already in use")));
        }
    }
    let inserted = membership::ActiveModel {
        brand_id: Set(brand.0),
        campaign_id: Set(campaign.id),
        creator_id: Set(creator.id),
        coupon_key: Set(coupon.as_ref().map(|c| c.to_uppercase())),
        coupon_code: Set(coupon),
        affiliate_code: Set(affiliate),
        commission_rate: Set(rate.scaled()),
        commission_flat: Set(flat),
        joined_at: Set(time::now()),
        removed_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await;
    // A concurrent add can still win the race past the checks above; the index decides.
    inserted.map_err(|err| match text::unique_violation(&err) {
        Some(field) => bad_input(field, format!("{field} is already in use")),
        None => AppError::from(err),
    })
}

/// The creator's current (not removed) membership in the campaign.
pub async fn current(
    db: &impl ConnectionTrait,
    campaign_id: i64,
    creator_id: i64,
) -> AppResult<Option<membership::Model>> {
    Ok(membership::Entity::find()
        .filter(membership::Column::CampaignId.eq(campaign_id))
        .filter(membership::Column::CreatorId.eq(creator_id))
        .filter(membership::Column::RemovedAt.is_null())
        .one(db)
        .await?)
}

/// Soft removal; the membership and its orders stay for the dashboard and exports.
pub async fn remove(
    db: &impl ConnectionTrait,
    brand: BrandId,
    campaign_id: i64,
    creator_id: i64,
) -> AppResult<membership::Model> {
    campaigns::find(db, brand, campaign_id).await?.ok_or_else(|| not_found("campaign"))?;
    let found = current(db, campaign_id, creator_id)
        .await?
        .filter(|m| m.brand_id == brand.0)
        .ok_or_else(|| not_found("membership"))?;
    let mut active: membership::ActiveModel = found.into();
    active.removed_at = Set(Some(time::now()));
    Ok(active.update(db).await?)
}

/// Current members of a campaign whose creator is not deleted, in joining order.
pub async fn current_members(db: &impl ConnectionTrait, campaign_id: i64) -> AppResult<Vec<membership::Model>> {
    let rows = membership::Entity::find()
        .filter(membership::Column::CampaignId.eq(campaign_id))
        .filter(membership::Column::RemovedAt.is_null())
        .filter(
            membership::Column::CreatorId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(entity::creator::Column::Id)
                    .from(entity::creator::Entity)
                    .and_where(entity::creator::Column::DeletedAt.is_null())
                    .to_owned(),
            ),
        )
        .order_by_asc(membership::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// `storeUrl` with `?ref=<affiliateCode>` added, or None without either.
pub fn affiliate_link(store_url: Option<&str>, affiliate_code: Option<&str>) -> Option<String> {
    let mut url = url::Url::parse(store_url?).ok()?;
    url.query_pairs_mut().append_pair("ref", affiliate_code?);
    Some(url.to_string())
}
