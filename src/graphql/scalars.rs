//! The `Decimal` and `DateTime` scalars of SPEC §2: exact decimals as JSON strings, and
//! UTC times with a `Z` at millisecond precision on both backends.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::time::{self, Millis};

/// An exact decimal, as the string clients send and receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal(pub String);

impl Decimal {
    pub fn of(value: rust_decimal::Decimal) -> Decimal {
        Decimal(value.to_string())
    }
}

/// An exact decimal number, written as a JSON string such as "1234.50" so that no digit
/// is ever lost to floating point. Money has exactly its currency's minor-unit digits
/// ("12.30" in USD, "1200" in JPY); commission rates are percentages without trailing
/// zeros ("12.5" means 12.5%). As input it is accepted only as a string, never as a JSON
/// number: plain digits with an optional decimal point, no sign or exponent.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Decimal(s)),
            _ => Err(InputValueError::custom("a Decimal is sent as a string, e.g. \"12.50\"")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// An RFC 3339 time, held as UTC milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub Millis);

/// A point in time as an RFC 3339 string. Output is always UTC with a `Z` and
/// milliseconds, e.g. "2026-01-31T12:00:00.000Z". Input may carry any offset
/// ("2026-01-31T13:00:00+01:00" is the same instant) and keeps millisecond precision
/// (finer digits are dropped); a date without a time, or a time before 1970, is refused
/// with BAD_USER_INPUT.
#[Scalar(name = "DateTime", specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => time::parse(&s).map(DateTime).map_err(InputValueError::custom),
            _ => Err(InputValueError::custom("a DateTime is an RFC 3339 string")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(time::format(self.0))
    }
}
