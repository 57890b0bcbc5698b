//! `POST /webhooks/{brandId}/shopify`: Shopify order webhooks, mapped as SPEC §3 says.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::error::{DomainError, Input};
use crate::domain::orders::{OrderEvent, OrderStatus};
use crate::domain::{brands, money::Currency, text, time};
use crate::error::{AppError, AppResult, bad_input};
use crate::http::state::AppState;

pub const TOPICS: [&str; 4] = ["orders/create", "orders/paid", "orders/updated", "orders/cancelled"];

/// The fields of a Shopify order that Tally reads; the rest of the payload is ignored.
#[derive(Deserialize)]
struct ShopifyOrder {
    id: Box<RawValue>,
    financial_status: Option<String>,
    cancelled_at: Option<String>,
    current_subtotal_price: Option<Box<RawValue>>,
    subtotal_price: Option<Box<RawValue>>,
    currency: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    #[serde(default)]
    discount_codes: Vec<DiscountCode>,
    landing_site: Option<String>,
}

#[derive(Deserialize)]
struct DiscountCode {
    code: Option<String>,
}

fn malformed(message: impl Into<String>) -> AppError {
    AppError::BadUserInput { message: message.into(), field: None }
}

/// The status a payload means, or None when it is not a sale yet (pending, authorized…).
fn status_of(order: &ShopifyOrder) -> Option<OrderStatus> {
    let financial = order.financial_status.as_deref().unwrap_or("");
    if order.cancelled_at.is_some() || financial == "voided" {
        return Some(OrderStatus::Canceled);
    }
    match financial {
        "refunded" => Some(OrderStatus::Refunded),
        "paid" | "partially_refunded" => Some(OrderStatus::Paid),
        _ => None,
    }
}

/// The `ref` parameter of the landing URL, which Shopify sends relative ("/?ref=ana").
fn referral_of(landing_site: Option<&str>) -> Option<String> {
    let base = url::Url::parse("https://store.invalid/").ok()?;
    let landing = base.join(landing_site?.trim()).ok()?;
    landing.query_pairs().find(|(k, _)| k == "ref").map(|(_, v)| v.into_owned()).filter(|v| !v.is_empty())
}

fn parse(order: &ShopifyOrder, status: OrderStatus, currency: Currency, topic: &str) -> AppResult<OrderEvent> {
    let external_id = super::decimal_text(&order.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| malformed("id must be a number or string"))?;
    let sent = order.currency.as_deref().ok_or_else(|| bad_input("currency", "currency is missing"))?;
    let sent = Currency::parse(sent).map_err(|m| bad_input("currency", m))?;
    if sent != currency {
        return Err(bad_input("currency", format!("currency {sent} differs from the brand's currency {currency}")));
    }
    let amount_raw =
        order.current_subtotal_price.as_deref().or(order.subtotal_price.as_deref()).ok_or_else(|| {
            bad_input("current_subtotal_price", "current_subtotal_price or subtotal_price is required")
        })?;
    let amount_text = super::decimal_text(amount_raw)
        .ok_or_else(|| bad_input("current_subtotal_price", "the subtotal must be a decimal number or string"))?;
    let amount = currency.parse_amount(amount_text.trim()).map_err(|m| bad_input("current_subtotal_price", m))?;
    let updated_at = order.updated_at.as_deref().ok_or_else(|| bad_input("updated_at", "updated_at is required"))?;
    let occurred_at = time::parse_event_time(updated_at).map_err(|m| bad_input("updated_at", m))?;
    let ordered_at = match order.created_at.as_deref() {
        Some(t) => Some(time::parse_event_time(t).map_err(|m| bad_input("created_at", m))?),
        None => None,
    };
    let coupon = order.discount_codes.iter().find_map(|d| d.code.as_deref().filter(|c| !c.trim().is_empty()));
    let referral = referral_of(order.landing_site.as_deref());
    Ok(OrderEvent {
        external_id: text::required(Input::ExternalId, &external_id, 255).map_err(in_shopify_terms)?,
        amount,
        status,
        occurred_at,
        ordered_at,
        coupon_code: text::optional(Input::CouponCode, coupon, 255).map_err(in_shopify_terms)?,
        referral_code: text::optional(Input::ReferralCode, referral.as_deref(), 255).map_err(in_shopify_terms)?,
        source: format!("shopify:{topic}"),
    })
}

/// A refusal with the field named as in Shopify's payload.
fn in_shopify_terms(err: DomainError) -> AppError {
    match err {
        DomainError::Invalid { input: Some(input), message } => {
            let field = match input {
                Input::ExternalId => "id",
                Input::CouponCode => "discount_codes",
                Input::ReferralCode => "landing_site",
                Input::Amount => "current_subtotal_price",
                Input::OccurredAt => "updated_at",
                Input::OrderedAt => "created_at",
                other => crate::error::field_name(other),
            };
            bad_input(field, message)
        }
        other => other.into(),
    }
}

/// What a Shopify delivery means.
#[derive(Debug)]
pub enum Mapped {
    Event(OrderEvent),
    /// Not an order event Tally reads (another topic, or not a sale yet), and why.
    Ignored(String),
}

/// Maps one delivery (its topic and raw body) to an order event, as SPEC §3 says.
pub fn map(topic: &str, body: &[u8], currency: Currency) -> AppResult<Mapped> {
    if !TOPICS.contains(&topic) {
        return Ok(Mapped::Ignored(format!("topic {topic} is not an order topic Tally reads")));
    }
    let order: ShopifyOrder =
        serde_json::from_slice(body).map_err(|e| malformed(format!("malformed Shopify order: {e}")))?;
    let Some(status) = status_of(&order) else {
        let financial = order.financial_status.as_deref().unwrap_or("none");
        return Ok(Mapped::Ignored(format!("financial_status {financial} is not a sale yet")));
    };
    Ok(Mapped::Event(parse(&order, status, currency, topic)?))
}

pub async fn receive(
    State(state): State<AppState>,
    Path(brand_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<serde_json::Value>> {
    let (brand, body) = super::verified(&state, &brand_id, &headers, body, |h| {
        let value = h.get("x-shopify-hmac-sha256")?.to_str().ok()?;
        STANDARD.decode(value.trim()).ok()
    })
    .await?;
    let topic = headers
        .get("x-shopify-topic")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| malformed("the X-Shopify-Topic header is missing"))?;
    match map(topic, &body, brands::currency(&brand)?)? {
        Mapped::Event(event) => Ok(Json(super::record(&state, &brand, event).await?)),
        Mapped::Ignored(why) => Ok(Json(serde_json::json!({ "attributed": false, "orderId": null, "ignored": why }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ref_parameter_is_read_from_relative_and_absolute_landing_sites() {
        assert_eq!(referral_of(Some("/products/x?utm=1&ref=ana")), Some("ana".into()));
        assert_eq!(referral_of(Some("https://shop.example.com/?ref=bo")), Some("bo".into()));
        assert_eq!(referral_of(Some("/")), None);
        assert_eq!(referral_of(None), None);
    }
}
