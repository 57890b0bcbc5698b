//! Listing orders (rules 6 and 7): a page newest first, or how many, of the brand or of
//! one campaign's current members, narrowed by a filter.
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Iterable, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationTrait, Select,
};

use super::OrderStatus;
use crate::db;
use crate::domain::BrandId;
use crate::domain::error::DomainResult;
use crate::domain::memberships::visible;
use crate::domain::performance;
use crate::domain::time::{Millis, TimeRange};
use entity::{conversion, creator, membership, order};

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

#[derive(Clone, Debug, Default, PartialEq)]
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
/// `creator_joined`: the statement inner-joins each order's creator, whose row then says
/// whether the creator is deleted, rather than a second look-up per order in the subquery.
pub(super) fn scoped(brand: BrandId, scope: Scope, filter: &OrderFilter, creator_joined: bool) -> Condition {
    let mut condition = Condition::all().add(order::Column::BrandId.eq(brand.0));
    if let Scope::Campaign(campaign_id) = scope {
        // Rule 6 (`memberships::visible`): current members only. A list subquery,
        // evaluated once, not per row.
        let mut current = Query::select()
            .column((membership::Entity, membership::Column::CreatorId))
            .from(membership::Entity)
            .and_where(Expr::col((membership::Entity, membership::Column::CampaignId)).eq(campaign_id))
            .and_where(Expr::cust(visible::membership("memberships")))
            .to_owned();
        let not_deleted = Expr::cust(visible::creator("creators"));
        if creator_joined {
            condition = condition.add(not_deleted);
        } else {
            current
                .inner_join(
                    creator::Entity,
                    Expr::col((creator::Entity, creator::Column::Id))
                        .equals((membership::Entity, membership::Column::CreatorId)),
                )
                .and_where(not_deleted);
        }
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

/// What a page reads with each order, in the same statement.
#[derive(Clone, Copy, Debug, Default)]
pub struct With {
    pub creator: bool,
    pub conversion: bool,
}

/// An order of a page, with what `With` asked for.
pub struct PageRow {
    pub order: order::Model,
    pub creator: Option<creator::Model>,
    pub conversion: Option<conversion::Model>,
}

/// One page of orders, newest first, each with its creator and conversion when asked:
/// one statement, whatever the page's size and whichever of them it shows.
pub async fn page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    scope: Scope,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u64,
    with: With,
) -> DomainResult<Vec<PageRow>> {
    // A campaign's page keeps current members only, so an order without its creator's row
    // is not on it: the creator is inner-joined and its row checked there. Elsewhere a
    // left join, so that a missing row can never take its order off the page.
    let creator_joined = with.creator && matches!(scope, Scope::Campaign(_));
    let mut select = order::Entity::find()
        .select_only()
        .columns(order_columns::COLUMNS.iter().copied())
        .filter(scoped(brand, scope, filter, creator_joined));
    if with.creator {
        let join = if creator_joined { JoinType::InnerJoin } else { JoinType::LeftJoin };
        select = select.join(join, order::Relation::Creator.def()).columns(creator_columns::COLUMNS.iter().copied());
    }
    if with.conversion {
        select = select
            .join(JoinType::LeftJoin, order::Relation::Conversion.def())
            .columns(conversion_columns::COLUMNS.iter().copied());
    }
    let statement = db::literal_limit(newest_first(select, after, limit).build(db.get_database_backend()));
    let rows = db.query_all_raw(statement).await?;
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut at = 0;
        let order = order_columns::read(row, &mut at)?;
        // A row a left join did not find reads as a null id; it is then loaded (and found
        // missing) like any other.
        let present = |at: usize| row.try_get_by_index::<Option<i64>>(at).map(|id| id.is_some());
        let creator = match with.creator {
            true if present(at)? => Some(creator_columns::read(row, &mut at)?),
            true => {
                at += creator_columns::COLUMNS.len();
                None
            }
            false => None,
        };
        let conversion = match with.conversion && present(at)? {
            true => Some(conversion_columns::read(row, &mut at)?),
            false => None,
        };
        page.push(PageRow { order, creator, conversion });
    }
    Ok(page)
}

/// Selects a model's columns and reads them back by position, from one list so that the
/// two cannot disagree: by name, each value cost a formatted name and a search.
macro_rules! by_position {
    ($name:ident, $module:ident { $($field:ident: $column:ident),* $(,)? }) => {
        mod $name {
            use entity::$module::{Column, Model};
            use sea_orm::{DbErr, QueryResult};

            pub const COLUMNS: &[Column] = &[$(Column::$column),*];

            /// The model whose columns start at `at`, which is moved past them.
            pub fn read(row: &QueryResult, at: &mut usize) -> Result<Model, DbErr> {
                Ok(Model { $($field: { *at += 1; row.try_get_by_index(*at - 1)? }),* })
            }
        }
    };
}

