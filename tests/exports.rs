//! CSV exports: exact bytes, visibility, ranges, auth and bad parameters.
#![recursion_limit = "256"]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tally::graphql::Limits;

struct Export {
    status: u16,
    content_type: String,
    disposition: String,
    body: String,
}

async fn export(app: &TestApp, key: &str, path: &str) -> Export {
    let response = app.http.get(format!("{}{path}", app.url)).bearer_auth(key).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    Export { status: response.status().as_u16(), content_type, disposition, body: response.text().await.unwrap() }
}

const HEADER: &str = "Order ID,Campaign Name,Creator Name,Creator Handle,Coupon Code,Order Date,Status,Amount,Currency,Conversion Approval,Commission\r\n";

struct Shop {
    brand: TestBrand,
    campaign: String,
    orders: Vec<String>,
}

/// "Launch, \"Best\" Week" with three creators: one named like a formula, one with a comma
/// and quotes, one deleted after selling.
async fn shop(app: &TestApp) -> Shop {
    let brand = app.brand("Acme").await;
    let campaign = app.create_campaign(&brand, "Launch, \"Best\" Week", "10").await;
    let mut creators = Vec::new();
    for (name, handle, coupon) in
        [("=HYPERLINK(\"http://evil\")", "@eve", "EVE"), ("Lee, \"Jo\"", "-jo", "JO"), ("Sam", "@sam", "SAM")]
    {
        let d = app
            .data(
                &brand.key,
                "mutation($n: String!, $h: String) { createCreator(input: {name: $n, handle: $h}) { id } }",
                json!({"n": name, "h": handle}),
            )
            .await;
        let id = d["createCreator"]["id"].as_str().unwrap().to_string();
        app.add_member(&brand, &campaign, &id, Some(coupon), None).await;
        creators.push(id);
    }
    let mut orders = Vec::new();
    for (ext, coupon, amount, status, at) in [
        ("1001", "EVE", "19.99", "PAID", "2026-03-01T10:00:00Z"),
        ("1002", "JO", "5.00", "REFUNDED", "2026-03-02T00:00:00Z"),
        ("@1003", "SAM", "100.00", "PAID", "2026-03-03T08:30:00Z"),
        ("1004", "JO", "42.10", "PAID", "2026-03-04T12:00:00Z"),
    ] {
        let o = app
            .order_event(&brand, json!({"externalId": ext, "amount": amount, "currency": "USD", "status": status, "occurredAt": at, "orderedAt": at, "couponCode": coupon}))
            .await;
        orders.push(o["id"].as_str().unwrap().to_string());
    }
    app.data(&brand.key, "mutation($id: ID!) { rejectConversion(id: $id) { conversion { id } } }", json!({"id": app.data(&brand.key, "query($o: ID!) { node(id: $o) { ... on Order { conversion { id } } } }", json!({"o": orders[3]})).await["node"]["conversion"]["id"]})).await;
    app.data(&brand.key, "mutation($c: ID!) { deleteCreator(id: $c) { id } }", json!({"c": creators[2]})).await;
    Shop { brand, campaign, orders }
}

const EVE: &str = "1001,\"Launch, \"\"Best\"\" Week\",\"'=HYPERLINK(\"\"http://evil\"\")\",'@eve,EVE,2026-03-01T10:00:00.000Z,PAID,19.99,USD,APPROVED,2.00\r\n";
const JO_REFUND: &str = "1002,\"Launch, \"\"Best\"\" Week\",\"Lee, \"\"Jo\"\"\",'-jo,JO,2026-03-02T00:00:00.000Z,REFUNDED,5.00,USD,APPROVED,0.00\r\n";
const SAM: &str =
    "'@1003,\"Launch, \"\"Best\"\" Week\",Sam,'@sam,SAM,2026-03-03T08:30:00.000Z,PAID,100.00,USD,APPROVED,10.00\r\n";
const JO_REJECTED: &str = "1004,\"Launch, \"\"Best\"\" Week\",\"Lee, \"\"Jo\"\"\",'-jo,JO,2026-03-04T12:00:00.000Z,PAID,42.10,USD,REJECTED,0.00\r\n";

