//! CSV exports: exact bytes, visibility, ranges, auth and bad parameters.
#![recursion_limit = "256"]

mod common;

use common::*;
use serde_json::json;

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

async fn a_large_export_streams_every_row_across_chunks(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    // 2,100 orders through the real write path would be slow; insert them as the store
    // would have delivered them, then export across three chunks.
    let brand_id = tally::ids::decode(tally::ids::Kind::Brand, &s.brand.id).unwrap();
    let usd = tally::domain::money::Currency::parse("USD").unwrap();
    for i in 0..2100 {
        let event = tally::domain::orders::OrderEvent {
            external_id: format!("X{i:05}"),
            amount: 1000 + i,
            status: tally::domain::orders::OrderStatus::Paid,
            occurred_at: 1_770_000_000_000 + i * 1000,
            ordered_at: None,
            coupon_code: Some("ANA10".into()),
            referral_code: None,
            source: "test".into(),
        };
        tally::domain::orders::record(&app.state.db, tally::domain::BrandId(brand_id), usd, &event)
            .await
            .unwrap_or_else(|e| panic!("{}", e));
    }
    let e = export(&app, &s.brand.key, "/exports/sales.csv").await;
    let lines: Vec<&str> = e.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2101);
    assert!(lines[1].starts_with("X02099,"));
    assert!(lines[2100].starts_with("X00000,"));
    let unique: std::collections::HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(unique.len(), 2101, "no row twice across chunk boundaries");
}

on_both_backends!(
    a_campaign_export_is_exact_and_shows_current_members_only,
    the_sales_export_includes_everyone_in_the_range,
    exports_need_a_key_and_valid_parameters,
    a_large_export_streams_every_row_across_chunks,
);
