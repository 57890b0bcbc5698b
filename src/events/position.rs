//! Where a reader stands in the outbox: every event id up to `high` except the `gaps`
//! (ids a transaction still held when the reader passed them). A subscriber's cursor is
//! the position of the last event it was sent, so resuming replays exactly what that
//! position has not seen, even when transactions commit out of id order.
use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub high: i64,
    pub gaps: BTreeSet<i64>,
    /// When the newest event seen was written (ms since the epoch): a cursor older than
    /// the outbox's retention may have lost events to pruning.
    pub at: i64,
}

impl Position {
    pub fn seen(&self, id: i64) -> bool {
        id <= self.high && !self.gaps.contains(&id)
    }

    /// Whether every event `other` has seen, this has seen too.
    pub fn covers(&self, other: &Position) -> bool {
        let beyond = other.gaps.range(self.high + 1..).count() as i64;
        let ahead_seen = (other.high - self.high).max(0) - beyond;
        ahead_seen == 0 && self.gaps.range(..=other.high).all(|g| !other.seen(*g))
    }

    /// Everything either position has seen.
    pub fn union(&self, other: &Position) -> Position {
        // An id past the lower high is unseen exactly when the higher one has it as a gap.
        let gaps = (self.gaps.iter().filter(|g| !other.seen(**g)))
            .chain(other.gaps.iter().filter(|g| !self.seen(**g)))
            .copied()
            .collect();
        Position { high: self.high.max(other.high), gaps, at: self.at.max(other.at) }
    }

    /// What this position had seen among ids up to `id`.
    pub fn up_to(&self, id: i64, at: i64) -> Position {
        let high = self.high.min(id);
        Position { high, gaps: self.gaps.range(..high).copied().collect(), at }
    }

    /// The opaque cursor clients hold.
    pub fn encode(&self) -> String {
        let gaps: Vec<String> = self.gaps.iter().map(|g| g.to_string()).collect();
        URL_SAFE_NO_PAD.encode(format!("evt:{}:{}:{}", self.high, self.at, gaps.join(",")))
    }

    pub fn decode(cursor: &str) -> Option<Position> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?).ok()?;
        let mut parts = text.strip_prefix("evt:")?.splitn(3, ':');
        let high: i64 = parts.next()?.parse().ok()?;
        let at: i64 = parts.next()?.parse().ok()?;
        let gaps = match parts.next()? {
            "" => BTreeSet::new(),
            list => list.split(',').map(|g| g.parse().ok()).collect::<Option<BTreeSet<i64>>>()?,
        };
        (high >= 0 && gaps.iter().all(|g| (1..high).contains(g)) && gaps.len() <= MAX_GAPS).then_some(Position {
            high,
            gaps,
            at,
        })
    }
}

/// A cursor may name at most this many gaps (the bus tracks at most `MAX_GAP` ids).
pub const MAX_GAPS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(high: i64, gaps: &[i64]) -> Position {
        Position { high, gaps: gaps.iter().copied().collect(), at: 7 }
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_not_one() {
        for p in [at(0, &[]), at(42, &[]), at(42, &[3, 40])] {
            assert_eq!(Position::decode(&p.encode()), Some(p));
        }
        for text in ["", "evt:1", "ord:1:2", "evt:x:1:", "evt:5:1:9", "evt:5:1:0", "evt:-1:1:"] {
            assert_eq!(Position::decode(&URL_SAFE_NO_PAD.encode(text)), None, "{text}");
        }
        assert_eq!(Position::decode("not base64!"), None);
    }

    #[test]
    fn covering_means_having_seen_everything_the_other_has() {
        assert!(at(10, &[]).covers(&at(10, &[])));
        assert!(at(10, &[]).covers(&at(8, &[3])));
        assert!(!at(8, &[]).covers(&at(10, &[])));
        // Ahead only by ids the other has not seen.
        assert!(at(8, &[]).covers(&at(10, &[9, 10])));
        assert!(!at(10, &[5]).covers(&at(10, &[])));
        assert!(at(10, &[5]).covers(&at(10, &[5, 6])));
    }

    #[test]
    fn union_and_prefix_keep_exactly_the_ids_neither_saw() {
        let u = at(10, &[4, 6]).union(&at(12, &[6, 11]));
        assert_eq!(u, at(12, &[6, 11]));
        // 6 is a gap of the first but seen by the second; 4 neither saw.
        let u = at(10, &[4, 6]).union(&at(8, &[4]));
        assert_eq!(u, at(10, &[4]));
        // A replay from (5, [3]) that has reached event 9 of a hub at (12, [7, 11]).
        let replayed = at(5, &[3]).union(&at(12, &[7, 11]).up_to(9, 7));
        assert_eq!(replayed, at(9, &[7]));
    }
}
