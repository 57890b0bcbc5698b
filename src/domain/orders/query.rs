//! Listing orders (rules 6 and 7): a page newest first, or how many, of the brand or of
//! one campaign's current members, narrowed by a filter.
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Iterable, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use super::OrderStatus;
use crate::domain::BrandId;
use crate::domain::error::DomainResult;
use crate::domain::time::{Millis, TimeRange};
use entity::{creator, membership, order};

pub async fn find(db: &impl ConnectionTrait, brand: BrandId, id: i64) -> DomainResult<Option<order::Model>> {
    Ok(order::Entity::find_by_id(id).filter(order::Column::BrandId.eq(brand.0)).one(db).await?)
}

/// Which orders a table shows.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Every sale of the brand, everyone included (the dashboard's view).
    Brand,
    /// One campaign, current members only (the Performance tab's view, rule 6).
    Campaign(i64),
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub statuses: Vec<OrderStatus>,
    pub range: TimeRange,
    pub creator_id: Option<i64>,
    pub campaign_id: Option<i64>,
    /// Restricts to these order ids (exports of selected rows).
    pub ids: Option<Vec<i64>>,
}

/// Keyset position in newest-first order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCursor {
    pub ordered_at: Millis,
    pub id: i64,
}

/// The orders of the brand (or of one campaign's current members) that the filter keeps.
pub(super) fn scoped(brand: BrandId, scope: Scope, filter: &OrderFilter) -> Condition {
    let mut condition = Condition::all().add(order::Column::BrandId.eq(brand.0));
    if let Scope::Campaign(campaign_id) = scope {
        // Rule 6: current members only. A list subquery, evaluated once, not per row.
        let current = Query::select()
            .column((membership::Entity, membership::Column::CreatorId))
            .from(membership::Entity)
            .inner_join(
                creator::Entity,
                Expr::col((creator::Entity, creator::Column::Id))
                    .equals((membership::Entity, membership::Column::CreatorId)),
            )
            .and_where(Expr::col((membership::Entity, membership::Column::CampaignId)).eq(campaign_id))
            .and_where(Expr::col((membership::Entity, membership::Column::RemovedAt)).is_null())
            .and_where(Expr::col((creator::Entity, creator::Column::DeletedAt)).is_null())
            .to_owned();
        condition =
            condition.add(order::Column::CampaignId.eq(campaign_id)).add(order::Column::CreatorId.in_subquery(current));
    }
    if !filter.statuses.is_empty() {
        // Each status once, however often the filter repeats it.
        let wanted: Vec<OrderStatus> = OrderStatus::iter().filter(|s| filter.statuses.contains(s)).collect();
        condition = condition.add(order::Column::Status.is_in(wanted));
    }
    // Rule 7: `[from, to)` on the order's `ordered_at`.
    if let Some(from) = filter.range.from {
        condition = condition.add(order::Column::OrderedAt.gte(from));
    }
    if let Some(to) = filter.range.to {
        condition = condition.add(order::Column::OrderedAt.lt(to));
    }
    if let Some(creator) = filter.creator_id {
        condition = condition.add(order::Column::CreatorId.eq(creator));
    }
    if let Some(campaign) = filter.campaign_id {
        condition = condition.add(order::Column::CampaignId.eq(campaign));
    }
    if let Some(ids) = &filter.ids {
        condition = condition.add(order::Column::Id.is_in(ids.iter().copied()));
    }
    condition
}

/// Keyset paging newest first: the cursor as a row-value comparison, which both backends
/// answer with a range scan of the (…, ordered_at, id) indexes, then the order and limit.
pub(super) fn newest_first<E: EntityTrait>(select: Select<E>, after: Option<OrderCursor>, limit: u64) -> Select<E> {
    let select = match after {
        Some(c) => {
            let position = Expr::tuple([
                Expr::col((order::Entity, order::Column::OrderedAt)),
                Expr::col((order::Entity, order::Column::Id)),
            ]);
            select.filter(position.lt(Expr::tuple([Expr::val(c.ordered_at), Expr::val(c.id)])))
        }
        None => select,
    };
    select
        .order_by_desc(Expr::col((order::Entity, order::Column::OrderedAt)))
        .order_by_desc(Expr::col((order::Entity, order::Column::Id)))
        .limit(limit)
}

/// One page of orders, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    scope: Scope,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u64,
) -> DomainResult<Vec<order::Model>> {
    let select = order::Entity::find().filter(scoped(brand, scope, filter));
    Ok(newest_first(select, after, limit).all(db).await?)
}

pub async fn count(db: &impl ConnectionTrait, brand: BrandId, scope: Scope, filter: &OrderFilter) -> DomainResult<u64> {
    Ok(order::Entity::find().filter(scoped(brand, scope, filter)).count(db).await?)
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    #[test]
    fn pages_compare_the_keyset_as_a_row_value_and_filter_current_members_by_subquery() {
        let filter = OrderFilter { statuses: vec![OrderStatus::Paid, OrderStatus::Paid], ..OrderFilter::default() };
        let after = Some(OrderCursor { ordered_at: 5, id: 7 });
        let select = order::Entity::find().filter(scoped(BrandId(1), Scope::Campaign(2), &filter));
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let sql = newest_first(select.clone(), after, 101).build(backend).to_string();
            // A row-value comparison is what both backends turn into an index range scan;
            // `a < x OR (a = x AND id < y)` made every export chunk rescan from the top.
            assert!(sql.contains(r#"("orders"."ordered_at", "orders"."id") < (5, 7)"#), "{sql}");
            assert!(sql.contains(r#""orders"."creator_id" IN (SELECT"#), "{sql}");
            assert!(sql.contains(r#""orders"."status" IN ('PAID')"#), "each status once: {sql}");
            assert!(sql.ends_with(r#"ORDER BY "orders"."ordered_at" DESC, "orders"."id" DESC LIMIT 101"#), "{sql}");
        }
    }
}
