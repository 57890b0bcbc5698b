//! API keys recently seen, so that a request does not look its key and brand up again,
//! and brands recently named by webhooks.
//! An entry is trusted for `FRESH`, and dropped as soon as the bus reads a revocation of
//! its key from the outbox, whichever replica revoked it; if the bus fell behind, every
//! entry is dropped.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
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

/// Entries remembered for `FRESH`, at most `MOST` of them; past it the oldest half is
/// forgotten.
struct Recent<K, V>(Mutex<HashMap<K, (V, Instant)>>);

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent(Mutex::default())
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    fn entries(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &K) -> Option<V> {
        self.entries().get(key).filter(|(_, at)| at.elapsed() < FRESH).map(|(v, _)| v.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries();
        if entries.len() >= MOST {
            let mut ages: Vec<Instant> = entries.values().map(|(_, at)| *at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            entries.retain(|_, (_, at)| *at > cutoff);
        }
        entries.insert(key, (value, Instant::now()));
    }
}

#[derive(Clone, Default)]
pub struct KeyCache {
    /// By the SHA-256 of the secret, as keys are stored.
    seen: Arc<Recent<String, Seen>>,
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
                let mut seen = seen.entries();
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
        self.seen.get(&hash.to_string())
    }

    /// Forgets a key found revoked before the bus read its revocation.
    pub fn forget(&self, hash: &str) {
        self.seen.entries().remove(hash);
    }

    pub fn put(&self, hash: String, found: Seen) {
        self.seen.put(hash, found);
    }
}

/// Brands recently named by a webhook, by id, so that each delivery does not look its
/// brand (and webhook secret) up again. Trusted for `FRESH`: a brand's webhook secret is
/// set when it is created and never changes; a way to change it must forget the brand
/// here, on every replica (as revocations do above).
#[derive(Clone, Default)]
pub struct BrandCache(Arc<Recent<i64, brand::Model>>);

impl BrandCache {
    pub fn get(&self, id: i64) -> Option<brand::Model> {
        self.0.get(&id)
    }

    pub fn put(&self, brand: brand::Model) {
        self.0.put(brand.id, brand);
    }
}
