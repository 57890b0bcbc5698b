//! Every open websocket of this process, by key: the caps on sockets per key and on sockets
//! still waiting for `connection_init`, and the way a revocation reaches the sockets it ends.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Closer;

/// Close code for a socket over its key's cap ("try again later", RFC 6455).
pub const TOO_MANY_SOCKETS: u16 = 1013;
/// Close code for a socket whose key was revoked.
pub const REVOKED: u16 = 4403;

#[derive(Clone, Default)]
pub struct Sockets {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    awaiting: usize,
    by_key: HashMap<i64, HashMap<u64, Closer>>,
    next: u64,
}

/// A socket counted as waiting for its `connection_init` until this is dropped.
pub struct Awaiting(Arc<Mutex<Inner>>);

impl Drop for Awaiting {
    fn drop(&mut self) {
        lock(&self.0).awaiting -= 1;
    }
}

/// An initialised socket, listed under its key until this is dropped.
pub struct Registered {
    inner: Arc<Mutex<Inner>>,
    key: i64,
    socket: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut inner = lock(&self.inner);
        if let Some(sockets) = inner.by_key.get_mut(&self.key) {
            sockets.remove(&self.socket);
            if sockets.is_empty() {
                inner.by_key.remove(&self.key);
            }
        }
    }
}

fn lock(inner: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sockets {
    /// Sockets waiting for `connection_init`, and sockets initialised.
    pub fn counts(&self) -> (usize, usize) {
        let inner = lock(&self.inner);
        (inner.awaiting, inner.by_key.values().map(HashMap::len).sum())
    }

    /// Counts a new socket as waiting for init, or None when `most` already are.
    pub fn await_init(&self, most: usize) -> Option<Awaiting> {
        let mut inner = lock(&self.inner);
        if inner.awaiting >= most {
            return None;
        }
        inner.awaiting += 1;
        Some(Awaiting(self.inner.clone()))
    }

    /// Lists an initialised socket under its key, or None when the key has `most` open.
    pub fn register(&self, key: i64, most: usize, closer: Closer) -> Option<Registered> {
        let mut inner = lock(&self.inner);
        if inner.by_key.get(&key).is_some_and(|open| open.len() >= most) {
            return None;
        }
        inner.next += 1;
        let socket = inner.next;
        inner.by_key.entry(key).or_default().insert(socket, closer);
        Some(Registered { inner: self.inner.clone(), key, socket })
    }

    /// Closes every open socket of these keys.
    pub fn revoke(&self, keys: &[i64]) {
        let inner = lock(&self.inner);
        for closer in keys.iter().filter_map(|k| inner.by_key.get(k)).flat_map(|open| open.values()) {
            closer.close(REVOKED, "Forbidden: the API key was revoked");
        }
    }

    /// Closes every open socket (the server is stopping).
    pub fn close_all(&self, code: u16, reason: &'static str) {
        let inner = lock(&self.inner);
        for closer in inner.by_key.values().flat_map(|open| open.values()) {
            closer.close(code, reason);
        }
    }
}
