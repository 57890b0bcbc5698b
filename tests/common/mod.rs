//! Black-box test harness: a real server on port 0 over a fresh database per test, on
//! SQLite (a temporary file) or PostgreSQL (a new database on 127.0.0.1:5432).
#![allow(dead_code)]

pub mod proxy;
pub mod ws;

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tally::app::{self, AppState};
use tally::domain::brands;
use tally::graphql::Limits;
use tally::ids::{self, Kind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(backend: Backend)` as two tests, `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )*
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("TALLY_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let r: u32 = rand::thread_rng().r#gen();
    format!("tally_t_{}_{n}_{r:08x}", std::process::id())
}

/// A fresh, empty database URL for the backend. PostgreSQL must be reachable: a test
/// that cannot reach it fails, it never skips.
pub async fn fresh_database(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
            format!("sqlite://{}?mode=rwc", path.display())
        }
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = unique_name();
            let conn = Database::connect(format!("{admin}/postgres"))
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this test and is unreachable: {e}"));
            conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
            conn.close().await.ok();
            format!("{admin}/{name}")
        }
    }
}

pub struct TestApp {
    pub addr: String,
    pub url: String,
    pub database_url: String,
    pub state: AppState,
    pub http: reqwest::Client,
    pub backend: Backend,
}

#[derive(Clone, Debug)]
pub struct TestBrand {
    pub id: String,
    pub key: String,
    pub webhook_secret: String,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Limits::default()).await
}

pub async fn spawn_app_with(backend: Backend, limits: Limits) -> TestApp {
    let database_url = fresh_database(backend).await;
    spawn_on(backend, &database_url, limits).await
}

/// A server on an existing database (a second replica, or a restart).
pub async fn spawn_on(backend: Backend, database_url: &str, limits: Limits) -> TestApp {
    let state = AppState::new(database_url, limits).await.expect("app state");
    serve_state(backend, database_url, state).await
}

/// Serves a state the test configured itself.
pub async fn serve_state(backend: Backend, database_url: &str, state: AppState) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = state.clone();
    tokio::spawn(async move { app::serve(listener, served).await });
    TestApp {
        url: format!("http://{addr}"),
        addr,
        database_url: database_url.to_string(),
        state,
        http: reqwest::Client::new(),
        backend,
    }
}

impl TestApp {
    pub async fn brand(&self, name: &str) -> TestBrand {
        self.brand_with(name, "USD", Some("https://shop.example.com")).await
    }

    pub async fn brand_with(&self, name: &str, currency: &str, store_url: Option<&str>) -> TestBrand {
        let created = brands::create(&self.state.db, name, currency, store_url)
            .await
            .unwrap_or_else(|e| panic!("create brand: {}", e));
        TestBrand {
            id: ids::encode(Kind::Brand, created.brand.id),
            key: created.api_key,
            webhook_secret: created.brand.webhook_secret,
        }
    }

    pub async fn viewer_key(&self, brand: &TestBrand) -> String {
        let id = ids::decode(Kind::Brand, &brand.id).unwrap();
        tally::domain::auth::create_key(
            &self.state.db,
            tally::domain::BrandId(id),
            "dashboard viewer",
            tally::domain::auth::Role::Viewer,
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e))
    }

    /// POSTs a GraphQL operation and returns the whole JSON answer.
    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        response.json().await.expect("json body")
    }

    /// Like `gql`, but fails the test on any error and returns `data`.
    pub async fn data(&self, key: &str, query: &str, variables: Value) -> Value {
        let answer = self.gql(key, query, variables).await;
        assert!(answer.get("errors").is_none(), "unexpected errors: {answer:#}");
        answer["data"].clone()
    }

    pub async fn create_creator(&self, brand: &TestBrand, name: &str) -> String {
        let d = self
            .data(
                &brand.key,
                "mutation($n: String!) { createCreator(input: {name: $n, handle: \"@x\"}) { id } }",
                json!({ "n": name }),
            )
            .await;
        d["createCreator"]["id"].as_str().unwrap().to_string()
    }

    pub async fn create_campaign(&self, brand: &TestBrand, name: &str, rate: &str) -> String {
        let d = self
            .data(
                &brand.key,
                "mutation($n: String!, $r: Decimal) { createCampaign(input: {name: $n, defaultCommissionRate: $r}) { id } }",
                json!({ "n": name, "r": rate }),
            )
            .await;
        d["createCampaign"]["id"].as_str().unwrap().to_string()
    }

    pub async fn add_member(
        &self,
        brand: &TestBrand,
        campaign: &str,
        creator: &str,
        coupon: Option<&str>,
        affiliate: Option<&str>,
    ) -> Value {
        let d = self
            .data(
                &brand.key,
                "mutation($i: AddCreatorToCampaignInput!) { addCreatorToCampaign(input: $i) { id couponCode affiliateCode affiliateLink commissionRate commissionFlat } }",
                json!({ "i": { "campaignId": campaign, "creatorId": creator, "couponCode": coupon, "affiliateCode": affiliate } }),
            )
            .await;
        d["addCreatorToCampaign"].clone()
    }

    /// Records an order event through GraphQL; returns the order (or null).
    pub async fn order_event(&self, brand: &TestBrand, input: Value) -> Value {
        let d = self
            .data(
                &brand.key,
                "mutation($i: OrderEventInput!) { recordOrderEvent(input: $i) { id externalId status amount statusChangedAt conversion { id commission attribution approval earnedCommission } } }",
                json!({ "i": input }),
            )
            .await;
        d["recordOrderEvent"].clone()
    }

    pub fn statements(&self) -> u64 {
        self.state.statements.get()
    }

    /// Makes sure the server remembers `key` (it looks a key up again after a few
    /// seconds), so that a statement count that follows counts only the operation.
    pub async fn warm(&self, key: &str) {
        self.data(key, "{ brand { id } }", json!({})).await;
    }
}

