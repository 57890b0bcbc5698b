//! On PostgreSQL, drops `order_hours.id` (migration 8), with its sequence and primary key
//! index. Nothing reads it: the hour rows are found by their unique (campaign, hour,
//! creator) index. Each new order's upsert drew an id from the sequence and wrote it to
//! the primary key index, about a tenth of the writer's work for a new order. SQLite
//! keeps the column: there it is the table's rowid, which every row has anyway, and
//! dropping a primary key column would mean rebuilding the table.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.alter_table(Table::alter().table("order_hours").drop_column("id").take()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.alter_table(Table::alter().table("order_hours").add_column(big_pk_auto("id")).take()).await
    }
}
