//! Parsing of the free-text fields clients send: trimmed, bounded, never empty when required.
use super::error::{DomainError, Input, invalid};

pub const MAX_NAME: usize = 200;
pub const MAX_CODE: usize = 64;

/// A required, trimmed, bounded string.
pub fn required(input: Input, value: &str, max: usize) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(input, format!("{} must not be empty", input.label())));
    }
    bounded(input, trimmed, max)?;
    Ok(trimmed.to_string())
}

/// An optional string: blank means absent.
pub fn optional(input: Input, value: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            bounded(input, v, max)?;
            Ok(Some(v.to_string()))
        }
    }
}

fn bounded(input: Input, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        return Err(invalid(input, format!("{} must be at most {max} characters", input.label())));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(invalid(input, format!("{} must not contain control characters", input.label())));
    }
    Ok(())
}

/// A coupon or affiliate code: letters, digits, `-` and `_`, at most 64 characters.
pub fn code(input: Input, value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(v) = optional(input, value, MAX_CODE)? else { return Ok(None) };
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid(input, format!("{} may contain only letters, digits, '-' and '_'", input.label())));
    }
    Ok(Some(v))
}

pub fn email(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(v) = optional(Input::Email, value, 254)? else { return Ok(None) };
    let valid = match v.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !v.contains(' '),
        None => false,
    };
    if !valid {
        return Err(invalid(Input::Email, format!("'{v}' is not an email address")));
    }
    Ok(Some(v))
}
