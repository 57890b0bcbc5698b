//! The event bus. Changes are announced by outbox rows (`events`) written in the change's
//! transaction; one poller per process reads them in sequence order and fans them out
//! in memory to every subscriber of this process. A local commit kicks the poller; on
//! PostgreSQL it also wakes the other replicas with a NOTIFY sent after the commit, at
//! most one per process every `NOTIFY_EVERY` (never inside a write transaction, whose
//! commit would then queue behind every other notifying commit on PostgreSQL's one
//! notification lock), and a periodic poll covers a lost notification. Sequence numbers
//! committed out of order are caught by tracking gaps, and every event is published with
//! the bus's `Position` after it: a subscriber's cursor.
mod position;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Notify, broadcast};

use entity::event;

pub use position::Position;

/// An event as the bus publishes it: with everything the bus had read once it read it.
#[derive(Debug)]
pub struct Published {
    pub event: event::Model,
    pub position: Position,
}

/// How long a skipped sequence number is waited for (a transaction still committing).
const GAP_PATIENCE: Duration = Duration::from_secs(30);
const POLL_BATCH: u64 = 500;
const BUFFER: usize = 65_536;
/// The widest hole in the sequence that is tracked as transactions still committing.
const MAX_GAP: i64 = 10_000;
/// How long a cursor stays good: a subscriber that reconnects with a cursor this old or
/// newer gets every event it missed.
pub const CURSOR_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Outbox rows are kept a day longer than a cursor lives (replicas' clocks may differ),
/// then pruned by whichever replica gets there first.
const RETAIN: Duration = Duration::from_secs(8 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Announcements within this long of a NOTIFY share the next one.
const NOTIFY_EVERY: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Arc<Published>>,
    kick: Notify,
    /// Set by a commit with events; taken by the replica notifier (PostgreSQL).
    wake_replicas: Notify,
    /// Where the poller stands; locked while it publishes, so a new reader's starting
    /// position and its first event agree.
    position: std::sync::Mutex<Position>,
}

impl Bus {
    /// Starts the poller from the current end of the outbox. Its one reader in a server is
    /// the live hub, which keeps up with it; `BUFFER` events of slack cover bursts.
    pub async fn start(db: DatabaseConnection) -> anyhow::Result<Bus> {
        let (tx, _) = broadcast::channel(BUFFER);
        let last = event::Entity::find().order_by_desc(event::Column::Id).one(&db).await?.map(|e| e.id).unwrap_or(0);
        let start = Position { high: last, gaps: Default::default(), at: crate::domain::time::now() };
        let bus = Bus {
            inner: Arc::new(Inner {
                tx,
                kick: Notify::new(),
                wake_replicas: Notify::new(),
                position: std::sync::Mutex::new(start),
            }),
        };
        // Another process's commits (`tally key revoke`, another replica) are seen within
        // this long even if a notification is lost or the backend has none (SQLite).
        let poll_every = Duration::from_millis(500);
        if db.get_database_backend() == DbBackend::Postgres {
            listen(db.clone(), bus.clone());
            notify_replicas(db.clone(), &bus);
        }
        let poller = bus.clone();
        tokio::spawn(async move { poller.run(db, last, poll_every).await });
        Ok(bus)
    }

    /// Asks this process's poller to read the outbox now.
    pub fn kick(&self) {
        self.inner.kick.notify_one();
    }

    /// After a commit that wrote events: this process reads them now, and the other
    /// replicas are woken by the next coalesced NOTIFY.
    pub fn announce(&self) {
        self.inner.kick.notify_one();
        self.inner.wake_replicas.notify_one();
    }

    /// The events published from now on, and the position the bus had reached before them.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Published>>, Position) {
        let position = self.inner.position.lock().unwrap_or_else(|p| p.into_inner());
        (self.inner.tx.subscribe(), position.clone())
    }

    async fn run(self, db: DatabaseConnection, mut last: i64, poll_every: Duration) {
        let mut gaps: BTreeMap<i64, Instant> = BTreeMap::new();
        let mut pruned = Instant::now();
        loop {
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                let cutoff = crate::domain::time::now() - RETAIN.as_millis() as i64;
                if let Err(err) =
                    event::Entity::delete_many().filter(event::Column::CreatedAt.lt(cutoff)).exec(&db).await
                {
                    tracing::warn!(error = %err, "pruning the outbox failed");
                }
            }
            let _ = tokio::time::timeout(poll_every, self.inner.kick.notified()).await;
            // Stop when the server (and every subscriber) is gone.
            if Arc::strong_count(&self.inner) == 1 {
                return;
            }
            match self.poll(&db, &mut last, &mut gaps).await {
                Ok(()) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "reading the outbox failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    async fn poll(
        &self,
        db: &DatabaseConnection,
        last: &mut i64,
        gaps: &mut BTreeMap<i64, Instant>,
    ) -> anyhow::Result<()> {
        let now = Instant::now();
        let before = gaps.len();
        gaps.retain(|_, since| now.duration_since(*since) < GAP_PATIENCE);
        if gaps.len() != before {
            // Given up on: rolled back, most likely. Seen, as far as cursors are concerned.
            let mut position = self.inner.position.lock().unwrap_or_else(|p| p.into_inner());
            position.gaps = gaps.keys().copied().collect();
        }
        if !gaps.is_empty() {
            let late = event::Entity::find()
                .filter(event::Column::Id.is_in(gaps.keys().copied().collect::<Vec<_>>()))
                .order_by_asc(event::Column::Id)
                .all(db)
                .await?;
            for e in late {
                gaps.remove(&e.id);
                self.publish(e, gaps);
            }
        }
        loop {
            let batch = event::Entity::find()
                .filter(event::Column::Id.gt(*last))
                .order_by_asc(event::Column::Id)
                .limit(POLL_BATCH)
                .all(db)
                .await?;
            let full = batch.len() as u64 == POLL_BATCH;
            for e in batch {
                // Rolled-back transactions leave holes too; only a plausible number of
                // them is waited for (a sequence reset would otherwise flood memory).
                if e.id - *last <= MAX_GAP {
                    for missing in (*last + 1)..e.id {
                        gaps.insert(missing, now);
                    }
                }
                *last = e.id;
                self.publish(e, gaps);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Sends one event with the position reached by reading it.
    fn publish(&self, event: event::Model, gaps: &BTreeMap<i64, Instant>) {
        let mut position = self.inner.position.lock().unwrap_or_else(|p| p.into_inner());
        position.high = position.high.max(event.id);
        position.gaps = gaps.keys().copied().collect();
        position.at = position.at.max(event.created_at);
        let _ = self.inner.tx.send(Arc::new(Published { event, position: position.clone() }));
    }
}

/// One LISTEN connection per process; each notification (or reconnect) kicks the poller,
/// which reads the outbox from where it stopped, so nothing committed meanwhile is lost.
fn listen(db: DatabaseConnection, bus: Bus) {
    let pool = db.get_postgres_connection_pool().clone();
    let weak = Arc::downgrade(&bus.inner);
    drop(bus);
    tokio::spawn(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            drop(inner);
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(err) = listener.listen(crate::domain::outbox::CHANNEL).await {
                        tracing::warn!(error = %err, "LISTEN failed");
                    } else {
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(_)) => {}
                                // The connection dropped; the next recv reconnects. Catch up.
                                Ok(None) => {}
                                Err(err) => {
                                    tracing::warn!(error = %err, "LISTEN connection lost");
                                    break;
                                }
                            }
                            match weak.upgrade() {
                                Some(inner) => inner.kick.notify_one(),
                                None => return,
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot open the LISTEN connection"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// One task per process sends the NOTIFY that wakes the other replicas: one for every
/// announcement made while it waited, then a pause of `NOTIFY_EVERY` (a `Notify` keeps one
/// permit, so the announcements of the pause share the next NOTIFY).
fn notify_replicas(db: DatabaseConnection, bus: &Bus) {
    let weak = Arc::downgrade(&bus.inner);
    tokio::spawn(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            // Woken by an announcement, or now and then to see whether the bus is gone.
            let announced = tokio::time::timeout(Duration::from_secs(1), inner.wake_replicas.notified()).await;
            drop(inner);
            if announced.is_err() {
                continue;
            }
            if let Err(err) = crate::domain::outbox::wake_replicas(&db).await {
                tracing::warn!(error = %err, "NOTIFY failed; the other replicas will poll");
            }
            tokio::time::sleep(NOTIFY_EVERY).await;
        }
    });
}
