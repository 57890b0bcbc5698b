//! Connecting to SQLite or PostgreSQL, running migrations, and a tiny helper for the
//! hand-written aggregate SQL that reads the same on both backends.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::ArrayType;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value, Values};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://tally.db?mode=rwc";

/// Counts the statements sent to the database on behalf of requests (the event bus's
/// background work is left out: its reads of `events`, and the NOTIFY it sends after
/// commits, coalesced and so at moments of its own); tests use it to prove there is no N+1.
#[derive(Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Counts the pool's statements, but the event bus's background ones.
    fn count(&self, db: &mut DatabaseConnection) {
        let inner = self.0.clone();
        db.set_metric_callback(move |info| {
            let sql = &info.statement.sql;
            if !sql.contains(r#"FROM "events""#) && !sql.contains("pg_notify(") {
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
    let mut db = open(url, None, Role::Main).await?;
    Migrator::up(&db, None).await.context("running migrations")?;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if let Some(timeout) = statement_timeout.filter(|_| postgres) {
        db.close().await.ok();
        db = open(url, Some(timeout), Role::Main).await?;
    }
    checkpoint(&db).await?;
    let counter = StatementCounter::default();
    counter.count(&mut db);
    Ok((db, counter))
}

/// Connections of the main pool on PostgreSQL, of the live pool, and of the writer's
/// pool: two groups of order events run their statements while the others commit.
const CONNECTIONS: u32 = 10;
const LIVE_CONNECTIONS: u32 = 2;
pub const WRITER_CONNECTIONS: u32 = 4;
/// Read-only connections beside SQLite's one writer: a few per core, so that reads of
/// several requests run at once on every core.
const SQLITE_READERS: u32 = 4;
/// Exports running at once: each holds a connection of the export pool for as long as
/// its download lasts, so that they never take the connections queries need.
pub const EXPORT_CONNECTIONS: u32 = 4;

/// The pool queries read on. On a SQLite file, read-only connections of their own: the
/// database is in WAL mode, so they read the last commit while the one writer writes, and
/// reads no longer wait in line for the writer's single connection. Elsewhere (PostgreSQL,
/// or SQLite in memory, which another connection cannot see) the main pool. Its statements
/// count with the main pool's.
pub async fn read_pool(
    main: &DatabaseConnection,
    url: &str,
    counter: &StatementCounter,
) -> anyhow::Result<DatabaseConnection> {
    if main.get_database_backend() != DbBackend::Sqlite || in_memory(url) {
        return Ok(main.clone());
    }
    let mut readers = open(url, None, Role::Readers).await?;
    counter.count(&mut readers);
    Ok(readers)
}

/// The pool exports read on (`orders::export`), `EXPORT_CONNECTIONS` strong: on
/// PostgreSQL without a statement timeout (an export's cursor is read for as long as its
/// download lasts; the download must keep taking rows), on a SQLite file read-only
/// connections of its own. SQLite in memory reads on the main pool. Its statements count
/// with the main pool's.
pub async fn export_pool(
    main: &DatabaseConnection,
    url: &str,
    counter: &StatementCounter,
) -> anyhow::Result<DatabaseConnection> {
    if main.get_database_backend() == DbBackend::Sqlite && in_memory(url) {
        return Ok(main.clone());
    }
    let mut exports = open(url, None, Role::Exports).await?;
    counter.count(&mut exports);
    Ok(exports)
}

/// The pool live subscriptions read on: on PostgreSQL a small one of its own, so that
/// publishing events to subscribers never takes the connections writes need; on SQLite
/// the readers (`read_pool`). Its statements count with the main pool's.
pub async fn live_pool(
    main: &DatabaseConnection,
    readers: &DatabaseConnection,
    url: &str,
    statement_timeout: Option<Duration>,
    counter: &StatementCounter,
) -> anyhow::Result<DatabaseConnection> {
    if main.get_database_backend() != DbBackend::Postgres {
        return Ok(readers.clone());
    }
    let mut live = open(url, statement_timeout, Role::Live).await?;
    counter.count(&mut live);
    Ok(live)
}

/// The pool order events are recorded on (`orders::Writer`): on PostgreSQL one of its
/// own, `WRITER_CONNECTIONS` strong, so that reads and live work never take the
/// connections the webhooks need; on SQLite the main pool, whose one connection is the
/// writer. Its statements count with the main pool's.
pub async fn writer_pool(
    main: &DatabaseConnection,
    url: &str,
    statement_timeout: Option<Duration>,
    counter: &StatementCounter,
) -> anyhow::Result<DatabaseConnection> {
    if main.get_database_backend() != DbBackend::Postgres {
        return Ok(main.clone());
    }
    let mut writer = open(url, statement_timeout, Role::Writer).await?;
    counter.count(&mut writer);
    Ok(writer)
}

/// On SQLite, copies what the write-ahead log holds into the database file and empties
/// the log: reads that find their pages in the file skip the log's index. Run after big
/// writes (a seed) and at startup; nothing to do on PostgreSQL or SQLite in memory.
pub async fn checkpoint(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.context("checkpointing the SQLite log")?;
    }
    Ok(())
}

fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// What a pool is for, which sets its size and, on SQLite, its mode.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Main,
    Live,
    Readers,
    Writer,
    Exports,
}

/// SQLite keeps statistics of its memory use, which Tally never reads, by taking one
/// process-wide mutex around every allocation: every value of every row read (the driver
/// copies each) went through it, on every connection. Turned off once, before the first
/// connection starts SQLite; a call after that is refused by SQLite and changes nothing.
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SQLite's own C interface, linked in with the driver's bundled SQLite.
        unsafe extern "C" {
            fn sqlite3_config(option: std::ffi::c_int, ...) -> std::ffi::c_int;
        }
        const SQLITE_CONFIG_MEMSTATUS: std::ffi::c_int = 9;
        // SAFETY: MEMSTATUS takes one int; the Once runs this before any connection opens
        // (every connection opens through `open`) and never concurrently with SQLite.
        unsafe { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
    });
}

