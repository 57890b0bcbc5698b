//! Rollups: per campaign, creator and UTC day (`order_rollups`), and per campaign and
//! creator for all time (`order_totals`), the figures of rule 5 summed over orders. Every
//! change that moves a figure applies its delta to both in the same transaction, so an
//! aggregate without bounds reads one row per member, a bounded one a handful of rows per
//! day, and a range adds the partial days at its edges from the orders themselves.
use sea_orm::ConnectionTrait;

use super::BrandId;
use super::time::{self, DAY, TimeRange};
use crate::db::Sql;
use crate::domain::error::{DomainError, DomainResult};
use entity::enums::{Approval, OrderStatus};

/// One order's contribution to the figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contribution {
    pub orders: i64,
    pub sales: i64,
    pub approved: i64,
    pub rejected: i64,
    pub earned: i64,
}

impl Contribution {
    /// What an order with this status, amount, approval and commission counts for.
    pub fn of(status: OrderStatus, amount: i64, approval: Approval, commission: i64) -> Contribution {
        let paid = status == OrderStatus::Paid;
        let approved = approval == Approval::Approved;
        Contribution {
            orders: 1,
            sales: if paid { amount } else { 0 },
            approved: i64::from(approved),
            rejected: i64::from(!approved),
            earned: if paid && approved { commission } else { 0 },
        }
    }

    pub fn plus(self, other: Contribution) -> Contribution {
        Contribution {
            orders: self.orders + other.orders,
            sales: self.sales + other.sales,
            approved: self.approved + other.approved,
            rejected: self.rejected + other.rejected,
            earned: self.earned + other.earned,
        }
    }

    pub fn minus(self, other: Contribution) -> Contribution {
        Contribution {
            orders: self.orders - other.orders,
            sales: self.sales - other.sales,
            approved: self.approved - other.approved,
            rejected: self.rejected - other.rejected,
            earned: self.earned - other.earned,
        }
    }
}

/// Where an order's figures are counted.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub brand_id: i64,
    pub campaign_id: i64,
    pub creator_id: i64,
    pub ordered_at: i64,
}

impl Bucket {
    pub fn of(order: &entity::order::Model) -> Bucket {
        Bucket {
            brand_id: order.brand_id,
            campaign_id: order.campaign_id,
            creator_id: order.creator_id,
            ordered_at: order.ordered_at,
        }
    }
}

/// The most a bucket's sales or earned commission may reach: far below i64's limit, so
/// adding one more order (at most `money::MAX_MINOR` plus a flat fee of as much) can never
/// overflow, which PostgreSQL would refuse and SQLite would silently turn into a float.
pub const BUCKET_CAP: i64 = 4_000_000_000_000_000_000;

/// Adds `delta` to the bucket's day row and to its all-time row (`order_totals`),
/// creating them when needed. A delta that would take either row past `BUCKET_CAP`
/// is refused (the caller's transaction then stores nothing).
pub async fn apply(db: &impl ConnectionTrait, bucket: Bucket, delta: Contribution) -> DomainResult<()> {
    if delta == Contribution::default() {
        return Ok(());
    }
    add(db, "order_rollups", Some(time::day(bucket.ordered_at)), bucket, delta).await?;
    add(db, "order_totals", None, bucket, delta).await
}

