//! Figures per campaign, creator and UTC calendar month (`order_months`), beside the daily
//! and all-time ones and maintained in the same transaction as every change, so a range
//! reads whole months from here, at most about two months of days from `order_rollups`,
//! and the orders of two partial days. The daily and monthly rows are keyed (campaign,
//! bucket, creator), so a campaign's days or months in a range are one stretch of one
//! index, and that index covers the figures: on PostgreSQL the unique index carries them
//! (`INCLUDE`), on SQLite a second index holds keys and figures. A range then reads no
//! table rows at all (a month of a 100-member campaign: 1,500 rows on 1,268 pages
//! before). Backfilled from the orders with the rule of `entity::figures`.
use entity::figures;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a range reads beside the keys: the brand (checked by every reader) and the figures.
const COVERED: [&str; 6] = ["brand_id", "orders", "sales", "approved", "rejected", "earned"];

/// The unique (campaign, bucket, creator) index of a rollup table, covering `COVERED`: on
/// PostgreSQL as its `INCLUDE` columns, on SQLite (which has no `INCLUDE`) as a second
/// index of keys and figures.
async fn bucket_index(manager: &SchemaManager<'_>, table: &str, bucket: &'static str) -> Result<(), DbErr> {
    let keys = ["campaign_id", bucket, "creator_id"];
    let mut unique = index(&format!("ux_{table}_bucket"), table, &keys, true);
    if manager.get_database_backend() == DbBackend::Postgres {
        for col in COVERED {
            unique.include(col);
        }
        return manager.create_index(unique).await;
    }
    manager.create_index(unique).await?;
    let covering: Vec<&'static str> = keys.into_iter().chain(COVERED).collect();
    manager.create_index(index(&format!("ix_{table}_covering"), table, &covering, false)).await
}

fn index(name: &str, table: &str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table.to_string());
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
                    .table("order_months")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(big_integer("month"))
                    .col(big_integer("orders"))
                    .col(big_integer("sales"))
                    .col(big_integer("approved"))
                    .col(big_integer("rejected"))
                    .col(big_integer("earned"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_months_campaign_id")
                            .from("order_months", "campaign_id")
                            .to("campaigns", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        bucket_index(manager, "order_months", "month").await?;
        for statement in [
            index("ix_order_months_brand", "order_months", &["brand_id", "month"], false),
            index("ix_order_months_creator", "order_months", &["creator_id", "month"], false),
        ] {
            manager.create_index(statement).await?;
        }
        manager.drop_index(Index::drop().name("ux_order_rollups_bucket").table("order_rollups").to_owned()).await?;
        bucket_index(manager, "order_rollups", "day").await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            manager
                .drop_index(Index::drop().name("ix_order_rollups_covering").table("order_rollups").to_owned())
                .await?;
        }
        manager.drop_index(Index::drop().name("ux_order_rollups_bucket").table("order_rollups").to_owned()).await?;
        manager
            .create_index(index(
                "ux_order_rollups_bucket",
                "order_rollups",
                &["campaign_id", "creator_id", "day"],
                true,
            ))
            .await?;
        manager.drop_table(Table::drop().table("order_months").take()).await
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
                    "INSERT INTO order_months (brand_id, campaign_id, creator_id, month, orders, sales, approved, rejected, earned) \
                     SELECT o.brand_id, o.campaign_id, o.creator_id, {month}, COUNT(*), SUM({sales}), SUM({approved}), \
                     SUM({rejected}), SUM({earned}) FROM orders o JOIN conversions cv ON cv.order_id = o.id \
                     WHERE o.brand_id = {brand} AND o.ordered_at >= {from} AND o.ordered_at < {to} \
                     GROUP BY o.brand_id, o.campaign_id, o.creator_id ORDER BY o.campaign_id, o.creator_id"
                ),
            ))
            .await?;
        }
    }
    Ok(())
}
