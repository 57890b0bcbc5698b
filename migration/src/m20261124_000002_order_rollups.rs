//! Daily rollups of orders per (campaign, creator, UTC day), maintained in the same
//! transaction as every change, so the Performance table, the dashboard and a creator's
//! total read a few rows per day instead of every order. Backfilled from existing orders.
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
                    .table("order_rollups")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(big_integer("day"))
                    .col(big_integer("orders"))
                    .col(big_integer("sales"))
                    .col(big_integer("approved"))
                    .col(big_integer("rejected"))
                    .col(big_integer("earned"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_rollups_campaign_id")
                            .from("order_rollups", "campaign_id")
                            .to("campaigns", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        for (name, cols, unique) in [
            ("ux_order_rollups_bucket", &["campaign_id", "creator_id", "day"][..], true),
            ("ix_order_rollups_brand", &["brand_id", "day"][..], false),
            ("ix_order_rollups_creator", &["creator_id", "day"][..], false),
        ] {
            let mut index = Index::create();
            index.name(name).table("order_rollups");
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
                "INSERT INTO order_rollups (brand_id, campaign_id, creator_id, day, orders, sales, approved, rejected, earned) \
                 SELECT o.brand_id, o.campaign_id, o.creator_id, o.ordered_at / 86400000, COUNT(*), \
                 SUM(CASE WHEN o.status = 'PAID' THEN o.amount ELSE 0 END), \
                 SUM(CASE WHEN cv.approval = 'APPROVED' THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN cv.approval = 'REJECTED' THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN cv.approval = 'APPROVED' AND o.status = 'PAID' THEN cv.commission ELSE 0 END) \
                 FROM orders o JOIN conversions cv ON cv.order_id = o.id \
                 GROUP BY o.brand_id, o.campaign_id, o.creator_id, o.ordered_at / 86400000",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("order_rollups").take()).await
    }
}
