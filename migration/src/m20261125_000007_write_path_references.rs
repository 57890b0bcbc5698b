//! On PostgreSQL, drops the foreign keys of an order and its conversion that repeat what
//! their membership and order already guarantee. An order's brand, campaign and creator
//! are copied from its membership when it is created and never change, and the
//! membership's own keys hold those three; a conversion's brand and membership are its
//! order's. Each foreign key costs every insert a lookup of the referenced row and a
//! share lock on it, which concurrent writers of one brand all took on the same brand
//! row: 5 of a new order's 8 checks, and most of the lock traffic. The order's key to its
//! membership, the history's to its order and the conversion's to its order stay. SQLite
//! keeps them all: its checks are in-process and cheap, and it cannot drop a key without
//! rebuilding the table.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column, referenced table) of each key dropped.
const REPEATED: [(&str, &str, &str); 5] = [
    ("orders", "brand_id", "brands"),
    ("orders", "campaign_id", "campaigns"),
    ("orders", "creator_id", "creators"),
    ("conversions", "brand_id", "brands"),
    ("conversions", "membership_id", "memberships"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (table, column, _) in REPEATED {
            let mut drop = ForeignKey::drop();
            drop.name(format!("fk_{table}_{column}")).table(table.to_string());
            manager.drop_foreign_key(drop).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (table, column, to) in REPEATED {
            manager
                .create_foreign_key(
                    ForeignKey::create()
                        .name(format!("fk_{table}_{column}"))
                        .from(table.to_string(), column.to_string())
                        .to(to.to_string(), "id")
                        .on_delete(ForeignKeyAction::Restrict)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
