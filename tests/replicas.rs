//! Several `tally serve` processes on one PostgreSQL: a change committed through any of
//! them reaches subscribers on all of them, including the npm `graphql-ws` client.
#![recursion_limit = "256"]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::ws::{self, Protocol};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

struct Replica {
    _child: tokio::process::Child,
    url: String,
}

async fn replica(database_url: &str) -> Replica {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("serve output");
        if let Some(rest) = line.strip_prefix("Tally listening on ") {
            let url = rest.split(' ').next().unwrap().to_string();
            return Replica { _child: child, url };
        }
    }
}

async fn gql(url: &str, key: &str, query: &str, variables: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(format!("{url}/graphql"))
        .bearer_auth(key)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer:#}");
    answer["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_reaches_subscribers_on_every_replica_postgres() {
    let database_url = fresh_database(Backend::Postgres).await;
    let brand = cli(&database_url, &["brand", "create", "--name", "Acme", "--store-url", "https://shop.example.com"]);
    let key = brand["apiKey"].as_str().unwrap().to_string();
    let a = replica(&database_url).await;
    let b = replica(&database_url).await;
    // The campaign and the membership through B, the creator through A.
    spring_member([&b.url, &a.url, &b.url], &key).await;

    // A Rust client on replica A, the npm graphql-ws client on replica B.
    let mut on_a = ws::connect(&a.url, Protocol::TransportWs, &key).await;
    on_a.subscribe(
        "a",
        "subscription { orderStatusChanged { order { externalId } previousStatus status } }",
        json!({}),
    )
    .await;
    let node_modules = concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/graphql-ws");
    assert!(std::path::Path::new(node_modules).exists(), "run `npm ci` first: the JavaScript client test needs it");
    let mut node = tokio::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/subscribe.mjs"))
        .arg(format!("{}/graphql/ws", b.url.replacen("http", "ws", 1)))
        .arg(&key)
        .arg("2")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed");
    let mut node_lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let connected =
        tokio::time::timeout(Duration::from_secs(20), node_lines.next_line()).await.unwrap().unwrap().unwrap();
    assert_eq!(connected, r#"{"connected":true}"#);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // One change through B's GraphQL, one through A's Shopify webhook.
    gql(&b.url, &key, "mutation { recordOrderEvent(input: {externalId: \"R1\", amount: \"25.00\", currency: \"USD\", status: PAID, occurredAt: \"2026-03-01T10:00:00Z\", couponCode: \"ANA10\"}) { id } }", json!({})).await;
    let secret = brand["webhookSecret"].as_str().unwrap();
    let mut payload = shopify_order(0, "refunded", "25.00", "2026-03-02T10:00:00Z");
    payload["id"] = json!("R1");
    payload["discount_codes"] = json!([{"code": "ANA10"}]);
    let body = serde_json::to_vec(&payload).unwrap();
    let signature =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tally::ingest::sign(secret, &body));
    let delivered = reqwest::Client::new()
        .post(format!("{}/webhooks/{}/shopify", a.url, brand["brandId"].as_str().unwrap()))
        .header("x-shopify-topic", "orders/updated")
        .header("x-shopify-hmac-sha256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);

    let expected = [
        json!({"orderStatusChanged": {"order": {"externalId": "R1"}, "previousStatus": null, "status": "PAID"}}),
        json!({"orderStatusChanged": {"order": {"externalId": "R1"}, "previousStatus": "PAID", "status": "REFUNDED"}}),
    ];
    for want in &expected {
        assert_eq!(&on_a.next_data("a").await, want);
        let line = tokio::time::timeout(Duration::from_secs(10), node_lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("event from node");
        let got: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(&got["data"], want);
    }
    let status = tokio::time::timeout(Duration::from_secs(10), node.wait()).await.unwrap().unwrap();
    assert!(status.success());
}

/// Runs the `tally` CLI against the database and returns its JSON output.
fn cli(database_url: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Creates campaign Spring, creator Ana and her membership with coupon ANA10, each through
/// the replica at the given URL (campaign, creator, membership).
async fn spring_member(urls: [&str; 3], key: &str) {
    let query = "mutation { createCampaign(input: {name: \"Spring\", defaultCommissionRate: \"10\"}) { id } }";
    let campaign = gql(urls[0], key, query, json!({})).await;
    let creator = gql(urls[1], key, "mutation { createCreator(input: {name: \"Ana\"}) { id } }", json!({})).await;
    gql(urls[2], key, "mutation($k: ID!, $c: ID!) { addCreatorToCampaign(input: {campaignId: $k, creatorId: $c, couponCode: \"ANA10\"}) { id } }",
        json!({"k": campaign["createCampaign"]["id"], "c": creator["createCreator"]["id"]})).await;
}

const RESUMABLE: &str =
    "subscription($after: String) { orderStatusChanged(after: $after) { order { externalId } status cursor } }";

async fn record(url: &str, key: &str, external_id: &str, status: &str, at: &str) {
    let query = "mutation($id: String!, $status: OrderStatus!, $at: DateTime!) { recordOrderEvent(input: {externalId: $id, amount: \"25.00\", currency: \"USD\", status: $status, occurredAt: $at, couponCode: \"ANA10\"}) { id } }";
    gql(url, key, query, json!({"id": external_id, "status": status, "at": at})).await;
}

async fn next_change(client: &mut ws::WsClient, id: &str) -> (String, String) {
    let change = client.next_data(id).await["orderStatusChanged"].clone();
    (change["order"]["externalId"].as_str().unwrap().to_string(), change["cursor"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_resume_on_any_replica_and_a_revoked_key_is_closed_on_every_replica_within_a_second_postgres() {
    let database_url = fresh_database(Backend::Postgres).await;
    let brand = cli(&database_url, &["brand", "create", "--name", "Acme", "--store-url", "https://shop.example.com"]);
    let key = brand["apiKey"].as_str().unwrap().to_string();
    let brand_id = brand["brandId"].as_str().unwrap();
    let viewer = cli(&database_url, &["key", "create", "--brand-id", brand_id, "--name", "wall", "--role", "VIEWER"]);
    let viewer = viewer["apiKey"].as_str().unwrap().to_string();
    let a = replica(&database_url).await;
    let b = replica(&database_url).await;
    spring_member([&a.url, &a.url, &a.url], &key).await;

    // A cursor from replica B resumes on replica A, with exactly the changes missed.
    let mut on_b = ws::connect(&b.url, Protocol::TransportWs, &viewer).await;
    on_b.subscribe("1", RESUMABLE, json!({})).await;
    record(&a.url, &key, "X1", "PAID", "2026-03-01T10:00:00Z").await;
    let (first, cursor) = next_change(&mut on_b, "1").await;
    assert_eq!(first, "X1");
    drop(on_b);
    record(&b.url, &key, "X2", "PAID", "2026-03-01T11:00:00Z").await;
    record(&a.url, &key, "X1", "REFUNDED", "2026-03-02T10:00:00Z").await;
    let mut on_a = ws::connect(&a.url, Protocol::TransportWs, &viewer).await;
    on_a.subscribe("2", RESUMABLE, json!({"after": cursor})).await;
    assert_eq!(next_change(&mut on_a, "2").await.0, "X2");
    assert_eq!(next_change(&mut on_a, "2").await.0, "X1");
    on_a.expect_silence(Duration::from_millis(500)).await;

    // Revoked by the CLI, a third process: both replicas close the key's sockets within
    // a second (their periodic re-check of keys is 30 s away).
    let mut on_b = ws::connect(&b.url, Protocol::TransportWs, &viewer).await;
    on_b.subscribe("3", RESUMABLE, json!({})).await;
    let mut admin_on_b = ws::connect(&b.url, Protocol::TransportWs, &key).await;
    admin_on_b.subscribe("4", RESUMABLE, json!({})).await;
    assert_eq!(cli(&database_url, &["key", "revoke", "--api-key", &viewer]), json!({"revoked": 1}));
    let (closed_a, closed_b) =
        tokio::join!(on_a.close_code(Duration::from_secs(1)), on_b.close_code(Duration::from_secs(1)));
    assert_eq!((closed_a, closed_b), (Some(4403), Some(4403)));
    record(&a.url, &key, "X3", "PAID", "2026-03-01T12:00:00Z").await;
    assert_eq!(next_change(&mut admin_on_b, "4").await.0, "X3", "other keys' sockets stay open");
}
