//! Connecting to SQLite or PostgreSQL, running migrations, and a tiny helper for the
//! hand-written aggregate SQL that reads the same on both backends.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, Statement, Value};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://tally.db?mode=rwc";

/// Counts the statements sent to the database on behalf of requests (the outbox poller's
/// background reads of `events` are left out); tests use it to prove there is no N+1.
#[derive(Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Counts the pool's statements, but the outbox poller's background reads.
    fn count(&self, db: &mut DatabaseConnection) {
        let inner = self.0.clone();
        db.set_metric_callback(move |info| {
            if !info.statement.sql.contains(r#"FROM "events""#) {
                inner.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
}

pub async fn connect(url: &str) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    connect_with(url, None).await
}

/// Connects and runs migrations; on PostgreSQL every statement of the returned pool is
/// then cut off after `statement_timeout` (migrations, which may rewrite big tables, run
/// without it).
pub async fn connect_with(
    url: &str,
    statement_timeout: Option<Duration>,
) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    let mut db = open(url, None, CONNECTIONS).await?;
    Migrator::up(&db, None).await.context("running migrations")?;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if let Some(timeout) = statement_timeout.filter(|_| postgres) {
        db.close().await.ok();
        db = open(url, Some(timeout), CONNECTIONS).await?;
    }
    let counter = StatementCounter::default();
    counter.count(&mut db);
    Ok((db, counter))
}

/// Connections of the main pool on PostgreSQL, and of the live pool.
const CONNECTIONS: u32 = 10;
const LIVE_CONNECTIONS: u32 = 2;

/// The pool live subscriptions read on: on PostgreSQL a small one of its own, so that
/// publishing events to subscribers never takes the connections writes need; on SQLite
/// the one connection there is. Its statements count with the main pool's.
pub async fn live_pool(
    main: &DatabaseConnection,
    url: &str,
    statement_timeout: Option<Duration>,
    counter: &StatementCounter,
) -> anyhow::Result<DatabaseConnection> {
    if main.get_database_backend() != DbBackend::Postgres {
        return Ok(main.clone());
    }
    let mut live = open(url, statement_timeout, LIVE_CONNECTIONS).await?;
    counter.count(&mut live);
    Ok(live)
}

async fn open(url: &str, statement_timeout: Option<Duration>, connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_string());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // One connection: SQLite has one writer, and a single connection never deadlocks
        // upgrading a read lock. Long reads (exports) go in chunks and release it between.
        options.max_connections(1);
    } else {
        options.max_connections(connections).min_connections(1);
    }
    if let Some(timeout) = statement_timeout {
        let setting = format!("{}ms", timeout.as_millis().max(1));
        options.map_sqlx_postgres_opts(move |pg| pg.options([("statement_timeout", setting.as_str())]));
    }
    // While the database is away, requests fail within seconds instead of queueing.
    options.connect_timeout(Duration::from_secs(5)).acquire_timeout(Duration::from_secs(5));
    Database::connect(options).await.with_context(|| format!("cannot connect to the database at {}", redact(url)))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Hand-written SQL with `$1, $2…` placeholders, rewritten to `?1, ?2…` on SQLite.
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql { text: text.to_string(), values: Vec::new() }
    }

    /// Binds a value and returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Appends ` AND <condition> <placeholder>`, e.g. `and("o.ordered_at >=", from)`.
    pub fn and(&mut self, condition: &str, value: impl Into<Value>) -> &mut Sql {
        let p = self.bind(value);
        self.text.push_str(&format!(" AND {condition} {p}"));
        self
    }

    /// Binds every value and returns their placeholders joined by commas ("" for none).
    pub fn bind_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        values.into_iter().map(|v| self.bind(v)).collect::<Vec<_>>().join(", ")
    }

    /// Appends ` AND <column> IN (<placeholders>)`; an empty list matches nothing.
    pub fn and_in<V: Into<Value>>(&mut self, column: &str, values: impl IntoIterator<Item = V>) -> &mut Sql {
        let list = self.bind_list(values);
        if list.is_empty() {
            self.text.push_str(" AND 1 = 0");
        } else {
            self.text.push_str(&format!(" AND {column} IN ({list})"));
        }
        self
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    pub fn build(self, backend: DbBackend) -> Statement {
        let text = match backend {
            DbBackend::Sqlite => self.text.replace('$', "?"),
            _ => self.text,
        };
        Statement::from_sql_and_values(backend, text, self.values)
    }
}
