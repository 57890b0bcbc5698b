//! Orders as CSV rows: each with its campaign's and creator's names and its conversion.
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect, QueryTrait, RelationTrait};

use super::OrderStatus;
use super::query::{OrderCursor, OrderFilter, Scope, newest_first, scoped};
use crate::db;
use crate::domain::BrandId;
use crate::domain::error::DomainResult;
use crate::domain::time::Millis;
use entity::enums::Approval;
use entity::{campaign, conversion, creator, order};

/// One order with what an export row shows of its campaign, creator and conversion.
#[derive(Clone, Debug, FromQueryResult)]
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

/// One chunk of export rows, newest first, after the cursor: a keyset page, so a long
/// export holds no transaction and no connection between chunks.
pub async fn export_page(
    db: &impl ConnectionTrait,
    brand: BrandId,
    scope: Scope,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u64,
) -> DomainResult<Vec<ExportRow>> {
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
        .filter(scoped(brand, scope, filter, true));
    let statement = db::literal_limit(newest_first(select, after, limit).build(db.get_database_backend()));
    Ok(ExportRow::find_by_statement(statement).all(db).await?)
}
