//! Demo data for `tally serve --demo`.
use sea_orm::DatabaseConnection;

pub async fn seed_if_empty(_db: &DatabaseConnection) -> anyhow::Result<String> {
    anyhow::bail!("demo not ready")
}
