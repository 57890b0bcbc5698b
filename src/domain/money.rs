//! Exact money. Amounts are integer minor units of an ISO 4217 currency; parsing and
//! printing go through strings and integers only, never a float (SPEC §1 rule 8).
use std::fmt;

use rust_decimal::Decimal;

use super::text::Inline;

/// Amounts above this many minor units are refused: 10^13, a hundred billion dollars, far
/// beyond any real order, and small enough that a day's rollup holds 400,000 orders at
/// the cap in i64 (`rollup::BUCKET_CAP`).
pub const MAX_MINOR: i64 = 10_000_000_000_000;

const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
    "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const TWO_DECIMALS: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB \
BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP \
GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP \
LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB \
PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL \
THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL";

/// An ISO 4217 currency code with its number of minor-unit digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Currency {
    code: [u8; 3],
    digits: u32,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Currency, String> {
        let upper = code.trim();
        let digits = if ZERO_DECIMALS.contains(&upper) {
            0
        } else if THREE_DECIMALS.contains(&upper) {
            3
        } else if upper.len() == 3 && TWO_DECIMALS.split_whitespace().any(|c| c == upper) {
            2
        } else {
            return Err(format!("'{code}' is not an ISO 4217 currency code (e.g. USD)"));
        };
        let bytes = upper.as_bytes();
        Ok(Currency { code: [bytes[0], bytes[1], bytes[2]], digits })
    }

    pub fn code(&self) -> &str {
        // Built only from ASCII letters in `parse`.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// Minor units as an exact decimal with exactly this currency's digits.
    pub fn to_decimal(&self, minor: i64) -> Decimal {
        Decimal::new(minor, self.digits)
    }

    /// A sum of minor units (of many rows, so wider than one amount) as an exact decimal;
    /// None past the 96 bits a decimal holds.
    pub fn sum_to_decimal(&self, minor: i128) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(minor, self.digits).ok()
    }

    /// Prints minor units with exactly the currency's digits: `"12.30"`, JPY `"1200"`.
    pub fn format(&self, minor: i64) -> String {
        self.to_decimal(minor).to_string()
    }

    /// `format`, written in place (an export's amounts).
    pub fn format_inline(&self, minor: i64) -> Inline {
        let mut out = Inline::default();
        if minor < 0 {
            out.push(b'-');
        }
        let magnitude = minor.unsigned_abs();
        let unit = 10u64.pow(self.digits);
        out.push_number(magnitude / unit, 1);
        if self.digits > 0 {
            out.push(b'.');
            out.push_number(magnitude % unit, self.digits as usize);
        }
        out
    }

    /// Parses a non-negative amount written in major units ("19.99") into minor units.
    /// Trailing zeros past the currency's digits are accepted; other extra digits are not.
    pub fn parse_amount(&self, text: &str) -> Result<i64, String> {
        let (int_part, frac_part) = split_plain_decimal(text)
            .ok_or_else(|| format!("'{text}' is not a non-negative decimal number like 19.99"))?;
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > self.digits as usize {
            return Err(format!("'{text}' has more decimals than {} allows ({})", self.code(), self.digits));
        }
        let too_large = || format!("'{text}' is too large");
        let mut minor: i64 = 0;
        for b in int_part
            .bytes()
            .chain(frac_trimmed.bytes().chain(std::iter::repeat_n(b'0', self.digits as usize - frac_trimmed.len())))
        {
            minor = minor.checked_mul(10).and_then(|m| m.checked_add(i64::from(b - b'0'))).ok_or_else(too_large)?;
        }
        if minor > MAX_MINOR {
            return Err(too_large());
        }
        Ok(minor)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Splits "123.45" into ("123", "45"); refuses signs, exponents, blanks and other noise.
fn split_plain_decimal(text: &str) -> Option<(&str, &str)> {
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    if text.contains('.') && frac_part.is_empty() {
        return None;
    }
    Some((int_part, frac_part))
}

/// A commission rate in percent, 0 to 100 with at most 4 decimals, held as percent × 10^4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(i64);

pub const RATE_SCALE: u32 = 4;

impl Rate {
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (int_part, frac_part) = split_plain_decimal(text.trim())
            .ok_or_else(|| format!("'{text}' is not a percentage between 0 and 100 like 12.5"))?;
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > RATE_SCALE as usize {
            return Err(format!("'{text}' has more than {RATE_SCALE} decimals"));
        }
        if int_part.len() > 3 {
            return Err(format!("'{text}' is not between 0 and 100"));
        }
        let padded = format!("{int_part}{frac_trimmed:0<4}");
        let value: i64 = padded.parse().map_err(|_| format!("'{text}' is not a number"))?;
        if value > 100 * 10_i64.pow(RATE_SCALE) {
            return Err(format!("'{text}' is not between 0 and 100"));
        }
        Ok(Rate(value))
    }

    pub fn from_scaled(value: i64) -> Rate {
        Rate(value)
    }

    pub fn scaled(self) -> i64 {
        self.0
    }

    /// Normalized: "12.5", "10", "0".
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, RATE_SCALE).normalize()
    }
}

