//! The `tally` command line (SPEC §4).
use clap::{Parser, Subcommand};

use crate::app;
use crate::db::DEFAULT_DATABASE_URL;
use crate::domain::auth;
use crate::domain::{BrandId, brands, demo, seed};
use crate::graphql::{self, Limits};
use crate::http::state::AppState;
use crate::ids::{self, Kind};

#[derive(Parser)]
#[command(name = "tally", version, about = "How a brand's creators sell, as a GraphQL API")]
pub struct Cli {
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// How log lines are written to standard error: `text` (coloured only on a terminal)
    /// or `json` (one object per line, for a log collector). RUST_LOG sets what is logged.
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Starts logging to standard error: `tally=info,warn` unless RUST_LOG says otherwise, so
/// every request's access-log line is written.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "tally=info,warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve GraphQL, GraphiQL, webhooks and exports.
    Serve {
        #[arg(long, env = "TALLY_ADDR", default_value = "127.0.0.1:8000")]
        addr: String,
        /// Fill an empty database with a demo brand and pre-fill GraphiQL with its key.
        #[arg(long)]
        demo: bool,
        /// Browser origins allowed to call the API (CORS), comma-separated.
        #[arg(long, env = "TALLY_CORS_ORIGINS", value_delimiter = ',')]
        cors_origin: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Manage brands.
    Brand {
        #[command(subcommand)]
        command: BrandCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Create a brand at realistic volume: creators, campaigns, members and orders over
    /// the past days, as the write path would have stored them; prints
    /// {"brandId","apiKey","webhookSecret"}.
    Seed {
        /// Orders to create (about 8% end refunded, 3% canceled, and 4% of conversions are rejected).
        #[arg(long)]
        orders: u64,
        #[arg(long, default_value_t = 20)]
        campaigns: u32,
        /// Members per campaign, each a different creator.
        #[arg(long, default_value_t = 100)]
        members: u32,
        #[arg(long, default_value_t = 1000)]
        creators: u32,
        /// Orders are spread over this many days up to an hour ago.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// The same seed makes the same brand (apart from its secrets and ids).
        #[arg(long, default_value_t = 1)]
        random_seed: u64,
        #[arg(long, default_value = "Seeded Brand")]
        name: String,
        #[arg(long, default_value = "USD")]
        currency: String,
    },
    /// Print the GraphQL SDL (identical to schema.graphql).
    PrintSchema,
}

#[derive(Subcommand)]
pub enum BrandCommand {
    /// Create a brand; prints {"brandId","apiKey","webhookSecret"}.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "USD")]
        currency: String,
        #[arg(long)]
        store_url: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key; prints {"apiKey"}.
    Create {
        #[arg(long)]
        brand_id: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "ADMIN")]
        role: String,
    },
    /// Revoke a key by its secret, or every key of a brand with a name; prints {"revoked": N}.
    Revoke {
        #[arg(long, conflicts_with_all = ["brand_id", "name"], required_unless_present = "name")]
        api_key: Option<String>,
        #[arg(long, requires = "name")]
        brand_id: Option<String>,
        #[arg(long, requires = "brand_id")]
        name: Option<String>,
    },
}

