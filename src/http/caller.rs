//! Who is calling: the API key's principal and its brand, for GraphQL, exports and the
//! websocket alike; looked up in one statement, then remembered for a few seconds
//! (`keys::KeyCache`, which forgets a key as soon as its revocation is read).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use sea_orm::DatabaseConnection;

use super::keys::Seen;
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
        let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(unauthenticated)?;
        let hash = auth::hash_key(token);
        let Seen { principal, brand } = match state.keys.get(&hash) {
            Some(seen) => seen,
            None => {
                let (principal, brand) = auth::authenticate_with_brand(&state.db, token).await?;
                let seen = Seen { principal, brand };
                state.keys.put(hash, seen.clone());
                seen
            }
        };
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
