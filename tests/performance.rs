//! The Performance tab and the dashboard: hand-checked aggregates, visibility rules,
//! half-open ranges, tenancy, and a constant number of statements per page.
#![recursion_limit = "256"]

mod common;

use common::*;
use serde_json::{Value, json};

struct World {
    brand: TestBrand,
    spring: String,
    summer: String,
    empty: String,
    ana: String,
    bo: String,
}

async fn record(
    app: &TestApp,
    brand: &TestBrand,
    id: &str,
    amount: &str,
    status: &str,
    ordered_at: &str,
    coupon: &str,
) -> Value {
    let o = app
        .order_event(
            brand,
            json!({"externalId": id, "amount": amount, "currency": "USD", "status": status,
            "occurredAt": ordered_at, "orderedAt": ordered_at, "couponCode": coupon}),
        )
        .await;
    assert!(o.is_object(), "{id} attributed");
    o
}

/// Spring (10%): Ana, Bo (20% + 1.00 flat), Cy (removed later), Dee (deleted later), Eve
/// (no orders). Summer: Ana at 5%. Empty: nobody. Hand-checked numbers in the tests.
async fn world(app: &TestApp) -> World {
    let brand = app.brand("Acme").await;
    let spring = app.create_campaign(&brand, "Spring", "10").await;
    let summer = app.create_campaign(&brand, "Summer", "5").await;
    let empty = app.create_campaign(&brand, "Empty", "10").await;
    let ana = app.create_creator(&brand, "Ana").await;
    let bo = app.create_creator(&brand, "Bo").await;
    let cy = app.create_creator(&brand, "Cy").await;
    let dee = app.create_creator(&brand, "Dee").await;
    let eve = app.create_creator(&brand, "Eve").await;
    app.add_member(&brand, &spring, &ana, Some("ANA"), Some("ana")).await;
    app.data(&brand.key, "mutation($i: AddCreatorToCampaignInput!) { addCreatorToCampaign(input: $i) { id } }",
        json!({"i": {"campaignId": spring, "creatorId": bo, "couponCode": "BO", "commissionRate": "20", "commissionFlat": "1.00"}})).await;
    app.add_member(&brand, &spring, &cy, Some("CY"), None).await;
    app.add_member(&brand, &spring, &dee, Some("DEE"), None).await;
    app.add_member(&brand, &spring, &eve, Some("EVE"), None).await;
    app.add_member(&brand, &summer, &ana, Some("ANA2"), None).await;

    record(app, &brand, "O1", "100.00", "PAID", "2026-03-01T10:00:00Z", "ANA").await;
    record(app, &brand, "O2", "50.00", "REFUNDED", "2026-03-02T10:00:00Z", "ANA").await;
    let o3 = record(app, &brand, "O3", "20.00", "PAID", "2026-03-03T00:00:00Z", "ANA").await;
    record(app, &brand, "O4", "30.00", "PAID", "2026-03-02T23:59:59.999Z", "BO").await;
    record(app, &brand, "O5", "10.00", "CANCELED", "2026-03-04T10:00:00Z", "BO").await;
    record(app, &brand, "O6", "40.00", "PAID", "2026-03-01T10:00:00Z", "CY").await;
    record(app, &brand, "O7", "60.00", "PAID", "2026-03-05T10:00:00Z", "DEE").await;
    record(app, &brand, "O8", "200.00", "PAID", "2026-03-03T12:00:00Z", "ANA2").await;
    app.data(
        &brand.key,
        "mutation($id: ID!) { rejectConversion(id: $id, reason: \"self-referral\") { conversion { approval } } }",
        json!({"id": o3["conversion"]["id"]}),
    )
    .await;
    app.data(
        &brand.key,
        "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id } }",
        json!({"k": spring, "c": cy}),
    )
    .await;
    app.data(&brand.key, "mutation($c: ID!) { deleteCreator(id: $c) { id } }", json!({"c": dee})).await;
    World { brand, spring, summer, empty, ana, bo }
}

const PERFORMANCE: &str = "query($k: ID!, $r: TimeRange) { campaign(id: $k) { performance(range: $r) {
    rows { creator { name } couponCode affiliateLink orders sales approvedConversions rejectedConversions commission }
    totals { orders sales approvedConversions rejectedConversions commission } } } }";

