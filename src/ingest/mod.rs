//! Store webhooks: verify, parse, and hand to `domain::orders::record`.
use axum::Router;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
