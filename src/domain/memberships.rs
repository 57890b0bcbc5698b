//! Membership of creators in campaigns, with their codes and commission terms.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    QuerySelect, RuntimeErr, Set, SqlErr,
};

use super::money::{Currency, Rate};
use super::{BrandId, campaigns, creators, text, time};
use crate::domain::error::{DomainError, DomainResult, Input, Thing, invalid, not_found};
use entity::{creator, membership};

/// Rule 6, the one place it is written: a campaign shows its current members (not
/// removed) whose creator is not deleted. Its readers: the member list below, the
/// Performance table (`performance`), and a campaign's orders, counts and export
/// (`orders::query::scoped`), which check the two halves where each row is at hand.
pub mod visible {
    /// The membership half, on the membership table or alias `m`.
    pub fn membership(m: &str) -> String {
        format!("{m}.removed_at IS NULL")
    }

    /// The creator half, on the member's creator table or alias `c`.
    pub fn creator(c: &str) -> String {
        format!("{c}.deleted_at IS NULL")
    }

    /// Both, for a statement holding a membership as `m` joined to its creator as `c`.
    pub fn sql(m: &str, c: &str) -> String {
        format!("{} AND {}", membership(m), creator(c))
    }
}

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
) -> DomainResult<membership::Model> {
    let campaign = campaigns::find(db, brand, input.campaign_id).await?.ok_or_else(|| not_found(Thing::Campaign))?;
    let creator = creators::find(db, brand, input.creator_id).await?.ok_or_else(|| not_found(Thing::Creator))?;
    if creator.deleted_at.is_some() {
        return Err(invalid(Input::Creator, "this creator was deleted from the community"));
    }
    let coupon = text::code(Input::CouponCode, input.coupon_code)?;
    let affiliate = text::code(Input::AffiliateCode, input.affiliate_code)?;
    let rate = match input.commission_rate {
        Some(r) => Rate::parse(r).map_err(|m| invalid(Input::CommissionRate, m))?,
        None => Rate::from_scaled(campaign.default_commission_rate),
    };
    let flat = match input.commission_flat {
        Some(f) => currency.parse_amount(f).map_err(|m| invalid(Input::CommissionFlat, m))?,
        None => 0,
    };
    let codes = Codes { brand, campaign: campaign.id, creator: creator.id, coupon: &coupon, affiliate: &affiliate };
    if let Some(taken) = codes.taken(db).await? {
        return Err(taken);
    }
    let inserted = membership::ActiveModel {
        brand_id: Set(brand.0),
        campaign_id: Set(campaign.id),
        creator_id: Set(creator.id),
        coupon_key: Set(coupon.as_ref().map(|c| c.to_uppercase())),
        coupon_code: Set(coupon.clone()),
        affiliate_code: Set(affiliate.clone()),
        commission_rate: Set(rate.scaled()),
        commission_flat: Set(flat),
        joined_at: Set(time::now()),
        removed_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(created) => Ok(created),
        // A concurrent add won the race past the checks above; the index decided.
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            match violated_index(&err).and_then(|name| INDEXES.iter().find(|(index, _)| *index == name)) {
                Some((_, input)) => Err(invalid(*input, format!("{} is already in use", input.label()))),
                // SQLite names the columns, not the index: ask again which code is taken.
                None => Err(codes.taken(db).await?.unwrap_or(DomainError::Unexpected(err.into()))),
            }
        }
        Err(err) => Err(err.into()),
    }
}

/// The partial unique indexes of memberships (migration 4), and the input each protects.
const INDEXES: [(&str, Input); 3] = [
    ("ux_memberships_active_coupon", Input::CouponCode),
    ("ux_memberships_active_affiliate", Input::AffiliateCode),
    ("ux_memberships_active_member", Input::Creator),
];

/// The name of the unique index a statement violated, where the database reports it
/// (PostgreSQL does; SQLite does not).
fn violated_index(err: &DbErr) -> Option<&str> {
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx))) = err else {
        return None;
    };
    sqlx.as_database_error()?.constraint()
}

/// What a new membership must not share with a current one.
struct Codes<'a> {
    brand: BrandId,
    campaign: i64,
    creator: i64,
    coupon: &'a Option<String>,
    affiliate: &'a Option<String>,
}

impl Codes<'_> {
    /// The refusal for the first of them already taken, if any.
    async fn taken(&self, db: &impl ConnectionTrait) -> DomainResult<Option<DomainError>> {
        if current(db, self.campaign, self.creator).await?.is_some() {
            return Ok(Some(invalid(Input::Creator, "this creator is already a member of the campaign")));
        }
        let active = membership::Entity::find()
            .filter(membership::Column::BrandId.eq(self.brand.0))
            .filter(membership::Column::RemovedAt.is_null());
        if let Some(c) = self.coupon {
            let taken = active.clone().filter(membership::Column::CouponKey.eq(c.to_uppercase())).one(db).await?;
            if taken.is_some() {
                return Ok(Some(invalid(Input::CouponCode, format!("coupon code '{c}' is already in use"))));
            }
        }
        if let Some(a) = self.affiliate {
            let taken = active.filter(membership::Column::AffiliateCode.eq(a.as_str())).one(db).await?;
            if taken.is_some() {
                return Ok(Some(invalid(Input::AffiliateCode, format!("affiliate code '{a}' is already in use"))));
            }
        }
        Ok(None)
    }
}

