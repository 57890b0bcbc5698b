//! API keys recently seen, so that a request does not look its key and brand up again.
//! An entry is trusted for `FRESH`, and dropped as soon as the bus reads a revocation of
//! its key from the outbox, whichever replica revoked it; if the bus fell behind, every
//! entry is dropped.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;

use crate::domain::auth::Principal;
use crate::domain::outbox::KeysRevoked;
use crate::events::Bus;
use entity::brand;
use entity::enums::EventKind;

/// How long a key is trusted without looking again (a revocation ends it sooner).
const FRESH: Duration = Duration::from_secs(5);
/// The most keys remembered; past it the oldest half is forgotten.
const MOST: usize = 10_000;

#[derive(Clone)]
pub struct Seen {
    pub principal: Principal,
    pub brand: brand::Model,
}

#[derive(Clone, Default)]
pub struct KeyCache {
    /// By the SHA-256 of the secret, as keys are stored.
    seen: Arc<Mutex<HashMap<String, (Seen, Instant)>>>,
}

impl KeyCache {
    /// A cache that forgets revoked keys as `bus` reads their revocation.
    pub fn start(bus: &Bus) -> KeyCache {
        let cache = KeyCache::default();
        let (mut events, _) = bus.subscribe();
        let seen = Arc::downgrade(&cache.seen);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(seen) = seen.upgrade() else { return };
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                match event {
                    Ok(published) if published.event.kind == EventKind::KeysRevoked => {
                        match serde_json::from_str::<KeysRevoked>(&published.event.payload) {
                            Ok(revoked) => seen.retain(|_, (s, _)| !revoked.key_ids.contains(&s.principal.key_id)),
                            Err(_) => seen.clear(),
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => seen.clear(),
                    Err(RecvError::Closed) => return,
                }
            }
        });
        cache
    }

    pub fn get(&self, hash: &str) -> Option<Seen> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(hash).filter(|(_, at)| at.elapsed() < FRESH).map(|(s, _)| s.clone())
    }

    /// Forgets a key found revoked before the bus read its revocation.
    pub fn forget(&self, hash: &str) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).remove(hash);
    }

    pub fn put(&self, hash: String, found: Seen) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MOST {
            let mut ages: Vec<Instant> = seen.values().map(|(_, at)| *at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            seen.retain(|_, (_, at)| *at > cutoff);
        }
        seen.insert(hash, (found, Instant::now()));
    }
}