async fn a_campaign_export_is_exact_and_shows_current_members_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = shop(&app).await;
    let e = export(&app, &s.brand.key, &format!("/exports/orders.csv?campaignId={}", s.campaign)).await;
    assert_eq!(e.status, 200);
    assert_eq!(e.content_type, "text/csv; charset=utf-8");
    assert_eq!(e.disposition, "attachment; filename=\"orders-launch-best-week.csv\"");
    // Sam was deleted: his order leaves the campaign's table and its export.
    assert_eq!(e.body, format!("{HEADER}{JO_REJECTED}{JO_REFUND}{EVE}"));

    let picked = export(
        &app,
        &s.brand.key,
        &format!("/exports/orders.csv?campaignId={}&ids={},{}", s.campaign, s.orders[0], s.orders[3]),
    )
    .await;
    assert_eq!(picked.body, format!("{HEADER}{JO_REJECTED}{EVE}"));
    let paid = export(
        &app,
        &s.brand.key,
        &format!(
            "/exports/orders.csv?campaignId={}&status=PAID&from=2026-03-01T10:00:00Z&to=2026-03-04T12:00:00Z",
            s.campaign
        ),
    )
    .await;
    assert_eq!(paid.body, format!("{HEADER}{EVE}"), "half-open range: from included, to excluded");
}

async fn the_sales_export_includes_everyone_in_the_range(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = shop(&app).await;
    let viewer = app.viewer_key(&s.brand).await;
    let all = export(&app, &viewer, "/exports/sales.csv").await;
    assert_eq!((all.status, all.disposition.as_str()), (200, "attachment; filename=\"sales.csv\""));
    assert_eq!(all.body, format!("{HEADER}{JO_REJECTED}{SAM}{JO_REFUND}{EVE}"));
    let range = export(&app, &viewer, "/exports/sales.csv?from=2026-03-02T00:00:00Z&to=2026-03-04T00:00:00Z").await;
    assert_eq!(range.body, format!("{HEADER}{SAM}{JO_REFUND}"));
    let empty = export(&app, &viewer, "/exports/sales.csv?from=2030-01-01T00:00:00Z").await;
    assert_eq!(empty.body, HEADER);
}

async fn exports_need_a_key_and_valid_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = shop(&app).await;
    let other = app.brand("Other").await;
    let no_key = app.http.get(format!("{}/exports/sales.csv", app.url)).send().await.unwrap();
    assert_eq!(no_key.status(), 401);
    assert_eq!(export(&app, "tly_wrong", "/exports/sales.csv").await.status, 401);
    let theirs = export(&app, &other.key, &format!("/exports/orders.csv?campaignId={}", s.campaign)).await;
    assert_eq!(theirs.status, 404);
    let other_campaign = app.create_campaign(&other, "Mine", "5").await;
    let smuggled =
        export(&app, &other.key, &format!("/exports/orders.csv?campaignId={other_campaign}&ids={}", s.orders[0])).await;
    assert_eq!((smuggled.status, smuggled.body.as_str()), (200, HEADER), "another brand's orders are not included");
    assert_eq!(export(&app, &other.key, "/exports/sales.csv").await.body, HEADER);
    for bad in [
        "/exports/orders.csv".to_string(),
        format!("/exports/orders.csv?campaignId={}&ids=nope", s.campaign),
        format!("/exports/orders.csv?campaignId={}&status=SHIPPED", s.campaign),
        "/exports/sales.csv?from=yesterday".to_string(),
        "/exports/sales.csv?from=2026-03-05T00:00:00Z&to=2026-03-01T00:00:00Z".to_string(),
    ] {
        let e = export(&app, &s.brand.key, &bad).await;
        assert_eq!(e.status, 400, "{bad}");
        assert!(e.body.contains("BAD_USER_INPUT"), "{bad}: {}", e.body);
    }
}

