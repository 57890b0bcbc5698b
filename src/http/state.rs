//! What every adapter shares: the database, the schema and its cost model, fair use, the
//! event bus and the limits.
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use sea_orm::DatabaseConnection;

use super::keys::{BrandCache, KeyCache};
use super::throttle::Throttle;
use crate::db::{self, StatementCounter};
use crate::events::Bus;
use crate::graphql::cost::CostModel;
use crate::graphql::live::hub::Hub;
use crate::graphql::live::sockets::Sockets;
use crate::graphql::{Limits, TallySchema, build_schema, exec};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: TallySchema,
    /// What each field of the schema costs, for `graphql::exec::prepare`.
    pub cost: Arc<CostModel>,
    /// Documents parsed lately, for `graphql::exec::prepare`.
    pub documents: Arc<exec::Documents>,
    pub throttle: Arc<Throttle>,
    pub bus: Bus,
    /// Where order events are recorded (group commit on SQLite).
    pub writer: crate::domain::orders::Writer,
    /// API keys seen in the last few seconds.
    pub keys: KeyCache,
    /// Brands webhooks named in the last few seconds.
    pub brands: BrandCache,
    /// Live subscriptions, grouped so that each event is executed once per group.
    pub hub: Hub,
    /// Every open websocket, by key (caps, revocation).
    pub sockets: Sockets,
    /// The pool queries read on (`db::read_pool`).
    pub read_db: DatabaseConnection,
    /// The pool exports read on (`db::export_pool`).
    pub export_db: DatabaseConnection,
    /// The pool live subscriptions read on (`db::live_pool`).
    pub live_db: DatabaseConnection,
    /// The writer's own pool (`db::writer_pool`), kept here for `/metrics`.
    pub writer_db: DatabaseConnection,
    pub limits: Limits,
    pub statements: StatementCounter,
    /// The key GraphiQL is pre-filled with (demo mode only).
    pub graphiql_key: Option<String>,
    /// Browser origins allowed to call the API (CORS); none by default.
    pub cors_origins: Vec<HeaderValue>,
}

impl AppState {
    pub async fn new(database_url: &str, limits: Limits) -> anyhow::Result<AppState> {
        let (db, statements) = db::connect_with(database_url, Some(limits.statement_timeout)).await?;
        let read_db = db::read_pool(&db, database_url, &statements).await?;
        let export_db = db::export_pool(&db, database_url, &statements).await?;
        let live_db = db::live_pool(&db, &read_db, database_url, Some(limits.statement_timeout), &statements).await?;
        let bus = Bus::start(db.clone()).await?;
        let writer_db = db::writer_pool(&db, database_url, Some(limits.statement_timeout), &statements).await?;
        let writer = crate::domain::orders::Writer::start(writer_db.clone());
        let keys = KeyCache::start(&bus);
        let schema = build_schema();
        let sockets = Sockets::default();
        let hub = Hub::start(schema.clone(), &bus, sockets.clone(), limits.subscriber_buffer);
        let cost = Arc::new(exec::model(&schema).await?);
        let throttle = Arc::new(Throttle::new(&limits));
        let idle = Arc::downgrade(&throttle);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                match idle.upgrade() {
                    Some(throttle) => throttle.forget_idle(),
                    None => break,
                }
            }
        });
        Ok(AppState {
            schema,
            cost,
            documents: Arc::default(),
            throttle,
            db,
            bus,
            writer,
            keys,
            brands: BrandCache::default(),
            hub,
            sockets,
            read_db,
            export_db,
            live_db,
            writer_db,
            limits,
            statements,
            graphiql_key: None,
            cors_origins: Vec::new(),
        })
    }
}
