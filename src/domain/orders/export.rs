//! Orders as CSV rows: each with its campaign's and creator's names and its conversion,
//! newest first, read by one statement per export.
//!
//! Orders are stored in the order they arrive, which is not the order they were placed
//! in, so reading them newest first through the index costs a random visit per row to the
//! order and another to its conversion (about 11 µs a row at a million orders). A whole
//! export is read instead the way a big report is: the tables scanned, joined and sorted
//! once by the database (about 2 µs a row), and handed over in chunks as the download
//! takes them. PostgreSQL chooses between the two itself, planning the export's cursor
//! for all its rows; SQLite is told, from how many rows the export holds.
use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait, Statement,
};
use std::time::Duration;
use tokio::sync::mpsc;

use super::OrderStatus;
use super::query::{OrderFilter, Scope, count, scoped};
use crate::domain::BrandId;
use crate::domain::error::DomainResult;
use crate::domain::time::Millis;
use entity::enums::Approval;
use entity::{campaign, conversion, creator, order};

/// Rows handed over at a time.
pub const CHUNK: usize = 8192;

/// On SQLite, an export holding more than this share of the orders table reads it whole
/// and sorts (about 0.8 µs a row of the table and 1.3 µs a row sorted) rather than going
/// through the index (about 4.6 µs a row of the export).
const SCAN_SHARE: u64 = 4;

/// One order with what an export row shows of its campaign, creator and conversion.
#[derive(Clone, Debug)]
pub struct ExportRow {
    pub id: i64,
    pub external_id: String,
    pub campaign_name: String,
    pub creator_name: String,
    pub creator_handle: Option<String>,
    pub coupon_code: Option<String>,
    pub ordered_at: Millis,
    pub status: OrderStatus,
    pub amount: i64,
    pub currency: String,
    pub approval: Approval,
    /// Earned commission (rule 5), so the column sums to the Performance total.
    pub earned: i64,
}

/// Read by position, in `statement`'s order: finding each column by its name was a tenth
/// of an export's time.
impl FromQueryResult for ExportRow {
    fn from_query_result(row: &QueryResult, _: &str) -> Result<Self, DbErr> {
        Ok(ExportRow {
            id: row.try_get_by_index(0)?,
            external_id: row.try_get_by_index(1)?,
            campaign_name: row.try_get_by_index(2)?,
            creator_name: row.try_get_by_index(3)?,
            creator_handle: row.try_get_by_index(4)?,
            coupon_code: row.try_get_by_index(5)?,
            ordered_at: row.try_get_by_index(6)?,
            status: row.try_get_by_index(7)?,
            amount: row.try_get_by_index(8)?,
            currency: row.try_get_by_index(9)?,
            approval: row.try_get_by_index(10)?,
            earned: row.try_get_by_index(11)?,
        })
    }
}

/// How an export's reading ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Every row was sent.
    All,
    /// The receiver went away, or took nothing for `patience`.
    Stopped,
}

