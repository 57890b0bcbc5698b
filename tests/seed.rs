//! `tally seed`: a seeded database holds exactly what the write path makes of the same
//! events, and a refused seed writes nothing.
#![recursion_limit = "256"]
mod common;

use common::{Backend, TestApp, fresh_database, spawn_app, spawn_on};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tally::domain::money::Rate;
use tally::domain::time;
use tally::graphql::Limits;
use tally::ids::{self, Kind};

async fn seed(database_url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("seed")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_BACKTRACE", "0")
        .output()
        .await
        .unwrap()
}

/// Every row of a query, each value as text (NULL as None).
async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<Vec<Option<String>>> {
    let found = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_string())).await.unwrap();
    found
        .iter()
        .map(|row| {
            let width = row.column_names().len();
            (0..width).map(|i| row.try_get_by_index::<Option<String>>(i).unwrap()).collect()
        })
        .collect()
}

/// What the write path decides, table by table: every column but the clock's (when a row
/// was written) and rollup ids (PostgreSQL's upserts consume ids).
const COMPARED: [&str; 12] = [
    "SELECT name, handle, email, CAST(deleted_at AS TEXT) FROM creators ORDER BY id",
    "SELECT name, CAST(default_commission_rate AS TEXT) FROM campaigns ORDER BY id",
    "SELECT CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), coupon_code, coupon_key, affiliate_code, \
     CAST(commission_rate AS TEXT), CAST(commission_flat AS TEXT), CAST(removed_at AS TEXT) FROM memberships ORDER BY id",
    "SELECT CAST(id AS TEXT), CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), CAST(membership_id AS TEXT), \
     external_id, CAST(amount AS TEXT), currency, status, coupon_code, CAST(ordered_at AS TEXT), \
     CAST(status_changed_at AS TEXT), CAST(last_event_at AS TEXT) FROM orders ORDER BY id",
    "SELECT CAST(id AS TEXT), CAST(order_id AS TEXT), CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), \
     CAST(membership_id AS TEXT), attribution, CAST(commission AS TEXT), approval, rejection_reason, \
     CASE WHEN reviewed_at IS NULL THEN 'never' ELSE 'reviewed' END FROM conversions ORDER BY id",
    "SELECT CAST(id AS TEXT), CAST(order_id AS TEXT), status, CAST(occurred_at AS TEXT), source FROM order_events ORDER BY id",
    "SELECT CAST(id AS TEXT), CAST(campaign_id AS TEXT), kind, payload FROM events ORDER BY id",
    "SELECT CAST(id AS TEXT), CAST(conversion_id AS TEXT), action, by_key, reason FROM conversion_reviews ORDER BY id",
    "SELECT CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), CAST(day AS TEXT), CAST(orders AS TEXT), \
     CAST(sales AS TEXT), CAST(approved AS TEXT), CAST(rejected AS TEXT), CAST(earned AS TEXT) \
     FROM order_rollups ORDER BY campaign_id, creator_id, day",
    "SELECT CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), CAST(hour AS TEXT), CAST(orders AS TEXT), \
     CAST(sales AS TEXT), CAST(approved AS TEXT), CAST(rejected AS TEXT), CAST(earned AS TEXT) \
     FROM order_hours ORDER BY campaign_id, creator_id, hour",
    "SELECT CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), CAST(month AS TEXT), CAST(orders AS TEXT), \
     CAST(sales AS TEXT), CAST(approved AS TEXT), CAST(rejected AS TEXT), CAST(earned AS TEXT) \
     FROM order_months ORDER BY campaign_id, creator_id, month",
    "SELECT CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), CAST(orders AS TEXT), CAST(sales AS TEXT), \
     CAST(approved AS TEXT), CAST(rejected AS TEXT), CAST(earned AS TEXT) FROM order_totals ORDER BY campaign_id, creator_id",
];

/// An approval change's payload carries the wall-clock time of the review; the rest must match.
fn without_clock(mut table: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    for row in &mut table {
        for value in row.iter_mut().flatten() {
            if let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(value)
                && object.contains_key("conversionId")
            {
                object.remove("at");
                *value = Value::Object(object).to_string();
            }
        }
    }
    table
}

fn text(row: &[Option<String>], i: usize) -> String {
    row[i].clone().unwrap_or_default()
}

