//! What the benchmarks in `examples/` share: a fresh database, the real `tally serve`
//! beside the benchmark's own binary, GraphQL calls, and /proc readings.
#![allow(dead_code)]
use std::process::Stdio;

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

/// A fresh database named `name`: PostgreSQL on 127.0.0.1:5432, without TLS as in the
/// scripts of `benches/` (on loopback it only costs both sides CPU), or a SQLite file in
/// the temporary directory.
pub async fn fresh_database(backend: &str, name: &str) -> anyhow::Result<String> {
    Ok(match backend {
        "postgres" => {
            let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            format!("postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable")
        }
        _ => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            format!("sqlite://{}?mode=rwc", path.display())
        }
    })
}

/// The `tally` binary: `TALLY_BIN`, else the one built beside this benchmark.
pub fn tally_binary() -> std::path::PathBuf {
    match std::env::var_os("TALLY_BIN") {
        Some(path) => path.into(),
        None => std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("tally"),
    }
}

/// One `tally serve` process.
pub struct Server {
    pub child: tokio::process::Child,
    pub url: String,
    pub addr: String,
}

/// Starts `tally serve` on `addr` (port 0 for any) with `args`, once it says where it listens.
pub async fn serve(database_url: &str, addr: &str, args: &[&str]) -> anyhow::Result<Server> {
    let mut child = tokio::process::Command::new(tally_binary())
        .args(["serve", "--addr", addr])
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("tally serve exited"))?;
        if let Some(rest) = line.strip_prefix("Tally listening on ") {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    let addr = url.trim_start_matches("http://").to_string();
    // Keep reading its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server { child, url, addr })
}

/// A brand made by `tally brand create`: its id, admin key and webhook secret.
pub struct Brand {
    pub id: String,
    pub key: String,
    pub secret: String,
}

pub fn create_brand(database_url: &str) -> anyhow::Result<Brand> {
    let out = std::process::Command::new(tally_binary())
        .args(["brand", "create", "--name", "Bench", "--store-url", "https://bench.myshopify.com"])
        .env("DATABASE_URL", database_url)
        .output()?;
    let brand: Value = serde_json::from_slice(&out.stdout)?;
    Ok(Brand {
        id: brand["brandId"].as_str().unwrap().to_string(),
        key: brand["apiKey"].as_str().unwrap().to_string(),
        secret: brand["webhookSecret"].as_str().unwrap().to_string(),
    })
}

pub async fn gql(http: &reqwest::Client, url: &str, key: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
    let answer: Value = http
        .post(format!("{url}/graphql"))
        .bearer_auth(key)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(answer.get("errors").is_none(), "{answer}");
    Ok(answer["data"].clone())
}

/// A process's resident memory (MiB) and CPU time so far (s), from /proc.
pub fn usage(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (rss_kib / 1024.0, ticks / 100.0)
}

/// CPU time the whole machine has spent busy so far (s, all cores): user, system and
/// interrupt time, not idle, waiting for the disk or stolen by the host.
pub fn machine_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0.0)).collect();
    // user nice system idle iowait irq softirq steal
    [0, 1, 2, 5, 6].iter().map(|&i| ticks.get(i).copied().unwrap_or(0.0)).sum::<f64>() / 100.0
}

/// This process's CPU time so far (s).
pub fn client_cpu() -> f64 {
    usage(std::process::id()).1
}

/// The value at fraction `p` of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
