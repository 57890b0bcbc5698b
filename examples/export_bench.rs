//! Scale benchmark: fills a database with N orders spread over 50 members, starts the
//! real `tally serve` binary on it, downloads both exports (rows/s, the server's peak
//! RSS before and after) and times the read queries a dashboard makes (median of 5).
//! Numbers go in BENCHMARKS.md.
//!
//! cargo build --release --bins --examples
//! target/release/examples/export_bench [sqlite|postgres] [rows]
use std::time::Instant;

use sea_orm::{ConnectionTrait, Database, DbBackend};
use tally::domain::memberships::NewMembership;
use tally::domain::{BrandId, brands, campaigns, creators, memberships};

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map(String::as_str).unwrap_or("sqlite").to_string();
    let rows: i64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let url = match backend.as_str() {
        "postgres" => {
            let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
            admin.execute_unprepared("DROP DATABASE IF EXISTS tally_bench").await?;
            admin.execute_unprepared("CREATE DATABASE tally_bench").await?;
            "postgres://postgres@127.0.0.1:5432/tally_bench".to_string()
        }
        _ => {
            let path = std::env::temp_dir().join("tally_bench.db");
            let _ = std::fs::remove_file(&path);
            format!("sqlite://{}?mode=rwc", path.display())
        }
    };
    let (db, _) = tally::db::connect(&url).await?;
    let made = brands::create(&db, "Bench", "USD", None).await?;
    let brand = BrandId(made.brand.id);
    let campaign = campaigns::create(&db, brand, "Bench campaign", Some("10")).await?;
    let mut members = Vec::new();
    for i in 0..50 {
        let name = format!("Bench, \"Creator\" {i}");
        let creator =
            creators::create(&db, brand, creators::NewCreator { name: &name, handle: Some("@bench"), email: None })
                .await?;
        let coupon = format!("BENCH{i}");
        let new = NewMembership {
            campaign_id: campaign.id,
            creator_id: creator.id,
            coupon_code: Some(&coupon),
            affiliate_code: None,
            commission_rate: None,
            commission_flat: None,
        };
        members.push(memberships::add(&db, brand, brands::currency(&made.brand).unwrap(), new).await?);
    }
    let (first_member, first_creator) = (members[0].id, members[0].creator_id);

    let fill = Instant::now();
    let series = match db.get_database_backend() {
        DbBackend::Postgres => format!("SELECT generate_series(1::bigint, {rows}::bigint) AS x"),
        _ => format!(
            "WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {rows}) SELECT x FROM seq"
        ),
    };
    // Members were created in order, so member i has id first_member + i and creator
    // first_creator + i.
    let (b, k) = (made.brand.id, campaign.id);
    db.execute_unprepared(&format!(
        "INSERT INTO orders (brand_id, campaign_id, creator_id, membership_id, external_id, amount, currency, status, coupon_code, \
         ordered_at, status_changed_at, last_event_at, created_at) \
         SELECT {b}, {k}, {first_creator} + x % 50, {first_member} + x % 50, 'B' || x, 1000 + x % 50000, 'USD', \
         CASE WHEN x % 10 = 0 THEN 'REFUNDED' ELSE 'PAID' END, 'BENCH', \
         1700000000000 + x * 30000, 1700000000000 + x * 30000, 1700000000000 + x * 30000, 1700000000000 FROM ({series}) s"
    ))
    .await?;
    db.execute_unprepared("INSERT INTO conversions (brand_id, order_id, campaign_id, creator_id, membership_id, attribution, commission, approval, created_at) \
         SELECT brand_id, id, campaign_id, creator_id, membership_id, 'COUPON_CODE', amount / 10, 'APPROVED', created_at FROM orders")
    .await?;
    // The rollups the write path would have kept, daily and all-time, computed as the
    // migrations backfill them.
    db.execute_unprepared(
        "INSERT INTO order_rollups (brand_id, campaign_id, creator_id, day, orders, sales, approved, rejected, earned) \
         SELECT o.brand_id, o.campaign_id, o.creator_id, o.ordered_at / 86400000, COUNT(*), \
         SUM(CASE WHEN o.status = 'PAID' THEN o.amount ELSE 0 END), SUM(CASE WHEN cv.approval = 'APPROVED' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN cv.approval = 'REJECTED' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN cv.approval = 'APPROVED' AND o.status = 'PAID' THEN cv.commission ELSE 0 END) \
         FROM orders o JOIN conversions cv ON cv.order_id = o.id GROUP BY o.brand_id, o.campaign_id, o.creator_id, o.ordered_at / 86400000",
    )
    .await?;
    db.execute_unprepared(
        "INSERT INTO order_totals (brand_id, campaign_id, creator_id, orders, sales, approved, rejected, earned) \
         SELECT brand_id, campaign_id, creator_id, SUM(orders), SUM(sales), SUM(approved), SUM(rejected), SUM(earned) \
         FROM order_rollups GROUP BY brand_id, campaign_id, creator_id",
    )
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    let filled = fill.elapsed();
    db.close().await?;

    let exe = std::env::current_exe()?.parent().and_then(|p| p.parent()).map(|p| p.join("tally")).expect("target dir");
    let port = 18_000 + (std::process::id() % 1000) as u16;
    let mut server = std::process::Command::new(&exe)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let campaign_id = tally::ids::encode(tally::ids::Kind::Campaign, campaign.id);
    for path in ["/exports/sales.csv".to_string(), format!("/exports/orders.csv?campaignId={campaign_id}")] {
        let before = peak_rss_kib(server.id());
        let start = Instant::now();
        let mut response = http.get(format!("{base}{path}")).bearer_auth(&made.api_key).send().await?;
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let elapsed = start.elapsed();
        let after = peak_rss_kib(server.id());
        let exported = lines - 1;
        assert_eq!(exported as i64, rows, "every row exported");
        println!(
            "| {backend} | {} | {rows} | {:.1} s | {:.0} rows/s | {:.1} MiB | {} MiB | {} MiB |",
            path.split('?').next().unwrap_or(&path),
            elapsed.as_secs_f64(),
            exported as f64 / elapsed.as_secs_f64(),
            bytes as f64 / 1_048_576.0,
            before / 1024,
            after / 1024,
        );
    }
    let creator_id = tally::ids::encode(tally::ids::Kind::Creator, first_creator);
    let queries = [
        ("dashboard", "{ dashboard { totalSales orders commission byCampaign { sales orders } } }".to_string()),
        ("dashboard, one month, unaligned", "{ dashboard(range: {from: \"2024-02-01T12:00:00Z\", to: \"2024-03-01T12:00:00Z\"}) { totalSales orders commission } }".to_string()),
        ("performance table, one month, unaligned", format!("{{ campaign(id: \"{campaign_id}\") {{ performance(range: {{from: \"2024-02-01T12:00:00Z\", to: \"2024-03-01T12:00:00Z\"}}) {{ totals {{ orders sales commission }} }} }} }}")),
        ("performance table (50 rows)", format!("{{ campaign(id: \"{campaign_id}\") {{ performance {{ rows {{ creator {{ name }} couponCode orders sales approvedConversions rejectedConversions commission }} totals {{ sales commission }} }} }} }}")),
        ("campaign orders, first page of 100", format!("{{ campaign(id: \"{campaign_id}\") {{ orders(first: 100) {{ edges {{ node {{ externalId amount status creator {{ name }} conversion {{ approval earnedCommission }} }} }} }} }} }}")),
        ("campaign orders, totalCount", format!("{{ campaign(id: \"{campaign_id}\") {{ orders(first: 1) {{ totalCount }} }} }}")),
        ("creator totalCommission", format!("{{ node(id: \"{creator_id}\") {{ ... on Creator {{ totalCommission }} }} }}")),
    ];
    for (name, query) in queries {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let answer: serde_json::Value = http
                .post(format!("{base}/graphql"))
                .bearer_auth(&made.api_key)
                .json(&serde_json::json!({ "query": query }))
                .send()
                .await?
                .json()
                .await?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert!(answer.get("errors").is_none(), "{answer}");
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!("| {backend} | {name} | {rows} | {:.0} ms |", times[2]);
    }
    server.kill()?;
    println!("(filled {rows} orders in {:.1} s)", filled.as_secs_f64());
    Ok(())
}
