//! `Brand`: the tenant of the API key.
use super::*;

pub struct Brand(pub entity::brand::Model);

/// The tenant of the API key: one store with one currency. Every object of the API belongs
/// to exactly one brand, and a key sees only its own brand's objects.
#[Object]
impl Brand {
    /// The brand's id, as `tally brand create` prints it and the webhook URLs use it
    /// (`/webhooks/{brandId}/…`). Opaque: pass it on as is.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Brand, self.0.id))
    }
    /// The brand's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The ISO 4217 code of the brand's currency, e.g. "USD". Every amount of the brand
    /// is in this currency.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The store's URL, the base of every affiliate link; null when none was set.
    async fn store_url(&self) -> Option<&str> {
        self.0.store_url.as_deref()
    }
}
