//! The daily, monthly and all-time rollups agree with a recomputation from the orders
//! themselves, for any range, after a random mix of orders, late and newer status events,
//! amount changes, rejections and undos across four calendar months.
#![recursion_limit = "256"]

mod common;

use std::collections::HashMap;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const DAY: i64 = 86_400_000;
const START: i64 = 1_772_323_200_000; // 2026-03-01T00:00:00Z

fn at(ms: i64) -> String {
    tally::domain::time::format(ms)
}

fn cents(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

fn money(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

async fn all_orders(app: &TestApp, brand: &TestBrand) -> Vec<Value> {
    let q = "query($after: String) { orders(first: 100, after: $after) { edges { node { orderedAt status amount creator { id } campaign { id }
        conversion { approval commission } } } pageInfo { hasNextPage endCursor } } }";
    let (mut out, mut after) = (Vec::new(), Value::Null);
    loop {
        let d = app.data(&brand.key, q, json!({"after": after})).await;
        out.extend(d["orders"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
        if !d["orders"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
        after = d["orders"]["pageInfo"]["endCursor"].clone();
    }
}

async fn rollups_agree_with_the_orders_for_any_range(backend: Backend) {
    // Hundreds of operations as fast as the server answers: no per-key rate limit.
    let app = spawn_app_with(backend, tally::graphql::Limits { rate_per_second: 0, ..Default::default() }).await;
    let brand = app.brand("Acme").await;
    let mut rng = StdRng::seed_from_u64(7);
    let campaigns = [app.create_campaign(&brand, "A", "10").await, app.create_campaign(&brand, "B", "7.5").await];
    let mut coupons = Vec::new();
    let mut creators = Vec::new();
    for i in 0..4 {
        let creator = app.create_creator(&brand, &format!("C{i}")).await;
        let coupon = format!("C{i}");
        app.add_member(&brand, &campaigns[i % 2], &creator, Some(&coupon), None).await;
        coupons.push(coupon);
        creators.push(creator);
    }
    let statuses = ["PAID", "CANCELED", "REFUNDED"];
    let mut conversions = Vec::new();
    for n in 0..60 {
        // Some on the first and last days of months: 2026-03-01 to 2026-06-08.
        let ordered = START + rng.gen_range(0..100 * DAY);
        let amount = format!("{}.{:02}", rng.gen_range(1..300), rng.gen_range(0..100));
        let o = app
            .order_event(
                &brand,
                json!({"externalId": format!("R{n}"), "amount": amount, "currency": "USD",
                "status": statuses[rng.gen_range(0..3)], "occurredAt": at(ordered), "orderedAt": at(ordered),
                "couponCode": coupons[rng.gen_range(0..4)]}),
            )
            .await;
        conversions.push(o["conversion"]["id"].as_str().unwrap().to_string());
        // Later events, some older than the last one (ignored), some with a new amount.
        for _ in 0..rng.gen_range(0..3) {
            let when = ordered + rng.gen_range(-DAY..2 * DAY).max(1);
            let amount = if rng.gen_bool(0.3) { format!("{}.00", rng.gen_range(1..100)) } else { amount.clone() };
            app.order_event(
                &brand,
                json!({"externalId": format!("R{n}"), "amount": amount, "currency": "USD",
                "status": statuses[rng.gen_range(0..3)], "occurredAt": at(when), "couponCode": coupons[0]}),
            )
            .await;
        }
    }
    for _ in 0..40 {
        let c = &conversions[rng.gen_range(0..conversions.len())];
        let q = if rng.gen_bool(0.5) {
            "mutation($id: ID!) { rejectConversion(id: $id) { conversion { id } } }"
        } else {
            "mutation($id: ID!) { undoRejection(id: $id) { conversion { id } } }"
        };
        app.gql(&brand.key, q, json!({"id": c})).await;
    }

    let orders = all_orders(&app, &brand).await;
    assert_eq!(orders.len(), 60);
    let ms =
        |o: &Value| chrono::DateTime::parse_from_rfc3339(o["orderedAt"].as_str().unwrap()).unwrap().timestamp_millis();
    // Whole months (April), and months with a day's edge either side.
    let (april, may) = (START + 31 * DAY, START + 61 * DAY);
    let mut ranges = vec![
        (None, None),
        (Some(START + 2 * DAY), Some(START + 4 * DAY)),
        (Some(april), Some(may)),
        (Some(april - DAY - 1), Some(may + DAY + 1)),
        (Some(april + 1), Some(may - 1)),
    ];
    for _ in 0..16 {
        let a = START + rng.gen_range(-DAY..101 * DAY);
        let b = a + rng.gen_range(0..100 * DAY);
        // Some on midnights.
        let (a, b) = if rng.gen_bool(0.3) { (a - a % DAY, b - b % DAY) } else { (a, b) };
        ranges.push((Some(a), Some(b)));
        ranges.push((Some(a), None));
        ranges.push((None, Some(b)));
    }
    for (from, to) in ranges {
        let inside: Vec<&Value> =
            orders.iter().filter(|o| from.is_none_or(|f| ms(o) >= f) && to.is_none_or(|t| ms(o) < t)).collect();
        let range = json!({"from": from.map(at), "to": to.map(at)});
        // The dashboard.
        let (mut sales, mut earned) = (0, 0);
        let mut per_creator: HashMap<String, [i64; 5]> = HashMap::new();
        for o in &inside {
            let paid = o["status"] == "PAID";
            let approved = o["conversion"]["approval"] == "APPROVED";
            let s = if paid { cents(o["amount"].as_str().unwrap()) } else { 0 };
            let e = if paid && approved { cents(o["conversion"]["commission"].as_str().unwrap()) } else { 0 };
            sales += s;
            earned += e;
            let row = per_creator.entry(o["creator"]["id"].as_str().unwrap().to_string()).or_default();
            row[0] += 1;
            row[1] += s;
            row[2] += i64::from(approved);
            row[3] += i64::from(!approved);
            row[4] += e;
        }
        let d = app
            .data(
                &brand.key,
                "query($r: TimeRange) { dashboard(range: $r) { totalSales orders commission } }",
                json!({"r": range}),
            )
            .await;
        assert_eq!(
            d["dashboard"],
            json!({"totalSales": money(sales), "orders": inside.len(), "commission": money(earned)}),
            "range {range}"
        );
        // Every creator's row in their campaign, and their total commission.
        for (i, creator) in creators.iter().enumerate() {
            let want = per_creator.get(creator).copied().unwrap_or_default();
            let q = "query($k: ID!, $c: ID!, $r: TimeRange) { campaign(id: $k) { performance(range: $r) { rows { creator { id } orders sales approvedConversions rejectedConversions commission } } }
                node(id: $c) { ... on Creator { totalCommission(range: $r) } } }";
            let d = app.data(&brand.key, q, json!({"k": campaigns[i % 2], "c": creator, "r": range})).await;
            let row = d["campaign"]["performance"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["creator"]["id"] == creator.as_str())
                .unwrap()
                .clone();
            assert_eq!(
                row,
                json!({"creator": {"id": creator}, "orders": want[0], "sales": money(want[1]), "approvedConversions": want[2],
                       "rejectedConversions": want[3], "commission": money(want[4])}),
                "creator {i}, range {range}"
            );
            assert_eq!(d["node"]["totalCommission"], money(want[4]));
        }
        // Each campaign's totals line asked alone (summed by the database, not from rows).
        for (j, campaign) in campaigns.iter().enumerate() {
            let mut want = [0i64; 5];
            for creator in creators.iter().skip(j).step_by(2) {
                let row = per_creator.get(creator).copied().unwrap_or_default();
                want.iter_mut().zip(row).for_each(|(w, r)| *w += r);
            }
            let q = "query($k: ID!, $r: TimeRange) { campaign(id: $k) { performance(range: $r) { totals { orders sales approvedConversions rejectedConversions commission } } } }";
            let d = app.data(&brand.key, q, json!({"k": campaign, "r": range})).await;
            assert_eq!(
                d["campaign"]["performance"]["totals"],
                json!({"orders": want[0], "sales": money(want[1]), "approvedConversions": want[2],
                       "rejectedConversions": want[3], "commission": money(want[4])}),
                "campaign {j}, range {range}"
            );
        }
    }
}

/// The brand's and each campaign's order count, unfiltered (from the rollups), each
/// checked against the exact count of the same orders.
async fn counts(app: &TestApp, key: &str, campaigns: &[String]) -> Vec<(i64, i64)> {
    let q = "query($k: ID!) { orders { totalCount } every: orders(filter: {status: [PAID, CANCELED, REFUNDED]}) { totalCount }
        campaign(id: $k) { orders { totalCount } every: orders(filter: {status: [PAID, CANCELED, REFUNDED]}) { totalCount } } }";
    let mut out = Vec::new();
    for campaign in campaigns {
        let d = app.data(key, q, json!({"k": campaign})).await;
        assert_eq!(d["orders"]["totalCount"], d["every"]["totalCount"], "{d}");
        assert_eq!(d["campaign"]["orders"]["totalCount"], d["campaign"]["every"]["totalCount"], "{d}");
        out.push((
            d["orders"]["totalCount"].as_i64().unwrap(),
            d["campaign"]["orders"]["totalCount"].as_i64().unwrap(),
        ));
    }
    out
}

