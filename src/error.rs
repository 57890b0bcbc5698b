//! The error policy. Every failure a client can see is one `AppError` variant, mapped to
//! one `extensions.code` of SPEC §2 (or one HTTP status). The domain's refusals
//! (`domain::error::DomainError`) become one here, with the API's field names. `Internal`
//! carries the cause for the log only, written once, where the error becomes an answer:
//! clients get "internal error" and never SQL, paths or stack traces.
use async_graphql::ErrorExtensions;
use sea_orm::ActiveEnum;

use crate::domain::error::{DomainError, Input};
use entity::enums::Approval;

/// Deliberately not `Display`: async-graphql turns any `Display` error into an error
/// without a code (and would print internal causes), so conversion goes through
/// `From<AppError>` below, which always sets the code and hides internals.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    BadUserInput {
        message: String,
        field: Option<String>,
    },
    InvalidTransition(String),
    LimitExceeded(String),
    /// A limit that lifts with time (a rate limit, a key's budget of expensive operations):
    /// LIMIT_EXCEEDED with HTTP 429 and the seconds to wait.
    Throttled {
        message: String,
        retry_after: u64,
    },
    /// A limit on time (PostgreSQL's statement_timeout): LIMIT_EXCEEDED with HTTP 503.
    TimedOut(String),
    /// A live subscription's `after` cursor is older than the outbox keeps events: the
    /// client refetches, then subscribes afresh.
    CursorExpired(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput { .. } => "BAD_USER_INPUT",
            AppError::InvalidTransition(_) => "INVALID_TRANSITION",
            AppError::LimitExceeded(_) | AppError::Throttled { .. } | AppError::TimedOut(_) => "LIMIT_EXCEEDED",
            AppError::CursorExpired(_) => "CURSOR_EXPIRED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Seconds a throttled client should wait before trying again.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn http_status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadUserInput { .. } => StatusCode::BAD_REQUEST,
            AppError::InvalidTransition(_) => StatusCode::CONFLICT,
            AppError::LimitExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::CursorExpired(_) => StatusCode::GONE,
            AppError::Internal(cause) if database_unavailable(cause) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see: an internal cause is replaced.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => "internal error".to_string(),
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::InvalidTransition(m)
            | AppError::LimitExceeded(m)
            | AppError::Throttled { message: m, .. }
            | AppError::TimedOut(m)
            | AppError::CursorExpired(m)
            | AppError::BadUserInput { message: m, .. } => m.clone(),
        }
    }
}

impl AppError {
    /// Logs an internal cause. Called once per error, where it becomes an answer: a
    /// GraphQL error or an HTTP response.
    fn log(&self) {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
    }
}

/// The database could not be reached at all (as opposed to a statement failing).
fn database_unavailable(cause: &anyhow::Error) -> bool {
    matches!(
        cause.downcast_ref::<sea_orm::DbErr>(),
        Some(sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_))
    )
}

pub fn not_found(what: &str) -> AppError {
    AppError::NotFound(format!("{what} not found"))
}

pub fn bad_input(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadUserInput { message: message.into(), field: Some(field.to_string()) }
}

pub fn unauthenticated() -> AppError {
    AppError::Unauthenticated("a valid API key is required: Authorization: Bearer <key>".into())
}

pub fn forbidden() -> AppError {
    AppError::Forbidden("this API key may only read; mutations need an ADMIN key".into())
}

/// The domain's refusals as the API's: its codes, and the field names of GraphQL and the
/// signed JSON webhook (the Shopify webhook renames them to Shopify's own).
impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Database(db) => db.into(),
            DomainError::Unexpected(cause) => AppError::Internal(cause),
            other => AppError::from(&other),
        }
    }
}

/// The same for a refusal the API only borrows (one GraphQL carried as its error's source):
/// internal causes keep only their text, for the log.
impl From<&DomainError> for AppError {
    fn from(err: &DomainError) -> Self {
        match err {
            DomainError::Invalid { input, message } => {
                AppError::BadUserInput { message: message.clone(), field: input.map(|i| field_name(i).to_string()) }
            }
            DomainError::NotFound(thing) => AppError::NotFound(format!("{thing} not found")),
            DomainError::InvalidTransition { current, to } => {
                let (wanted, action) = match to {
                    Approval::Rejected => ("APPROVED", "rejected with rejectConversion"),
                    Approval::Approved => ("REJECTED", "restored with undoRejection"),
                };
                AppError::InvalidTransition(format!(
                    "the conversion is {}; only {wanted} conversions can be {action}",
                    current.to_value()
                ))
            }
            DomainError::Unauthenticated => unauthenticated(),
            DomainError::ReadOnly => forbidden(),
            DomainError::Database(db) => AppError::from(db.clone()),
            DomainError::Unexpected(_) => AppError::Internal(anyhow::anyhow!("{err}")),
        }
    }
}

/// An input's name in GraphQL and in the signed JSON webhook.
pub fn field_name(input: Input) -> &'static str {
    match input {
        Input::Name => "name",
        Input::Handle => "handle",
        Input::Email => "email",
        Input::Currency => "currency",
        Input::StoreUrl => "storeUrl",
        Input::Role => "role",
        Input::CouponCode => "couponCode",
        Input::AffiliateCode => "affiliateCode",
        Input::CommissionRate => "commissionRate",
        Input::CommissionFlat => "commissionFlat",
        Input::DefaultCommissionRate => "defaultCommissionRate",
        Input::Creator => "creatorId",
        Input::ExternalId => "externalId",
        Input::Amount => "amount",
        Input::Status => "status",
        Input::OccurredAt => "occurredAt",
        Input::OrderedAt => "orderedAt",
        Input::ReferralCode => "referralCode",
        Input::Reason => "reason",
        Input::Range => "range",
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        if statement_timed_out(&err) {
            tracing::warn!(error = %err, "a statement ran past statement_timeout");
            return AppError::TimedOut(
                "a database statement ran longer than the statement timeout \
                 (--statement-timeout or TALLY_STATEMENT_TIMEOUT)"
                    .into(),
            );
        }
        AppError::Internal(anyhow::Error::new(err))
    }
}

/// PostgreSQL cancelled the statement (SQLSTATE 57014, query_canceled), as
/// `statement_timeout` does.
fn statement_timed_out(err: &sea_orm::DbErr) -> bool {
    let (sea_orm::DbErr::Query(runtime) | sea_orm::DbErr::Exec(runtime)) = err else { return false };
    let sea_orm::RuntimeErr::SqlxError(sqlx) = runtime else { return false };
    matches!(sqlx.as_ref(), sqlx::Error::Database(db) if db.code().as_deref() == Some("57014"))
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl AppError {
    /// The error as one entry of a GraphQL answer's `errors`, with no location: it is
    /// about the request as a whole.
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let error = async_graphql::Error::from(self);
        let mut server = async_graphql::ServerError::new(error.message, None);
        server.extensions = error.extensions;
        server
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.log();
        let code = err.code();
        let field = match &err {
            AppError::BadUserInput { field, .. } => field.clone(),
            _ => None,
        };
        let retry_after = err.retry_after();
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
            if let Some(seconds) = retry_after {
                ext.set("retryAfter", seconds);
            }
        })
    }
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        self.log();
        let status = self.http_status();
        let retry_after = self.retry_after();
        let body = serde_json::json!({ "error": { "code": self.code(), "message": self.public_message() } });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
