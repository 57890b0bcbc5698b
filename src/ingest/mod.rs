//! Store webhooks (SPEC §3): verify the signature over the raw body, parse, and hand to
//! `domain::orders::record`, the same door `recordOrderEvent` uses.
pub mod shopify;
pub mod signed;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::value::RawValue;
use sha2::Sha256;

use crate::domain::orders::OrderEvent;
use crate::domain::{BrandId, brands};
use crate::error::{AppError, AppResult};
use crate::http::state::AppState;
use crate::ids::{self, Kind};
use entity::brand;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{brand_id}/shopify", post(shopify::receive))
        .route("/webhooks/{brand_id}/orders", post(signed::receive))
}

/// The brand a webhook URL names and the raw body, once the body's signature (read from
/// the headers by `signature_of`) matches the brand's webhook secret. An unknown brand
/// answers exactly like a bad or missing signature (401), after the same work, so that
/// brand ids cannot be probed.
async fn verified(
    state: &AppState,
    brand_id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    signature_of: impl FnOnce(&HeaderMap) -> Option<Vec<u8>>,
) -> AppResult<(brand::Model, Bytes)> {
    let body = crate::http::read_body(body, state.limits.body_bytes)?;
    let brand = match ids::decode(Kind::Brand, brand_id) {
        Some(id) => match state.brands.get(id) {
            Some(brand) => Some(brand),
            // On the read pool: on SQLite the writer's one connection is busy recording.
            None => {
                let found = brands::find(&state.read_db, BrandId(id)).await?;
                if let Some(brand) = &found {
                    state.brands.put(brand.clone());
                }
                found
            }
        },
        None => None,
    };
    let secret = brand.as_ref().map_or(NO_BRAND_SECRET, |b| b.webhook_secret.as_str());
    let signed = signature_of(headers).is_some_and(|signature| verify(secret, &body, &signature).is_ok());
    match brand {
        Some(brand) if signed => Ok((brand, body)),
        _ => Err(signature_failure()),
    }
}

/// What an unknown brand's signatures are checked against, for the same work as a known one.
const NO_BRAND_SECRET: &str = "whsec_0000000000000000000000000000000000000000000000000000000000000000";

pub fn signature_failure() -> AppError {
    AppError::Unauthenticated("the webhook signature does not match the body".into())
}

/// Verifies an HMAC-SHA256 of the raw body in constant time.
pub fn verify(secret: &str, body: &[u8], signature: &[u8]) -> AppResult<()> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hmac key: {e}")))?;
    mac.update(body);
    mac.verify_slice(signature).map_err(|_| signature_failure())
}

pub fn sign(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// A JSON number or string holding a decimal, as its exact text: never through f64.
pub fn decimal_text(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        Some(text.to_string())
    } else {
        None
    }
}

/// Records the event and answers `{"attributed", "orderId"}`.
async fn record(state: &AppState, brand: &brand::Model, event: OrderEvent) -> AppResult<serde_json::Value> {
    let recorded = state.writer.record(BrandId(brand.id), brands::currency(brand)?, event).await?;
    if recorded.announced {
        state.bus.announce();
    }
    Ok(match recorded.order {
        Some(order) => serde_json::json!({ "attributed": true, "orderId": ids::encode(Kind::Order, order.id) }),
        None => serde_json::json!({ "attributed": false, "orderId": null }),
    })
}
