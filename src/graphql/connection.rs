//! Relay cursor connections: `first` defaults to 50 and is capped at 100; cursors are
//! opaque base64 of the keyset position.
use async_graphql::SimpleObject;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::orders::OrderCursor;
use crate::error::{AppResult, bad_input};

pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 100;

/// Where a page stands in its list (Relay). Lists are read forward only, with `first` and
/// `after`.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// Whether more items follow this page: pass `endCursor` as `after` to get them.
    pub has_next_page: bool,
    /// Whether this page was asked for with `after`, so that items come before it.
    pub has_previous_page: bool,
    /// The cursor of the page's first item; null when the page is empty.
    pub start_cursor: Option<String>,
    /// The cursor of the page's last item, to pass as `after` for the next page; null when
    /// the page is empty.
    pub end_cursor: Option<String>,
}

pub fn page_size(first: Option<i32>) -> AppResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE as u64),
        Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(n as u64),
        Some(_) => Err(bad_input("first", format!("first must be between 0 and {MAX_PAGE}"))),
    }
}

pub fn id_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

pub fn parse_id_cursor(after: Option<&str>) -> AppResult<Option<i64>> {
    let Some(after) = after else { return Ok(None) };
    let bad = || bad_input("after", "after is not a cursor returned by this connection");
    let raw = URL_SAFE_NO_PAD.decode(after).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let id = text.strip_prefix("id:").and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    Ok(Some(id))
}

pub fn order_cursor(c: OrderCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("ord:{}:{}", c.ordered_at, c.id))
}

pub fn parse_order_cursor(after: Option<&str>) -> AppResult<Option<OrderCursor>> {
    let Some(after) = after else { return Ok(None) };
    let bad = || bad_input("after", "after is not a cursor returned by this connection");
    let raw = URL_SAFE_NO_PAD.decode(after).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let rest = text.strip_prefix("ord:").ok_or_else(bad)?;
    let (t, id) = rest.split_once(':').ok_or_else(bad)?;
    Ok(Some(OrderCursor { ordered_at: t.parse().map_err(|_| bad())?, id: id.parse().map_err(|_| bad())? }))
}

/// Splits a `limit + 1` fetch into the page and whether more follow.
pub fn split_page<T>(mut rows: Vec<T>, limit: u64) -> (Vec<T>, bool) {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    (rows, more)
}

pub fn page_info(cursors: &[String], has_next: bool, has_previous: bool) -> PageInfo {
    PageInfo {
        has_next_page: has_next,
        has_previous_page: has_previous,
        start_cursor: cursors.first().cloned(),
        end_cursor: cursors.last().cloned(),
    }
}
