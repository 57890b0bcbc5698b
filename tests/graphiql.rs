//! GraphiQL in a real browser with no internet: Debian's headless Chromium, driven by
//! playwright-core (npm), runs the pre-filled query, opens Docs and sees a subscription's
//! event arrive after a webhook (tests/js/graphiql.mjs). The screenshots are kept in
//! target/test-artefacts/graphiql-<backend>/.
mod common;

use std::time::Duration;

use common::*;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

async fn graphiql_works_in_a_browser_with_no_internet(backend: Backend) {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        std::path::Path::new(&format!("{root}/node_modules/playwright-core")).exists(),
        "run `npm ci` first: this test drives Chromium with playwright-core"
    );
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(std::path::Path::new(&chromium).exists(), "{chromium} is needed (Debian: apt-get install chromium)");

    // A server in demo mode, as `tally serve --demo` runs: GraphiQL holds the demo key.
    let database_url = fresh_database(backend).await;
    let mut state = tally::app::AppState::new(&database_url, Default::default()).await.unwrap();
    let key = tally::domain::demo::demo_key(&state.db).await.unwrap();
    state.graphiql_key = Some(key.clone());
    let app = serve_state(backend, &database_url, state).await;
    let db = Database::connect(&database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT b.id, b.webhook_secret FROM brands b JOIN demo_brands d ON d.brand_id = b.id",
        ))
        .await
        .unwrap()
        .expect("the demo brand");
    let brand = TestBrand {
        id: tally::ids::encode(tally::ids::Kind::Brand, row.try_get::<i64>("", "id").unwrap()),
        key: key.clone(),
        webhook_secret: row.try_get("", "webhook_secret").unwrap(),
    };
    let members =
        app.data(&key, "{ campaigns(first: 1) { edges { node { members { couponCode } } } } }", json!({})).await;
    let coupon = members["campaigns"]["edges"][0]["node"]["members"][0]["couponCode"].as_str().unwrap().to_string();

    let dir = format!("{root}/target/test-artefacts/graphiql-{backend:?}").to_lowercase();
    let mut node = tokio::process::Command::new("node")
        .arg(format!("{root}/tests/js/graphiql.mjs"))
        .args([&app.url, &dir])
        .env("CHROMIUM_PATH", &chromium)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(90), lines.next_line()).await.expect("subscribed in time");
    assert_eq!(line.unwrap().as_deref(), Some("subscribed"), "the browser ran the query, opened Docs and subscribed");

    // The subscribe message may still be on its way to the server: a new paid order every
    // half second until the page shows one.
    let mut sent = Vec::new();
    let event = loop {
        let id = 7_100_000 + sent.len() as u64;
        let order = with_coupon(shopify_order(id, "paid", "40.00", "2026-03-01T10:00:00-05:00"), &coupon);
        let delivery = app.shopify(&brand, "orders/paid", &order).await;
        assert_eq!(delivery.status, 200, "{:?}", delivery.body);
        sent.push(id.to_string());
        if let Ok(line) = tokio::time::timeout(Duration::from_millis(500), lines.next_line()).await {
            break line.unwrap().expect("the browser reports the event");
        }
        assert!(sent.len() < 40, "no event reached the page after {} webhooks", sent.len());
    };
    let external_id = event.strip_prefix("event ").expect("an event line");
    assert!(sent.iter().any(|id| id == external_id), "{external_id} is one of the orders sent: {sent:?}");
    let status = tokio::time::timeout(Duration::from_secs(30), node.wait()).await.unwrap().unwrap();
    assert!(status.success(), "the browser script failed (its output is above)");
    for shot in ["1-prefilled-query.png", "2-docs.png", "3-subscription.png"] {
        let size = std::fs::metadata(format!("{dir}/{shot}")).unwrap().len();
        assert!(size > 10_000, "{shot} holds a rendered page ({size} bytes)");
    }
}

on_both_backends!(graphiql_works_in_a_browser_with_no_internet);
