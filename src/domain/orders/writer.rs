//! Group commit for SQLite: order events wait for the one writer connection anyway, so
//! the events waiting together are recorded in one transaction with one commit, so one
//! sync of the log, for all of them; if any of them fails, the group is recorded again
//! one event per transaction, so that the others are untouched by it. Each caller is
//! answered only after its event's commit. On
//! PostgreSQL, which commits concurrent transactions together by itself, each event is
//! recorded in its own transaction as before.
use sea_orm::{DatabaseConnection, DbBackend, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::ingest::{record, record_in};
use super::{OrderEvent, Recorded};
use crate::domain::BrandId;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::money::Currency;

/// The most events one commit takes.
const MAX_BATCH: usize = 128;

struct Job {
    brand: BrandId,
    currency: Currency,
    event: OrderEvent,
    reply: oneshot::Sender<DomainResult<Recorded>>,
}

/// Where order events are recorded: `Writer::record` is `orders::record`, with group
/// commit on SQLite.
#[derive(Clone)]
pub struct Writer {
    db: DatabaseConnection,
    /// SQLite's queue of events for the group-commit task; None on PostgreSQL.
    jobs: Option<mpsc::Sender<Job>>,
}

impl Writer {
    pub fn start(db: DatabaseConnection) -> Writer {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Writer { db, jobs: None };
        }
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(commit_in_groups(db.clone(), rx));
        Writer { db, jobs: Some(tx) }
    }

    /// Records one order event, as `orders::record` does, once it is committed.
    pub async fn record(&self, brand: BrandId, currency: Currency, event: OrderEvent) -> DomainResult<Recorded> {
        let Some(jobs) = &self.jobs else { return record(&self.db, brand, currency, &event).await };
        let (reply, answer) = oneshot::channel();
        let gone = || DomainError::Unexpected(anyhow::anyhow!("the order writer stopped"));
        jobs.send(Job { brand, currency, event, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Takes the events waiting (up to `MAX_BATCH`) and records them in one transaction;
/// runs until every `Writer` is dropped.
async fn commit_in_groups(db: DatabaseConnection, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let outcomes = match record_all(&db, &jobs).await {
            Ok(outcomes) => outcomes,
            // One event failed (or the commit did): nothing of the group was kept. Each
            // event is recorded again in a transaction of its own, so that only the
            // failing one fails.
            Err(_) => {
                let mut outcomes = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    outcomes.push(record(&db, job.brand, job.currency, &job.event).await);
                }
                outcomes
            }
        };
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
    }
}

/// Every job's outcome, committed together; Err, with nothing kept, as soon as one fails.
async fn record_all(db: &DatabaseConnection, jobs: &[Job]) -> DomainResult<Vec<DomainResult<Recorded>>> {
    let txn = db.begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(Ok(record_in(&txn, job.brand, job.currency, &job.event).await?));
    }
    txn.commit().await?;
    Ok(outcomes)
}
