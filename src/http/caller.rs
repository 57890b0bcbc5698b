//! Who is calling: the API key's principal and its brand, looked up once per HTTP request
//! or websocket connection, for GraphQL, exports and the websocket alike.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use sea_orm::DatabaseConnection;

use super::state::AppState;
use crate::domain::auth::{self, Principal};
use crate::domain::money::Currency;
use crate::domain::{BrandId, brands};
use crate::error::{AppError, AppResult, unauthenticated};
use entity::brand;

#[derive(Clone)]
pub struct Caller {
    pub principal: Principal,
    pub brand: brand::Model,
    pub currency: Currency,
    pub db: DatabaseConnection,
}

impl Caller {
    /// The caller behind an API key's secret; none, unknown and revoked are the same failure.
    pub async fn authenticate(state: &AppState, token: Option<&str>) -> AppResult<Caller> {
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        let principal = auth::authenticate(&state.db, token.ok_or_else(unauthenticated)?).await?;
        let brand = brands::get(&state.db, principal.brand).await?;
        let currency = brands::currency(&brand)?;
        Ok(Caller { principal, brand, currency, db: state.db.clone() })
    }

    pub fn brand_id(&self) -> BrandId {
        self.principal.brand
    }

    pub fn key_id(&self) -> i64 {
        self.principal.key_id
    }

    /// The same caller on another pool (live subscriptions read on a pool of their own).
    pub fn on(&self, db: DatabaseConnection) -> Caller {
        Caller { db, ..self.clone() }
    }
}

/// `Authorization: Bearer <key>` on any route.
impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, AppError> {
        Caller::authenticate(state, bearer(&parts.headers)).await
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The token of a `Bearer <token>` value (the scheme in any case).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}
