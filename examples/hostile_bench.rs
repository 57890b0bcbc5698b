//! Hostile-input benchmark: how long the real `tally serve` binary takes to refuse the
//! documents of issue 10 (fragment bombs of 2^22 and 2^30 expansions, 6,000 dashboard
//! aliases, 70 levels of nesting, a megabyte of aliases), against the floor of a trivial query in the same run,
//! interleaved kind by kind over three rounds (median of the round medians); then how a
//! trivial query fares while four clients keep sending 2^30 bombs, interleaved with the
//! same query on a quiet server. Numbers go in BENCHMARKS.md.
//!
//! cargo build --release --bins --examples
//! target/release/examples/hostile_bench [sqlite|postgres]
mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use tally::domain::brands;

const PER_KIND: usize = 100;
const ROUNDS: usize = 3;

fn fragment_bomb(levels: usize) -> String {
    let name = |i: usize| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i]);
    let mut q = format!("query{{...{}}}fragment A on Query{{brand{{name}}}}", name(levels));
    for i in 1..=levels {
        q.push_str(&format!("fragment {} on Query{{...{}...{}}}", name(i), name(i - 1), name(i - 1)));
    }
    q
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    common::percentile(&values, p)
}

/// Sends the query `n` times in a row; each answer's latency in ms, checked for `expect`.
async fn run(http: &reqwest::Client, url: &str, key: &str, query: &str, n: usize, expect: &str) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response =
            http.post(format!("{url}/graphql")).bearer_auth(key).json(&json!({ "query": query })).send().await;
        let body = response.expect("an answer").text().await.unwrap();
        out.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(body.contains(expect), "expected {expect} in {body}");
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "sqlite".into());
    let url = common::fresh_database(&backend, "tally_hostile_bench").await?;
    let (db, _) = tally::db::connect(&url).await?;
    let key = brands::create(&db, "Bench", "USD", None).await?.api_key;
    db.close().await?;

    let tally = common::serve(&url, "127.0.0.1:0", &["--rate-limit", "0"]).await?;
    let server = tally.url.clone();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;

    let aliases = (0..6000).map(|i| format!("d{i}: dashboard {{ orders }}")).collect::<Vec<_>>().join(" ");
    let deep = format!("{{ {}name{} }}", "brand { ".repeat(70), " }".repeat(70));
    let megabyte = (0..45_000).map(|i| format!("a{i}: brand {{ name }}")).collect::<Vec<_>>().join(" ");
    let values = vec!["PAID"; 170_000].join(", ");
    let range = r#"range: {from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z"}"#;
    let ranged_within =
        (0..4_900).map(|i| format!("d{i}: dashboard({range}) {{ orders }}")).collect::<Vec<_>>().join(" ");
    let ranged = (0..10_000).map(|i| format!("d{i}: dashboard({range}) {{ orders }}")).collect::<Vec<_>>().join(" ");
    let kinds: Vec<(&str, String, &str)> = vec![
        ("floor: `{ brand { name } }`", "{ brand { name } }".into(), "Bench"),
        ("fragment bomb, 2^22 expansions", fragment_bomb(22), "LIMIT_EXCEEDED"),
        ("fragment bomb, 2^30 expansions", fragment_bomb(30), "LIMIT_EXCEEDED"),
        ("6,000 `dashboard` aliases", format!("{{ {aliases} }}"), "LIMIT_EXCEEDED"),
        ("70 levels of nesting", deep, "LIMIT_EXCEEDED"),
        ("1 MB of aliases (the body cap)", format!("{{ {megabyte} }}"), "LIMIT_EXCEEDED"),
        (
            "1 MB of values in one argument",
            format!("{{ orders(filter: {{status: [{values}]}}) {{ totalCount }} }}"),
            "LIMIT_EXCEEDED",
        ),
        ("10,000 aliased dashboards with ranges", format!("{{ {ranged} }}"), "LIMIT_EXCEEDED"),
        ("4,900 of them (just within the scan's bounds)", format!("{{ {ranged_within} }}"), "LIMIT_EXCEEDED"),
    ];
    run(&http, &server, &key, "{ brand { name } }", 200, "Bench").await;
    let mut medians: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for _ in 0..ROUNDS {
        for (i, (_, query, expect)) in kinds.iter().enumerate() {
            medians[i].push(median(run(&http, &server, &key, query, PER_KIND, expect).await));
        }
    }
    println!("| {backend}: document | bytes | median ms (min–max of 3 rounds) | × floor |");
    println!("|---|---|---|---|");
    let floor = median(medians[0].clone());
    for (i, (name, query, _)) in kinds.iter().enumerate() {
        let m = median(medians[i].clone());
        let (lo, hi) = (percentile(medians[i].clone(), 0.0), percentile(medians[i].clone(), 1.0));
        println!("| {name} | {} | {m:.2} ({lo:.2}–{hi:.2}) | {:.1} |", query.len(), m / floor);
    }

    // A trivial query on a quiet server, then under four clients sending 2^30 bombs.
    let bomb = fragment_bomb(30);
    let (mut quiet, mut loud) = (Vec::new(), Vec::new());
    let mut refused = 0usize;
    for _ in 0..ROUNDS {
        quiet.extend(run(&http, &server, &key, "{ brand { name } }", 200, "Bench").await);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let attackers: Vec<_> = (0..4)
            .map(|_| {
                let (http, server, key, bomb, stop) =
                    (http.clone(), server.clone(), key.clone(), bomb.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = 0usize;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        run(&http, &server, &key, &bomb, 1, "LIMIT_EXCEEDED").await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        loud.extend(run(&http, &server, &key, "{ brand { name } }", 200, "Bench").await);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for attacker in attackers {
            refused += attacker.await?;
        }
    }
    let (quiet_p50, loud_p50) = (percentile(quiet.clone(), 0.5), percentile(loud.clone(), 0.5));
    println!();
    println!("| {backend}: `{{ brand {{ name }} }}` | p50 ms | p99 ms |");
    println!("|---|---|---|");
    println!("| quiet server | {quiet_p50:.2} | {:.2} |", percentile(quiet, 0.99));
    println!("| while 4 clients send 2^30 bombs | {loud_p50:.2} | {:.2} |", percentile(loud, 0.99));
    println!("\n{refused} bombs refused during the loud rounds; p50 ratio {:.2}", loud_p50 / quiet_p50);
    let mut child = tally.child;
    child.kill().await?;
    Ok(())
}