/// Sends what the seed recorded in its outbox, in outbox order, to `app`: each status
/// change as the signed webhook, each rejection through `rejectConversion`.
async fn replay(seeded: &DatabaseConnection, app: &TestApp, brand: &common::TestBrand) {
    for event in rows(seeded, "SELECT kind, payload FROM events ORDER BY id").await {
        let payload: Value = serde_json::from_str(&text(&event, 1)).unwrap();
        if text(&event, 0) == "CONVERSION_APPROVAL_CHANGED" {
            let id = payload["conversionId"].as_i64().unwrap();
            let reason =
                rows(seeded, &format!("SELECT reason FROM conversion_reviews WHERE conversion_id = {id}")).await;
            let answer = app
                .data(
                    &brand.key,
                    "mutation($id: ID!, $r: String) { rejectConversion(id: $id, reason: $r) { conversion { approval } } }",
                    json!({ "id": ids::encode(Kind::Conversion, id), "r": reason[0][0] }),
                )
                .await;
            assert_eq!(answer["rejectConversion"]["conversion"]["approval"], "REJECTED");
            continue;
        }
        let order_id = payload["orderId"].as_i64().unwrap();
        let order = &rows(
            seeded,
            &format!(
                "SELECT o.external_id, CAST(o.amount AS TEXT), o.currency, CAST(o.ordered_at AS TEXT), o.coupon_code, \
                 cv.attribution, m.affiliate_code FROM orders o JOIN conversions cv ON cv.order_id = o.id \
                 JOIN memberships m ON m.id = o.membership_id WHERE o.id = {order_id}"
            ),
        )
        .await[0];
        let cents: i64 = text(order, 1).parse().unwrap();
        let by_link = text(order, 5) == "AFFILIATE_LINK";
        let body = json!({
            "externalId": text(order, 0),
            "amount": format!("{}.{:02}", cents / 100, cents % 100),
            "currency": text(order, 2),
            "status": payload["status"],
            "occurredAt": time::format(payload["changedAt"].as_i64().unwrap()),
            "orderedAt": time::format(text(order, 3).parse().unwrap()),
            "couponCode": if by_link { None } else { order[4].clone() },
            "referralCode": if by_link { order[6].clone() } else { None },
        });
        let delivered = app.signed(brand, body.to_string().as_bytes()).await;
        assert_eq!(delivered.status, 200, "{:?}", delivered.body);
    }
}

async fn a_seeded_database_holds_what_the_webhooks_make_of_the_same_events(backend: Backend) {
    let seeded_url = fresh_database(backend).await;
    let args = ["--orders", "300", "--campaigns", "3", "--members", "5", "--creators", "8", "--days", "20"];
    let out = seed(&seeded_url, &[&args[..], &["--random-seed", "7"]].concat()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seeded = Database::connect(&seeded_url).await.unwrap();

    // The same brand, creators, campaigns and members through the API, then every event.
    let app = spawn_app(backend).await;
    let brand = app.brand_with("Seeded Brand", "USD", Some("https://shop.example.com")).await;
    for c in rows(&seeded, "SELECT name, handle, email FROM creators ORDER BY id").await {
        let input = json!({ "name": c[0], "handle": c[1], "email": c[2] });
        app.data(
            &brand.key,
            "mutation($i: CreateCreatorInput!) { createCreator(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    }
    for c in rows(&seeded, "SELECT name, CAST(default_commission_rate AS TEXT) FROM campaigns ORDER BY id").await {
        let rate = Rate::from_scaled(text(&c, 1).parse().unwrap()).to_decimal().to_string();
        app.create_campaign(&brand, &text(&c, 0), &rate).await;
    }
    let members = "SELECT CAST(campaign_id AS TEXT), CAST(creator_id AS TEXT), coupon_code, affiliate_code, \
                   CAST(commission_rate AS TEXT), CAST(commission_flat AS TEXT) FROM memberships ORDER BY id";
    for m in rows(&seeded, members).await {
        let flat: i64 = text(&m, 5).parse().unwrap();
        let input = json!({
            "campaignId": ids::encode(Kind::Campaign, text(&m, 0).parse().unwrap()),
            "creatorId": ids::encode(Kind::Creator, text(&m, 1).parse().unwrap()),
            "couponCode": m[2],
            "affiliateCode": m[3],
            "commissionRate": Rate::from_scaled(text(&m, 4).parse().unwrap()).to_decimal().to_string(),
            "commissionFlat": format!("{}.{:02}", flat / 100, flat % 100),
        });
        app.data(
            &brand.key,
            "mutation($i: AddCreatorToCampaignInput!) { addCreatorToCampaign(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    }
    replay(&seeded, &app, &brand).await;

    let built = Database::connect(&app.database_url).await.unwrap();
    for sql in COMPARED {
        let (expected, found) = (without_clock(rows(&built, sql).await), without_clock(rows(&seeded, sql).await));
        assert!(!expected.is_empty(), "nothing to compare: {sql}");
        assert_eq!(found.len(), expected.len(), "{sql}");
        if let Some(at) = (0..found.len()).find(|&i| found[i] != expected[i]) {
            panic!("{sql}\nrow {at}: seeded {:?}, through the webhooks {:?}", found[at], expected[at]);
        }
    }
    // The mix the seed promises: some refunds, cancellations and rejections.
    let statuses = rows(&seeded, "SELECT status FROM orders").await;
    for status in ["PAID", "REFUNDED", "CANCELED"] {
        assert!(statuses.iter().any(|s| text(s, 0) == status), "no {status} order");
    }

    // The printed key works, and a server on the seeded database answers from it.
    let server = spawn_on(backend, &seeded_url, Limits::default()).await;
    let key = printed["apiKey"].as_str().unwrap();
    let d = server.data(key, "{ orders { totalCount } campaigns { totalCount } }", json!({})).await;
    assert_eq!(d, json!({ "orders": { "totalCount": 300 }, "campaigns": { "totalCount": 3 } }));
    assert_eq!(printed["brandId"], brand.id);
    assert!(printed["webhookSecret"].as_str().unwrap().starts_with("whsec_"));
}

async fn a_refused_seed_writes_nothing(backend: Backend) {
    let url = fresh_database(backend).await;
    let out = seed(&url, &["--orders", "10", "--members", "20", "--creators", "5"]).await;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--members") && said.contains("--creators"), "{said}");
    let db = Database::connect(&url).await.unwrap();
    assert!(rows(&db, "SELECT name FROM brands").await.is_empty());
}

on_both_backends!(a_seeded_database_holds_what_the_webhooks_make_of_the_same_events, a_refused_seed_writes_nothing);
