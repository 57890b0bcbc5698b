//! All-time figures per (campaign, creator), beside the daily rollups and maintained in
//! the same transaction as every change: a range without bounds (the default of every
//! Performance table, of the dashboard and of a creator's commission) reads one row per
//! member instead of one per member and day. Backfilled from the daily rollups.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("order_totals")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(big_integer("orders"))
                    .col(big_integer("sales"))
                    .col(big_integer("approved"))
                    .col(big_integer("rejected"))
                    .col(big_integer("earned"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_totals_campaign_id")
                            .from("order_totals", "campaign_id")
                            .to("campaigns", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        for (name, cols, unique) in [
            ("ux_order_totals_bucket", &["campaign_id", "creator_id"][..], true),
            ("ix_order_totals_brand", &["brand_id", "campaign_id"][..], false),
            ("ix_order_totals_creator", &["creator_id"][..], false),
        ] {
            let mut index = Index::create();
            index.name(name).table("order_totals");
            for col in cols {
                index.col(*col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO order_totals (brand_id, campaign_id, creator_id, orders, sales, approved, rejected, earned) \
                 SELECT brand_id, campaign_id, creator_id, SUM(orders), SUM(sales), SUM(approved), SUM(rejected), SUM(earned) \
                 FROM order_rollups GROUP BY brand_id, campaign_id, creator_id ORDER BY campaign_id, creator_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("order_totals").take()).await
    }
}
