//! `Node`: every object with a global id.
use super::*;

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Creator(Creator),
    Campaign(Campaign),
    Order(Order),
    Conversion(Conversion),
}
