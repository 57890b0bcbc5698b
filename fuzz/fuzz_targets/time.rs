//! Time parsing on any text: what parses prints back to the same instant, never before 1970,
//! and event times never more than a day ahead.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::domain::time;

fuzz_target!(|text: &str| {
    if let Ok(ms) = time::parse(text) {
        assert!(ms >= 0);
        assert_eq!(time::parse(&time::format(ms)), Ok(ms));
    }
    if let Ok(ms) = time::parse_event_time(text) {
        assert!(ms <= time::now() + time::EVENT_LEAD);
    }
});