/// How much of a SQLite file the read connections map into memory: all of any file Tally
/// will meet (address space, not memory; the bundled SQLite's own cap is raised to match
/// in .cargo/config.toml).
const SQLITE_MMAP_BYTES: u64 = 1 << 40;

async fn open(url: &str, statement_timeout: Option<Duration>, role: Role) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_string());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        sqlite_without_memory_statistics();
        if matches!(role, Role::Readers | Role::Exports) {
            let connections = if role == Role::Readers { SQLITE_READERS } else { EXPORT_CONNECTIONS };
            options.max_connections(connections).min_connections(1);
            // Room for a whole page of rows: the connection's thread hands them over
            // without waiting for the request to take the first ones. And the readers'
            // pages read through a memory map of the file: they share the operating
            // system's cached pages instead of each copying them into a page cache of its
            // own (2 MB each by default). Exports read through their page cache: one reads
            // the whole file, which mapped would stay in the server's resident memory.
            let mmap = if role == Role::Readers { SQLITE_MMAP_BYTES } else { 0 };
            options.map_sqlx_sqlite_opts(move |o| {
                o.pragma("query_only", "ON").pragma("mmap_size", mmap.to_string()).row_buffer_size(256)
            });
        } else {
            // One writer: SQLite has one, and a single connection never deadlocks
            // upgrading a read lock. WAL lets the readers read beside it; the mode is kept
            // in the file, and is set here before any reader opens.
            options.max_connections(1);
            if !in_memory(url) {
                // A checkpoint leaves the log at most this long rather than as long as
                // the biggest transaction made it (a seed writes the whole database there).
                options.map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(SqliteJournalMode::Wal).pragma("journal_size_limit", (64 << 20).to_string())
                });
            }
        }
    } else {
        let connections = match role {
            Role::Live => LIVE_CONNECTIONS,
            Role::Writer => WRITER_CONNECTIONS,
            Role::Exports => EXPORT_CONNECTIONS,
            _ => CONNECTIONS,
        };
        options.max_connections(connections).min_connections(1);
    }
    // A prepared statement keeps one plan, made without its values, rather than being
    // planned again at every execution: Tally's statements are lookups by key and ranges
    // over indexes whose best plan is the same whatever the values (limits are written into
    // the SQL, `literal_limit`), and planning cost more than running them (0.3 ms of a
    // page's 0.6). Left to choose, PostgreSQL replans whenever its estimate for the values
    // at hand beats the kept plan's, which for a campaign's page was every time.
    //
    // The writer's statements read and write groups of rows bound as arrays, by key, and
    // start on tables that are empty when a database is new: a plan kept from then would
    // scan whole tables (a sequential scan, or a hash join over one) forever after. Its
    // connections may neither scan a table nor hash or merge join, so every kept plan
    // goes through the indexes whatever the table held when it was made, and planning
    // each group's statements afresh (a fifth of the writer's time) is not needed.
    let mut settings = vec![("plan_cache_mode", "force_generic_plan".to_string())];
    // A kept plan guesses a range bound by parameters at a fixed share of its table: on 10
    // million orders, 2,500 rows for the few dozen of a range's partial hours, enough to
    // plan parallel workers, whose start cost 4 to 5 ms per execution. Tally's reads and
    // writes touch few rows through indexes; only an export reads many, and a cursor's
    // plan is never parallel anyway.
    if role != Role::Exports {
        settings.push(("max_parallel_workers_per_gather", "0".to_string()));
    }
    if role == Role::Writer {
        for method in ["enable_seqscan", "enable_hashjoin", "enable_mergejoin"] {
            settings.push((method, "off".to_string()));
        }
    }
    if let Some(timeout) = statement_timeout {
        settings.push(("statement_timeout", format!("{}ms", timeout.as_millis().max(1))));
    }
    if role == Role::Exports {
        // An export whose server stopped taking its rows gives its connection back.
        settings.push(("idle_in_transaction_session_timeout", "300000ms".to_string()));
    }
    options.map_sqlx_postgres_opts(move |pg| pg.options(settings.iter().map(|(k, v)| (k, v))));
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