/// Records `n` paid orders of the `ANA10` coupon, `X00000` to `X{n-1}`, one second apart
/// from `at`, through the server's writer, as the store would have delivered them (many at
/// once: the writer commits them in groups).
async fn many_orders(app: &TestApp, brand: &TestBrand, n: i64, at: i64) {
    let brand_id = tally::domain::BrandId(tally::ids::decode(tally::ids::Kind::Brand, &brand.id).unwrap());
    let usd = tally::domain::money::Currency::parse("USD").unwrap();
    let writer = &app.state.writer;
    for start in (0..n).step_by(500) {
        let batch = (start..(start + 500).min(n)).map(|i| {
            let event = tally::domain::orders::OrderEvent {
                external_id: format!("X{i:05}"),
                amount: 1000 + i,
                status: tally::domain::orders::OrderStatus::Paid,
                occurred_at: at + i * 1000,
                ordered_at: None,
                coupon_code: Some("ANA10".into()),
                referral_code: None,
                source: "test".into(),
            };
            writer.record(brand_id, usd, event)
        });
        for recorded in futures_util::future::join_all(batch).await {
            recorded.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

async fn a_large_export_streams_every_row_across_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    // More rows than three of the export's chunks (`orders::export::CHUNK`).
    let n = 3 * tally::domain::orders::CHUNK as i64 + 100;
    let at = 1_770_000_000_000;
    many_orders(&app, &s.brand, n, at).await;
    let e = export(&app, &s.brand.key, "/exports/sales.csv").await;
    let lines: Vec<&str> = e.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len() as i64, n + 1);
    for (line, i) in lines[1..].iter().zip((0..n).rev()) {
        assert!(line.starts_with(&format!("X{i:05},")), "newest first: {line} where X{i:05} was due");
    }
    // A few rows of many: read through the index on SQLite rather than the whole table
    // (`orders::export`), in the same order.
    let (from, to) = (tally::domain::time::format(at + 100_000), tally::domain::time::format(at + 130_000));
    let e = export(&app, &s.brand.key, &format!("/exports/sales.csv?from={from}&to={to}")).await;
    let lines: Vec<&str> = e.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    let expected: Vec<String> = (100..130).rev().map(|i| format!("X{i:05},")).collect();
    assert_eq!(lines.len(), expected.len() + 1, "{}", e.body);
    for (line, start) in lines[1..].iter().zip(&expected) {
        assert!(line.starts_with(start.as_str()), "{line} where {start} was due");
    }
}

/// Asks for an export on a socket whose receive buffer is as small as the system allows,
/// takes the answer's first bytes, and then reads nothing: a client that stopped.
async fn stalled_download(app: &TestApp, key: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.addr.parse().unwrap()).await.unwrap();
    let request =
        format!("GET /exports/sales.csv HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\r\n", app.addr);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let n = stream.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first[..n]));
    stream
}

/// A download that stops taking rows gives its export connection back after
/// `request_timeout`: once stalled downloads holding every connection of the export pool
/// are cut short, exports run again, and a stalled download ends in an error.
async fn a_stalled_download_is_cut_short_and_frees_its_connection(backend: Backend) {
    let patience = Duration::from_millis(1500);
    let limits = Limits { request_timeout: patience, expensive_per_key: 10, ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    // Far more CSV (about 10 MB) than the sockets (a few MB each here), the server and the
    // export's channel hold together: a brand seeded as `tally seed` makes one.
    let n = 100_000;
    let options = tally::domain::seed::Options {
        orders: n,
        campaigns: 2,
        members: 5,
        creators: 8,
        days: 30,
        random_seed: 7,
        name: "Stalled".into(),
        currency: "USD".into(),
    };
    let seeded = tally::domain::seed::seed(&app.state.db, &options).await.unwrap_or_else(|e| panic!("{e}"));
    let key = seeded.api_key;
    let mut stalled = Vec::new();
    for _ in 0..tally::db::EXPORT_CONNECTIONS {
        stalled.push(stalled_download(&app, &key).await);
    }
    // Each is cut `patience` after its download stopped taking rows (once the sockets'
    // buffers filled): until then another export may find no connection free (503).
    let started = std::time::Instant::now();
    let e = loop {
        let e = export(&app, &key, "/exports/sales.csv").await;
        if e.status != 503 || started.elapsed() > Duration::from_secs(30) {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(e.status, 200, "{}", e.body);
    assert_eq!(e.body.split("\r\n").filter(|l| !l.is_empty()).count() as u64, n + 1);
    // The first stalled download, read now: it was cut short, its chunked body never
    // ended (no closing zero-length chunk), so a client sees a broken download.
    use tokio::io::AsyncReadExt;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stalled.remove(0).read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closes a cut download");
    assert!(rest.len() < e.body.len(), "cut short: {} bytes of {}", rest.len(), e.body.len());
    assert!(!rest.ends_with(b"\r\n0\r\n\r\n"), "a cut download must not end as a whole one does");
}

on_both_backends!(
    a_campaign_export_is_exact_and_shows_current_members_only,
    the_sales_export_includes_everyone_in_the_range,
    exports_need_a_key_and_valid_parameters,
    a_large_export_streams_every_row_across_chunks,
    a_stalled_download_is_cut_short_and_frees_its_connection,
);