/// One statement, safe under concurrency on both backends: an upsert that adds to every
/// column under a guard. Written as SQL: it is one line of SQL and no clearer in
/// sea-query. `day` is the day's key in `order_rollups`, None for `order_totals`.
async fn add(
    db: &impl ConnectionTrait,
    table: &str,
    day: Option<i64>,
    bucket: Bucket,
    delta: Contribution,
) -> DomainResult<()> {
    let day_column = if day.is_some() { ", day" } else { "" };
    let mut sql = Sql::new(&format!(
        "INSERT INTO {table} (brand_id, campaign_id, creator_id{day_column}, orders, sales, approved, rejected, earned) VALUES ("
    ));
    let mut values: Vec<sea_orm::Value> =
        vec![bucket.brand_id.into(), bucket.campaign_id.into(), bucket.creator_id.into()];
    values.extend(day.map(sea_orm::Value::from));
    values.extend([
        delta.orders.into(),
        delta.sales.into(),
        delta.approved.into(),
        delta.rejected.into(),
        delta.earned.into(),
    ]);
    let values = sql.bind_list(values);
    sql.push(&values);
    sql.push(&format!(
        ") ON CONFLICT (campaign_id, creator_id{day_column}) DO UPDATE SET \
         orders = {table}.orders + excluded.orders, sales = {table}.sales + excluded.sales, \
         approved = {table}.approved + excluded.approved, rejected = {table}.rejected + excluded.rejected, \
         earned = {table}.earned + excluded.earned \
         WHERE {table}.sales + excluded.sales <= "
    ));
    let cap = sql.bind(BUCKET_CAP);
    sql.push(&cap).push(&format!(" AND {table}.earned + excluded.earned <= ")).push(&cap);
    let result = db.execute_raw(sql.build(db.get_database_backend())).await?;
    if result.rows_affected() == 0 {
        let span = if day.is_some() { " on one day" } else { "" };
        return Err(DomainError::Invalid {
            message: format!(
                "one creator's sales in one campaign{span} would pass {BUCKET_CAP} minor units, \
                 more than Tally adds up exactly"
            ),
            input: None,
        });
    }
    Ok(())
}

/// How a range splits into whole days (read from rollups) and partial edges (read from
/// orders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Split {
    /// Whole days `[first, end)`; `None` when there are none.
    days: Option<(Option<i64>, Option<i64>)>,
    /// Partial stretches of orderedAt, half-open.
    edges: [Option<(Option<i64>, Option<i64>)>; 2],
}

fn split(range: TimeRange) -> Split {
    let first = range.from.map(|f| (f + DAY - 1).div_euclid(DAY));
    let end = range.to.map(|t| t.div_euclid(DAY));
    if let (Some(f), Some(e)) = (first, end)
        && f >= e
    {
        return Split { days: None, edges: [Some((range.from, range.to)), None] };
    }
    let lower = match (range.from, first) {
        (Some(from), Some(f)) if from < f * DAY => Some((Some(from), Some(f * DAY))),
        _ => None,
    };
    let upper = match (range.to, end) {
        (Some(to), Some(e)) if e * DAY < to => Some((Some(e * DAY), Some(to))),
        _ => None,
    };
    Split { days: Some((first, end)), edges: [lower, upper] }
}