/// The statement with its trailing `LIMIT`, bound as a value, written into the SQL as a
/// number instead. PostgreSQL costs the plan it would keep for a prepared statement as if
/// `LIMIT $n` let through a tenth of the table (a parallel scan, on one big campaign), so
/// it plans a page afresh at every execution, which took half a millisecond per page; with
/// the number written in, it keeps the plan. Pages come in a few sizes, so few statements.
pub fn literal_limit(mut statement: Statement) -> Statement {
    let Some(Values(values)) = &mut statement.values else { return statement };
    let Some(&Value::BigUnsigned(Some(limit))) = values.last() else { return statement };
    let placeholder = match statement.db_backend {
        DbBackend::Postgres => format!(" LIMIT ${}", values.len()),
        _ => " LIMIT ?".to_string(),
    };
    if let Some(rest) = statement.sql.strip_suffix(&placeholder) {
        statement.sql = format!("{rest} LIMIT {limit}");
        values.pop();
    }
    statement
}

/// The type of a column of bound rows (`Sql::rows`, `Sql::any`).
#[derive(Clone, Copy, Debug)]
pub enum Column {
    BigInt,
    Text,
}

impl Column {
    fn sql(self) -> &'static str {
        match self {
            Column::BigInt => "bigint",
            Column::Text => "text",
        }
    }

    fn array(self, values: Vec<Value>) -> Value {
        let kind = match self {
            Column::BigInt => ArrayType::BigInt,
            Column::Text => ArrayType::String,
        };
        Value::Array(kind, Some(Box::new(values)))
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

    /// Binds rows of values as a table `v` with these columns, for a statement to read
    /// from (`… FROM {rows}`): on PostgreSQL one array per column, unnested, so that the
    /// statement's text is the same for any number of rows and is prepared and planned
    /// once; on SQLite a VALUES list. Every row holds one value per column, and text values
    /// are never NULL (PostgreSQL's arrays are bound without NULLs here); SQLite needs at
    /// least one row.
    pub fn rows(&mut self, backend: DbBackend, columns: &[(&str, Column)], rows: Vec<Vec<Value>>) -> String {
        let names = columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
        if backend == DbBackend::Postgres {
            let mut arrays: Vec<Vec<Value>> = columns.iter().map(|_| Vec::with_capacity(rows.len())).collect();
            for row in rows {
                for (array, value) in arrays.iter_mut().zip(row) {
                    array.push(value);
                }
            }
            let unnested: Vec<String> = columns
                .iter()
                .zip(arrays)
                .map(|((_, column), values)| format!("{}::{}[]", self.bind(column.array(values)), column.sql()))
                .collect();
            format!("unnest({}) AS v({names})", unnested.join(", "))
        } else {
            let aliases: Vec<String> =
                columns.iter().enumerate().map(|(i, (name, _))| format!("column{} AS {name}", i + 1)).collect();
            let values: Vec<String> = rows.into_iter().map(|row| format!("({})", self.bind_list(row))).collect();
            format!("(SELECT {} FROM (VALUES {})) AS v", aliases.join(", "), values.join(", "))
        }
    }

    /// `<column> = ANY(<array>)` on PostgreSQL (one text for any number of values),
    /// `<column> IN (…)` on SQLite; false for no values.
    pub fn any(&mut self, backend: DbBackend, column: &str, kind: Column, values: Vec<Value>) -> String {
        if backend == DbBackend::Postgres {
            format!("{column} = ANY({}::{}[])", self.bind(kind.array(values)), kind.sql())
        } else if values.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("{column} IN ({})", self.bind_list(values))
        }
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

/// Data-modifying statements run together: on PostgreSQL as one statement, each a
/// data-modifying `WITH` query (one round trip, one plan kept for its never-changing
/// text); on SQLite one after another, in the order added (in-process, no round trips to
/// save). Each says how many rows it wrote or changed.
pub struct Batch {
    backend: DbBackend,
    /// PostgreSQL's one statement, bound as its parts are added.
    shared: Sql,
    parts: Vec<Option<String>>,
    /// SQLite's statements, with the index of their part.
    own: Vec<(usize, Sql)>,
}

impl Batch {
    pub fn new(backend: DbBackend) -> Batch {
        Batch { backend, shared: Sql::new(""), parts: Vec::new(), own: Vec::new() }
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Adds a statement (no `RETURNING`) that `write` writes into the `Sql` it is given,
    /// over `rows` rows (`Sql::rows`); it returns the part's index for `run`'s answer. A
    /// part without rows is left out on SQLite (whose VALUES need one), and kept on
    /// PostgreSQL, where it writes nothing, so that the text never changes.
    pub fn add(&mut self, rows: usize, write: impl FnOnce(&mut Sql) -> String) -> usize {
        let index = self.parts.len();
        if self.backend == DbBackend::Postgres {
            let text = write(&mut self.shared);
            self.parts.push(Some(text));
        } else {
            self.parts.push(None);
            if rows > 0 {
                let mut sql = Sql::new("");
                let text = write(&mut sql);
                sql.push(&text);
                self.own.push((index, sql));
            }
        }
        index
    }

    /// Runs every part; the rows each wrote, by index.
    pub async fn run(self, db: &impl ConnectionTrait) -> Result<Vec<u64>, sea_orm::DbErr> {
        let mut counts = vec![0; self.parts.len()];
        if self.backend == DbBackend::Postgres {
            if self.parts.is_empty() {
                return Ok(counts);
            }
            let mut sql = self.shared;
            let ctes: Vec<String> = self
                .parts
                .iter()
                .enumerate()
                .map(|(i, part)| format!("w{i} AS ({} RETURNING 1)", part.as_deref().unwrap_or_default()))
                .collect();
            let counted: Vec<String> =
                (0..self.parts.len()).map(|i| format!("CAST((SELECT COUNT(*) FROM w{i}) AS BIGINT) AS n{i}")).collect();
            sql.push(&format!("WITH {} SELECT {}", ctes.join(", "), counted.join(", ")));
            let row = db.query_one_raw(sql.build(self.backend)).await?;
            if let Some(row) = row {
                for (i, count) in counts.iter_mut().enumerate() {
                    *count = row.try_get::<i64>("", &format!("n{i}"))? as u64;
                }
            }
        } else {
            for (i, sql) in self.own {
                counts[i] = db.execute_raw(sql.build(self.backend)).await?.rows_affected();
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

    use super::*;

    #[test]
    fn a_trailing_limit_is_written_into_the_sql_and_no_other_value_moves() {
        let select = entity::order::Entity::find().filter(entity::order::Column::BrandId.eq(7)).limit(101);
        let pg = literal_limit(select.clone().build(DbBackend::Postgres));
        assert!(pg.sql.ends_with(r#"WHERE "orders"."brand_id" = $1 LIMIT 101"#), "{}", pg.sql);
        assert_eq!(pg.values.unwrap().0, vec![Value::from(7)]);
        let lite = literal_limit(select.build(DbBackend::Sqlite));
        assert!(lite.sql.ends_with(r#"WHERE "orders"."brand_id" = ? LIMIT 101"#), "{}", lite.sql);
        assert_eq!(lite.values.unwrap().0.len(), 1);
        // Without a limit the statement is left as it was.
        let unlimited =
            entity::order::Entity::find().filter(entity::order::Column::Id.eq(3)).build(DbBackend::Postgres);
        assert_eq!(literal_limit(unlimited.clone()).sql, unlimited.sql);
    }
}