/// The unfiltered `totalCount` comes from the rollups. It equals the exact count of the
/// same orders (every status asked for, which counts the orders themselves) for the brand
/// and for each campaign, before and after a member leaves and a creator is deleted.
async fn unfiltered_counts_from_the_rollups_equal_the_exact_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let mut rng = StdRng::seed_from_u64(11);
    let campaigns = [app.create_campaign(&brand, "A", "10").await, app.create_campaign(&brand, "B", "5").await];
    let creators = [
        app.create_creator(&brand, "C0").await,
        app.create_creator(&brand, "C1").await,
        app.create_creator(&brand, "C2").await,
    ];
    // C0 in both campaigns, C1 in A, C2 in B.
    let members = [(0, 0, "A0"), (1, 0, "B0"), (0, 1, "A1"), (1, 2, "B2")];
    for (campaign, creator, coupon) in members {
        app.add_member(&brand, &campaigns[campaign], &creators[creator], Some(coupon), None).await;
    }
    let statuses = ["PAID", "CANCELED", "REFUNDED"];
    for n in 0..30 {
        let ordered = START + rng.gen_range(0..6 * DAY);
        let coupon = members[rng.gen_range(0..members.len())].2;
        let event = |status: &str, when: i64| {
            json!({"externalId": format!("K{n}"), "amount": "10.00", "currency": "USD", "status": status,
                   "occurredAt": at(when), "orderedAt": at(ordered), "couponCode": coupon})
        };
        app.order_event(&brand, event(statuses[rng.gen_range(0..3)], ordered)).await;
        if rng.gen_bool(0.5) {
            app.order_event(&brand, event(statuses[rng.gen_range(0..3)], ordered + DAY)).await;
        }
    }
    let before = counts(&app, &brand.key, &campaigns).await;
    assert_eq!(before[0].0, 30, "every order of the brand: {before:?}");
    assert_eq!(before[0].1 + before[1].1, 30, "each order in one campaign: {before:?}");
    app.data(
        &brand.key,
        "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id } }",
        json!({"k": campaigns[0], "c": creators[1]}),
    )
    .await;
    app.data(&brand.key, "mutation($c: ID!) { deleteCreator(id: $c) { id } }", json!({"c": creators[2]})).await;
    let after = counts(&app, &brand.key, &campaigns).await;
    assert_eq!(after[0].0, 30, "the brand still counts everyone: {after:?}");
    assert!(after[0].1 < before[0].1 && after[1].1 < before[1].1, "{before:?} -> {after:?}");
}

