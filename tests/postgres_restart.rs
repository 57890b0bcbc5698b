//! PostgreSQL goes away and comes back: the API answers 503 / INTERNAL meanwhile without
//! leaking internals, recovers by itself, and a subscriber on another replica still gets
//! every change, read from the outbox after its LISTEN connection returns. Alone in its
//! own test binary because it restarts the shared server.
#![recursion_limit = "256"]

mod common;

use std::time::Duration;

use common::ws::{self, Protocol};
use common::*;
use serde_json::json;

fn cluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a local PostgreSQL cluster")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .next()
        .unwrap();
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_changes_committed_while_the_database_was_restarting_postgres() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_on(Backend::Postgres, &a.database_url, Default::default()).await;
    let s = one_member(&a, "10").await;
    let mut client = ws::connect(&a.url, Protocol::TransportWs, &s.brand.key).await;
    client.subscribe("1", "subscription { orderStatusChanged { order { externalId } status } }", json!({})).await;

    cluster("stop");
    let ready = a.http.get(format!("{}/ready", a.url)).send().await.unwrap();
    let down = a
        .http
        .post(format!("{}/graphql", a.url))
        .bearer_auth(&s.brand.key)
        .json(&json!({"query": "{ dashboard { orders } }"}))
        .send()
        .await
        .unwrap();
    let down_status = down.status();
    let down: serde_json::Value = down.json().await.unwrap();
    cluster("start");
    assert_eq!(ready.status(), 503);
    assert_eq!((down_status.as_u16(), code(&down)), (503, "INTERNAL"), "{down}");
    let text = down.to_string().to_lowercase();
    assert!(
        !text.contains("sql") && !text.contains("connection refused") && !text.contains("postgres"),
        "no internals: {down}"
    );

    for _ in 0..60 {
        if b.http.get(format!("{}/ready", b.url)).send().await.unwrap().status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Committed through replica B right after the restart, before A's listener is back.
    let mut recorded = serde_json::Value::Null;
    for _ in 0..20 {
        recorded = b
            .gql(&s.brand.key, "mutation { recordOrderEvent(input: {externalId: \"P1\", amount: \"5.00\", currency: \"USD\", status: PAID, occurredAt: \"2026-03-01T10:00:00Z\", couponCode: \"ANA10\"}) { id } }", json!({}))
            .await;
        if recorded.get("errors").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recorded.get("errors").is_none(), "{recorded}");
    assert_eq!(
        client.next_data("1").await,
        json!({"orderStatusChanged": {"order": {"externalId": "P1"}, "status": "PAID"}})
    );
    b.order_event(&s.brand, json!({"externalId": "P1", "amount": "5.00", "currency": "USD", "status": "REFUNDED", "occurredAt": "2026-03-02T10:00:00Z", "couponCode": "ANA10"})).await;
    assert_eq!(client.next_data("1").await["orderStatusChanged"]["status"], "REFUNDED");
    let ready = a.http.get(format!("{}/ready", a.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
