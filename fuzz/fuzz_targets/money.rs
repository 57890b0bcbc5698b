//! Money and rate parsing on any text: what parses prints back to itself, stays within the
//! cap, and every commission of capped values is computed without overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::domain::money::{self, Currency, MAX_MINOR, Rate};

fuzz_target!(|text: &str| {
    let _ = Currency::parse(text);
    for code in ["USD", "JPY", "KWD"] {
        let currency = Currency::parse(code).unwrap();
        if let Ok(minor) = currency.parse_amount(text) {
            assert!((0..=MAX_MINOR).contains(&minor));
            assert_eq!(currency.parse_amount(&currency.format(minor)), Ok(minor));
            let full = Rate::parse("100").unwrap();
            assert!(money::commission(minor, full, MAX_MINOR) <= 2 * MAX_MINOR);
        }
    }
    if let Ok(rate) = Rate::parse(text) {
        assert!((0..=1_000_000).contains(&rate.scaled()));
        assert_eq!(Rate::parse(&rate.to_decimal().to_string()), Ok(rate));
        let commission = money::commission(MAX_MINOR, rate, MAX_MINOR);
        assert!((MAX_MINOR..=2 * MAX_MINOR).contains(&commission));
    }
});