/// The limits that protect a server, each with its flag and environment variable.
#[derive(clap::Args)]
pub struct LimitArgs {
    /// Largest request body, in bytes.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES", default_value_t = Limits::default().body_bytes)]
    max_body_bytes: usize,
    /// Deepest nesting of data fields in a query.
    #[arg(long, env = "TALLY_MAX_DEPTH", default_value_t = Limits::default().depth)]
    max_depth: usize,
    /// Highest query cost: fields count 1, connections `first` times their edges, aggregates more.
    #[arg(long, env = "TALLY_MAX_COMPLEXITY", default_value_t = Limits::default().complexity)]
    max_complexity: usize,
    /// Highest introspection cost (GraphiQL's introspection query costs about 110,000).
    #[arg(long, env = "TALLY_MAX_INTROSPECTION", default_value_t = Limits::default().introspection)]
    max_introspection: u64,
    /// Most operations in one batch request.
    #[arg(long, env = "TALLY_MAX_BATCH", default_value_t = Limits::default().batch)]
    max_batch: usize,
    /// Operations one API key may start per second (0: no limit).
    #[arg(long, env = "TALLY_RATE_LIMIT", default_value_t = Limits::default().rate_per_second)]
    rate_limit: u32,
    /// Operations one API key may start in a burst.
    #[arg(long, env = "TALLY_RATE_BURST", default_value_t = Limits::default().rate_burst)]
    rate_burst: u32,
    /// Aggregate cost from which an operation is expensive (a dashboard 1000, a Performance table 200).
    #[arg(long, env = "TALLY_EXPENSIVE_COST", default_value_t = Limits::default().expensive_cost)]
    expensive_cost: u64,
    /// Expensive operations one API key may run at once.
    #[arg(long, env = "TALLY_MAX_EXPENSIVE_PER_KEY", default_value_t = Limits::default().expensive_per_key)]
    max_expensive_per_key: u32,
    /// Milliseconds an expensive operation waits for its key's turn before 429.
    #[arg(long, env = "TALLY_EXPENSIVE_WAIT_MS", default_value_t = Limits::default().expensive_wait.as_millis() as u64)]
    expensive_wait_ms: u64,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "TALLY_HEADER_TIMEOUT", default_value_t = Limits::default().header_timeout.as_secs())]
    header_timeout: u64,
    /// Seconds a client may take to send a request's body.
    #[arg(long, env = "TALLY_BODY_TIMEOUT", default_value_t = Limits::default().body_timeout.as_secs())]
    body_timeout: u64,
    /// Seconds a request may take in all (an export: until its first byte).
    #[arg(long, env = "TALLY_REQUEST_TIMEOUT", default_value_t = Limits::default().request_timeout.as_secs())]
    request_timeout: u64,
    /// Seconds one SQL statement may run on PostgreSQL (statement_timeout).
    #[arg(long, env = "TALLY_STATEMENT_TIMEOUT", default_value_t = Limits::default().statement_timeout.as_secs())]
    statement_timeout: u64,
    /// Messages a websocket may leave untaken before it is disconnected (4008).
    #[arg(long, env = "TALLY_SUBSCRIBER_BUFFER", default_value_t = Limits::default().subscriber_buffer)]
    subscriber_buffer: usize,
    /// Operations one websocket may run at once.
    #[arg(long, env = "TALLY_MAX_SUBSCRIPTIONS", default_value_t = Limits::default().ws_max_subscriptions)]
    max_subscriptions: usize,
    /// Websockets one API key may hold open in this process.
    #[arg(long, env = "TALLY_MAX_SOCKETS_PER_KEY", default_value_t = Limits::default().ws_max_sockets_per_key)]
    max_sockets_per_key: usize,
    /// Websockets that may be waiting to send connection_init at once.
    #[arg(long, env = "TALLY_MAX_AWAITING_INIT", default_value_t = Limits::default().ws_max_awaiting_init)]
    max_awaiting_init: usize,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let secs = std::time::Duration::from_secs;
        Limits {
            body_bytes: self.max_body_bytes,
            depth: self.max_depth,
            complexity: self.max_complexity,
            introspection: self.max_introspection,
            batch: self.max_batch,
            rate_per_second: self.rate_limit,
            rate_burst: self.rate_burst,
            expensive_cost: self.expensive_cost,
            expensive_per_key: self.max_expensive_per_key,
            expensive_wait: std::time::Duration::from_millis(self.expensive_wait_ms),
            header_timeout: secs(self.header_timeout),
            body_timeout: secs(self.body_timeout),
            request_timeout: secs(self.request_timeout),
            statement_timeout: secs(self.statement_timeout),
            subscriber_buffer: self.subscriber_buffer,
            ws_max_subscriptions: self.max_subscriptions,
            ws_max_sockets_per_key: self.max_sockets_per_key,
            ws_max_awaiting_init: self.max_awaiting_init,
            ..Limits::default()
        }
    }
}

