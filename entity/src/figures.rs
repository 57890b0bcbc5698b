//! What an order counts for (SPEC §1 rule 5), written once for every reader: the write
//! path's rollup deltas and the GraphQL fields use the Rust form, the aggregates' partial
//! days, the CSV export and migration backfills the SQL form, and a test holds the two
//! to the same answers. Also the buckets the rollups keep figures in: UTC hours, UTC days and
//! UTC calendar months.
use crate::enums::{Approval, OrderStatus};

/// An order's sales: its amount while PAID, else 0.
pub fn sales(status: OrderStatus, amount: i64) -> i64 {
    if status == OrderStatus::Paid { amount } else { 0 }
}

/// A conversion's earned commission: the pinned commission while the conversion is
/// APPROVED and its order PAID, else 0.
pub fn earned(status: OrderStatus, approval: Approval, commission: i64) -> i64 {
    if status == OrderStatus::Paid && approval == Approval::Approved { commission } else { 0 }
}

/// `sales` in SQL, for the orders table aliased `o`.
pub fn sales_sql(o: &str) -> String {
    format!("CASE WHEN {o}.status = 'PAID' THEN {o}.amount ELSE 0 END")
}

/// `earned` in SQL, for the orders table aliased `o` and the conversions table `cv`.
pub fn earned_sql(o: &str, cv: &str) -> String {
    format!("CASE WHEN {o}.status = 'PAID' AND {cv}.approval = 'APPROVED' THEN {cv}.commission ELSE 0 END")
}

/// 1 for an APPROVED conversion, in SQL.
pub fn approved_sql(cv: &str) -> String {
    format!("CASE WHEN {cv}.approval = 'APPROVED' THEN 1 ELSE 0 END")
}

/// 1 for a REJECTED conversion, in SQL.
pub fn rejected_sql(cv: &str) -> String {
    format!("CASE WHEN {cv}.approval = 'REJECTED' THEN 1 ELSE 0 END")
}

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;

/// The UTC hour of an instant, as hours since 1970-01-01T00:00Z.
pub fn hour(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS)
}

/// `hour` in SQL, of the column `ms`: rounded down on both backends (their `/` and `%`
/// round towards zero, which differs before 1970).
pub fn hour_sql(ms: &str) -> String {
    format!("(({ms} - (({ms} % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS}) / {HOUR_MS})")
}

/// The UTC day of an instant, as days since 1970-01-01.
pub fn day(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The UTC calendar month a day falls in, as `year * 12 + month - 1` (2026-03 is 24,314).
pub fn month_of_day(day: i64) -> i64 {
    let (year, month, _) = civil(day);
    year * 12 + month - 1
}

/// The first day of a month numbered as `month_of_day` numbers it.
pub fn first_day_of_month(month: i64) -> i64 {
    days_from_civil(month.div_euclid(12), month.rem_euclid(12) + 1, 1)
}

/// (year, month 1–12, day 1–31) of a day counted from 1970-01-01, in the proleptic
/// Gregorian calendar: eras of 400 years, each 146,097 days, with years taken to start
/// on 1 March so that the leap day ends them.
fn civil(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day_of_month = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day_of_month)
}

/// The inverse of `civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(civil(0), (1970, 1, 1));
        // 2024-02-29, a leap day, and the day after.
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(civil(19_783), (2024, 3, 1));
        assert_eq!(month_of_day(0), 1970 * 12);
        assert_eq!(first_day_of_month(2026 * 12 + 2), 20_513); // 2026-03-01
        for day in -800_000..800_000 {
            let (y, m, d) = civil(day);
            assert_eq!(days_from_civil(y, m, d), day);
            let month = month_of_day(day);
            assert!(first_day_of_month(month) <= day && day < first_day_of_month(month + 1), "{day}");
            assert_eq!(first_day_of_month(month) == day, d == 1);
        }
    }

    #[test]
    fn earned_commission_needs_paid_and_approved() {
        for status in [OrderStatus::Paid, OrderStatus::Canceled, OrderStatus::Refunded] {
            for approval in [Approval::Approved, Approval::Rejected] {
                let expected = if status == OrderStatus::Paid && approval == Approval::Approved { 7 } else { 0 };
                assert_eq!(earned(status, approval, 7), expected);
            }
            assert_eq!(sales(status, 10), if status == OrderStatus::Paid { 10 } else { 0 });
        }
    }
}
