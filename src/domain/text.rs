//! Parsing of the free-text fields clients send: trimmed, bounded, never empty when required.
use crate::error::{AppError, bad_input};

pub const MAX_NAME: usize = 200;
pub const MAX_CODE: usize = 64;

/// A required, trimmed, bounded string.
pub fn required(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(bad_input(field, format!("{field} must not be empty")));
    }
    bounded(field, trimmed, max)?;
    Ok(trimmed.to_string())
}

/// An optional string: blank means absent.
pub fn optional(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            bounded(field, v, max)?;
            Ok(Some(v.to_string()))
        }
    }
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(bad_input(field, format!("{field} must be at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(bad_input(field, format!("{field} must not contain control characters")));
    }
    Ok(())
}

/// A coupon or affiliate code: letters, digits, `-` and `_`, at most 64 characters.
pub fn code(field: &str, value: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(v) = optional(field, value, MAX_CODE)? else { return Ok(None) };
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(bad_input(field, format!("{field} may contain only letters, digits, '-' and '_'")));
    }
    Ok(Some(v))
}

pub fn email(value: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(v) = optional("email", value, 254)? else { return Ok(None) };
    let valid = match v.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !v.contains(' '),
        None => false,
    };
    if !valid {
        return Err(bad_input("email", format!("'{v}' is not an email address")));
    }
    Ok(Some(v))
}

/// Maps a unique-index violation to a user error on the field it protects.
pub fn unique_violation(err: &sea_orm::DbErr) -> Option<&'static str> {
    let text = err.to_string();
    if !(text.contains("UNIQUE") || text.contains("unique") || text.contains("duplicate")) {
        return None;
    }
    [
        ("ux_memberships_active_coupon", "couponCode"),
        ("memberships.brand_id, memberships.coupon_key", "couponCode"),
        ("ux_memberships_active_affiliate", "affiliateCode"),
        ("memberships.brand_id, memberships.affiliate_code", "affiliateCode"),
        ("ux_memberships_active_member", "creatorId"),
        ("memberships.campaign_id, memberships.creator_id", "creatorId"),
    ]
    .iter()
    .find(|(needle, _)| text.contains(needle))
    .map(|(_, field)| *field)
}
