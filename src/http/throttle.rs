//! Fair use per API key, on every transport: a rate limit on the operations a key starts
//! (GCRA, from `governor`), and a budget of expensive operations (aggregates, big pages)
//! a key may run at once, so no key can take the database from the others.
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;
use crate::graphql::Limits;

type KeyedLimiter = RateLimiter<i64, DefaultKeyedStateStore<i64>, DefaultClock, StateInformationMiddleware>;

/// What the `RateLimit-*` headers of an admitted request say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full burst is available again.
    pub reset: u64,
}

impl RateState {
    /// Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
    pub fn apply_to(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", self.limit.into());
        headers.insert("ratelimit-remaining", self.remaining.into());
        headers.insert("ratelimit-reset", self.reset.into());
    }
}

pub struct Throttle {
    rate: Option<KeyedLimiter>,
    per_second: u32,
    burst: u32,
    expensive_cost: u64,
    expensive_per_key: u32,
    expensive_wait: Duration,
    budgets: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Throttle {
    pub fn new(limits: &Limits) -> Throttle {
        let rate = NonZeroU32::new(limits.rate_per_second).map(|per_second| {
            let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
                .with_middleware::<StateInformationMiddleware>()
        });
        Throttle {
            rate,
            per_second: limits.rate_per_second,
            burst: limits.rate_burst.max(limits.rate_per_second),
            expensive_cost: limits.expensive_cost,
            expensive_per_key: limits.expensive_per_key.max(1),
            expensive_wait: limits.expensive_wait,
            budgets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits `operations` operations of the key, or refuses them all (429 with Retry-After).
    pub fn admit(&self, key: i64, operations: usize) -> Result<Option<RateState>, AppError> {
        let Some(limiter) = &self.rate else { return Ok(None) };
        let n = NonZeroU32::new(operations.clamp(1, u32::MAX as usize) as u32).unwrap_or(NonZeroU32::MIN);
        let refused = |wait: Duration| AppError::Throttled {
            message: format!(
                "this API key may start {} operations per second in bursts of {}; retry in {} s \
                 (--rate-limit and --rate-burst, or TALLY_RATE_LIMIT and TALLY_RATE_BURST)",
                self.per_second,
                self.burst,
                whole_seconds(wait).max(1)
            ),
            retry_after: whole_seconds(wait).max(1),
        };
        match limiter.check_key_n(&key, n) {
            Ok(Ok(snapshot)) => {
                let quota = snapshot.quota();
                let remaining = snapshot.remaining_burst_capacity();
                let used = quota.burst_size().get().saturating_sub(remaining);
                let reset = whole_seconds(quota.replenish_interval() * used);
                Ok(Some(RateState { limit: quota.burst_size().get(), remaining, reset }))
            }
            Ok(Err(not_until)) => Err(refused(not_until.wait_time_from(limiter.clock().now()))),
            Err(_) => Err(AppError::LimitExceeded(format!(
                "a request of {operations} operations is more than this API key's burst of {} \
                 (--rate-burst or TALLY_RATE_BURST)",
                self.burst
            ))),
        }
    }

    /// A turn among the key's expensive operations for work whose aggregates cost `cost`,
    /// waiting up to `expensive_wait`; None for cheap work, which needs no turn.
    pub async fn turn(&self, key: i64, cost: u64) -> Result<Option<OwnedSemaphorePermit>, AppError> {
        if cost < self.expensive_cost {
            return Ok(None);
        }
        let budget = {
            let mut budgets = self.budgets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            budgets.entry(key).or_insert_with(|| Arc::new(Semaphore::new(self.expensive_per_key as usize))).clone()
        };
        match tokio::time::timeout(self.expensive_wait, budget.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(AppError::Throttled {
                message: format!(
                    "this API key already runs {} expensive operations (aggregates costing {} or more) at once; \
                     retry when one finishes (--max-expensive-per-key or TALLY_MAX_EXPENSIVE_PER_KEY)",
                    self.expensive_per_key, self.expensive_cost
                ),
                retry_after: 1,
            }),
        }
    }

    /// Forgets keys idle long enough to be indistinguishable from new ones.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.rate {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
