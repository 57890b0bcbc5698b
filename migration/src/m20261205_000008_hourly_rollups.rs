//! Figures per campaign, creator and UTC hour (`order_hours`), beside the daily, monthly
//! and all-time ones and maintained in the same transaction as every change. A range's
//! partial days at its edges are then read as whole hours from here plus the orders of
//! two partial hours, instead of the orders of two partial days: what a range reads no
//! longer grows with the number of orders (at 10,000,000 orders the two edge days of a
//! one-month Performance table were some 2,300 orders, each read with its conversion).
//! Keyed and covered as the daily and monthly rows are (migration 6): the unique
//! (campaign, hour, creator) index carries the figures, on PostgreSQL as `INCLUDE`
//! columns, on SQLite in a second index. Backfilled from the orders with the rules of
//! `entity::figures`.
use entity::figures;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a range reads beside the keys: the brand (checked by every reader) and the figures.
const COVERED: [&str; 6] = ["brand_id", "orders", "sales", "approved", "rejected", "earned"];

fn index(name: &str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table("order_hours");
    for col in cols {
        index.col(*col);
    }
    if unique {
        index.unique();
    }
    index
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("order_hours")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(big_integer("hour"))
                    .col(big_integer("orders"))
                    .col(big_integer("sales"))
                    .col(big_integer("approved"))
                    .col(big_integer("rejected"))
                    .col(big_integer("earned"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_hours_campaign_id")
                            .from("order_hours", "campaign_id")
                            .to("campaigns", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        let keys = ["campaign_id", "hour", "creator_id"];
        let mut unique = index("ux_order_hours_bucket", &keys, true);
        if manager.get_database_backend() == DbBackend::Postgres {
            for col in COVERED {
                unique.include(col);
            }
            manager.create_index(unique).await?;
        } else {
            manager.create_index(unique).await?;
            let covering: Vec<&'static str> = keys.into_iter().chain(COVERED).collect();
            manager.create_index(index("ix_order_hours_covering", &covering, false)).await?;
        }
        for statement in [
            index("ix_order_hours_brand", &["brand_id", "hour"], false),
            index("ix_order_hours_creator", &["creator_id", "hour"], false),
        ] {
            manager.create_index(statement).await?;
        }
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("order_hours").take()).await
    }
}

/// Each brand's months from its first order's to its last's, one statement a month (an
/// index range of the brand's orders), in month order.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let spans = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT brand_id, MIN(ordered_at) AS first, MAX(ordered_at) AS last FROM orders GROUP BY brand_id ORDER BY brand_id",
        ))
        .await?;
    let (sales, earned) = (figures::sales_sql("o"), figures::earned_sql("o", "cv"));
    let (approved, rejected) = (figures::approved_sql("cv"), figures::rejected_sql("cv"));
    let hour = figures::hour_sql("o.ordered_at");
    for span in spans {
        let brand: i64 = span.try_get("", "brand_id")?;
        let first = figures::month_of_day(figures::day(span.try_get("", "first")?));
        let last = figures::month_of_day(figures::day(span.try_get("", "last")?));
        for month in first..=last {
            let from = figures::first_day_of_month(month) * figures::DAY_MS;
            let to = figures::first_day_of_month(month + 1) * figures::DAY_MS;
            db.execute_raw(Statement::from_string(
                backend,
                format!(
                    "INSERT INTO order_hours (brand_id, campaign_id, creator_id, hour, orders, sales, approved, rejected, earned) \
                     SELECT o.brand_id, o.campaign_id, o.creator_id, {hour}, COUNT(*), SUM({sales}), SUM({approved}), \
                     SUM({rejected}), SUM({earned}) FROM orders o JOIN conversions cv ON cv.order_id = o.id \
                     WHERE o.brand_id = {brand} AND o.ordered_at >= {from} AND o.ordered_at < {to} \
                     GROUP BY o.brand_id, o.campaign_id, o.creator_id, {hour} ORDER BY o.campaign_id, {hour}, o.creator_id"
                ),
            ))
            .await?;
        }
    }
    Ok(())
}
