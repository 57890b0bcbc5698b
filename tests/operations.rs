//! Ready to operate: `/metrics` in the Prometheus format, a request id on every response
//! and log line, an access-log line per request, JSON logs, and no colour codes when the
//! log is not a terminal.
mod common;

use std::time::Duration;

use common::ws::{self, Protocol};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

async fn metrics_count_operations_sockets_and_pools(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    // Operation names of their own: every server of this test process shares one recorder.
    let name = format!("MetricsProbe{backend:?}");
    for _ in 0..3 {
        app.data(&brand.key, &format!("query {name} {{ brand {{ name }} }}"), json!({})).await;
    }
    let failing = format!("query {name}Fails($id: ID!) {{ node(id: $id) {{ id }} }}");
    app.gql(&brand.key, &failing, json!({ "id": null })).await;
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &brand.key).await;
    client.subscribe("s", "subscription { orderStatusChanged { status } }", json!({})).await;
    client.expect_silence(Duration::from_millis(300)).await;

    let response = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let page = response.text().await.unwrap();
    let ok = format!(r#"tally_graphql_operations_total{{operation="{name}",type="query",outcome="ok"}}"#);
    assert_eq!(sample(&page, &ok), Some(3.0), "{page}");
    // A request refused before it ran is not an operation; one that ran and failed is, by its code.
    assert!(!page.contains(&format!("{name}Fails")), "{page}");
    app.gql(&brand.key, &format!("query {name}NotFound {{ node(id: \"x\") {{ id }} }}"), json!({})).await;
    let page = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!(r#"operation="{name}NotFound",type="query",outcome="#)), "{page}");
    for series in [
        "tally_websockets_open ",
        "tally_subscriptions_active ",
        r#"tally_db_pool_connections{pool="read"} "#,
        r#"tally_db_pool_connections_in_use{pool="writer"} "#,
        "tally_outbox_lag_events ",
        r#"tally_http_requests_total{route="/graphql",method="POST",status="200"} "#,
    ] {
        assert!(sample(&page, series).is_some(), "{series} missing from:\n{page}");
    }
    assert!(sample(&page, "tally_websockets_open ").unwrap() >= 1.0);
    assert!(sample(&page, "tally_subscriptions_active ").unwrap() >= 1.0);
    assert!(page.contains("tally_graphql_operation_duration_seconds_bucket{type=\"query\",le=\"0.005\"}"), "{page}");

    // An event counts as published and delivered.
    let setup = one_member(&app, "10").await;
    let mut watcher = ws::connect(&app.url, Protocol::TransportWs, &setup.brand.key).await;
    watcher.subscribe("w", "subscription { orderStatusChanged { status } }", json!({})).await;
    watcher.expect_silence(Duration::from_millis(300)).await;
    let before = sample(&page, "tally_live_deliveries_total ").unwrap_or(0.0);
    let order = with_coupon(shopify_order(8001, "paid", "10.00", "2026-03-01T10:00:00-05:00"), "ANA10");
    assert_eq!(app.shopify(&setup.brand, "orders/paid", &order).await.status, 200);
    watcher.next_data("w").await;
    let page = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(sample(&page, "tally_live_deliveries_total ").unwrap() > before, "{page}");
    assert!(sample(&page, "tally_live_events_total ").unwrap() >= 1.0, "{page}");
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let post = |id: Option<&'static str>| {
        let request = app.http.post(format!("{}/graphql", app.url)).bearer_auth(&brand.key);
        let request = match id {
            Some(id) => request.header("x-request-id", id),
            None => request,
        };
        request.json(&json!({ "query": "{ brand { name } }" })).send()
    };
    let first = post(None).await.unwrap().headers()["x-request-id"].to_str().unwrap().to_string();
    let second = post(None).await.unwrap().headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!first.is_empty() && first != second);
    // A proxy's id is kept; one that is no plain token is replaced.
    assert_eq!(post(Some("edge-42.a")).await.unwrap().headers()["x-request-id"], "edge-42.a");
    let replaced = post(Some("bad id; drop")).await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id; drop");
    // Refusals too: an unknown route, a webhook with a bad signature.
    let missing = app.http.get(format!("{}/nothing", app.url)).send().await.unwrap();
    assert!(missing.headers().contains_key("x-request-id"));
    let refused = app.shopify_raw(&brand.id, "orders/paid", b"{}".to_vec(), Some("bad")).await;
    assert_eq!(refused.status, 401);
}

/// `tally serve` as a process, its standard error piped (not a terminal).
async fn serve_logging(
    database_url: &str,
    format: &str,
) -> (tokio::process::Child, String, tokio::io::Lines<BufReader<tokio::process::ChildStderr>>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--addr", "127.0.0.1:0", "--log-format", format])
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("Tally listening on ") {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, url, stderr)
}

async fn logs_are_json_on_request_with_an_access_line_per_request(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let (_child, url, mut lines) = serve_logging(&database_url, "json").await;
    let http = reqwest::Client::new();
    let response = http.get(format!("{url}/health")).header("x-request-id", "probe-json-1").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let access = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap().unwrap();
        let entry: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if entry["span"]["id"] == "probe-json-1" {
            break entry;
        }
    };
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["fields"]["message"], "request");
    assert_eq!(access["fields"]["status"], 200);
    assert_eq!(access["fields"]["path"], "/health");
}

async fn text_logs_carry_no_colour_codes_off_a_terminal(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let (_child, url, mut lines) = serve_logging(&database_url, "text").await;
    reqwest::Client::new().get(format!("{url}/health")).header("x-request-id", "probe-text-1").send().await.unwrap();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.unwrap().unwrap().unwrap();
        assert!(!line.contains('\u{1b}'), "ANSI codes in {line:?}");
        if line.contains("probe-text-1") {
            assert!(line.contains("INFO") && line.contains("status=200") && line.contains("path=/health"), "{line}");
            break;
        }
    }
}

on_both_backends!(
    metrics_count_operations_sockets_and_pools,
    every_response_carries_a_request_id,
    logs_are_json_on_request_with_an_access_line_per_request,
    text_logs_carry_no_colour_codes_off_a_terminal,
);
