//! Live fan-out benchmark (issue 12). Starts the real `tally serve` on a fresh database,
//! opens N websockets subscribed to `orderStatusChanged(campaignId)`, and sends new orders
//! through the signed Shopify webhook: a burst of 10, then `rate` per second for `secs`
//! seconds. It reports deliveries against what was expected, the latency from each
//! webhook's 200 to each arrival, the server's RSS (idle per socket, and after every socket
//! closed) and CPU, the load client's own CPU, and the webhook's latency with the
//! subscribers against the same webhooks with none, in the same run.
//!
//! With `--replicas 2` the subscribers are split over two servers, and one of them is
//! restarted mid-run: its clients reconnect to the other with their last cursor, and the
//! report counts events missed and duplicated per client (both must be 0).
//!
//! cargo build --release --bins --examples
//! target/release/examples/live_bench --subscribers 19000 --rate 5 --secs 30 [--backend sqlite] [--replicas 2]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, client_cpu, gql, percentile, usage};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SUBSCRIPTION: &str = "subscription($k: ID, $after: String) { orderStatusChanged(campaignId: $k, after: $after) { order { externalId status } previousStatus status cursor } }";
const BURST: usize = 10;

struct Args {
    subscribers: usize,
    rate: u64,
    secs: u64,
    backend: String,
    replicas: usize,
}

fn args() -> Args {
    let mut args = Args { subscribers: 1000, rate: 20, secs: 30, backend: "postgres".into(), replicas: 1 };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--subscribers" => args.subscribers = value.parse().expect("--subscribers N"),
            "--rate" => args.rate = value.parse().expect("--rate per second"),
            "--secs" => args.secs = value.parse().expect("--secs"),
            "--backend" => args.backend = value,
            "--replicas" => args.replicas = value.parse().expect("--replicas 1|2"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// A brand with one campaign and one member whose coupon every order carries.
struct Brand {
    id: String,
    key: String,
    secret: String,
    campaign: String,
}

async fn setup(database_url: &str, http: &reqwest::Client, url: &str) -> anyhow::Result<Brand> {
    let binary = std::env::current_exe()?.parent().unwrap().parent().unwrap().join("tally");
    let out = std::process::Command::new(binary)
        .args(["brand", "create", "--name", "Bench", "--store-url", "https://bench.myshopify.com"])
        .env("DATABASE_URL", database_url)
        .output()?;
    let brand: Value = serde_json::from_slice(&out.stdout)?;
    let key = brand["apiKey"].as_str().unwrap().to_string();
    let campaign = gql(
        http,
        url,
        &key,
        "mutation { createCampaign(input: {name: \"Launch\", defaultCommissionRate: \"10\"}) { id } }",
        json!({}),
    )
    .await?;
    let campaign = campaign["createCampaign"]["id"].as_str().unwrap().to_string();
    let creator = gql(http, url, &key, "mutation { createCreator(input: {name: \"Ana\"}) { id } }", json!({})).await?;
    gql(http, url, &key, "mutation($k: ID!, $c: ID!) { addCreatorToCampaign(input: {campaignId: $k, creatorId: $c, couponCode: \"ANA10\"}) { id } }",
        json!({"k": campaign, "c": creator["createCreator"]["id"]})).await?;
    Ok(Brand {
        id: brand["brandId"].as_str().unwrap().to_string(),
        key,
        secret: brand["webhookSecret"].as_str().unwrap().to_string(),
        campaign,
    })
}

/// A new paid order, as Shopify's orders/paid webhook sends it.
fn shopify_order(id: u64) -> Vec<u8> {
    let body = json!({
        "id": id, "admin_graphql_api_id": format!("gid://shopify/Order/{id}"), "confirmed": true,
        "created_at": "2026-03-01T09:15:00-05:00", "updated_at": "2026-03-01T09:15:00-05:00",
        "currency": "USD", "presentment_currency": "USD", "financial_status": "paid", "fulfillment_status": null,
        "subtotal_price": "21.99", "current_subtotal_price": "21.99", "total_price": "25.19", "total_tax": "1.20",
        "total_discounts": "2.00", "name": format!("#{id}"), "order_number": id, "source_name": "web", "test": false,
        "discount_codes": [{"code": "ANA10", "amount": "2.00", "type": "fixed_amount"}],
        "line_items": [{"id": id * 10 + 1, "name": "Glow Serum - 30ml", "price": "21.99", "quantity": 1, "sku": "GLOW-30"}],
        "customer": {"id": 6208543, "email": "buyer@example.com", "first_name": "Sam", "last_name": "Lee"}
    });
    serde_json::to_vec(&body).unwrap()
}

/// Sends order `id` through the webhook; the latency of its 200 (ms) and when it came.
async fn webhook(http: &reqwest::Client, url: &str, brand: &Brand, id: u64) -> (f64, Instant) {
    let body = shopify_order(id);
    let signature =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tally::ingest::sign(&brand.secret, &body));
    let started = Instant::now();
    let response = http
        .post(format!("{url}/webhooks/{}/shopify", brand.id))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/paid")
        .header("x-shopify-hmac-sha256", signature)
        .body(body)
        .send()
        .await
        .expect("webhook answered");
    assert_eq!(response.status(), 200, "webhook refused");
    let done = Instant::now();
    ((done - started).as_secs_f64() * 1000.0, done)
}

/// Sends a burst, then a steady rate; the order ids sent (in order), each with its 200's
/// time, and every webhook latency.
async fn send_events(
    http: &reqwest::Client,
    url: &str,
    brand: &Arc<Brand>,
    first_id: u64,
    burst: usize,
    rate: u64,
    secs: u64,
) -> (Vec<(u64, Instant)>, Vec<f64>) {
    let mut tasks = Vec::new();
    for i in 0..burst as u64 {
        let (http, url, brand) = (http.clone(), url.to_string(), brand.clone());
        tasks.push(tokio::spawn(async move { (first_id + i, webhook(&http, &url, &brand, first_id + i).await) }));
    }
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.tick().await;
    for i in 0..rate * secs {
        tick.tick().await;
        let id = first_id + burst as u64 + i;
        let (http, url, brand) = (http.clone(), url.to_string(), brand.clone());
        tasks.push(tokio::spawn(async move { (id, webhook(&http, &url, &brand, id).await) }));
    }
    let mut sent = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let (id, (latency, at)) = task.await.unwrap();
        sent.push((id, at));
        latencies.push(latency);
    }
    (sent, latencies)
}