by_position!(
    order_columns,
    order {
        id: Id,
        brand_id: BrandId,
        campaign_id: CampaignId,
        creator_id: CreatorId,
        membership_id: MembershipId,
        external_id: ExternalId,
        amount: Amount,
        currency: Currency,
        status: Status,
        coupon_code: CouponCode,
        ordered_at: OrderedAt,
        status_changed_at: StatusChangedAt,
        last_event_at: LastEventAt,
        created_at: CreatedAt,
    }
);
by_position!(
    creator_columns,
    creator {
        id: Id,
        brand_id: BrandId,
        name: Name,
        handle: Handle,
        email: Email,
        created_at: CreatedAt,
        deleted_at: DeletedAt,
    }
);
by_position!(
    conversion_columns,
    conversion {
        id: Id,
        brand_id: BrandId,
        order_id: OrderId,
        campaign_id: CampaignId,
        creator_id: CreatorId,
        membership_id: MembershipId,
        attribution: Attribution,
        commission: Commission,
        approval: Approval,
        reviewed_at: ReviewedAt,
        rejection_reason: RejectionReason,
        created_at: CreatedAt,
    }
);

/// How many orders the filter keeps. Without a filter the all-time rollups know: every
/// order counts once in its creator's row of its campaign (`order_totals.orders`), so the
/// brand's count is the sum of its rows and a campaign's is its Performance totals line
/// (current members only), one row per member read instead of one per order. A filtered
/// count counts the orders.
pub async fn count(db: &impl ConnectionTrait, brand: BrandId, scope: Scope, filter: &OrderFilter) -> DomainResult<u64> {
    if *filter != OrderFilter::default() {
        return Ok(order::Entity::find().filter(scoped(brand, scope, filter, false)).count(db).await?);
    }
    let orders = match scope {
        Scope::Brand => {
            let mut sql = db::Sql::new(
                "SELECT CAST(COALESCE(SUM(orders), 0) AS BIGINT) AS n FROM order_totals WHERE brand_id = ",
            );
            let brand_id = sql.bind(brand.0);
            sql.push(&brand_id);
            let row = db.query_one_raw(sql.build(db.get_database_backend())).await?;
            row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0)
        }
        Scope::Campaign(campaign) => {
            let totals = performance::campaigns_totals(db, brand, &[campaign], TimeRange::default()).await?;
            totals.get(&campaign).map_or(0, |t| t.orders)
        }
    };
    Ok(u64::try_from(orders).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    #[test]
    fn pages_compare_the_keyset_as_a_row_value_and_filter_current_members_by_subquery() {
        let filter = OrderFilter { statuses: vec![OrderStatus::Paid, OrderStatus::Paid], ..OrderFilter::default() };
        let after = Some(OrderCursor { ordered_at: 5, id: 7 });
        let select = order::Entity::find().filter(scoped(BrandId(1), Scope::Campaign(2), &filter, false));
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let sql = newest_first(select.clone(), after, 101).build(backend).to_string();
            // A row-value comparison is what both backends turn into an index range scan;
            // `a < x OR (a = x AND id < y)` made every export chunk rescan from the top.
            assert!(sql.contains(r#"("orders"."ordered_at", "orders"."id") < (5, 7)"#), "{sql}");
            assert!(sql.contains(r#""orders"."creator_id" IN (SELECT"#), "{sql}");
            assert!(sql.contains(r#""orders"."status" IN ('PAID')"#), "each status once: {sql}");
            assert!(sql.ends_with(r#"ORDER BY "orders"."ordered_at" DESC, "orders"."id" DESC LIMIT 101"#), "{sql}");
            assert!(sql.contains(r#"INNER JOIN "creators""#) && sql.contains("creators.deleted_at IS NULL"), "{sql}");
            assert!(sql.contains("memberships.removed_at IS NULL"), "{sql}");
            // With the creator joined, its row says whether it is deleted: no second look-up.
            let joined = order::Entity::find().filter(scoped(BrandId(1), Scope::Campaign(2), &filter, true));
            let sql = joined.build(backend).to_string();
            assert!(!sql.contains("INNER JOIN"), "{sql}");
            assert!(sql.contains("AND (creators.deleted_at IS NULL)"), "{sql}");
        }
    }
}
