//! The aggregates of SPEC §1 rules 5–7: the Performance table, the dashboard and a
//! creator's total commission, each one GROUP BY in the database over integer minor units.
use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::BrandId;
use super::time::TimeRange;
use super::orders::push_range;
use crate::db::Sql;
use crate::error::AppResult;

/// Earned commission: approved conversions of paid orders (rule 5).
const EARNED: &str = "CAST(COALESCE(SUM(CASE WHEN cv.approval = 'APPROVED' AND o.status = 'PAID' \
                      THEN cv.commission ELSE 0 END), 0) AS BIGINT)";
const SALES: &str = "CAST(COALESCE(SUM(CASE WHEN o.status = 'PAID' THEN o.amount ELSE 0 END), 0) AS BIGINT)";

#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct PerformanceRow {
    pub membership_id: i64,
    pub creator_id: i64,
    pub orders: i64,
    pub sales: i64,
    pub approved: i64,
    pub rejected: i64,
    pub commission: i64,
}

/// The figures of a row or of the totals line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub orders: i64,
    pub sales: i64,
    pub approved: i64,
    pub rejected: i64,
    pub commission: i64,
}

impl PerformanceRow {
    pub fn figures(&self) -> Totals {
        Totals {
            orders: self.orders,
            sales: self.sales,
            approved: self.approved,
            rejected: self.rejected,
            commission: self.commission,
        }
    }
}

pub fn totals(rows: &[PerformanceRow]) -> Totals {
    rows.iter().fold(Totals::default(), |t, r| Totals {
        orders: t.orders + r.orders,
        sales: t.sales + r.sales,
        approved: t.approved + r.approved,
        rejected: t.rejected + r.rejected,
        commission: t.commission + r.commission,
    })
}


/// One row per current member of the campaign (rule 6), zeros for members without
/// orders; `creator` narrows it to one creator's row.
pub async fn campaign_rows(
    db: &impl ConnectionTrait,
    campaign_id: i64,
    range: TimeRange,
    creator: Option<i64>,
) -> AppResult<Vec<PerformanceRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT m.id AS membership_id, m.creator_id AS creator_id, COUNT(o.id) AS orders, {SALES} AS sales, \
         CAST(COALESCE(SUM(CASE WHEN cv.approval = 'APPROVED' THEN 1 ELSE 0 END), 0) AS BIGINT) AS approved, \
         CAST(COALESCE(SUM(CASE WHEN cv.approval = 'REJECTED' THEN 1 ELSE 0 END), 0) AS BIGINT) AS rejected, \
         {EARNED} AS commission \
         FROM memberships m JOIN creators c ON c.id = m.creator_id AND c.deleted_at IS NULL \
         LEFT JOIN orders o ON o.campaign_id = m.campaign_id AND o.creator_id = m.creator_id"
    ));
    push_range(&mut sql, range);
    sql.push(" LEFT JOIN conversions cv ON cv.order_id = o.id WHERE m.campaign_id = ");
    let p = sql.bind(campaign_id);
    sql.push(&p).push(" AND m.removed_at IS NULL");
    if let Some(creator) = creator {
        sql.and("m.creator_id =", creator);
    }
    sql.push(" GROUP BY m.id, m.creator_id ORDER BY m.id");
    Ok(PerformanceRow::find_by_statement(sql.build(db.get_database_backend())).all(db).await?)
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
    pub total_sales: i64,
    pub orders: i64,
    pub commission: i64,
    pub by_campaign: Vec<CampaignSales>,
}

/// Every sale of the brand, removed members and deleted creators included (rule 6).
pub async fn dashboard(db: &impl ConnectionTrait, brand: BrandId, range: TimeRange) -> AppResult<Dashboard> {
    let mut sql = Sql::new(&format!(
        "SELECT k.id AS campaign_id, COUNT(o.id) AS orders, {SALES} AS sales, {EARNED} AS commission \
         FROM campaigns k LEFT JOIN orders o ON o.campaign_id = k.id"
    ));
    push_range(&mut sql, range);
    sql.push(" LEFT JOIN conversions cv ON cv.order_id = o.id WHERE k.brand_id = ");
    let p = sql.bind(brand.0);
    sql.push(&p).push(" GROUP BY k.id ORDER BY k.id");
    let by_campaign = CampaignSales::find_by_statement(sql.build(db.get_database_backend())).all(db).await?;
    Ok(Dashboard {
        total_sales: by_campaign.iter().map(|c| c.sales).sum(),
        orders: by_campaign.iter().map(|c| c.orders).sum(),
        commission: by_campaign.iter().map(|c| c.commission).sum(),
        by_campaign,
    })
}

/// Earned commission per creator over all campaigns, for a batch of creators.
pub async fn creator_commissions(
    db: &impl ConnectionTrait,
    creators: &[i64],
    range: TimeRange,
) -> AppResult<HashMap<i64, i64>> {
    #[derive(FromQueryResult)]
    struct Row {
        creator_id: i64,
        commission: i64,
    }
    if creators.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = Sql::new(&format!(
        "SELECT o.creator_id AS creator_id, {EARNED} AS commission FROM orders o \
         JOIN conversions cv ON cv.order_id = o.id WHERE 1 = 1"
    ));
    sql.and_in("o.creator_id", creators.iter().copied());
    push_range(&mut sql, range);
    sql.push(" GROUP BY o.creator_id");
    let rows = Row::find_by_statement(sql.build(db.get_database_backend())).all(db).await?;
    Ok(rows.into_iter().map(|r| (r.creator_id, r.commission)).collect())
}