#[allow(clippy::too_many_arguments)]
fn row(
    name: &str,
    coupon: &str,
    link: Value,
    orders: i64,
    sales: &str,
    approved: i64,
    rejected: i64,
    commission: &str,
) -> Value {
    json!({"creator": {"name": name}, "couponCode": coupon, "affiliateLink": link, "orders": orders, "sales": sales,
           "approvedConversions": approved, "rejectedConversions": rejected, "commission": commission})
}

async fn the_performance_table_shows_current_members_with_hand_checked_numbers(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let perf = app.data(&w.brand.key, PERFORMANCE, json!({"k": w.spring})).await;
    assert_eq!(
        perf["campaign"]["performance"],
        json!({
            "rows": [
                row("Ana", "ANA", json!("https://shop.example.com/?ref=ana"), 3, "120.00", 2, 1, "10.00"),
                row("Bo", "BO", Value::Null, 2, "30.00", 2, 0, "7.00"),
                row("Eve", "EVE", Value::Null, 0, "0.00", 0, 0, "0.00"),
            ],
            "totals": {"orders": 5, "sales": "150.00", "approvedConversions": 4, "rejectedConversions": 1, "commission": "17.00"}
        })
    );
    let empty = app.data(&w.brand.key, PERFORMANCE, json!({"k": w.empty})).await;
    assert_eq!(
        empty["campaign"]["performance"],
        json!({"rows": [], "totals": {"orders": 0, "sales": "0.00", "approvedConversions": 0, "rejectedConversions": 0, "commission": "0.00"}})
    );
}

async fn the_dashboard_counts_everyone_and_differs_from_the_performance_tab(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let d = app
        .data(
            &w.brand.key,
            "{ dashboard { totalSales orders commission byCampaign { campaign { name } sales orders } } }",
            json!({}),
        )
        .await;
    // Spring's tab shows 150.00 over 5 orders; the dashboard also counts Cy (removed,
    // 40.00) and Dee (deleted, 60.00) in Spring, and Summer's 200.00.
    assert_eq!(
        d["dashboard"],
        json!({"totalSales": "450.00", "orders": 8, "commission": "37.00", "byCampaign": [
            {"campaign": {"name": "Spring"}, "sales": "250.00", "orders": 7},
            {"campaign": {"name": "Summer"}, "sales": "200.00", "orders": 1},
            {"campaign": {"name": "Empty"}, "sales": "0.00", "orders": 0},
        ]})
    );
    let tab = app.data(&w.brand.key, PERFORMANCE, json!({"k": w.spring})).await;
    assert_eq!(tab["campaign"]["performance"]["totals"]["sales"], "150.00");
}

async fn time_ranges_are_half_open_on_ordered_at(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let range = json!({"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"});
    let perf = app.data(&w.brand.key, PERFORMANCE, json!({"k": w.spring, "r": range})).await;
    let rows = &perf["campaign"]["performance"]["rows"];
    // O2 (Ana, refunded) and O4 (Bo, 23:59:59.999) are in; O3 at exactly 03-03T00:00 is out.
    assert_eq!(rows[0], row("Ana", "ANA", json!("https://shop.example.com/?ref=ana"), 1, "0.00", 1, 0, "0.00"));
    assert_eq!(rows[1], row("Bo", "BO", Value::Null, 1, "30.00", 1, 0, "7.00"));
    let from_only =
        app.data(&w.brand.key, PERFORMANCE, json!({"k": w.spring, "r": {"from": "2026-03-03T00:00:00Z"}})).await;
    assert_eq!(from_only["campaign"]["performance"]["totals"]["orders"], 2, "O3 and O5");
    let dash = app
        .data(
            &w.brand.key,
            "query($r: TimeRange) { dashboard(range: $r) { totalSales orders commission } }",
            json!({"r": {"to": "2026-03-02T00:00:00Z"}}),
        )
        .await;
    assert_eq!(dash["dashboard"], json!({"totalSales": "140.00", "orders": 2, "commission": "14.00"}));
    let commission = app
        .data(&w.brand.key, "query($c: ID!, $r: TimeRange) { node(id: $c) { ... on Creator { all: totalCommission in3: totalCommission(range: $r) } } }",
            json!({"c": w.ana, "r": {"from": "2026-03-03T00:00:00Z", "to": "2026-03-04T00:00:00Z"}}))
        .await;
    assert_eq!(commission["node"], json!({"all": "20.00", "in3": "10.00"}));
    let backwards = app
        .gql(
            &w.brand.key,
            PERFORMANCE,
            json!({"k": w.spring, "r": {"from": "2026-03-03T00:00:00Z", "to": "2026-03-01T00:00:00Z"}}),
        )
        .await;
    assert_eq!(code(&backwards), "BAD_USER_INPUT");
}

