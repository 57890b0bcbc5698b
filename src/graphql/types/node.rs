//! `Node`: every object with a global id.
use super::*;

/// An object that `Query.node` can fetch by its global id: a Creator, Campaign, Order or
/// Conversion.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The object's global id: an opaque string, unique across all types. Pass it on as is; its \
            content is not part of the API."
))]
pub enum Node {
    Creator(Creator),
    Campaign(Campaign),
    Order(Order),
    Conversion(Conversion),
}
