//! The `Decimal` and `DateTime` scalars of SPEC §2: exact decimals as JSON strings, and
//! UTC times with a `Z` at millisecond precision on both backends.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::time::{self, Millis};

/// An exact decimal, printed as a string ("1234.50"). Input is accepted only as a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal(pub String);

impl Decimal {
    pub fn of(value: rust_decimal::Decimal) -> Decimal {
        Decimal(value.to_string())
    }
}

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

/// An RFC 3339 time. Output is UTC with a `Z` and milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub Millis);

#[Scalar(name = "DateTime")]
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