async fn a_campaigns_orders_table_shows_current_members_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let q = "query($k: ID!, $f: OrderFilter) { campaign(id: $k) { orders(filter: $f) { totalCount edges { node { externalId creator { name } } } } } }";
    let all = app.data(&w.brand.key, q, json!({"k": w.spring})).await;
    let names: Vec<&str> = all["campaign"]["orders"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["O5", "O3", "O4", "O2", "O1"]);
    assert_eq!(all["campaign"]["orders"]["totalCount"], 5);
    let bo_paid = app.data(&w.brand.key, q, json!({"k": w.spring, "f": {"creatorId": w.bo, "status": ["PAID"]}})).await;
    assert_eq!(bo_paid["campaign"]["orders"]["totalCount"], 1);
    let everyone = app
        .data(
            &w.brand.key,
            "query($k: ID!) { orders(filter: {campaignId: $k}) { totalCount } }",
            json!({"k": w.spring}),
        )
        .await;
    assert_eq!(everyone["orders"]["totalCount"], 7);
    let summer = app.data(&w.brand.key, q, json!({"k": w.summer})).await;
    assert_eq!(summer["campaign"]["orders"]["totalCount"], 1);
}

async fn another_brands_sales_never_mix_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let other = app.brand("Other").await;
    let k = app.create_campaign(&other, "Spring", "50").await;
    let c = app.create_creator(&other, "Ana").await;
    app.add_member(&other, &k, &c, Some("ANA"), Some("ana")).await;
    record(&app, &other, "O1", "999.00", "PAID", "2026-03-01T10:00:00Z", "ANA").await;
    let mine = app.data(&w.brand.key, "{ dashboard { totalSales orders } }", json!({})).await;
    assert_eq!(mine["dashboard"], json!({"totalSales": "450.00", "orders": 8}));
    let theirs = app.data(&other.key, "{ dashboard { totalSales orders commission } }", json!({})).await;
    assert_eq!(theirs["dashboard"], json!({"totalSales": "999.00", "orders": 1, "commission": "499.50"}));
    let peek = app.data(&other.key, PERFORMANCE, json!({"k": w.spring})).await;
    assert_eq!(peek["campaign"], Value::Null);
}

async fn a_page_of_orders_costs_the_same_statements_at_5_and_100_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let bo = app.create_creator(&s.brand, "Bo").await;
    app.add_member(&s.brand, &s.campaign, &bo, Some("BO"), None).await;
    let other = app.create_campaign(&s.brand, "Other", "5").await;
    app.add_member(&s.brand, &other, &bo, Some("BO2"), None).await;
    for i in 0..100 {
        let coupon = ["ANA10", "BO", "BO2"][i % 3];
        app.order_event(&s.brand, json!({"externalId": format!("N{i}"), "amount": "10.00", "currency": "USD",
            "status": "PAID", "occurredAt": format!("2026-03-01T10:{:02}:{:02}Z", i / 60, i % 60), "couponCode": coupon})).await;
    }
    let q = "query($n: Int) { orders(first: $n) { totalCount edges { node { id amount creator { name totalCommission } campaign { name }
        conversion { commission earnedCommission approval reviews { by } creator { name } } history { status } } } } }";
    let mut counts = Vec::new();
    for n in [5, 100, 5] {
        app.warm(&s.brand.key).await;
        let before = app.statements();
        let d = app.data(&s.brand.key, q, json!({"n": n})).await;
        counts.push(app.statements() - before);
        assert_eq!(d["orders"]["edges"].as_array().unwrap().len(), n as usize);
    }
    assert_eq!(counts[0], counts[1], "statements at 5 and 100 rows: {counts:?}");
    assert_eq!(counts[0], counts[2]);
    assert!(counts[0] <= 12, "a handful of statements per page: {counts:?}");

    let perf = "query($k: ID!) { campaign(id: $k) { members { creator { name } } performance { rows { creator { name } couponCode affiliateLink } } } }";
    app.warm(&s.brand.key).await;
    let before = app.statements();
    app.data(&s.brand.key, perf, json!({"k": s.campaign})).await;
    assert!(app.statements() - before <= 8);
}

