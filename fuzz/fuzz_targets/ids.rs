//! Id and cursor decoding on any text: only canonical spellings decode, and they encode
//! back to exactly the text given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::graphql::connection;
use tally::ids;

fuzz_target!(|text: &str| {
    if let Some((kind, id)) = ids::decode_any(text) {
        assert!(id > 0);
        assert_eq!(ids::encode(kind, id), text);
    }
    if let Ok(Some(cursor)) = connection::parse_order_cursor(Some(text)) {
        assert_eq!(connection::parse_order_cursor(Some(&connection::order_cursor(cursor))).ok(), Some(Some(cursor)));
    }
    if let Ok(Some(id)) = connection::parse_id_cursor(Some(text)) {
        assert_eq!(connection::parse_id_cursor(Some(&connection::id_cursor(id))).ok(), Some(Some(id)));
    }
});