/// Reads every row of an export, newest first, and sends them in chunks of at most
/// `CHUNK`, in order. `txn` is a transaction of the export pool (`db::export_pool`),
/// begun by the caller so that a pool with none free is refused before anything is sent;
/// the export holds it (one connection, one snapshot) until the last chunk is taken, or
/// until a chunk has waited `patience` to be taken.
pub async fn export(
    txn: DatabaseTransaction,
    brand: BrandId,
    scope: Scope,
    filter: &OrderFilter,
    chunks: mpsc::Sender<Vec<ExportRow>>,
    patience: Duration,
) -> DomainResult<Read> {
    let send =
        async |rows: Vec<ExportRow>| matches!(tokio::time::timeout(patience, chunks.send(rows)).await, Ok(Ok(())));
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        // A cursor planned for all its rows (by default PostgreSQL plans one for its
        // first tenth: the index), sorting in runs of 16 MB (faster here at a million
        // rows than 4 MB, or than one sort in memory); each FETCH is a statement of its
        // own, so only the first, which sorts, takes long.
        for setting in ["cursor_tuple_fraction = 1.0", "work_mem = '16MB'"] {
            txn.execute_unprepared(&format!("SET LOCAL {setting}")).await?;
        }
        let select = statement(backend, brand, scope, filter, false);
        let declare = format!("DECLARE tally_export NO SCROLL CURSOR FOR {}", select.sql);
        txn.execute_raw(Statement { sql: declare, ..select }).await?;
        let fetch = format!("FETCH FORWARD {CHUNK} FROM tally_export");
        loop {
            let rows = ExportRow::find_by_statement(Statement::from_string(backend, fetch.clone())).all(&txn).await?;
            let last = rows.len() < CHUNK;
            if !rows.is_empty() && !send(rows).await {
                return Ok(Read::Stopped);
            }
            if last {
                break;
            }
        }
    } else {
        let rows = count(&txn, brand, scope, filter).await?;
        let table = txn
            .query_one_raw(Statement::from_string(backend, "SELECT COALESCE(MAX(id), 0) AS n FROM orders"))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        let scan = rows.saturating_mul(SCAN_SHARE) > u64::try_from(table).unwrap_or(0);
        let select = statement(backend, brand, scope, filter, scan);
        let mut stream = ExportRow::find_by_statement(select).stream(&txn).await?;
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(row) = futures_util::StreamExt::next(&mut stream).await {
            chunk.push(row?);
            if chunk.len() == CHUNK && !send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).await {
                return Ok(Read::Stopped);
            }
        }
        if !chunk.is_empty() && !send(chunk).await {
            return Ok(Read::Stopped);
        }
    }
    Ok(Read::All)
}

/// The export's one statement. `scan` (SQLite) reads the orders table whole and sorts
/// rather than walking an index newest first.
fn statement(backend: DbBackend, brand: BrandId, scope: Scope, filter: &OrderFilter, scan: bool) -> Statement {
    // Rule 5 as the aggregates read it; sea-query writes the tables under their own names.
    let earned = Expr::cust(entity::figures::earned_sql("orders", "conversions"));
    let select = order::Entity::find()
        .select_only()
        .columns([order::Column::Id, order::Column::ExternalId])
        .column_as(Expr::col((campaign::Entity, campaign::Column::Name)), "campaign_name")
        .column_as(Expr::col((creator::Entity, creator::Column::Name)), "creator_name")
        .column_as(Expr::col((creator::Entity, creator::Column::Handle)), "creator_handle")
        .columns([
            order::Column::CouponCode,
            order::Column::OrderedAt,
            order::Column::Status,
            order::Column::Amount,
            order::Column::Currency,
        ])
        .column_as(Expr::col((conversion::Entity, conversion::Column::Approval)), "approval")
        .column_as(earned, "earned")
        .join(JoinType::InnerJoin, order::Relation::Campaign.def())
        .join(JoinType::InnerJoin, order::Relation::Creator.def())
        .join(JoinType::InnerJoin, order::Relation::Conversion.def())
        .filter(scoped(brand, scope, filter, true))
        .order_by_desc(Expr::col((order::Entity, order::Column::OrderedAt)))
        .order_by_desc(Expr::col((order::Entity, order::Column::Id)));
    let mut statement = select.build(backend);
    if scan {
        // SQLite's own hint, which sea-query does not write.
        statement.sql = statement.sql.replacen(r#"FROM "orders""#, r#"FROM "orders" NOT INDEXED"#, 1);
    }
    statement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_reads_the_orders_table_without_its_indexes() {
        let filter = OrderFilter::default();
        let scanned = statement(DbBackend::Sqlite, BrandId(1), Scope::Brand, &filter, true).sql;
        assert!(scanned.contains(r#"FROM "orders" NOT INDEXED INNER JOIN "campaigns""#), "{scanned}");
        let indexed = statement(DbBackend::Sqlite, BrandId(1), Scope::Brand, &filter, false).sql;
        assert!(!indexed.contains("NOT INDEXED"), "{indexed}");
        assert!(indexed.ends_with(r#"ORDER BY "orders"."ordered_at" DESC, "orders"."id" DESC"#), "{indexed}");
    }
}
