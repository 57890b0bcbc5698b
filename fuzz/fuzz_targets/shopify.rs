//! The Shopify mapper on any topic and body: it maps, ignores or refuses, never panics, and
//! what it maps is within bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::domain::money::{Currency, MAX_MINOR};
use tally::domain::time;
use tally::ingest::shopify::{self, Mapped, TOPICS};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let topic = TOPICS.get(usize::from(selector % 5)).copied().unwrap_or("orders/fulfilled");
    let currency = Currency::parse(["USD", "JPY", "KWD"][usize::from(selector / 5 % 3)]).unwrap();
    if let Ok(Mapped::Event(event)) = shopify::map(topic, body, currency) {
        assert!((0..=MAX_MINOR).contains(&event.amount));
        assert!(!event.external_id.is_empty() && event.external_id.len() <= 255);
        assert!(event.occurred_at >= 0 && event.occurred_at <= time::now() + time::EVENT_LEAD);
        assert!(event.ordered_at.is_none_or(|t| t >= 0 && t <= time::now() + time::EVENT_LEAD));
    }
});