/// Pushes a subquery of figure rows keyed `k` by `group` ("creator_id" or
/// "campaign_id") and `g` by `filter`, for the brand's orders whose `filter` column is one
/// of `values`, in `range`. Sum its columns to get exact figures.
pub fn push_figures(sql: &mut Sql, brand: BrandId, group: &str, filter: &str, values: &[i64], range: TimeRange) {
    let parts = split(range);
    let mut selects = Vec::new();
    if let Some((first, end)) = parts.days {
        // Every day: the all-time rows, one per campaign and creator.
        let table = if first.is_none() && end.is_none() { "order_totals" } else { "order_rollups" };
        let mut part = format!(
            "SELECT r.{group} AS k, r.{filter} AS g, r.orders AS orders, r.sales AS sales, r.approved AS approved, \
             r.rejected AS rejected, r.earned AS earned FROM {table} r WHERE r.brand_id = {} AND r.{filter} IN ({})",
            sql.bind(brand.0),
            in_list(sql, values)
        );
        if let Some(f) = first {
            part.push_str(&format!(" AND r.day >= {}", sql.bind(f)));
        }
        if let Some(e) = end {
            part.push_str(&format!(" AND r.day < {}", sql.bind(e)));
        }
        selects.push(part);
    }
    for (from, to) in parts.edges.into_iter().flatten() {
        let mut part = format!(
            "SELECT o.{group} AS k, o.{filter} AS g, 1 AS orders, CASE WHEN o.status = 'PAID' THEN o.amount ELSE 0 END AS sales, \
             CASE WHEN cv.approval = 'APPROVED' THEN 1 ELSE 0 END AS approved, \
             CASE WHEN cv.approval = 'REJECTED' THEN 1 ELSE 0 END AS rejected, \
             CASE WHEN cv.approval = 'APPROVED' AND o.status = 'PAID' THEN cv.commission ELSE 0 END AS earned \
             FROM orders o JOIN conversions cv ON cv.order_id = o.id WHERE o.brand_id = {} AND o.{filter} IN ({})",
            sql.bind(brand.0),
            in_list(sql, values)
        );
        if let Some(f) = from {
            part.push_str(&format!(" AND o.ordered_at >= {}", sql.bind(f)));
        }
        if let Some(t) = to {
            part.push_str(&format!(" AND o.ordered_at < {}", sql.bind(t)));
        }
        selects.push(part);
    }
    if selects.is_empty() {
        selects.push(
            "SELECT 0 AS k, 0 AS g, 0 AS orders, 0 AS sales, 0 AS approved, 0 AS rejected, 0 AS earned WHERE 1 = 0"
                .into(),
        );
    }
    sql.push("(").push(&selects.join(" UNION ALL ")).push(")");
}

/// The inside of `IN (…)`; `NULL` (matching nothing) for no values.
fn in_list(sql: &mut Sql, values: &[i64]) -> String {
    if values.is_empty() { "NULL".to_string() } else { sql.bind_list(values.iter().copied()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: Option<i64>, to: Option<i64>) -> TimeRange {
        TimeRange { from, to }
    }

    #[test]
    fn ranges_split_into_whole_days_and_partial_edges() {
        assert_eq!(split(range(None, None)), Split { days: Some((None, None)), edges: [None, None] });
        // Aligned on midnights: days only.
        assert_eq!(
            split(range(Some(2 * DAY), Some(5 * DAY))),
            Split { days: Some((Some(2), Some(5))), edges: [None, None] }
        );
        // Unaligned: whole days 3 and 4, plus the edges.
        let r = range(Some(2 * DAY + 5), Some(5 * DAY + 7));
        assert_eq!(
            split(r),
            Split {
                days: Some((Some(3), Some(5))),
                edges: [Some((Some(2 * DAY + 5), Some(3 * DAY))), Some((Some(5 * DAY), Some(5 * DAY + 7)))]
            }
        );
        // Within one day: orders only.
        let r = range(Some(2 * DAY + 5), Some(2 * DAY + 9));
        assert_eq!(split(r), Split { days: None, edges: [Some((Some(2 * DAY + 5), Some(2 * DAY + 9))), None] });
        // Open ends.
        assert_eq!(split(range(Some(DAY + 1), None)).edges[0], Some((Some(DAY + 1), Some(2 * DAY))));
        assert_eq!(split(range(None, Some(DAY + 1))).days, Some((None, Some(1))));
    }

    #[test]
    fn contributions_follow_rule_5() {
        assert_eq!(
            Contribution::of(OrderStatus::Paid, 1000, Approval::Approved, 100),
            Contribution { orders: 1, sales: 1000, approved: 1, rejected: 0, earned: 100 }
        );
        assert_eq!(
            Contribution::of(OrderStatus::Refunded, 1000, Approval::Approved, 100),
            Contribution { orders: 1, sales: 0, approved: 1, rejected: 0, earned: 0 }
        );
        assert_eq!(
            Contribution::of(OrderStatus::Paid, 1000, Approval::Rejected, 100),
            Contribution { orders: 1, sales: 1000, approved: 0, rejected: 1, earned: 0 }
        );
    }
}
