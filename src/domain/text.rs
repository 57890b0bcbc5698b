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

/// A short text built in place, without allocating: the dates and amounts of an export's
/// rows. Longer text is cut at its capacity (nothing written here comes near it).
pub struct Inline {
    bytes: [u8; 40],
    len: usize,
}

impl Default for Inline {
    fn default() -> Self {
        Inline { bytes: [0; 40], len: 0 }
    }
}

impl Inline {
    pub fn push(&mut self, byte: u8) {
        if self.len < self.bytes.len() {
            self.bytes[self.len] = byte;
            self.len += 1;
        }
    }

    pub fn push_str(&mut self, text: &str) {
        for &b in text.as_bytes() {
            self.push(b);
        }
    }

    /// `value` in decimal, left-padded with zeros to `width` digits.
    pub fn push_number(&mut self, value: u64, width: usize) {
        let mut digits = [0u8; 20];
        let (mut n, mut count) = (value, 0);
        while n > 0 || count == 0 {
            digits[count] = b'0' + (n % 10) as u8;
            n /= 10;
            count += 1;
        }
        for _ in count..width {
            self.push(b'0');
        }
        for i in (0..count).rev() {
            self.push(digits[i]);
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is pushed but by `push_str`, which pushes whole texts unless cut;
        // a cut through a character shows as nothing.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}
