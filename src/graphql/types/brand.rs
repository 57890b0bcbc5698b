//! `Brand`: the tenant of the API key.
use super::*;

pub struct Brand(pub entity::brand::Model);

#[Object]
impl Brand {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Brand, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn store_url(&self) -> Option<&str> {
        self.0.store_url.as_deref()
    }
}