/// The `extensions.code` of the first error.
pub fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {answer:#}"))
}

/// A Shopify order webhook payload shaped like the real thing (REST Admin API order).
pub fn shopify_order(id: u64, financial_status: &str, subtotal: &str, updated_at: &str) -> Value {
    // Two halves: one `json!` of the whole order passes the macro's recursion limit.
    let mut order = json!({
        "id": id,
        "admin_graphql_api_id": format!("gid://shopify/Order/{id}"),
        "app_id": 580111,
        "browser_ip": "203.0.113.7",
        "buyer_accepts_marketing": false,
        "cancel_reason": null,
        "cancelled_at": null,
        "confirmed": true,
        "contact_email": "buyer@example.com",
        "created_at": "2026-03-01T09:15:00-05:00",
        "currency": "USD",
        "current_subtotal_price": subtotal,
        "current_total_discounts": "2.00",
        "current_total_price": "25.19",
        "current_total_tax": "1.20",
        "customer_locale": "en",
        "discount_codes": [],
        "email": "buyer@example.com",
        "financial_status": financial_status,
        "fulfillment_status": null,
        "landing_site": "/",
    });
    let rest = json!({
        "name": format!("#{}", 1000 + id % 1000),
        "order_number": 1000 + id % 1000,
        "presentment_currency": "USD",
        "processed_at": "2026-03-01T09:15:00-05:00",
        "referring_site": "https://www.instagram.com/",
        "source_name": "web",
        "subtotal_price": subtotal,
        "tags": "",
        "taxes_included": false,
        "test": false,
        "total_discounts": "2.00",
        "total_line_items_price": "21.99",
        "total_price": "25.19",
        "total_tax": "1.20",
        "updated_at": updated_at,
        "line_items": [{
            "id": id * 10 + 1,
            "name": "Glow Serum - 30ml",
            "price": "21.99",
            "quantity": 1,
            "sku": "GLOW-30",
            "product_id": 7513594,
            "variant_id": 42164132,
            "taxable": true,
            "total_discount": "2.00"
        }],
        "shipping_lines": [{ "code": "Standard", "price": "4.00", "title": "Standard" }],
        "customer": { "id": 6208543, "email": "buyer@example.com", "first_name": "Sam", "last_name": "Lee" }
    });
    order.as_object_mut().unwrap().extend(rest.as_object().unwrap().clone());
    order
}

/// The payload with a discount code applied, as Shopify lists it.
pub fn with_coupon(mut payload: Value, code: &str) -> Value {
    payload["discount_codes"] = json!([{ "code": code, "amount": "2.00", "type": "fixed_amount" }]);
    payload
}

pub struct Delivery {
    pub status: u16,
    pub body: Value,
}

impl TestApp {
    /// Delivers a Shopify webhook signed with the brand's secret.
    pub async fn shopify(&self, brand: &TestBrand, topic: &str, payload: &Value) -> Delivery {
        let body = serde_json::to_vec(payload).unwrap();
        let signature = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            tally::ingest::sign(&brand.webhook_secret, &body),
        );
        self.shopify_raw(&brand.id, topic, body, Some(&signature)).await
    }

    pub async fn shopify_raw(&self, brand_id: &str, topic: &str, body: Vec<u8>, signature: Option<&str>) -> Delivery {
        let mut request = self
            .http
            .post(format!("{}/webhooks/{brand_id}/shopify", self.url))
            .header("content-type", "application/json")
            .header("x-shopify-topic", topic)
            .header("x-shopify-shop-domain", "acme.myshopify.com")
            .body(body);
        if let Some(sig) = signature {
            request = request.header("x-shopify-hmac-sha256", sig);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Delivery { status, body }
    }

    /// Delivers the signed JSON webhook.
    pub async fn signed(&self, brand: &TestBrand, body: &[u8]) -> Delivery {
        let signature = format!("sha256={}", hex::encode(tally::ingest::sign(&brand.webhook_secret, body)));
        let response = self
            .http
            .post(format!("{}/webhooks/{}/orders", self.url, brand.id))
            .header("content-type", "application/json")
            .header("x-tally-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Delivery { status, body }
    }

    pub async fn order_count(&self, brand: &TestBrand) -> i64 {
        let d = self.data(&brand.key, "{ orders { totalCount } }", json!({})).await;
        d["orders"]["totalCount"].as_i64().unwrap()
    }
}

/// A campaign with one member holding coupon `ANA10` and affiliate code `ana`.
pub struct Setup {
    pub brand: TestBrand,
    pub campaign: String,
    pub ana: String,
}

pub async fn one_member(app: &TestApp, rate: &str) -> Setup {
    let brand = app.brand("Acme").await;
    let campaign = app.create_campaign(&brand, "Spring Launch", rate).await;
    let ana = app.create_creator(&brand, "Ana Silva").await;
    app.add_member(&brand, &campaign, &ana, Some("ANA10"), Some("ana")).await;
    Setup { brand, campaign, ana }
}

/// Starts `tally serve --demo` as a process and returns it with its key and address.
pub async fn serve_demo(database_url: &str) -> (tokio::process::Child, String, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--demo", "--addr", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut key, mut url) = (String::new(), String::new());
    while let Ok(Some(line)) =
        tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await.unwrap()
    {
        if let Some(k) = line.strip_prefix("demo data ready; API key: ") {
            key = k.to_string();
        }
        if let Some(rest) = line.strip_prefix("Tally listening on ") {
            url = rest.split(' ').next().unwrap().to_string();
            break;
        }
    }
    assert!(!key.is_empty() && !url.is_empty());
    (child, key, url)
}