on_both_backends!(
    rollups_agree_with_the_orders_for_any_range,
    unfiltered_counts_from_the_rollups_equal_the_exact_counts
);

/// A database that had orders before the rollups existed gets them backfilled, daily,
/// monthly and all-time.
async fn the_rollup_migration_backfills_existing_orders(backend: Backend) {
    use migration::MigratorTrait;
    use sea_orm::{ConnectionTrait, Database, FromQueryResult, Statement};
    let url = fresh_database(backend).await;
    let db = Database::connect(&url).await.unwrap();
    migration::Migrator::up(&db, Some(1)).await.unwrap();
    for sql in [
        "INSERT INTO brands (id, name, currency, webhook_secret, created_at) VALUES (1, 'B', 'USD', 's', 0)",
        "INSERT INTO campaigns (id, brand_id, name, default_commission_rate, created_at) VALUES (1, 1, 'K', 100000, 0)",
        "INSERT INTO creators (id, brand_id, name, created_at) VALUES (1, 1, 'C', 0)",
        "INSERT INTO memberships (id, brand_id, campaign_id, creator_id, commission_rate, commission_flat, joined_at) VALUES (1, 1, 1, 1, 100000, 0, 0)",
        "INSERT INTO orders (id, brand_id, campaign_id, creator_id, membership_id, external_id, amount, currency, status, ordered_at, status_changed_at, last_event_at, created_at) VALUES
           (1, 1, 1, 1, 1, 'a', 1000, 'USD', 'PAID', 86400000, 0, 0, 0), (2, 1, 1, 1, 1, 'b', 500, 'USD', 'REFUNDED', 86400001, 0, 0, 0),
           (3, 1, 1, 1, 1, 'c', 700, 'USD', 'PAID', 172800000, 0, 0, 0), (4, 1, 1, 1, 1, 'd', 300, 'USD', 'PAID', 2764800000, 0, 0, 0)",
        "INSERT INTO conversions (id, brand_id, order_id, campaign_id, creator_id, membership_id, attribution, commission, approval, created_at) VALUES
           (1, 1, 1, 1, 1, 1, 'COUPON_CODE', 100, 'APPROVED', 0), (2, 1, 2, 1, 1, 1, 'COUPON_CODE', 50, 'APPROVED', 0),
           (3, 1, 3, 1, 1, 1, 'COUPON_CODE', 70, 'REJECTED', 0), (4, 1, 4, 1, 1, 1, 'COUPON_CODE', 30, 'APPROVED', 0)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    migration::Migrator::up(&db, None).await.unwrap();
    #[derive(FromQueryResult, Debug, PartialEq)]
    struct Row {
        day: i64,
        orders: i64,
        sales: i64,
        approved: i64,
        rejected: i64,
        earned: i64,
    }
    let rows = Row::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT day, orders, sales, approved, rejected, earned FROM order_rollups ORDER BY day",
    ))
    .all(&db)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            Row { day: 1, orders: 2, sales: 1000, approved: 2, rejected: 0, earned: 100 },
            Row { day: 2, orders: 1, sales: 700, approved: 0, rejected: 1, earned: 0 },
            Row { day: 32, orders: 1, sales: 300, approved: 1, rejected: 0, earned: 30 },
        ]
    );
    // The months, January and February 1970, from the orders.
    let months = Row::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT month AS day, orders, sales, approved, rejected, earned FROM order_months ORDER BY month",
    ))
    .all(&db)
    .await
    .unwrap();
    assert_eq!(
        months,
        vec![
            Row { day: 1970 * 12, orders: 3, sales: 1700, approved: 2, rejected: 1, earned: 100 },
            Row { day: 1970 * 12 + 1, orders: 1, sales: 300, approved: 1, rejected: 0, earned: 30 },
        ]
    );
    // The hours: 00:00 on 2 January 1970 (two orders), 3 January, 2 February.
    let hours = Row::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT hour AS day, orders, sales, approved, rejected, earned FROM order_hours ORDER BY hour",
    ))
    .all(&db)
    .await
    .unwrap();
    assert_eq!(
        hours,
        vec![
            Row { day: 24, orders: 2, sales: 1000, approved: 2, rejected: 0, earned: 100 },
            Row { day: 48, orders: 1, sales: 700, approved: 0, rejected: 1, earned: 0 },
            Row { day: 768, orders: 1, sales: 300, approved: 1, rejected: 0, earned: 30 },
        ]
    );
    // And the all-time row, from the daily ones.
    let totals = Row::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT CAST(0 AS BIGINT) AS day, orders, sales, approved, rejected, earned FROM order_totals",
    ))
    .all(&db)
    .await
    .unwrap();
    assert_eq!(totals, vec![Row { day: 0, orders: 4, sales: 2000, approved: 3, rejected: 1, earned: 130 }]);
}

