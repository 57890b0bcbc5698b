//! Schema migrations. One file per change; a landed migration is never edited.
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_tables;
mod m20261124_000002_order_rollups;
mod m20261124_000003_demo_brand;
mod m20261124_000004_partial_indexes_in_sea_query;
mod m20261124_000005_order_totals;
mod m20261125_000006_monthly_rollups;
mod m20261125_000007_write_path_references;
mod m20261205_000008_hourly_rollups;
mod m20261205_000009_hours_without_id;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_tables::Migration),
            Box::new(m20261124_000002_order_rollups::Migration),
            Box::new(m20261124_000003_demo_brand::Migration),
            Box::new(m20261124_000004_partial_indexes_in_sea_query::Migration),
            Box::new(m20261124_000005_order_totals::Migration),
            Box::new(m20261125_000006_monthly_rollups::Migration),
            Box::new(m20261125_000007_write_path_references::Migration),
            Box::new(m20261205_000008_hourly_rollups::Migration),
            Box::new(m20261205_000009_hours_without_id::Migration),
        ]
    }
}
