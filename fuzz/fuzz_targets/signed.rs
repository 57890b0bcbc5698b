//! The signed JSON webhook's parser on any body: an event within bounds, or a refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::domain::money::{Currency, MAX_MINOR};
use tally::ingest::signed;

fuzz_target!(|data: &[u8]| {
    let currency = Currency::parse("USD").unwrap();
    if let Ok(event) = signed::parse(data, currency) {
        assert!((0..=MAX_MINOR).contains(&event.amount));
        assert!(!event.external_id.is_empty());
    }
});
