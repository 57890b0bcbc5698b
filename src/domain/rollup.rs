//! Rollups: per campaign, creator and UTC hour (`order_hours`), UTC day
//! (`order_rollups`) and UTC calendar month (`order_months`), and per campaign and creator
//! for all time (`order_totals`), the figures of rule 5 (`entity::figures`) summed over
//! orders. Every change that moves a figure applies its delta to all four in the same
//! transaction, so an aggregate without bounds reads one row per member, and a bounded
//! one reads whole months, at most about two months of days around them, at most two days
//! of hours at its edges, and the orders of the partial hours at its ends: bounded by the
//! members and the calendar, never by the number of orders.
use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, Value};

use super::BrandId;
use super::time::{self, DAY, TimeRange};
use crate::db::{Batch, Column, Sql};
use crate::domain::error::{DomainError, DomainResult};
use entity::enums::{Approval, OrderStatus};
use entity::figures;

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
        let approved = approval == Approval::Approved;
        Contribution {
            orders: 1,
            sales: figures::sales(status, amount),
            approved: i64::from(approved),
            rejected: i64::from(!approved),
            earned: figures::earned(status, approval, commission),
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

/// The rollup tables, each with its bucket column beside campaign and creator.
const TABLES: [(&str, Option<&str>); 4] = [
    ("order_hours", Some("hour")),
    ("order_rollups", Some("day")),
    ("order_months", Some("month")),
    ("order_totals", None),
];

/// Adds each delta to its bucket's hour, day, month and all-time rows, creating them when
/// needed, in a batch of its own (`Sums::write` adds them to the caller's). A delta that
/// would take any row past `BUCKET_CAP` is refused (the caller's transaction then stores
/// nothing).
pub async fn apply(
    db: &impl ConnectionTrait,
    deltas: impl IntoIterator<Item = (Bucket, Contribution)>,
) -> DomainResult<()> {
    let sums = Sums::of(deltas);
    if sums.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new(db.get_database_backend());
    let written = sums.write(&mut batch);
    let counts = batch.run(db).await?;
    written.check(&counts)
}

/// Deltas summed per rollup row, per table: (campaign, creator, bucket key) -> (brand,
/// summed delta), rows whose deltas cancel out left out.
pub struct Sums([BTreeMap<(i64, i64, Option<i64>), (i64, Contribution)>; 4]);

/// Where a batch writes `Sums`: its parts, and how many rows they must touch.
pub struct Written {
    parts: [usize; 4],
    expected: u64,
}

impl Sums {
    pub fn of(deltas: impl IntoIterator<Item = (Bucket, Contribution)>) -> Sums {
        let mut rows: [BTreeMap<(i64, i64, Option<i64>), (i64, Contribution)>; 4] = Default::default();
        for (bucket, delta) in deltas {
            let (hour, day) = (figures::hour(bucket.ordered_at), time::day(bucket.ordered_at));
            let keys = [Some(hour), Some(day), Some(figures::month_of_day(day)), None];
            for (table, key) in rows.iter_mut().zip(keys) {
                let row = table
                    .entry((bucket.campaign_id, bucket.creator_id, key))
                    .or_insert((bucket.brand_id, Contribution::default()));
                row.1 = row.1.plus(delta);
            }
        }
        for table in &mut rows {
            table.retain(|_, (_, delta)| *delta != Contribution::default());
        }
        Sums(rows)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(BTreeMap::is_empty)
    }

    /// Adds one upsert per table to the batch, each writing its rows in key order, so
    /// that concurrent writers lock them in the same order.
    pub fn write(self, batch: &mut Batch) -> Written {
        let backend = batch.backend();
        let expected = self.0.iter().map(|rows| rows.len() as u64).sum();
        let mut parts = [0; 4];
        for ((part, (table, column)), rows) in parts.iter_mut().zip(TABLES).zip(self.0) {
            *part = batch.add(rows.len(), |sql| upsert(sql, backend, table, column, rows));
        }
        Written { parts, expected }
    }
}

impl Written {
    /// Err unless every row was written: one would have passed the cap.
    pub fn check(&self, counts: &[u64]) -> DomainResult<()> {
        if self.parts.iter().map(|&p| counts[p]).sum::<u64>() == self.expected {
            return Ok(());
        }
        Err(DomainError::Invalid {
            message: format!(
                "one creator's sales in one campaign would pass {BUCKET_CAP} minor units in an hour, a day, \
                 a month or in all, more than Tally adds up exactly"
            ),
            input: None,
        })
    }
}

/// An upsert of rows (`(campaign, creator, bucket) -> (brand, delta)`) that adds each
/// delta to every column under the cap, safe under concurrency on both backends. Written
/// as SQL: one line of it, no clearer in sea-query.
fn upsert(
    sql: &mut Sql,
    backend: DbBackend,
    table: &str,
    column: Option<&str>,
    rows: BTreeMap<(i64, i64, Option<i64>), (i64, Contribution)>,
) -> String {
    let rows = rows
        .into_iter()
        .map(|((campaign, creator, key), (brand, d))| {
            [brand, campaign, creator]
                .into_iter()
                .chain(key)
                .chain([d.orders, d.sales, d.approved, d.rejected, d.earned])
                .map(Value::from)
                .collect()
        })
        .collect();
    let names: Vec<&str> = ["brand_id", "campaign_id", "creator_id"]
        .into_iter()
        .chain(column)
        .chain(["orders", "sales", "approved", "rejected", "earned"])
        .collect();
    let columns: Vec<(&str, Column)> = names.iter().map(|name| (*name, Column::BigInt)).collect();
    let rows = sql.rows(backend, &columns, rows);
    let names = names.join(", ");
    let column = column.map(|c| format!(", {c}")).unwrap_or_default();
    let cap = sql.bind(BUCKET_CAP);
    let add = |c: &str| format!("{c} = {table}.{c} + excluded.{c}");
    format!(
        "INSERT INTO {table} ({names}) SELECT {names} FROM {rows} WHERE true \
         ON CONFLICT (campaign_id, creator_id{column}) DO UPDATE SET {} \
         WHERE {table}.sales + excluded.sales <= {cap} AND {table}.earned + excluded.earned <= {cap}",
        ["orders", "sales", "approved", "rejected", "earned"].map(add).join(", "),
    )
}

/// A half-open stretch of bucket numbers (hours, days, months) or of instants; `None` is unbounded.
type Span = (Option<i64>, Option<i64>);

/// How a range splits into whole months (read from `order_months`, or `order_totals` for
/// all of time), whole days around them (`order_rollups`), and partial days at its edges
/// (each split again by `split_day`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Split {
    months: Option<Span>,
    days: [Option<Span>; 2],
    edges: [Option<Span>; 2],
}

