//! Times are UTC epoch milliseconds everywhere below the API, so both backends store,
//! compare and print them identically (SPEC §1 rule 8).
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use super::text::Inline;

pub type Millis = i64;

pub fn now() -> Millis {
    Utc::now().timestamp_millis()
}

pub const DAY: Millis = 86_400_000;

/// Parses RFC 3339 with any offset; precision beyond milliseconds is dropped. Times
/// before 1970 are refused: no order is that old, and day buckets assume it.
pub fn parse(text: &str) -> Result<Millis, String> {
    let ms = DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| format!("'{text}' is not an RFC 3339 date-time like 2026-01-31T12:00:00Z"))?;
    if ms < 0 {
        return Err(format!("'{text}' is before 1970"));
    }
    Ok(ms)
}

/// How far ahead of this server's clock an event may be stamped: stores' clocks drift, but
/// an event from next year would freeze its order (no real, later event could apply).
pub const EVENT_LEAD: Millis = DAY;

/// Parses the time of an order event: RFC 3339, and not more than `EVENT_LEAD` ahead of now.
pub fn parse_event_time(text: &str) -> Result<Millis, String> {
    let ms = parse(text)?;
    if ms > now() + EVENT_LEAD {
        return Err(format!("'{text}' is more than a day in the future"));
    }
    Ok(ms)
}

/// The UTC day an instant falls in, as days since 1970-01-01.
pub fn day(ms: Millis) -> i64 {
    ms.div_euclid(DAY)
}

/// RFC 3339 in UTC with a `Z` and milliseconds: `2026-01-31T12:00:00.000Z`.
pub fn format(ms: Millis) -> String {
    to_datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `format`, written in place (an export's dates): by hand for years 1970 to 9999, which
/// holds every time Tally accepts, by chrono otherwise.
pub fn format_inline(ms: Millis) -> Inline {
    let mut out = Inline::default();
    if !(0..=253_402_300_799_999).contains(&ms) {
        out.push_str(&format(ms));
        return out;
    }
    let (days, in_day) = (ms / DAY, (ms % DAY) as u64);
    let (year, month, day) = civil(days);
    out.push_number(year as u64, 4);
    out.push(b'-');
    out.push_number(month, 2);
    out.push(b'-');
    out.push_number(day, 2);
    out.push(b'T');
    out.push_number(in_day / 3_600_000, 2);
    out.push(b':');
    out.push_number(in_day / 60_000 % 60, 2);
    out.push(b':');
    out.push_number(in_day / 1000 % 60, 2);
    out.push(b'.');
    out.push_number(in_day % 1000, 3);
    out.push(b'Z');
    out
}

/// The proleptic Gregorian (year, month, day) of a day since 1970-01-01 (Howard
/// Hinnant's days-to-civil, for days from 0 on).
fn civil(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A half-open `[from, to)` range on orderedAt; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

impl TimeRange {
    /// A range whose start is not after its end.
    pub fn new(from: Option<Millis>, to: Option<Millis>) -> Result<TimeRange, String> {
        match (from, to) {
            (Some(f), Some(t)) if f > t => Err("the range starts after it ends (from > to)".to_string()),
            _ => Ok(TimeRange { from, to }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_written_in_place_read_as_chrono_writes_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let edges = [0, 1, 999, DAY - 1, DAY, 951_782_400_000, 4_107_542_399_999, 253_402_300_799_999];
        for ms in edges.into_iter().chain((0..20_000).map(|_| rng.gen_range(0..=253_402_300_799_999))) {
            assert_eq!(format_inline(ms).as_str(), format(ms), "{ms}");
        }
        assert_eq!(format_inline(-1).as_str(), format(-1));
    }

    use super::*;

    #[test]
    fn times_print_in_utc_with_z_and_millis() {
        let ms = parse("2026-03-01T10:00:00.123456+02:00").unwrap();
        assert_eq!(format(ms), "2026-03-01T08:00:00.123Z");
        assert!(parse("2026-03-01").is_err());
        assert!(parse("yesterday").is_err());
    }

    #[test]
    fn event_times_may_not_be_far_in_the_future() {
        assert!(parse_event_time("9999-12-31T23:59:59Z").unwrap_err().contains("future"));
        assert!(parse_event_time(&format(now() + DAY + 60_000)).is_err());
        assert!(parse_event_time(&format(now() + DAY - 60_000)).is_ok());
        assert!(parse_event_time("2026-01-31T12:00:00Z").is_ok());
    }
}
