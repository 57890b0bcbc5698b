//! Per-request batch loading. One `Loaders` is built for each request and brand, never
//! shared, so a page of N rows costs one statement per nested field, not N.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::BrandId;
use crate::domain::time::TimeRange;
use crate::domain::{memberships, performance};
use crate::error::AppError;
use entity::{campaign, conversion, conversion_review, creator, membership, order, order_event};

pub struct Loaders {
    pub db: DatabaseConnection,
    pub brand: BrandId,
}

/// A request's loader. Its cache lets a resolver that looked ahead hand over rows before
/// the fields below it ask (`feed_many`): those fields then get them without a batch.
/// Mutations run with the cache off, so that nothing read before a write is served after it.
pub type RequestLoader = DataLoader<Loaders, HashMapCache>;

type Failure = async_graphql::Error;

/// The ids of an `IN (…)` list, the last repeated up to the next power of two: batches of
/// any size then share a handful of statement texts, which each connection prepares once
/// and PostgreSQL plans once, instead of one new statement per batch size.
fn padded(mut ids: Vec<i64>) -> Vec<i64> {
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
}

fn failure(err: sea_orm::DbErr) -> Failure {
    AppError::from(err).into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CreatorKey(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CampaignKey(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderKey(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MembershipKey(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConversionOfOrder(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistoryOfOrder(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReviewsOfConversion(pub i64);
/// A campaign's current members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MembersOfCampaign(pub i64);
/// A campaign's Performance table over a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PerformanceOfCampaign {
    pub campaign: i64,
    pub from: Option<i64>,
    pub to: Option<i64>,
}
/// The totals line of a campaign's Performance table over a range, without its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TotalsOfCampaign {
    pub campaign: i64,
    pub from: Option<i64>,
    pub to: Option<i64>,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommissionOfCreator {
    pub creator: i64,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Rows by primary key, those of other brands dropped here rather than in SQL: given
/// `id IN (…) AND brand_id = ?` and no statistics, SQLite walks the brand's index (every
/// order of the brand: 100 ms at a million) instead of looking up the ids.
macro_rules! by_id_loader {
    ($key:ty, $entity:ident) => {
        impl Loader<$key> for Loaders {
            type Value = $entity::Model;
            type Error = Failure;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let rows = $entity::Entity::find()
                    .filter($entity::Column::Id.is_in(padded(ids)))
                    .all(&self.db)
                    .await
                    .map_err(failure)?;
                Ok(rows
                    .into_iter()
                    .filter(|r| r.brand_id == self.brand.0)
                    .map(|r| (<$key>::from_id(r.id), r))
                    .collect())
            }
        }
    };
}

trait FromId {
    fn from_id(id: i64) -> Self;
}
macro_rules! from_id {
    ($($key:ident),*) => { $(impl FromId for $key { fn from_id(id: i64) -> Self { $key(id) } })* };
}
from_id!(CreatorKey, CampaignKey, OrderKey, MembershipKey);

by_id_loader!(CreatorKey, creator);
by_id_loader!(CampaignKey, campaign);
by_id_loader!(OrderKey, order);
by_id_loader!(MembershipKey, membership);

impl Loader<ConversionOfOrder> for Loaders {
    type Value = conversion::Model;
    type Error = Failure;

    async fn load(&self, keys: &[ConversionOfOrder]) -> Result<HashMap<ConversionOfOrder, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = conversion::Entity::find()
            .filter(conversion::Column::OrderId.is_in(padded(ids)))
            .filter(conversion::Column::BrandId.eq(self.brand.0))
            .all(&self.db)
            .await
            .map_err(failure)?;
        Ok(rows.into_iter().map(|r| (ConversionOfOrder(r.order_id), r)).collect())
    }
}

/// Rows grouped under their key, in the order read; every asked key present (empty
/// when it has no rows).
fn grouped<K: Copy + Eq + std::hash::Hash, R>(keys: &[K], rows: Vec<R>, key: impl Fn(&R) -> K) -> HashMap<K, Vec<R>> {
    let mut out: HashMap<K, Vec<R>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

/// Keys that carry a time range, split by range (`what` of each), for one statement per
/// distinct range.
fn by_range<K, V>(
    keys: &[K],
    range: impl Fn(&K) -> (Option<i64>, Option<i64>),
    what: impl Fn(&K) -> V,
) -> HashMap<(Option<i64>, Option<i64>), Vec<V>> {
    let mut split: HashMap<(Option<i64>, Option<i64>), Vec<V>> = HashMap::new();
    for k in keys {
        split.entry(range(k)).or_default().push(what(k));
    }
    split
}

impl Loader<HistoryOfOrder> for Loaders {
    type Value = Vec<order_event::Model>;
    type Error = Failure;

    async fn load(&self, keys: &[HistoryOfOrder]) -> Result<HashMap<HistoryOfOrder, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = order_event::Entity::find()
            .filter(order_event::Column::OrderId.is_in(padded(ids)))
            .filter(order_event::Column::BrandId.eq(self.brand.0))
            .order_by_asc(order_event::Column::OccurredAt)
            .order_by_asc(order_event::Column::Id)
            .all(&self.db)
            .await
            .map_err(failure)?;
        Ok(grouped(keys, rows, |r| HistoryOfOrder(r.order_id)))
    }
}

impl Loader<ReviewsOfConversion> for Loaders {
    type Value = Vec<conversion_review::Model>;
    type Error = Failure;

    async fn load(
        &self,
        keys: &[ReviewsOfConversion],
    ) -> Result<HashMap<ReviewsOfConversion, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = conversion_review::Entity::find()
            .filter(conversion_review::Column::ConversionId.is_in(padded(ids)))
            .filter(conversion_review::Column::BrandId.eq(self.brand.0))
            .order_by_asc(conversion_review::Column::Id)
            .all(&self.db)
            .await
            .map_err(failure)?;
        Ok(grouped(keys, rows, |r| ReviewsOfConversion(r.conversion_id)))
    }
}

impl Loader<CommissionOfCreator> for Loaders {
    type Value = i64;
    type Error = Failure;

    async fn load(&self, keys: &[CommissionOfCreator]) -> Result<HashMap<CommissionOfCreator, i64>, Self::Error> {
        // One statement per distinct range; a page asks with one range.
        let mut out = HashMap::new();
        for ((from, to), creators) in by_range(keys, |k| (k.from, k.to), |k| k.creator) {
            let sums = performance::creator_commissions(&self.db, self.brand, &creators, TimeRange { from, to })
                .await
                .map_err(Failure::from)?;
            for creator in creators {
                let key = CommissionOfCreator { creator, from, to };
                out.insert(key, sums.get(&creator).copied().unwrap_or(0));
            }
        }
        Ok(out)
    }
}

impl Loader<MembersOfCampaign> for Loaders {
    /// Shared: the loader hands out a clone of the value.
    type Value = Arc<Vec<(membership::Model, creator::Model)>>;
    type Error = Failure;

    async fn load(&self, keys: &[MembersOfCampaign]) -> Result<HashMap<MembersOfCampaign, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = memberships::current_members_of(&self.db, &ids).await.map_err(Failure::from)?;
        let members = grouped(keys, rows, |(m, _)| MembersOfCampaign(m.campaign_id));
        Ok(members.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<PerformanceOfCampaign> for Loaders {
    type Value = Vec<performance::PerformanceRow>;
    type Error = Failure;

    async fn load(
        &self,
        keys: &[PerformanceOfCampaign],
    ) -> Result<HashMap<PerformanceOfCampaign, Self::Value>, Self::Error> {
        // One statement per distinct range; a list of campaigns asks with one range.
        let mut out = HashMap::new();
        for ((from, to), asked) in by_range(keys, |k| (k.from, k.to), |k| *k) {
            let ids: Vec<i64> = asked.iter().map(|k| k.campaign).collect();
            let rows = performance::campaigns_rows(&self.db, self.brand, &ids, TimeRange { from, to }, None)
                .await
                .map_err(Failure::from)?;
            out.extend(grouped(&asked, rows, |r| PerformanceOfCampaign { campaign: r.campaign_id, from, to }));
        }
        Ok(out)
    }
}

impl Loader<TotalsOfCampaign> for Loaders {
    type Value = performance::Totals;
    type Error = Failure;

    async fn load(&self, keys: &[TotalsOfCampaign]) -> Result<HashMap<TotalsOfCampaign, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for ((from, to), asked) in by_range(keys, |k| (k.from, k.to), |k| k.campaign) {
            let mut totals = performance::campaigns_totals(&self.db, self.brand, &asked, TimeRange { from, to })
                .await
                .map_err(Failure::from)?;
            for campaign in asked {
                let key = TotalsOfCampaign { campaign, from, to };
                out.insert(key, totals.remove(&campaign).unwrap_or_default());
            }
        }
        Ok(out)
    }
}