fn split(range: TimeRange) -> Split {
    let first = range.from.map(|f| (f + DAY - 1).div_euclid(DAY));
    let end = range.to.map(|t| t.div_euclid(DAY));
    if let (Some(f), Some(e)) = (first, end)
        && f >= e
    {
        return Split { months: None, days: [None, None], edges: [Some((range.from, range.to)), None] };
    }
    let lower = match (range.from, first) {
        (Some(from), Some(f)) if from < f * DAY => Some((Some(from), Some(f * DAY))),
        _ => None,
    };
    let upper = match (range.to, end) {
        (Some(to), Some(e)) if e * DAY < to => Some((Some(e * DAY), Some(to))),
        _ => None,
    };
    let edges = [lower, upper];
    // Whole months: from the first month starting on or after the first whole day, to
    // the month holding the end day (every month before it ends by then).
    let first_month = first.map(|f| {
        let m = figures::month_of_day(f);
        if figures::first_day_of_month(m) == f { m } else { m + 1 }
    });
    let end_month = end.map(figures::month_of_day);
    if let (Some(a), Some(b)) = (first_month, end_month)
        && a >= b
    {
        return Split { months: None, days: [Some((first, end)), None], edges };
    }
    let start = |m: Option<i64>| m.map(figures::first_day_of_month);
    let days_before = match (first, start(first_month)) {
        (Some(f), Some(s)) if f < s => Some((Some(f), Some(s))),
        _ => None,
    };
    let days_after = match (start(end_month), end) {
        (Some(s), Some(e)) if s < e => Some((Some(s), Some(e))),
        _ => None,
    };
    Split { months: Some((first_month, end_month)), days: [days_before, days_after], edges }
}

/// How a partial day at a range's edge (or a range shorter than two days with no whole
/// day in it; both ends set) splits into whole hours (read from
/// `order_hours`) and partial hours at its ends (read from the orders).
fn split_day((from, to): Span) -> (Option<Span>, [Option<Span>; 2]) {
    let (Some(from), Some(to)) = (from, to) else { return (None, [Some((from, to)), None]) };
    const HOUR: i64 = figures::HOUR_MS;
    let (first, end) = ((from + HOUR - 1).div_euclid(HOUR), to.div_euclid(HOUR));
    if first >= end {
        return (None, [Some((Some(from), Some(to))), None]);
    }
    let lower = (from < first * HOUR).then_some((Some(from), Some(first * HOUR)));
    let upper = (end * HOUR < to).then_some((Some(end * HOUR), Some(to)));
    (Some((Some(first), Some(end))), [lower, upper])
}