/// The creator's current (not removed) membership in the campaign.
pub async fn current(
    db: &impl ConnectionTrait,
    campaign_id: i64,
    creator_id: i64,
) -> DomainResult<Option<membership::Model>> {
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
) -> DomainResult<membership::Model> {
    campaigns::find(db, brand, campaign_id).await?.ok_or_else(|| not_found(Thing::Campaign))?;
    let found = current(db, campaign_id, creator_id)
        .await?
        .filter(|m| m.brand_id == brand.0)
        .ok_or_else(|| not_found(Thing::Membership))?;
    let mut active: membership::ActiveModel = found.into();
    active.removed_at = Set(Some(time::now()));
    Ok(active.update(db).await?)
}

/// The current members of several campaigns, each with its creator (not deleted), in one
/// statement, in membership order. Read as one flat row each, by position: SeaORM's
/// two-model select formats a prefixed name for every column of every row, and even
/// reading by name cost more than the query (a campaign list reads thousands of rows).
pub async fn current_members_of(
    db: &impl ConnectionTrait,
    campaign_ids: &[i64],
) -> DomainResult<Vec<(membership::Model, creator::Model)>> {
    /// The selected columns, in order.
    struct Row {
        id: i64,
        brand_id: i64,
        campaign_id: i64,
        creator_id: i64,
        coupon_code: Option<String>,
        coupon_key: Option<String>,
        affiliate_code: Option<String>,
        commission_rate: i64,
        commission_flat: i64,
        joined_at: i64,
        creator_name: String,
        creator_handle: Option<String>,
        creator_email: Option<String>,
        creator_created_at: i64,
    }
    impl FromQueryResult for Row {
        fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Row, DbErr> {
            let mut column = 0..;
            let mut next = || column.next().unwrap_or_default();
            // Fields are evaluated in the order written: the order of the select below.
            Ok(Row {
                id: res.try_get_by_index(next())?,
                brand_id: res.try_get_by_index(next())?,
                campaign_id: res.try_get_by_index(next())?,
                creator_id: res.try_get_by_index(next())?,
                coupon_code: res.try_get_by_index(next())?,
                coupon_key: res.try_get_by_index(next())?,
                affiliate_code: res.try_get_by_index(next())?,
                commission_rate: res.try_get_by_index(next())?,
                commission_flat: res.try_get_by_index(next())?,
                joined_at: res.try_get_by_index(next())?,
                creator_name: res.try_get_by_index(next())?,
                creator_handle: res.try_get_by_index(next())?,
                creator_email: res.try_get_by_index(next())?,
                creator_created_at: res.try_get_by_index(next())?,
            })
        }
    }
    let rows = membership::Entity::find()
        .select_only()
        .columns([
            membership::Column::Id,
            membership::Column::BrandId,
            membership::Column::CampaignId,
            membership::Column::CreatorId,
            membership::Column::CouponCode,
            membership::Column::CouponKey,
            membership::Column::AffiliateCode,
            membership::Column::CommissionRate,
            membership::Column::CommissionFlat,
            membership::Column::JoinedAt,
        ])
        .column_as(creator::Column::Name, "creator_name")
        .column_as(creator::Column::Handle, "creator_handle")
        .column_as(creator::Column::Email, "creator_email")
        .column_as(creator::Column::CreatedAt, "creator_created_at")
        .inner_join(creator::Entity)
        .filter(membership::Column::CampaignId.is_in(campaign_ids.iter().copied()))
        .filter(Expr::cust(visible::sql("memberships", "creators")))
        .into_model::<Row>()
        .all(db)
        .await?;
    // Membership order, put in here: sorting thousands of wide rows in the database took
    // a fifth of the statement's time there.
    let mut rows = rows;
    rows.sort_unstable_by_key(|r| r.id);
    Ok(rows
        .into_iter()
        .map(|r| {
            let creator = creator::Model {
                id: r.creator_id,
                brand_id: r.brand_id,
                name: r.creator_name,
                handle: r.creator_handle,
                email: r.creator_email,
                created_at: r.creator_created_at,
                deleted_at: None,
            };
            let member = membership::Model {
                id: r.id,
                brand_id: r.brand_id,
                campaign_id: r.campaign_id,
                creator_id: r.creator_id,
                coupon_code: r.coupon_code,
                coupon_key: r.coupon_key,
                affiliate_code: r.affiliate_code,
                commission_rate: r.commission_rate,
                commission_flat: r.commission_flat,
                joined_at: r.joined_at,
                removed_at: None,
            };
            (member, creator)
        })
        .collect())
}

/// `storeUrl` with `?ref=<affiliateCode>` added, or None without either.
pub fn affiliate_link(store_url: Option<&str>, affiliate_code: Option<&str>) -> Option<String> {
    let mut url = url::Url::parse(store_url?).ok()?;
    url.query_pairs_mut().append_pair("ref", affiliate_code?);
    Some(url.to_string())
}