on_both_backends!(the_rollup_migration_backfills_existing_orders);

/// The SQL and Rust forms of rule 5 (`entity::figures`) give the same figures for every
/// status and approval, as each backend evaluates the SQL.
async fn the_sql_and_rust_forms_of_rule_5_agree(backend: Backend) {
    use entity::enums::{Approval, OrderStatus};
    use entity::figures;
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(&fresh_database(backend).await).await.unwrap();
    for (status, status_text) in
        [(OrderStatus::Paid, "PAID"), (OrderStatus::Canceled, "CANCELED"), (OrderStatus::Refunded, "REFUNDED")]
    {
        for (approval, approval_text) in [(Approval::Approved, "APPROVED"), (Approval::Rejected, "REJECTED")] {
            let sql = format!(
                "SELECT CAST({} AS BIGINT) AS sales, CAST({} AS BIGINT) AS earned, CAST({} AS BIGINT) AS approved, \
                 CAST({} AS BIGINT) AS rejected FROM (SELECT '{status_text}' AS status, 1000 AS amount) o, \
                 (SELECT '{approval_text}' AS approval, 70 AS commission) cv",
                figures::sales_sql("o"),
                figures::earned_sql("o", "cv"),
                figures::approved_sql("cv"),
                figures::rejected_sql("cv"),
            );
            let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
            let got: [i64; 4] = ["sales", "earned", "approved", "rejected"].map(|c| row.try_get("", c).unwrap());
            let approved = i64::from(approval == Approval::Approved);
            let expected =
                [figures::sales(status, 1000), figures::earned(status, approval, 70), approved, 1 - approved];
            assert_eq!(got, expected, "{status_text} {approval_text}");
        }
    }
    // The UTC hour of an instant, rounded down on either side of 1970.
    for ms in [0i64, 1, 3_599_999, 3_600_000, 1_780_000_000_123, -1, -3_600_000, -3_600_001] {
        let sql = format!(
            "SELECT CAST({} AS BIGINT) AS hour FROM (SELECT CAST({ms} AS BIGINT) AS t) o",
            figures::hour_sql("o.t")
        );
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "hour").unwrap(), figures::hour(ms), "{ms}");
    }
}

on_both_backends!(the_sql_and_rust_forms_of_rule_5_agree);