/// Pushes a subquery of figure rows keyed `k` by `group` ("creator_id" or
/// "campaign_id") and `g` by `filter`, for the brand's orders whose `filter` column is one
/// of `values`, in `range`. Sum its columns to get exact figures.
pub fn push_figures(sql: &mut Sql, brand: BrandId, group: &str, filter: &str, values: &[i64], range: TimeRange) {
    let parts = split(range);
    let mut selects = Vec::new();
    let mut rows = |table: &str, column: &str, (first, end): Span| {
        let mut part = format!(
            "SELECT r.{group} AS k, r.{filter} AS g, r.orders AS orders, r.sales AS sales, r.approved AS approved, \
             r.rejected AS rejected, r.earned AS earned FROM {table} r WHERE r.brand_id = {} AND r.{filter} IN ({})",
            sql.bind(brand.0),
            in_list(sql, values)
        );
        if let Some(f) = first {
            part.push_str(&format!(" AND r.{column} >= {}", sql.bind(f)));
        }
        if let Some(e) = end {
            part.push_str(&format!(" AND r.{column} < {}", sql.bind(e)));
        }
        part
    };
    match parts.months {
        // All of time: the all-time rows, one per campaign and creator.
        Some((None, None)) => selects.push(rows("order_totals", "", (None, None))),
        Some(months) => selects.push(rows("order_months", "month", months)),
        None => {}
    }
    for days in parts.days.into_iter().flatten() {
        selects.push(rows("order_rollups", "day", days));
    }
    let mut partial_hours = Vec::new();
    for edge in parts.edges.into_iter().flatten() {
        let (hours, partial) = split_day(edge);
        if let Some(hours) = hours {
            selects.push(rows("order_hours", "hour", hours));
        }
        partial_hours.extend(partial.into_iter().flatten());
    }
    for (from, to) in partial_hours {
        let mut part = format!(
            "SELECT o.{group} AS k, o.{filter} AS g, 1 AS orders, {} AS sales, {} AS approved, {} AS rejected, \
             {} AS earned FROM orders o JOIN conversions cv ON cv.order_id = o.id WHERE o.brand_id = {} AND o.{filter} IN ({})",
            figures::sales_sql("o"),
            figures::approved_sql("cv"),
            figures::rejected_sql("cv"),
            figures::earned_sql("o", "cv"),
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
    // Summed per (k, g) before anything joins it: a member's rows are added up once,
    // instead of every member being matched against every row of the range. The sums
    // stay in 64 bits: a (creator, campaign) pair's figures over a range are part of its
    // all-time ones, which `BUCKET_CAP` bounds, and a coarser k is summed so by its reader too.
    let sum = |c: &str| format!("CAST(SUM(u.{c}) AS BIGINT) AS {c}");
    sql.push(&format!(
        "(SELECT u.k AS k, u.g AS g, {} FROM ({}) u GROUP BY u.k, u.g)",
        ["orders", "sales", "approved", "rejected", "earned"].map(sum).join(", "),
        selects.join(" UNION ALL ")
    ));
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
    fn ranges_split_into_whole_months_whole_days_and_partial_edges() {
        let none = [None, None];
        assert_eq!(split(range(None, None)), Split { months: Some((None, None)), days: none, edges: none });
        // Aligned on midnights within one month: days only.
        assert_eq!(
            split(range(Some(2 * DAY), Some(5 * DAY))),
            Split { months: None, days: [Some((Some(2), Some(5))), None], edges: none }
        );
        // Unaligned: whole days 3 and 4, plus the edges.
        let r = range(Some(2 * DAY + 5), Some(5 * DAY + 7));
        assert_eq!(
            split(r),
            Split {
                months: None,
                days: [Some((Some(3), Some(5))), None],
                edges: [Some((Some(2 * DAY + 5), Some(3 * DAY))), Some((Some(5 * DAY), Some(5 * DAY + 7)))]
            }
        );
        // Within one day: orders only.
        let r = range(Some(2 * DAY + 5), Some(2 * DAY + 9));
        assert_eq!(
            split(r),
            Split { months: None, days: none, edges: [Some((Some(2 * DAY + 5), Some(2 * DAY + 9))), None] }
        );
        // 2026-03-03T10:00Z to 2026-05-10T09:30Z: April whole, March 4–31 and May 1–9 as days.
        let (march, april, may) = (20_513, 20_544, 20_574);
        let r = range(Some((march + 2) * DAY + 36_000_000), Some((may + 9) * DAY + 34_200_000));
        let april_month = 2026 * 12 + 3;
        assert_eq!(
            split(r),
            Split {
                months: Some((Some(april_month), Some(april_month + 1))),
                days: [Some((Some(march + 3), Some(april))), Some((Some(may), Some(may + 9)))],
                edges: [Some((r.from, Some((march + 3) * DAY))), Some((Some((may + 9) * DAY), r.to))]
            }
        );
        // Open ends.
        let r = split(range(Some(DAY + 1), None));
        assert_eq!(r.edges, [Some((Some(DAY + 1), Some(2 * DAY))), None]);
        assert_eq!(r.months, Some((Some(1970 * 12 + 1), None)));
        assert_eq!(r.days, [Some((Some(2), Some(31))), None]);
        let r = split(range(None, Some(DAY + 1)));
        assert_eq!(r.months, Some((None, Some(1970 * 12))));
        assert_eq!(r.days, [None, Some((Some(0), Some(1)))]);
    }

    /// The parts of a split, as instants: they tile the range exactly, and the days
    /// read from the daily rows stay within about two months.
    #[test]
    fn every_split_tiles_its_range() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let start = 20_000 * DAY;
        for _ in 0..20_000 {
            let from = start + rng.gen_range(0..800 * DAY);
            let to = from + rng.gen_range(0..500 * DAY);
            let mut snap = |t: i64| if rng.gen_bool(0.3) { t.div_euclid(DAY) * DAY } else { t };
            let (from, to) = (snap(from), snap(to));
            for (from, to) in [(Some(from), Some(to)), (Some(from), None), (None, Some(to)), (None, None)] {
                let parts = split(range(from, to));
                let mut pieces: Vec<Span> = Vec::new();
                let day_ms = |d: Option<i64>| d.map(|d| d * DAY);
                if let Some((a, b)) = parts.months {
                    let ms = |m: Option<i64>| m.map(|m| figures::first_day_of_month(m) * DAY);
                    pieces.push((ms(a), ms(b)));
                }
                for (a, b) in parts.days.into_iter().flatten() {
                    assert!(b.unwrap() - a.unwrap() <= 31 || parts.months.is_none(), "{from:?} {to:?}");
                    assert!(b.unwrap() - a.unwrap() <= 62);
                    pieces.push((day_ms(a), day_ms(b)));
                }
                for edge in parts.edges.into_iter().flatten() {
                    let (hours, partial) = split_day(edge);
                    if let Some((a, b)) = hours {
                        // A range across one midnight with no whole day is one edge.
                        assert!(b.unwrap() - a.unwrap() < 48, "{from:?} {to:?}");
                        pieces.push((a.map(|h| h * figures::HOUR_MS), b.map(|h| h * figures::HOUR_MS)));
                    }
                    for (a, b) in partial.into_iter().flatten() {
                        assert!(b.unwrap() - a.unwrap() < figures::HOUR_MS, "{from:?} {to:?}");
                        pieces.push((a, b));
                    }
                }
                pieces.retain(|(a, b)| !matches!((a, b), (Some(a), Some(b)) if a >= b));
                pieces.sort_by_key(|(a, _)| a.unwrap_or(i64::MIN));
                if from.zip(to).is_some_and(|(f, t)| f >= t) {
                    assert!(pieces.iter().all(|(a, b)| a >= b), "{from:?} {to:?}");
                    continue;
                }
                assert_eq!(pieces.first().unwrap().0, from, "{from:?} {to:?} {parts:?}");
                assert_eq!(pieces.last().unwrap().1, to, "{from:?} {to:?} {parts:?}");
                for pair in pieces.windows(2) {
                    assert_eq!(pair[0].1, pair[1].0, "{from:?} {to:?} {parts:?}");
                }
            }
        }
    }

    #[test]
    fn partial_days_split_into_whole_hours_and_partial_hours() {
        const HOUR: i64 = figures::HOUR_MS;
        // 09:30 to midnight: hours 10 to 23 whole, 09:30–10:00 from the orders.
        assert_eq!(
            split_day((Some(DAY + 9 * HOUR + HOUR / 2), Some(2 * DAY))),
            (Some((Some(34), Some(48))), [Some((Some(DAY + 9 * HOUR + HOUR / 2), Some(DAY + 10 * HOUR))), None])
        );
        // Midnight to 09:30.
        assert_eq!(
            split_day((Some(DAY), Some(DAY + 9 * HOUR + 5))),
            (Some((Some(24), Some(33))), [None, Some((Some(DAY + 9 * HOUR), Some(DAY + 9 * HOUR + 5)))])
        );
        // Within one hour: orders only.
        assert_eq!(split_day((Some(HOUR + 1), Some(HOUR + 9))), (None, [Some((Some(HOUR + 1), Some(HOUR + 9))), None]));
        // Before 1970, hours round down.
        assert_eq!(
            split_day((Some(-HOUR - 5), Some(0))),
            (Some((Some(-1), Some(0))), [Some((Some(-HOUR - 5), Some(-HOUR))), None])
        );
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