async fn a_list_of_campaigns_with_members_and_performance_costs_the_same_statements_at_any_length(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    for i in 0..5 {
        let k = app.create_campaign(&s.brand, &format!("Campaign {i}"), "20").await;
        let c = app.create_creator(&s.brand, &format!("Creator {i}")).await;
        app.add_member(&s.brand, &k, &c, Some(&format!("C{i}")), None).await;
        app.add_member(&s.brand, &k, &s.ana, Some(&format!("ANA{i}")), None).await;
    }
    record(&app, &s.brand, "L1", "100.00", "PAID", "2026-03-01T10:00:00Z", "ANA10").await;
    record(&app, &s.brand, "L2", "50.00", "PAID", "2026-03-02T10:00:00Z", "ANA0").await;
    record(&app, &s.brand, "L3", "30.00", "PAID", "2026-03-02T11:00:00Z", "C0").await;
    let q = "query($n: Int) { campaigns(first: $n) { edges { node { name members { creator { name } }
        performance { totals { sales commission } rows { creator { name } sales } } } } } }";
    let mut counts = Vec::new();
    let mut answers = Vec::new();
    for n in [2, 6] {
        app.warm(&s.brand.key).await;
        let before = app.statements();
        answers.push(app.data(&s.brand.key, q, json!({"n": n})).await);
        counts.push(app.statements() - before);
    }
    // One statement for the campaigns, one for all their members, one for all their
    // tables, and their creators: a bound that does not grow with the list (one per
    // campaign would be 14 here). The creators of the members and of the table rows are
    // one batch or two, depending on which of those two the database answers first.
    assert!(counts.iter().all(|&c| c <= 6), "statements for 2 and 6 campaigns: {counts:?}");
    // The batched figures are each campaign's own.
    let edges = answers[1]["campaigns"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 6);
    let by_name = |name: &str| edges.iter().find(|e| e["node"]["name"] == name).unwrap()["node"].clone();
    assert_eq!(by_name("Spring Launch")["performance"]["totals"], json!({"sales": "100.00", "commission": "10.00"}));
    let first = by_name("Campaign 0");
    assert_eq!(first["performance"]["totals"], json!({"sales": "80.00", "commission": "16.00"}));
    assert_eq!(first["members"].as_array().unwrap().len(), 2);
    let rows: Vec<(String, String)> = first["performance"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["creator"]["name"].as_str().unwrap().to_string(), r["sales"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rows, [("Creator 0".to_string(), "30.00".to_string()), ("Ana Silva".to_string(), "50.00".to_string())]);
    assert_eq!(by_name("Campaign 4")["performance"]["totals"], json!({"sales": "0.00", "commission": "0.00"}));
}

