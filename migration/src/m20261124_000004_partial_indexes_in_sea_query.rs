//! The three partial unique indexes of memberships, which migration 1 wrote as raw SQL
//! before sea-query could express them, rebuilt the same through sea-query (1.0 writes
//! `CREATE UNIQUE INDEX … WHERE …` on both backends), so that no DDL is written by hand.
//! Codes and the (campaign, creator) pair stay unique among current memberships only.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index: its name, its columns, and the columns that must be set for it to apply.
const INDEXES: [(&str, [&str; 2], &[&str]); 3] = [
    ("ux_memberships_active_coupon", ["brand_id", "coupon_key"], &["coupon_key"]),
    ("ux_memberships_active_affiliate", ["brand_id", "affiliate_code"], &["affiliate_code"]),
    ("ux_memberships_active_member", ["campaign_id", "creator_id"], &[]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns, required) in INDEXES {
            manager.drop_index(Index::drop().name(name).table("memberships").to_owned()).await?;
            let mut index = Index::create();
            index.name(name).table("memberships").unique().and_where(Expr::col("removed_at").is_null());
            for column in columns {
                index.col(column);
            }
            for column in required {
                index.and_where(Expr::col(*column).is_not_null());
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The indexes are the same before and after.
        Ok(())
    }
}
