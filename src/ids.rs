//! Opaque global ids: base64url of `Type:number`, unique across types. A malformed id, or
//! an id of another type, is treated exactly like an id that does not exist.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Brand,
    Creator,
    Campaign,
    Membership,
    Order,
    Conversion,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Brand => "Brand",
            Kind::Creator => "Creator",
            Kind::Campaign => "Campaign",
            Kind::Membership => "Membership",
            Kind::Order => "Order",
            Kind::Conversion => "Conversion",
        }
    }

    fn from_tag(tag: &str) -> Option<Kind> {
        Some(match tag {
            "Brand" => Kind::Brand,
            "Creator" => Kind::Creator,
            "Campaign" => Kind::Campaign,
            "Membership" => Kind::Membership,
            "Order" => Kind::Order,
            "Conversion" => Kind::Conversion,
            _ => return None,
        })
    }
}

pub fn encode(kind: Kind, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.tag()))
}

/// Any id back to its kind and row id.
pub fn decode_any(id: &str) -> Option<(Kind, i64)> {
    if id.len() > 64 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (tag, num) = text.split_once(':')?;
    let parsed: i64 = num.parse().ok()?;
    // Only the canonical spelling: no sign, no leading zeros.
    if parsed <= 0 || parsed.to_string() != num {
        return None;
    }
    Some((Kind::from_tag(tag)?, parsed))
}

/// An id of the expected kind, or `None`.
pub fn decode(kind: Kind, id: &str) -> Option<i64> {
    match decode_any(id) {
        Some((k, n)) if k == kind => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_typed() {
        let id = encode(Kind::Order, 42);
        assert_eq!(decode(Kind::Order, &id), Some(42));
        assert_eq!(decode(Kind::Creator, &id), None);
        assert_ne!(encode(Kind::Order, 1), encode(Kind::Creator, 1));
    }

    #[test]
    fn malformed_ids_decode_to_nothing() {
        for bad in ["", "!!", "T3JkZXI6", "T3JkZXI6LTE", "T3JkZXI6MDAx", "Zm9v"] {
            assert_eq!(decode_any(bad), None, "{bad}");
        }
    }
}
