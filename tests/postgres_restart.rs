//! A replica's PostgreSQL goes away and comes back: the API answers 503 / INTERNAL
//! meanwhile without leaking internals and recovers by itself, and a subscriber on that
//! replica still gets every change another replica committed during the outage, read from
//! the outbox after its LISTEN connection returns. The outage is a TCP proxy in front of
//! this test's database being cut, so no other test's database goes away.
#![recursion_limit = "256"]

mod common;

use std::time::Duration;

use common::proxy::Proxy;
use common::ws::{self, Protocol};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_changes_committed_while_their_database_was_away_postgres() {
    let direct = fresh_database(Backend::Postgres).await;
    let server = url::Url::parse(&direct).unwrap();
    let proxy = Proxy::start(&format!("{}:{}", server.host_str().unwrap(), server.port().unwrap_or(5432))).await;
    let mut proxied = server.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.port)).unwrap();
    // Replica A reaches the database through the proxy, replica B directly.
    let a = spawn_on(Backend::Postgres, proxied.as_str(), Default::default()).await;
    let b = spawn_on(Backend::Postgres, &direct, Default::default()).await;
    let s = one_member(&a, "10").await;
    let mut client = ws::connect(&a.url, Protocol::TransportWs, &s.brand.key).await;
    client.subscribe("1", "subscription { orderStatusChanged { order { externalId } status } }", json!({})).await;

    proxy.cut();
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
    assert_eq!(ready.status(), 503);
    assert_eq!((down_status.as_u16(), code(&down)), (503, "INTERNAL"), "{down}");
    let text = down.to_string().to_lowercase();
    assert!(
        !text.contains("sql") && !text.contains("connection refused") && !text.contains("postgres"),
        "no internals: {down}"
    );
    // Committed through replica B while A's database, and its listener, are away.
    let recorded = b
        .gql(&s.brand.key, "mutation { recordOrderEvent(input: {externalId: \"P1\", amount: \"5.00\", currency: \"USD\", status: PAID, occurredAt: \"2026-03-01T10:00:00Z\", couponCode: \"ANA10\"}) { id } }", json!({}))
        .await;
    assert!(recorded.get("errors").is_none(), "{recorded}");

    proxy.restore();
    for _ in 0..60 {
        if a.http.get(format!("{}/ready", a.url)).send().await.unwrap().status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        client.next_data("1").await,
        json!({"orderStatusChanged": {"order": {"externalId": "P1"}, "status": "PAID"}})
    );
    b.order_event(&s.brand, json!({"externalId": "P1", "amount": "5.00", "currency": "USD", "status": "REFUNDED", "occurredAt": "2026-03-02T10:00:00Z", "couponCode": "ANA10"})).await;
    assert_eq!(client.next_data("1").await["orderStatusChanged"]["status"], "REFUNDED");
    let ready = a.http.get(format!("{}/ready", a.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
