//! Which brand `tally serve --demo` created, with the key it shows in GraphiQL. The key is
//! kept in clear because the demo shows it to anyone who opens `/`; real brands' keys are
//! only ever stored hashed. A restart reuses it, and `--demo` never keys a brand it did
//! not create.
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
                    .table("demo_brands")
                    .col(big_integer("brand_id").primary_key())
                    .col(string("api_key"))
                    .col(big_integer("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_demo_brands_brand_id")
                            .from("demo_brands", "brand_id")
                            .to("brands", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("demo_brands").take()).await
    }
}
