//! The aggregates of SPEC §1 rules 5–7: the Performance table, the dashboard and a
//! creator's total commission, each one GROUP BY in the database over integer minor units,
//! read from the daily rollups plus the orders of partial days at a range's edges.
//! Written as SQL: sums over a UNION ALL of rollup rows and edge orders read plainly as
//! SQL and would be longer, not clearer, built with sea-query.
use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::BrandId;
use super::memberships::visible;
use super::rollup::push_figures;
use super::time::TimeRange;
use crate::db::Sql;
use crate::domain::error::DomainResult;

/// Sums of a `rollup::push_figures` subquery aliased `f`.
const SUMS: &str = "CAST(COALESCE(SUM(f.orders), 0) AS BIGINT) AS orders, \
    CAST(COALESCE(SUM(f.sales), 0) AS BIGINT) AS sales, \
    CAST(COALESCE(SUM(f.approved), 0) AS BIGINT) AS approved, \
    CAST(COALESCE(SUM(f.rejected), 0) AS BIGINT) AS rejected, \
    CAST(COALESCE(SUM(f.earned), 0) AS BIGINT) AS commission";

#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct PerformanceRow {
    pub campaign_id: i64,
    pub membership_id: i64,
    pub creator_id: i64,
    pub orders: i64,
    pub sales: i64,
    pub approved: i64,
    pub rejected: i64,
    pub commission: i64,
}

/// The figures of a row or of the totals line; money summed over rows in i128, so the
/// sum of any number of rows is exact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub orders: i64,
    pub sales: i128,
    pub approved: i64,
    pub rejected: i64,
    pub commission: i128,
}

impl PerformanceRow {
    pub fn figures(&self) -> Totals {
        Totals {
            orders: self.orders,
            sales: self.sales.into(),
            approved: self.approved,
            rejected: self.rejected,
            commission: self.commission.into(),
        }
    }
}

pub fn totals(rows: &[PerformanceRow]) -> Totals {
    rows.iter().fold(Totals::default(), |t, r| Totals {
        orders: t.orders + r.orders,
        sales: t.sales + i128::from(r.sales),
        approved: t.approved + r.approved,
        rejected: t.rejected + r.rejected,
        commission: t.commission + i128::from(r.commission),
    })
}

/// One row per current member of the campaign (rule 6), zeros for members without
/// orders; `creator` narrows it to one creator's row.
pub async fn campaign_rows(
    db: &impl ConnectionTrait,
    brand: BrandId,
    campaign_id: i64,
    range: TimeRange,
    creator: Option<i64>,
) -> DomainResult<Vec<PerformanceRow>> {
    campaigns_rows(db, brand, &[campaign_id], range, creator).await
}

/// The rows of several campaigns' Performance tables in one statement, in membership order.
pub async fn campaigns_rows(
    db: &impl ConnectionTrait,
    brand: BrandId,
    campaign_ids: &[i64],
    range: TimeRange,
    creator: Option<i64>,
) -> DomainResult<Vec<PerformanceRow>> {
    if campaign_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!(
        "SELECT m.campaign_id AS campaign_id, m.id AS membership_id, m.creator_id AS creator_id, {SUMS}"
    ));
    push_members_figures(&mut sql, brand, campaign_ids, range);
    if let Some(creator) = creator {
        sql.and("m.creator_id =", creator);
    }
    sql.push(" GROUP BY m.campaign_id, m.id, m.creator_id ORDER BY m.id");
    Ok(PerformanceRow::find_by_statement(sql.build(db.get_database_backend())).all(db).await?)
}

/// ` FROM … WHERE …` of the campaigns' current members (rule 6) joined to their figures
/// `f` over the range.
fn push_members_figures(sql: &mut Sql, brand: BrandId, campaign_ids: &[i64], range: TimeRange) {
    sql.push(" FROM memberships m JOIN creators c ON c.id = m.creator_id LEFT JOIN ");
    push_figures(sql, brand, "creator_id", "campaign_id", campaign_ids, range);
    sql.push(&format!(" f ON f.k = m.creator_id AND f.g = m.campaign_id WHERE {}", visible::sql("m", "c")));
    sql.and_in("m.campaign_id", campaign_ids.iter().copied());
}

/// Money summed in the database in two halves, each of which stays far inside 64 bits
/// for any number of rows; joined again in i128, the total is exact on both backends
/// (SQLite refuses an integer SUM past 64 bits, and a row may hold up to `BUCKET_CAP`).
const HALF: i64 = 1 << 32;

