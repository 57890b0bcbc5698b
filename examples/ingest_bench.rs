//! Write-path benchmark (the aggregates issue). Starts the real `tally serve` on a fresh
//! database, makes a campaign of 100 members, then sends signed Shopify webhooks from
//! `--conns` concurrent clients as fast as they are answered: first `--secs` of new paid
//! orders (`orders/paid`, each carrying one of the members' coupons), then `--secs` of
//! status changes of those orders (`orders/updated`, refunded and paid again in turn, each
//! newer than the last, so every one changes the order). Every webhook must answer 200.
//! It reports events/s, webhook latency (p50, p99) and the server's and its own CPU.
//!
//! cargo build --release --bins --examples
//! target/release/examples/ingest_bench [--backend postgres|sqlite] [--conns 64] [--secs 10]
//! TALLY_BIN=path/to/tally compares another build of the server on the same client.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{client_cpu, gql, machine_busy, percentile, usage};
use serde_json::json;

const MEMBERS: usize = 100;

struct Args {
    backend: String,
    conns: usize,
    secs: u64,
}

fn args() -> Args {
    let mut args = Args { backend: "postgres".into(), conns: 64, secs: 10 };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--backend" => args.backend = value,
            "--conns" => args.conns = value.parse().expect("--conns N"),
            "--secs" => args.secs = value.parse().expect("--secs N"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// The load client allocates as the server does (glibc's allocator showed up in its
/// profile): its CPU comes out of the same two cores.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A Shopify order delivery: order `id` with `financial_status`, stamped `updated_at`.
/// Written from a template rather than built as a JSON value: the client's CPU comes out
/// of the same two cores as the server's.
fn shopify_order(id: u64, coupon: &str, financial: &str, updated_at: &str) -> Vec<u8> {
    format!(
        r##"{{"id":{id},"admin_graphql_api_id":"gid://shopify/Order/{id}","confirmed":true,"created_at":"2026-03-01T09:15:00-05:00","updated_at":"{updated_at}","currency":"USD","presentment_currency":"USD","financial_status":"{financial}","fulfillment_status":null,"subtotal_price":"21.99","current_subtotal_price":"21.99","total_price":"25.19","total_tax":"1.20","total_discounts":"2.00","name":"#{id}","order_number":{id},"source_name":"web","test":false,"discount_codes":[{{"code":"{coupon}","amount":"2.00","type":"fixed_amount"}}],"line_items":[{{"id":{line},"name":"Glow Serum - 30ml","price":"21.99","quantity":1,"sku":"GLOW-30"}}],"customer":{{"id":6208543,"email":"buyer@example.com","first_name":"Sam","last_name":"Lee"}}}}"##,
        line = id * 10 + 1
    )
    .into_bytes()
}

struct Target {
    http: reqwest::Client,
    url: String,
    brand: common::Brand,
}

impl Target {
    /// Sends one delivery; its latency in ms. Anything but a 200 stops the benchmark.
    async fn send(&self, topic: &str, body: Vec<u8>) -> f64 {
        let signature = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            tally::ingest::sign(&self.brand.secret, &body),
        );
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/webhooks/{}/shopify", self.url, self.brand.id))
            .header("content-type", "application/json")
            .header("x-shopify-topic", topic)
            .header("x-shopify-hmac-sha256", signature)
            .body(body)
            .send()
            .await
            .expect("webhook answered");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status == 200 && text.contains("\"attributed\":true"), "webhook: {status} {text}");
        started.elapsed().as_secs_f64() * 1000.0
    }
}