/// `amount × rate / 100 + flat`, the percentage part rounded half-even to the minor unit
/// (SPEC §1 rule 2). Integer arithmetic only.
pub fn commission(amount_minor: i64, rate: Rate, flat_minor: i64) -> i64 {
    let numerator = i128::from(amount_minor) * i128::from(rate.0);
    let denominator = 100 * 10_i128.pow(RATE_SCALE);
    let mut quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder * 2 > denominator || (remainder * 2 == denominator && quotient % 2 == 1) {
        quotient += 1;
    }
    // amount ≤ MAX_MINOR and rate ≤ 100%, so the percentage part fits in i64.
    i64::try_from(quotient).unwrap_or(i64::MAX).saturating_add(flat_minor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_written_in_place_read_as_the_decimal_does() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for code in ["USD", "JPY", "KWD"] {
            let currency = Currency::parse(code).unwrap();
            let edges = [0, 1, -1, 5, -5, 99, 100, 101, 1_000, MAX_MINOR, -MAX_MINOR, i64::MAX, i64::MIN + 1];
            for minor in edges.into_iter().chain((0..2_000).map(|_| rng.gen_range(-MAX_MINOR..=MAX_MINOR))) {
                assert_eq!(currency.format_inline(minor).as_str(), currency.format(minor), "{code} {minor}");
            }
        }
    }

    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn amounts_parse_exactly_in_each_currency() {
        assert_eq!(usd().parse_amount("19.99"), Ok(1999));
        assert_eq!(usd().parse_amount("19.9"), Ok(1990));
        assert_eq!(usd().parse_amount("19.990"), Ok(1999));
        assert_eq!(usd().parse_amount("0"), Ok(0));
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.parse_amount("1200"), Ok(1200));
        assert_eq!(jpy.parse_amount("1200.00"), Ok(1200));
        assert!(jpy.parse_amount("1200.5").is_err());
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.parse_amount("1.234"), Ok(1234));
        assert!(kwd.parse_amount("1.2345").is_err());
    }

    #[test]
    fn bad_amounts_are_refused() {
        for bad in ["-1", "+1", "1e3", "", " 1", "1.", ".5", "abc", "1,5", "NaN", "12.3.4", "0x10"] {
            assert!(usd().parse_amount(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(usd().parse_amount("19.999").is_err());
    }

    #[test]
    fn huge_amounts_are_exact_up_to_the_limit() {
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.parse_amount("10000000000"), Ok(MAX_MINOR));
        assert_eq!(kwd.format(MAX_MINOR), "10000000000.000");
        assert!(kwd.parse_amount("10000000000.001").is_err());
        assert!(usd().parse_amount("99999999999999999999999").is_err());
        assert_eq!(usd().parse_amount("100000000000.00"), Ok(MAX_MINOR));
        assert!(usd().parse_amount("100000000000.01").is_err());
        assert_eq!(usd().parse_amount("12345678901.23"), Ok(1_234_567_890_123));
        assert_eq!(usd().format(1_234_567_890_123), "12345678901.23");
        let sum = i128::from(i64::MAX) * 3;
        assert_eq!(usd().sum_to_decimal(sum).unwrap().to_string(), "276701161105643274.21");
    }

    #[test]
    fn money_prints_with_the_currency_digits() {
        assert_eq!(usd().format(1230), "12.30");
        assert_eq!(usd().format(0), "0.00");
        assert_eq!(usd().format(5), "0.05");
        assert_eq!(Currency::parse("JPY").unwrap().format(1200), "1200");
        assert_eq!(Currency::parse("BHD").unwrap().format(1), "0.001");
    }

    #[test]
    fn unknown_currencies_are_refused() {
        for bad in ["usd", "US", "USDX", "XYZ", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_parse_and_print_normalized() {
        assert_eq!(Rate::parse("12.5").unwrap().to_decimal().to_string(), "12.5");
        assert_eq!(Rate::parse("10.00").unwrap().to_decimal().to_string(), "10");
        assert_eq!(Rate::parse("0").unwrap().to_decimal().to_string(), "0");
        assert_eq!(Rate::parse("100").unwrap().scaled(), 1_000_000);
        assert_eq!(Rate::parse("0.0001").unwrap().scaled(), 1);
        for bad in ["100.01", "-1", "101", "1000", "12.34567", "x", "1e2"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commission_rounds_half_even_to_the_minor_unit() {
        // 12.5% of 19.99 = 2.49875 -> 2.50
        assert_eq!(commission(1999, Rate::parse("12.5").unwrap(), 0), 250);
        // 10% of 0.25 = 0.025 -> 0.02 (tie, to even)
        assert_eq!(commission(25, Rate::parse("10").unwrap(), 0), 2);
        // 10% of 0.35 = 0.035 -> 0.04 (tie, to even)
        assert_eq!(commission(35, Rate::parse("10").unwrap(), 0), 4);
        // 10% of 0.15 = 0.015 -> 0.02
        assert_eq!(commission(15, Rate::parse("10").unwrap(), 0), 2);
        assert_eq!(commission(1000, Rate::parse("0").unwrap(), 150), 150);
        assert_eq!(commission(MAX_MINOR, Rate::parse("100").unwrap(), 0), MAX_MINOR);
        // JPY 1234 at 7.5% = 92.55 -> 93
        assert_eq!(commission(1234, Rate::parse("7.5").unwrap(), 0), 93);
    }
}