/// What one subscriber received: (order id, arrival) in order, and its last cursor.
#[derive(Default)]
struct Received {
    arrivals: Vec<(u64, Instant)>,
    cursor: Option<String>,
}

/// Pulls the order id and cursor out of a `next` message without a full parse (the load
/// client shares the two cores with the server).
fn order_and_cursor(text: &str) -> Option<(u64, String)> {
    if !text.contains(r#""type":"next""#) {
        return None;
    }
    let field = |name: &str| {
        let start = text.find(name)? + name.len();
        let end = text[start..].find('"')?;
        Some(&text[start..start + end])
    };
    Some((field(r#""externalId":""#)?.parse().ok()?, field(r#""cursor":""#)?.to_string()))
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(addr: &str, key: &str, campaign: &str, after: Option<&str>) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {key}")}});
    socket.send(Message::Text(init.to_string().into())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
            Some(Ok(_)) => continue,
            other => anyhow::bail!("no connection_ack: {other:?}"),
        }
    }
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"k": campaign, "after": after}}});
    socket.send(Message::Text(subscribe.to_string().into())).await?;
    Ok(socket)
}

/// One subscriber: reads until told to stop; on a dropped connection it reconnects (to the
/// next server in `addrs`) and resumes from its last cursor.
/// What every subscriber task shares.
struct Shared {
    addrs: Vec<String>,
    key: String,
    campaign: String,
    ready: AtomicUsize,
    reconnects: AtomicU64,
    stop: tokio::sync::watch::Receiver<bool>,
}