async fn answers_keep_the_field_order_of_the_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = world(&app).await;
    let query = "{ dashboard { byCampaign { orders campaign { name id } sales } totalSales } brand { name currency } }";
    let body = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&w.brand.key)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spring_id = &w.spring;
    assert!(
        body.starts_with(&format!(
            r#"{{"data":{{"dashboard":{{"byCampaign":[{{"orders":7,"campaign":{{"name":"Spring","id":"{spring_id}"}},"sales":"250.00"}}"#
        )),
        "{body}"
    );
    assert!(body.contains(r#"],"totalSales":"450.00"},"brand":{"name":"Acme","currency":"USD"}}}"#), "{body}");
}

/// Reads do not queue behind a write: while a write transaction holds the database (on
/// SQLite, its one writer), a page and the dashboard still answer, and once it commits the
/// next read sees what it wrote.
async fn reads_answer_while_a_write_is_in_progress(backend: Backend) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let q = r#"query($k: ID!) { campaign(id: $k) { name orders(first: 10) { edges { node { id } } } } dashboard { orders } }"#;
    app.warm(&s.brand.key).await;
    let writing = app.state.db.begin().await.unwrap();
    writing.execute_unprepared("UPDATE campaigns SET name = 'Renamed' WHERE name = 'Spring Launch'").await.unwrap();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(3), app.data(&s.brand.key, q, json!({"k": s.campaign})));
    let d = read.await.expect("a read waited for the write to finish");
    assert_eq!(d["campaign"]["name"], "Spring Launch", "the write is not committed yet: {d}");
    writing.commit().await.unwrap();
    let d = app.data(&s.brand.key, q, json!({"k": s.campaign})).await;
    assert_eq!(d["campaign"]["name"], "Renamed", "{d}");
}

/// A page reads its orders with their creators and conversions in one statement, by
/// position: each row exactly as it reads alone, every column in its place.
async fn a_page_reads_orders_creators_and_conversions_as_they_read_alone(backend: Backend) {
    use entity::{conversion, creator, order};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tally::domain::orders::{self, OrderFilter, Scope, With};
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    for i in 0..4 {
        let id = format!("P{i}");
        let o = app
            .order_event(
                &s.brand,
                json!({"externalId": id, "amount": "20.00", "currency": "USD", "status": "PAID",
            "occurredAt": format!("2026-03-0{}T10:00:00Z", i + 1), "couponCode": "ANA10"}),
            )
            .await;
        if i % 2 == 1 {
            // Timestamps that differ from one another, and a review with a reason.
            app.order_event(
                &s.brand,
                json!({"externalId": id, "amount": "20.00", "currency": "USD", "status": "REFUNDED",
                "occurredAt": format!("2026-03-0{}T18:30:00Z", i + 2)}),
            )
            .await;
            app.data(
                &s.brand.key,
                "mutation($c: ID!) { rejectConversion(id: $c, reason: \"test order\") { conversion { id } } }",
                json!({"c": o["conversion"]["id"]}),
            )
            .await;
        }
    }
    let brand = tally::domain::BrandId(tally::ids::decode(tally::ids::Kind::Brand, &s.brand.id).unwrap());
    let db = &app.state.db;
    let mut reviewed = 0;
    for with in [With { creator: true, conversion: true }, With { creator: false, conversion: true }, With::default()] {
        let page = orders::page(db, brand, Scope::Brand, &OrderFilter::default(), None, 10, with).await.unwrap();
        assert_eq!(page.len(), 4);
        for row in page {
            assert_eq!(Some(row.order.clone()), order::Entity::find_by_id(row.order.id).one(db).await.unwrap());
            let creator = creator::Entity::find_by_id(row.order.creator_id).one(db).await.unwrap();
            assert_eq!(row.creator, creator.filter(|_| with.creator));
            let conversion =
                conversion::Entity::find().filter(conversion::Column::OrderId.eq(row.order.id)).one(db).await.unwrap();
            reviewed += conversion.as_ref().is_some_and(|c| c.rejection_reason.is_some()) as usize;
            assert_eq!(row.conversion, conversion.filter(|_| with.conversion));
        }
    }
    assert_eq!(reviewed, 6, "two rejected conversions, seen on each of three pages");
}

on_both_backends!(
    a_page_reads_orders_creators_and_conversions_as_they_read_alone,
    reads_answer_while_a_write_is_in_progress,
    answers_keep_the_field_order_of_the_query,
    the_performance_table_shows_current_members_with_hand_checked_numbers,
    the_dashboard_counts_everyone_and_differs_from_the_performance_tab,
    time_ranges_are_half_open_on_ordered_at,
    a_campaigns_orders_table_shows_current_members_only,
    another_brands_sales_never_mix_in,
    a_page_of_orders_costs_the_same_statements_at_5_and_100_rows,
    a_list_of_campaigns_with_members_and_performance_costs_the_same_statements_at_any_length,
);