/// Ctrl-C or SIGTERM (what orchestrators send before stopping a replica).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

/// What `brand create` and `seed` print: `{"brandId","apiKey","webhookSecret"}`.
fn brand_line(brand: &entity::brand::Model, api_key: &str) -> serde_json::Value {
    serde_json::json!({
        "brandId": ids::encode(Kind::Brand, brand.id),
        "apiKey": api_key,
        "webhookSecret": brand.webhook_secret,
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::PrintSchema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Serve { addr, demo: with_demo, cors_origin, limits } => {
            let limits = limits.limits();
            match crate::http::serve::raise_open_files_limit() {
                Ok(files) => tracing::info!(files, "open-file limit (each websocket holds one)"),
                Err(err) => tracing::warn!(error = %err, "could not raise the open-file limit"),
            }
            let mut state = AppState::new(&cli.database_url, limits).await?;
            for origin in cors_origin.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
                let value = origin.parse().map_err(|_| anyhow::anyhow!("'{origin}' is not a valid origin"))?;
                state.cors_origins.push(value);
            }
            if with_demo {
                let key = demo::demo_key(&state.db).await?;
                state.graphiql_key = Some(key.clone());
                println!("demo data ready; API key: {key}");
            }
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            let local = listener.local_addr()?;
            println!("Tally listening on http://{local} (GraphiQL at /, GraphQL at /graphql)");
            tracing::info!(%local, database = %crate::db::redact(&cli.database_url), "serving");
            app::serve_until(listener, state, shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Seed { orders, campaigns, members, creators, days, random_seed, name, currency } => {
            let (db, _) = crate::db::connect(&cli.database_url).await?;
            let options = seed::Options { orders, campaigns, members, creators, days, random_seed, name, currency };
            let started = std::time::Instant::now();
            let seeded = seed::seed(&db, &options).await?;
            let c = &seeded.counts;
            eprintln!(
                "seeded in {:.1} s: {} orders, {} history entries, {} outbox events, {} reviews, {} rollup rows",
                started.elapsed().as_secs_f64(),
                c.orders,
                c.history,
                c.events,
                c.reviews,
                c.rollups
            );
            println!("{}", brand_line(&seeded.brand, &seeded.api_key));
            Ok(())
        }
        Command::Brand { command: BrandCommand::Create { name, currency, store_url } } => {
            let (db, _) = crate::db::connect(&cli.database_url).await?;
            let created = brands::create(&db, &name, &currency, store_url.as_deref()).await?;
            println!("{}", brand_line(&created.brand, &created.api_key));
            Ok(())
        }
        Command::Key { command: KeyCommand::Create { brand_id, name, role } } => {
            let (db, _) = crate::db::connect(&cli.database_url).await?;
            let brand =
                ids::decode(Kind::Brand, &brand_id).ok_or_else(|| anyhow::anyhow!("unknown brand id {brand_id}"))?;
            let role = auth::parse_role(&role)?;
            brands::get(&db, BrandId(brand)).await.map_err(|_| anyhow::anyhow!("unknown brand id {brand_id}"))?;
            let key = auth::create_key(&db, BrandId(brand), &name, role).await?;
            println!("{}", serde_json::json!({ "apiKey": key }));
            Ok(())
        }
        Command::Key { command: KeyCommand::Revoke { api_key, brand_id, name } } => {
            let (db, _) = crate::db::connect(&cli.database_url).await?;
            let revoked = match (api_key, brand_id, name) {
                (Some(secret), _, _) => auth::revoke_secret(&db, &secret).await,
                (None, Some(brand_id), Some(name)) => {
                    let brand = ids::decode(Kind::Brand, &brand_id)
                        .ok_or_else(|| anyhow::anyhow!("unknown brand id {brand_id}"))?;
                    auth::revoke_named(&db, BrandId(brand), &name).await
                }
                _ => anyhow::bail!("give --api-key, or --brand-id with --name"),
            }?;
            println!("{}", serde_json::json!({ "revoked": revoked }));
            Ok(())
        }
    }
}