async fn subscriber(shared: Arc<Shared>, mut at: usize, received: Arc<Mutex<Received>>) {
    let mut counted = false;
    loop {
        let after = received.lock().unwrap().cursor.clone();
        let mut socket = match open(&shared.addrs[at], &shared.key, &shared.campaign, after.as_deref()).await {
            Ok(socket) => socket,
            Err(_) => {
                at = (at + 1) % shared.addrs.len();
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !counted {
            counted = true;
            shared.ready.fetch_add(1, Ordering::Relaxed);
        }
        let mut stop = shared.stop.clone();
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some((order, cursor)) = order_and_cursor(text.as_str()) {
                            let mut r = received.lock().unwrap();
                            r.arrivals.push((order, Instant::now()));
                            r.cursor = Some(cursor);
                        } else if text.contains("\"ping\"") {
                            let _ = socket.send(Message::Text(r#"{"type":"pong"}"#.into())).await;
                        } else if text.contains("\"type\":\"error\"") {
                            panic!("subscription refused: {text}");
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
                _ = stop.changed() => {
                    let _ = socket.close(None).await;
                    return;
                }
            }
        }
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        at = (at + 1) % shared.addrs.len();
    }
}

async fn serve(database_url: &str, addr: &str) -> anyhow::Result<Server> {
    common::serve(
        database_url,
        addr,
        &["--rate-limit", "0", "--max-sockets-per-key", "20000", "--max-awaiting-init", "20000"],
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    match tally::http::serve::raise_open_files_limit() {
        Ok(files) => eprintln!("load client open-file limit: {files}"),
        Err(err) => eprintln!("could not raise the open-file limit: {err}"),
    }
    let database_url = common::fresh_database(&args.backend, "tally_live_bench").await?;
    let mut servers = Vec::new();
    for _ in 0..args.replicas {
        servers.push(serve(&database_url, "127.0.0.1:0").await?);
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(64).build()?;
    let brand = Arc::new(setup(&database_url, &http, &servers[0].url).await?);
    let webhook_url = servers[0].url.clone();
    let mut next_id = 1_000_000u64;

    // The floor: the same webhooks with nobody subscribed.
    let (sent, quiet) = send_events(&http, &webhook_url, &brand, next_id, BURST, args.rate, args.secs.min(10)).await;
    next_id += sent.len() as u64;

    let pids: Vec<u32> = servers.iter().map(|s| s.child.id().unwrap()).collect();
    let rss_before: f64 = pids.iter().map(|p| usage(*p).0).sum();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared {
        addrs: servers.iter().map(|s| s.addr.clone()).collect(),
        key: brand.key.clone(),
        campaign: brand.campaign.clone(),
        ready: AtomicUsize::new(0),
        reconnects: AtomicU64::new(0),
        stop,
    });
    let mut all: Vec<Arc<Mutex<Received>>> = Vec::new();
    let mut tasks = Vec::new();
    let connecting = Instant::now();
    for i in 0..args.subscribers {
        let received = Arc::new(Mutex::new(Received::default()));
        all.push(received.clone());
        let task = tokio::spawn(subscriber(shared.clone(), i % shared.addrs.len(), received));
        tasks.push(task);
        if i % 200 == 199 {
            while shared.ready.load(Ordering::Relaxed) + 400 < i {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    while shared.ready.load(Ordering::Relaxed) < args.subscribers {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every subscriber is in once a warm-up order has reached each of them (a subscription
    // registers a little after its socket is up, so warm-up orders go out every second).
    let warm_deadline = Instant::now() + Duration::from_secs(180);
    let first_warmup = next_id;
    loop {
        webhook(&http, &webhook_url, &brand, next_id).await;
        next_id += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let missing =
            all.iter().filter(|r| !r.lock().unwrap().arrivals.iter().any(|(o, _)| *o >= first_warmup)).count();
        if missing == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < warm_deadline, "{missing} subscribers never got a warm-up order");
    }
    let connect_secs = connecting.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle: f64 = pids.iter().map(|p| usage(*p).0).sum();
    for r in &all {
        r.lock().unwrap().arrivals.clear();
    }

    // The run: a burst, then the steady rate; in the two-replica run, the second replica is
    // restarted a third of the way in.
    let cpu_before: f64 = pids.iter().map(|p| usage(*p).1).sum();
    let client_before = client_cpu();
    let started = Instant::now();
    let restart = if args.replicas > 1 {
        let victim = servers.pop().unwrap();
        let database_url = database_url.clone();
        let wait = Duration::from_secs(args.secs / 3);
        Some(tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let addr = victim.addr.clone();
            let pid = victim.child.id().unwrap();
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            let mut child = victim.child;
            let _ = child.wait().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            serve(&database_url, &addr).await.expect("the replica restarts")
        }))
    } else {
        None
    };
    let (sent, loud) = send_events(&http, &webhook_url, &brand, next_id, BURST, args.rate, args.secs).await;
    let expected_per = sent.len();
    // Let the last deliveries land.
    let settle = Instant::now() + Duration::from_secs(15);
    loop {
        let got: usize = all.iter().map(|r| r.lock().unwrap().arrivals.len()).sum();
        if got >= expected_per * args.subscribers || Instant::now() > settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let restarted = match restart {
        Some(task) => Some(task.await?),
        None => None,
    };
    let mut pids_now: Vec<u32> = servers.iter().map(|s| s.child.id().unwrap()).collect();
    if let Some(server) = &restarted {
        pids_now.push(server.child.id().unwrap());
    }
    let cpu_after: f64 = pids
        .iter()
        .chain(pids_now.iter())
        .collect::<std::collections::BTreeSet<_>>()
        .iter()
        .map(|p| usage(**p).1)
        .sum();
    let client_after = client_cpu();
    let rss_loaded: f64 = pids_now.iter().map(|p| usage(*p).0).sum();

    // Deliveries, latencies, misses and duplicates.
    let sent_at: HashMap<u64, Instant> = sent.iter().copied().collect();
    let mut latencies = Vec::with_capacity(expected_per * args.subscribers);
    let mut steady = Vec::with_capacity(expected_per * args.subscribers);
    let first_steady = sent.iter().map(|(id, _)| *id).min().unwrap_or(0) + BURST as u64;
    let (mut missed, mut duplicated, mut delivered, mut out_of_order) = (0usize, 0usize, 0usize, 0usize);
    for r in &all {
        let r = r.lock().unwrap();
        let mut seen = std::collections::HashSet::new();
        for (order, arrived) in &r.arrivals {
            let Some(at) = sent_at.get(order) else { continue };
            if !seen.insert(*order) {
                duplicated += 1;
                continue;
            }
            delivered += 1;
            let latency = arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0;
            latencies.push(latency);
            if *order >= first_steady {
                steady.push(latency);
            }
        }
        missed += sent.len() - seen.len();
        let orders: Vec<u64> = r.arrivals.iter().map(|(o, _)| *o).filter(|o| sent_at.contains_key(o)).collect();
        out_of_order += orders.windows(2).filter(|w| w[1] < w[0] && w[0] - w[1] > BURST as u64).count();
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    steady.sort_by(|a, b| a.total_cmp(b));
    let (mut quiet, mut loud) = (quiet, loud);
    quiet.sort_by(|a, b| a.total_cmp(b));
    loud.sort_by(|a, b| a.total_cmp(b));

    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    // The server gives memory back within seconds of sockets closing.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rss_closed: f64 = pids_now.iter().map(|p| usage(*p).0).sum();

    let expected = expected_per * args.subscribers;
    println!(
        "| backend | replicas | subscribers | events | delivered/expected | missed | duplicated | p50 ms | p99 ms | max ms | server CPU | client CPU | server RSS MiB | idle KiB/socket | RSS after close MiB | webhook p99 ms, none / with subscribers | reconnects |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {}/s × {} s + {BURST} | {delivered}/{expected} ({:.2}%) | {missed} | {duplicated} | {:.0} | {:.0} | {:.0} | {:.0}% | {:.0}% | {:.0} | {:.1} | {:.0} | {:.1} / {:.1} ({:.2}×) | {} |",
        args.backend,
        args.replicas,
        args.subscribers,
        args.rate,
        args.secs,
        100.0 * delivered as f64 / expected.max(1) as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        100.0 * (cpu_after - cpu_before) / wall,
        100.0 * (client_after - client_before) / wall,
        rss_loaded,
        (rss_idle - rss_before) * 1024.0 / args.subscribers as f64,
        rss_closed,
        percentile(&quiet, 0.99),
        percentile(&loud, 0.99),
        percentile(&loud, 0.99) / percentile(&quiet, 0.99),
        shared.reconnects.load(Ordering::Relaxed),
    );
    eprintln!(
        "connected and warmed in {connect_secs:.1} s; out-of-order arrivals beyond the burst: {out_of_order}; webhook p50 quiet {:.1} ms, loaded {:.1} ms; steady-rate deliveries only: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; open descriptors after close: {}",
        percentile(&quiet, 0.5),
        percentile(&loud, 0.5),
        percentile(&steady, 0.5),
        percentile(&steady, 0.99),
        steady.last().copied().unwrap_or(f64::NAN),
        pids_now
            .iter()
            .map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).map(|d| d.count()).unwrap_or(0))
            .sum::<usize>(),
    );
    Ok(())
}