/// The totals lines of several campaigns' Performance tables, summed in the database:
/// for a list of campaigns that asks for totals and not rows, one row per campaign
/// instead of one per member.
pub async fn campaigns_totals(
    db: &impl ConnectionTrait,
    brand: BrandId,
    campaign_ids: &[i64],
    range: TimeRange,
) -> DomainResult<HashMap<i64, Totals>> {
    #[derive(FromQueryResult)]
    struct Row {
        campaign_id: i64,
        orders: i64,
        sales_high: i64,
        sales_low: i64,
        approved: i64,
        rejected: i64,
        earned_high: i64,
        earned_low: i64,
    }
    if campaign_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sum = |expr: &str, alias: &str| format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT) AS {alias}");
    let mut sql = Sql::new(&format!(
        "SELECT m.campaign_id AS campaign_id, {}, {}, {}, {}, {}, {}, {}",
        sum("f.orders", "orders"),
        sum(&format!("f.sales / {HALF}"), "sales_high"),
        sum(&format!("f.sales % {HALF}"), "sales_low"),
        sum("f.approved", "approved"),
        sum("f.rejected", "rejected"),
        sum(&format!("f.earned / {HALF}"), "earned_high"),
        sum(&format!("f.earned % {HALF}"), "earned_low"),
    ));
    push_members_figures(&mut sql, brand, campaign_ids, range);
    sql.push(" GROUP BY m.campaign_id");
    let rows = Row::find_by_statement(sql.build(db.get_database_backend())).all(db).await?;
    let joined = |high: i64, low: i64| i128::from(high) * i128::from(HALF) + i128::from(low);
    Ok(rows
        .into_iter()
        .map(|r| {
            let totals = Totals {
                orders: r.orders,
                sales: joined(r.sales_high, r.sales_low),
                approved: r.approved,
                rejected: r.rejected,
                commission: joined(r.earned_high, r.earned_low),
            };
            (r.campaign_id, totals)
        })
        .collect())
}

#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct CampaignSales {
    pub campaign_id: i64,
    pub orders: i64,
    pub sales: i64,
    pub commission: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dashboard {
    pub total_sales: i128,
    pub orders: i64,
    pub commission: i128,
    pub by_campaign: Vec<CampaignSales>,
}

/// Every sale of the brand, removed members and deleted creators included (rule 6).
pub async fn dashboard(db: &impl ConnectionTrait, brand: BrandId, range: TimeRange) -> DomainResult<Dashboard> {
    let mut sql = Sql::new(
        "SELECT k.id AS campaign_id, CAST(COALESCE(SUM(f.orders), 0) AS BIGINT) AS orders, \
         CAST(COALESCE(SUM(f.sales), 0) AS BIGINT) AS sales, CAST(COALESCE(SUM(f.earned), 0) AS BIGINT) AS commission \
         FROM campaigns k LEFT JOIN ",
    );
    push_figures(&mut sql, brand, "campaign_id", "brand_id", &[brand.0], range);
    sql.push(" f ON f.k = k.id WHERE 1 = 1");
    sql.and("k.brand_id =", brand.0);
    sql.push(" GROUP BY k.id ORDER BY k.id");
    let by_campaign = CampaignSales::find_by_statement(sql.build(db.get_database_backend())).all(db).await?;
    Ok(Dashboard {
        total_sales: by_campaign.iter().map(|c| i128::from(c.sales)).sum(),
        orders: by_campaign.iter().map(|c| c.orders).sum(),
        commission: by_campaign.iter().map(|c| i128::from(c.commission)).sum(),
        by_campaign,
    })
}

/// Earned commission per creator over all campaigns, for a batch of creators.
pub async fn creator_commissions(
    db: &impl ConnectionTrait,
    brand: BrandId,
    creators: &[i64],
    range: TimeRange,
) -> DomainResult<HashMap<i64, i64>> {
    #[derive(FromQueryResult)]
    struct Row {
        creator_id: i64,
        commission: i64,
    }
    if creators.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = Sql::new("SELECT f.k AS creator_id, CAST(COALESCE(SUM(f.earned), 0) AS BIGINT) AS commission FROM ");
    push_figures(&mut sql, brand, "creator_id", "creator_id", creators, range);
    sql.push(" f GROUP BY f.k");
    let rows = Row::find_by_statement(sql.build(db.get_database_backend())).all(db).await?;
    Ok(rows.into_iter().map(|r| (r.creator_id, r.commission)).collect())
}
