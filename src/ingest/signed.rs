//! `POST /webhooks/{brandId}/orders`: the `recordOrderEvent` input as JSON, signed with
//! `X-Tally-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::brands;
use crate::domain::money::Currency;
use crate::domain::orders::{OrderEvent, RawOrderEvent};
use crate::error::{AppError, AppResult, bad_input};
use crate::http::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Payload {
    external_id: String,
    amount: Box<RawValue>,
    currency: String,
    status: String,
    occurred_at: String,
    ordered_at: Option<String>,
    coupon_code: Option<String>,
    referral_code: Option<String>,
}

pub async fn receive(
    State(state): State<AppState>,
    Path(brand_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<serde_json::Value>> {
    let (brand, body) = super::verified(&state, &brand_id, &headers, body, |h| {
        let value = h.get("x-tally-signature")?.to_str().ok()?;
        hex::decode(value.trim().strip_prefix("sha256=")?).ok()
    })
    .await?;
    let event = parse(&body, brands::currency(&brand)?)?;
    Ok(Json(super::record(&state, &brand, event).await?))
}

/// Parses a signed delivery's body into an order event.
pub fn parse(body: &[u8], currency: Currency) -> AppResult<OrderEvent> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| AppError::BadUserInput { message: format!("malformed order event: {e}"), field: None })?;
    let amount = super::decimal_text(&payload.amount)
        .ok_or_else(|| bad_input("amount", "amount must be a decimal number or string"))?;
    let raw = RawOrderEvent {
        external_id: payload.external_id,
        amount,
        currency: payload.currency,
        status: payload.status,
        occurred_at: payload.occurred_at,
        ordered_at: payload.ordered_at,
        coupon_code: payload.coupon_code,
        referral_code: payload.referral_code,
    };
    Ok(OrderEvent::parse(&raw, currency, "webhook")?)
}