/// Runs `conns` clients for `secs`; client `c` sends its `n`th event with `event(c, n)`.
/// Events/s, p50 and p99 ms, server and client CPU (% of one core), the machine's busy
/// CPU time per event (server, database and client together), and the fewest events any
/// one client sent.
async fn phase<F, Fut>(target: &Arc<Target>, pid: u32, conns: usize, secs: u64, event: F) -> Phase
where
    F: Fn(Arc<Target>, usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = f64> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (cpu_before, client_before, machine_before) = (usage(pid).1, client_cpu(), machine_busy());
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (target, event, sent) = (target.clone(), event.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                latencies.push(event(target.clone(), c, n).await);
                n += 1;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    let mut fewest = u64::MAX;
    for task in tasks {
        let sent = task.await.unwrap();
        fewest = fewest.min(sent.len() as u64);
        latencies.extend(sent);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let server = (usage(pid).1 - cpu_before) / elapsed * 100.0;
    let client = (client_cpu() - client_before) / elapsed * 100.0;
    let per_event = (machine_busy() - machine_before) * 1e6 / latencies.len().max(1) as f64;
    Phase {
        rate: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        server,
        client,
        per_event,
        fewest,
    }
}

struct Phase {
    rate: f64,
    p50: f64,
    p99: f64,
    server: f64,
    client: f64,
    per_event: f64,
    fewest: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let database_url = common::fresh_database(&args.backend, "tally_ingest_bench").await?;
    let brand = common::create_brand(&database_url)?;
    let server = common::serve(&database_url, "127.0.0.1:0", &["--rate-limit", "0"]).await?;
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(args.conns).build()?;
    let campaign = gql(
        &http,
        &server.url,
        &brand.key,
        "mutation { createCampaign(input: {name: \"Launch\", defaultCommissionRate: \"10\"}) { id } }",
        json!({}),
    )
    .await?;
    let campaign = campaign["createCampaign"]["id"].as_str().unwrap().to_string();
    for i in 0..MEMBERS {
        let creator = gql(
            &http,
            &server.url,
            &brand.key,
            "mutation($n: String!) { createCreator(input: {name: $n}) { id } }",
            json!({"n": format!("Creator {i}")}),
        )
        .await?;
        gql(&http, &server.url, &brand.key, "mutation($k: ID!, $c: ID!, $code: String!) { addCreatorToCampaign(input: {campaignId: $k, creatorId: $c, couponCode: $code}) { id } }",
            json!({"k": campaign, "c": creator["createCreator"]["id"], "code": format!("CODE{i}")})).await?;
    }
    let target = Arc::new(Target { http, url: server.url.clone(), brand });
    let pid = server.child.id().unwrap();
    let conns = args.conns;
    // Client c's nth order is c + n × conns (+ 1): every order once.
    let order_id = move |c: usize, n: u64| 1 + c as u64 + n * conns as u64;
    println!(
        "# {} {}, {} connections, {} s per phase",
        chrono::Utc::now().format("%F"),
        args.backend,
        conns,
        args.secs
    );
    let warm = phase(&target, pid, conns, 2, move |t: Arc<Target>, c, n| async move {
        let id = 10_000_000 + order_id(c, n);
        t.send(
            "orders/paid",
            shopify_order(id, &format!("CODE{}", id as usize % MEMBERS), "paid", "2026-03-01T09:15:00-05:00"),
        )
        .await
    })
    .await;
    eprintln!("warm-up: {:.0} events/s", warm.rate);
    let new = phase(&target, pid, conns, args.secs, move |t: Arc<Target>, c, n| async move {
        let id = order_id(c, n);
        t.send(
            "orders/paid",
            shopify_order(id, &format!("CODE{}", id as usize % MEMBERS), "paid", "2026-03-01T09:15:00-05:00"),
        )
        .await
    })
    .await;
    // Status changes: client c walks its own orders from the first phase, round after
    // round; round r is refunded (odd) or paid (even), stamped r minutes after the order.
    let per_client = new.fewest.max(1);
    let changes = phase(&target, pid, conns, args.secs, move |t: Arc<Target>, c, n| async move {
        let (round, i) = (n / per_client + 1, n % per_client);
        let id = order_id(c, i);
        let financial = if round % 2 == 1 { "refunded" } else { "paid" };
        let at = tally::domain::time::format(1_772_374_500_000 + round as i64 * 60_000);
        t.send("orders/updated", shopify_order(id, &format!("CODE{}", id as usize % MEMBERS), financial, &at)).await
    })
    .await;
    println!("| phase | events/s | p50 ms | p99 ms | server CPU | client CPU | machine CPU µs/event |");
    println!("|---|---|---|---|---|---|---|");
    for (name, Phase { rate, p50, p99, server, client, per_event, .. }) in
        [("new orders", new), ("status changes", changes)]
    {
        println!("| {name} | {rate:.0} | {p50:.1} | {p99:.1} | {server:.0}% | {client:.0}% | {per_event:.0} |");
        println!(
            "RESULT {} {name} conns={conns} events/s={rate:.0} p50={p50:.2} p99={p99:.2} cpu_us={per_event:.0}",
            args.backend
        );
    }
    Ok(())
}
