//! The initial data model of SPEC §1. Times are BIGINT epoch milliseconds and money BIGINT
//! minor units on both backends, so comparisons and sums are exact.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{col}"))
        .from(from, col)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

fn index(table: &'static str, name: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("brands")
                    .col(big_pk_auto("id"))
                    .col(string("name"))
                    .col(string_len("currency", 3))
                    .col(string_null("store_url"))
                    .col(string("webhook_secret"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(string("name"))
                    .col(string_len("role", 16))
                    .col(string_uniq("key_hash"))
                    .col(boolean("revoked"))
                    .col(big_integer("created_at"))
                    .foreign_key(&mut fk("api_keys", "brand_id", "brands"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("creators")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(string("name"))
                    .col(string_null("handle"))
                    .col(string_null("email"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("deleted_at"))
                    .foreign_key(&mut fk("creators", "brand_id", "brands"))
                    .take(),
            )
            .await?;
        manager.create_index(index("creators", "ix_creators_brand", &["brand_id", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("campaigns")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(string("name"))
                    .col(big_integer("default_commission_rate"))
                    .col(big_integer("created_at"))
                    .foreign_key(&mut fk("campaigns", "brand_id", "brands"))
                    .take(),
            )
            .await?;
        manager.create_index(index("campaigns", "ix_campaigns_brand", &["brand_id", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("memberships")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(string_null("coupon_code"))
                    .col(string_null("coupon_key"))
                    .col(string_null("affiliate_code"))
                    .col(big_integer("commission_rate"))
                    .col(big_integer("commission_flat"))
                    .col(big_integer("joined_at"))
                    .col(big_integer_null("removed_at"))
                    .foreign_key(&mut fk("memberships", "brand_id", "brands"))
                    .foreign_key(&mut fk("memberships", "campaign_id", "campaigns"))
                    .foreign_key(&mut fk("memberships", "creator_id", "creators"))
                    .take(),
            )
            .await?;
        manager.create_index(index("memberships", "ix_memberships_campaign", &["campaign_id", "id"])).await?;
        manager.create_index(index("memberships", "ix_memberships_creator", &["creator_id"])).await?;
        manager.create_index(index("memberships", "ix_memberships_coupon", &["brand_id", "coupon_key"])).await?;
        manager.create_index(index("memberships", "ix_memberships_affiliate", &["brand_id", "affiliate_code"])).await?;
        // Codes and the (campaign, creator) pair are unique among current memberships only:
        // a removed member keeps its codes for attributing late orders, and may be re-added.
        // sea-query has no partial indexes; this SQL is the same on SQLite and PostgreSQL.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_memberships_active_coupon ON memberships (brand_id, coupon_key) \
             WHERE removed_at IS NULL AND coupon_key IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_memberships_active_affiliate ON memberships (brand_id, affiliate_code) \
             WHERE removed_at IS NULL AND affiliate_code IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_memberships_active_member ON memberships (campaign_id, creator_id) \
             WHERE removed_at IS NULL",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("orders")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(big_integer("membership_id"))
                    .col(string("external_id"))
                    .col(big_integer("amount"))
                    .col(string_len("currency", 3))
                    .col(string_len("status", 16))
                    .col(string_null("coupon_code"))
                    .col(big_integer("ordered_at"))
                    .col(big_integer("status_changed_at"))
                    .col(big_integer("last_event_at"))
                    .col(big_integer("created_at"))
                    .foreign_key(&mut fk("orders", "brand_id", "brands"))
                    .foreign_key(&mut fk("orders", "campaign_id", "campaigns"))
                    .foreign_key(&mut fk("orders", "creator_id", "creators"))
                    .foreign_key(&mut fk("orders", "membership_id", "memberships"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("orders", "ux_orders_brand_external", &["brand_id", "external_id"]).unique().take())
            .await?;
        manager.create_index(index("orders", "ix_orders_brand_ordered", &["brand_id", "ordered_at", "id"])).await?;
        manager
            .create_index(index("orders", "ix_orders_campaign_ordered", &["campaign_id", "ordered_at", "id"]))
            .await?;
        manager.create_index(index("orders", "ix_orders_membership", &["membership_id", "ordered_at"])).await?;
        manager.create_index(index("orders", "ix_orders_creator", &["creator_id", "ordered_at"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("order_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("order_id"))
                    .col(string_len("status", 16))
                    .col(big_integer("occurred_at"))
                    .col(string("source"))
                    .col(big_integer("received_at"))
                    .foreign_key(&mut fk("order_events", "order_id", "orders"))
                    .take(),
            )
            .await?;
        // A repeated delivery of the same status at the same time is one history entry.
        manager
            .create_index(
                index("order_events", "ux_order_events_once", &["order_id", "occurred_at", "status"]).unique().take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("conversions")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer_uniq("order_id"))
                    .col(big_integer("campaign_id"))
                    .col(big_integer("creator_id"))
                    .col(big_integer("membership_id"))
                    .col(string_len("attribution", 16))
                    .col(big_integer("commission"))
                    .col(string_len("approval", 16))
                    .col(big_integer_null("reviewed_at"))
                    .col(text_null("rejection_reason"))
                    .col(big_integer("created_at"))
                    .foreign_key(&mut fk("conversions", "brand_id", "brands"))
                    .foreign_key(&mut fk("conversions", "order_id", "orders"))
                    .foreign_key(&mut fk("conversions", "membership_id", "memberships"))
                    .take(),
            )
            .await?;
        manager.create_index(index("conversions", "ix_conversions_membership", &["membership_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("conversion_reviews")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("conversion_id"))
                    .col(string_len("action", 16))
                    .col(string("by_key"))
                    .col(big_integer("at"))
                    .col(text_null("reason"))
                    .foreign_key(&mut fk("conversion_reviews", "conversion_id", "conversions"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("conversion_reviews", "ix_conversion_reviews_conversion", &["conversion_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("brand_id"))
                    .col(big_integer("campaign_id"))
                    .col(string_len("kind", 64))
                    .col(text("payload"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;
        manager.create_index(index("events", "ix_events_brand", &["brand_id", "id"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "events",
            "conversion_reviews",
            "conversions",
            "order_events",
            "orders",
            "memberships",
            "campaigns",
            "creators",
            "api_keys",
            "brands",
        ] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
