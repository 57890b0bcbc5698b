//! Group commit: order events that arrive while others are being recorded wait, and are
//! then recorded together, in one transaction with one commit (one sync of the log) and
//! the same few statements whatever their number (`ingest::record_all`). If any of them
//! fails, the group is recorded again one event per transaction, so that only that one
//! fails. Each caller is answered only after its event's commit.
//!
//! SQLite has one writer, so one group is recorded at a time. On PostgreSQL `TURNS` groups
//! run their statements while the groups before them commit (wait for the log to reach
//! the disk), and events arriving meanwhile gather into the next: the busier the writer,
//! the bigger its groups, and the fewer statements and commits per event.
use std::collections::HashSet;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend, TransactionTrait};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::ingest::{Item, record, record_all};
use super::{OrderEvent, Recorded};
use crate::db::WRITER_CONNECTIONS;
use crate::domain::BrandId;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::money::Currency;

/// The most events one commit takes.
const MAX_GROUP: usize = 128;

/// Groups running their statements at once on PostgreSQL, one per core here: a group's
/// statements are mostly the database's work, which one connection does on one core.
const TURNS: usize = 2;

struct Job {
    brand: BrandId,
    currency: Currency,
    event: OrderEvent,
    reply: oneshot::Sender<DomainResult<Recorded>>,
}

impl Job {
    fn item(&self) -> Item<'_> {
        Item { brand: self.brand, currency: self.currency, event: &self.event }
    }
}

/// Where order events are recorded: `Writer::record` is `orders::record`, with group commit.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts recording on `db`: `db::writer_pool`'s connections.
    pub fn start(db: DatabaseConnection) -> Writer {
        let writers = if db.get_database_backend() == DbBackend::Postgres { WRITER_CONNECTIONS as usize } else { 1 };
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        let rx = Arc::new(Mutex::new(rx));
        let turn = Arc::new(Semaphore::new(TURNS));
        for _ in 0..writers {
            tokio::spawn(commit_in_groups(db.clone(), rx.clone(), turn.clone()));
        }
        Writer { jobs: tx }
    }

    /// Records one order event, as `orders::record` does, once it is committed.
    pub async fn record(&self, brand: BrandId, currency: Currency, event: OrderEvent) -> DomainResult<Recorded> {
        let (reply, answer) = oneshot::channel();
        let gone = || DomainError::Unexpected(anyhow::anyhow!("the order writer stopped"));
        self.jobs.send(Job { brand, currency, event, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Takes the events waiting (up to `MAX_GROUP`, about distinct orders) and records them
/// in one transaction; runs until every `Writer` is dropped. Writers take turns at the
/// queue, and at running statements (`turn`): one waits for its turn with the queue in
/// hand, gathering what arrives, while others run their statements or commit.
async fn commit_in_groups(db: DatabaseConnection, queue: Arc<Mutex<mpsc::Receiver<Job>>>, turn: Arc<Semaphore>) {
    // An event about an order already in the group: it goes first in the next one.
    let mut held: Option<Job> = None;
    loop {
        let mut group = Vec::new();
        let Ok(permit) = (match held.take() {
            // Never waits for the queue with an event in hand: the writer waiting there
            // may wait for a long time.
            Some(job) => {
                group.push(job);
                let permit = turn.clone().acquire_owned().await;
                if let Ok(mut rx) = queue.try_lock() {
                    held = gather(&mut rx, &mut group);
                }
                permit
            }
            None => {
                let mut rx = queue.lock().await;
                let Some(job) = rx.recv().await else { return };
                group.push(job);
                let permit = turn.clone().acquire_owned().await;
                held = gather(&mut rx, &mut group);
                permit
            }
        }) else {
            return;
        };
        let outcomes = match record_group(&db, &group, permit).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            // One event failed (or the commit did): nothing of the group was kept. Each
            // event is recorded again in a transaction of its own, so that only the
            // failing one fails.
            Err(_) if group.len() > 1 => {
                let mut outcomes = Vec::with_capacity(group.len());
                for job in &group {
                    outcomes.push(record(&db, job.brand, job.currency, &job.event).await);
                }
                outcomes
            }
            Err(err) => vec![Err(err)],
        };
        for (job, outcome) in group.into_iter().zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
    }
}

/// Adds the events waiting to the group, up to `MAX_GROUP`, and stops at one about an
/// order already in it, which it returns.
fn gather(rx: &mut mpsc::Receiver<Job>, group: &mut Vec<Job>) -> Option<Job> {
    let mut orders: HashSet<(i64, String)> = group.iter().map(|j| j.item().key()).collect();
    while group.len() < MAX_GROUP {
        let job = rx.try_recv().ok()?;
        if !orders.insert(job.item().key()) {
            return Some(job);
        }
        group.push(job);
    }
    None
}

/// Every event of the group recorded and committed together; Err, with nothing kept, as
/// soon as one fails. The turn is given up once the statements have run, before the commit.
async fn record_group(
    db: &DatabaseConnection,
    group: &[Job],
    turn: OwnedSemaphorePermit,
) -> DomainResult<Vec<Recorded>> {
    let txn = db.begin().await?;
    let items: Vec<Item> = group.iter().map(Job::item).collect();
    let outcomes = record_all(&txn, &items).await?;
    drop(turn);
    txn.commit().await?;
    Ok(outcomes)
}
