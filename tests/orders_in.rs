//! Orders in: attribution, pinned commission and live status from webhooks and GraphQL.
#![recursion_limit = "256"]

mod common;

use common::*;
use serde_json::{Value, json};

const ORDER_QUERY: &str = "query($id: ID!) { node(id: $id) { ... on Order { externalId status amount currency couponCode orderedAt statusChangedAt creator { name } campaign { name } history { status occurredAt source } conversion { attribution commission earnedCommission approval } } } }";

async fn order(app: &TestApp, brand: &TestBrand, id: &str) -> Value {
    app.data(&brand.key, ORDER_QUERY, json!({"id": id})).await["node"].clone()
}

async fn a_paid_shopify_order_with_a_coupon_becomes_an_order_and_an_approved_conversion(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "12.5").await;
    let payload = with_coupon(shopify_order(5001, "paid", "19.99", "2026-03-01T09:16:00-05:00"), "ana10");
    let delivery = app.shopify(&s.brand, "orders/paid", &payload).await;
    assert_eq!(delivery.status, 200, "{:?}", delivery.body);
    assert_eq!(delivery.body["attributed"], true);
    let id = delivery.body["orderId"].as_str().unwrap();
    assert_eq!(
        order(&app, &s.brand, id).await,
        json!({
            "externalId": "5001", "status": "PAID", "amount": "19.99", "currency": "USD", "couponCode": "ana10",
            "orderedAt": "2026-03-01T14:15:00.000Z", "statusChangedAt": "2026-03-01T14:16:00.000Z",
            "creator": {"name": "Ana Silva"}, "campaign": {"name": "Spring Launch"},
            "history": [{"status": "PAID", "occurredAt": "2026-03-01T14:16:00.000Z", "source": "shopify:orders/paid"}],
            // 12.5% of 19.99 = 2.49875, rounded half-even to the cent
            "conversion": {"attribution": "COUPON_CODE", "commission": "2.50", "earnedCommission": "2.50", "approval": "APPROVED"}
        })
    );
}

async fn shopify_financial_statuses_map_to_order_statuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let cases: [(&str, bool, Option<&str>); 6] = [
        ("paid", false, Some("PAID")),
        ("partially_refunded", false, Some("PAID")),
        ("refunded", false, Some("REFUNDED")),
        ("voided", false, Some("CANCELED")),
        ("paid", true, Some("CANCELED")),
        ("pending", false, None),
    ];
    for (i, (financial, cancelled, expected)) in cases.into_iter().enumerate() {
        let mut payload =
            with_coupon(shopify_order(6000 + i as u64, financial, "50.00", "2026-03-02T10:00:00Z"), "ANA10");
        if cancelled {
            payload["cancelled_at"] = json!("2026-03-02T09:59:00Z");
            payload["cancel_reason"] = json!("customer");
        }
        let topic = if cancelled { "orders/cancelled" } else { "orders/updated" };
        let delivery = app.shopify(&s.brand, topic, &payload).await;
        assert_eq!(delivery.status, 200, "{financial}: {:?}", delivery.body);
        match expected {
            Some(status) => {
                let o = order(&app, &s.brand, delivery.body["orderId"].as_str().unwrap()).await;
                assert_eq!(o["status"], status, "{financial} cancelled={cancelled}");
            }
            None => assert_eq!(delivery.body["attributed"], false, "{financial} is not a sale yet"),
        }
    }
    assert_eq!(app.order_count(&s.brand).await, 5);
}

async fn the_coupon_wins_over_the_affiliate_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let bo = app.create_creator(&s.brand, "Bo").await;
    app.add_member(&s.brand, &s.campaign, &bo, Some("BO5"), Some("bo")).await;

    let mut both = with_coupon(shopify_order(7001, "paid", "10.00", "2026-03-03T10:00:00Z"), "ANA10");
    both["landing_site"] = json!("/products/glow?utm_source=ig&ref=bo");
    let d = app.shopify(&s.brand, "orders/paid", &both).await;
    let o = order(&app, &s.brand, d.body["orderId"].as_str().unwrap()).await;
    assert_eq!(
        (o["creator"]["name"].clone(), o["conversion"]["attribution"].clone()),
        (json!("Ana Silva"), json!("COUPON_CODE"))
    );

    let mut link_only = shopify_order(7002, "paid", "10.00", "2026-03-03T10:00:00Z");
    link_only["landing_site"] = json!("/?ref=bo");
    let d = app.shopify(&s.brand, "orders/paid", &link_only).await;
    let o = order(&app, &s.brand, d.body["orderId"].as_str().unwrap()).await;
    assert_eq!(
        (o["creator"]["name"].clone(), o["conversion"]["attribution"].clone()),
        (json!("Bo"), json!("AFFILIATE_LINK"))
    );

    // An unknown coupon does not block a matching referral code.
    let via_graphql = app
        .order_event(
            &s.brand,
            json!({"externalId": "7003", "amount": "10.00", "currency": "USD", "status": "PAID",
            "occurredAt": "2026-03-03T10:00:00Z", "couponCode": "NOPE", "referralCode": "bo"}),
        )
        .await;
    assert_eq!(via_graphql["conversion"]["attribution"], "AFFILIATE_LINK");
}

async fn unattributed_orders_are_not_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let d = app
        .shopify(
            &s.brand,
            "orders/paid",
            &with_coupon(shopify_order(8001, "paid", "10.00", "2026-03-03T10:00:00Z"), "OTHER"),
        )
        .await;
    assert_eq!((d.status, d.body.clone()), (200, json!({"attributed": false, "orderId": null})));
    let none = app
        .order_event(&s.brand, json!({"externalId": "8002", "amount": "10.00", "currency": "USD", "status": "PAID", "occurredAt": "2026-03-03T10:00:00Z"}))
        .await;
    assert_eq!(none, Value::Null);
    let signed = app
        .signed(&s.brand, br#"{"externalId":"8003","amount":"1.00","currency":"USD","status":"PAID","occurredAt":"2026-03-03T10:00:00Z","referralCode":"zz"}"#)
        .await;
    assert_eq!((signed.status, signed.body["attributed"].clone()), (200, json!(false)));
    assert_eq!(app.order_count(&s.brand).await, 0);
}

async fn late_events_join_the_history_but_never_override_a_newer_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let event = |status: &str, at: &str| {
        json!({"externalId": "9001", "amount": "40.00", "currency": "USD", "status": status, "occurredAt": at,
               "orderedAt": "2026-03-04T08:00:00Z", "couponCode": "ANA10"})
    };
    let first = app.order_event(&s.brand, event("PAID", "2026-03-04T10:00:00Z")).await;
    let id = first["id"].as_str().unwrap().to_string();
    let late = app.order_event(&s.brand, event("CANCELED", "2026-03-04T09:00:00Z")).await;
    assert_eq!(late["status"], "PAID");
    let repeat = app.order_event(&s.brand, event("PAID", "2026-03-04T10:00:00Z")).await;
    assert_eq!(repeat["status"], "PAID");
    let o = order(&app, &s.brand, &id).await;
    assert_eq!(o["statusChangedAt"], "2026-03-04T10:00:00.000Z");
    assert_eq!(
        o["history"],
        json!([
            {"status": "CANCELED", "occurredAt": "2026-03-04T09:00:00.000Z", "source": "graphql"},
            {"status": "PAID", "occurredAt": "2026-03-04T10:00:00.000Z", "source": "graphql"},
        ])
    );
    let refunded = app.order_event(&s.brand, event("REFUNDED", "2026-03-05T10:00:00+01:00")).await;
    assert_eq!(refunded["status"], "REFUNDED");
    assert_eq!(refunded["statusChangedAt"], "2026-03-05T09:00:00.000Z");
    assert_eq!(refunded["conversion"]["earnedCommission"], "0.00");
    assert_eq!(refunded["conversion"]["commission"], "4.00");
    // Paid again by a newer event: the commission is earned again.
    let repaid = app.order_event(&s.brand, event("PAID", "2026-03-06T10:00:00Z")).await;
    assert_eq!(repaid["conversion"]["earnedCommission"], "4.00");
    let o = order(&app, &s.brand, &id).await;
    assert_eq!(o["history"].as_array().unwrap().len(), 4);
    assert_eq!(o["orderedAt"], "2026-03-04T08:00:00.000Z");
}

async fn a_replayed_shopify_delivery_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let payload = with_coupon(shopify_order(9101, "paid", "30.00", "2026-03-04T10:00:00Z"), "ANA10");
    let first = app.shopify(&s.brand, "orders/paid", &payload).await;
    let again = app.shopify(&s.brand, "orders/paid", &payload).await;
    assert_eq!(again.status, 200);
    assert_eq!(first.body, again.body);
    let o = order(&app, &s.brand, first.body["orderId"].as_str().unwrap()).await;
    assert_eq!(o["history"].as_array().unwrap().len(), 1);
    assert_eq!(app.order_count(&s.brand).await, 1);
}

async fn concurrent_first_deliveries_of_one_order_store_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let payload = with_coupon(shopify_order(9201, "paid", "30.00", "2026-03-04T10:00:00Z"), "ANA10");
    let deliveries =
        futures_util::future::join_all((0..8).map(|_| app.shopify(&s.brand, "orders/paid", &payload))).await;
    let ids: std::collections::HashSet<String> = deliveries
        .iter()
        .map(|d| {
            assert_eq!(d.status, 200, "{:?}", d.body);
            d.body["orderId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.order_count(&s.brand).await, 1);
    let o = order(&app, &s.brand, ids.iter().next().unwrap()).await;
    assert_eq!(o["history"].as_array().unwrap().len(), 1);
}

async fn commission_is_pinned_from_the_terms_when_the_conversion_is_created(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand_with("Tokyo Goods", "JPY", None).await;
    let campaign = app.create_campaign(&brand, "Sakura", "7.5").await;
    let ana = app.create_creator(&brand, "Ana").await;
    let add = "mutation($i: AddCreatorToCampaignInput!) { addCreatorToCampaign(input: $i) { commissionFlat } }";
    let m = app
        .data(
            &brand.key,
            add,
            json!({"i": {"campaignId": campaign, "creatorId": ana, "couponCode": "SAKURA", "commissionFlat": "100"}}),
        )
        .await;
    assert_eq!(m["addCreatorToCampaign"]["commissionFlat"], "100");
    let ev = |id: &str| json!({"externalId": id, "amount": "1234", "currency": "JPY", "status": "PAID", "occurredAt": "2026-03-04T10:00:00Z", "couponCode": "sakura"});
    // 7.5% of ¥1234 = 92.55 → 93, plus ¥100 flat
    let first = app.order_event(&brand, ev("A1")).await;
    assert_eq!((first["amount"].clone(), first["conversion"]["commission"].clone()), (json!("1234"), json!("193")));

    // New terms apply to new conversions only.
    app.data(
        &brand.key,
        "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id } }",
        json!({"k": campaign, "c": ana}),
    )
    .await;
    let late = app.order_event(&brand, ev("A2")).await;
    assert_eq!(late["conversion"]["commission"], "193", "a removed member's order is still stored, at the old terms");
    app.data(
        &brand.key,
        add,
        json!({"i": {"campaignId": campaign, "creatorId": ana, "couponCode": "SAKURA", "commissionRate": "20"}}),
    )
    .await;
    let second = app.order_event(&brand, ev("A3")).await;
    assert_eq!(second["conversion"]["commission"], "247");
    let again = app.data(&brand.key, ORDER_QUERY, json!({"id": first["id"]})).await;
    assert_eq!(again["node"]["conversion"]["commission"], "193");
}

async fn bad_webhooks_answer_clearly_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let other = app.brand("Other").await;
    let payload = with_coupon(shopify_order(9301, "paid", "30.00", "2026-03-04T10:00:00Z"), "ANA10");
    let body = serde_json::to_vec(&payload).unwrap();

    let unsigned = app.shopify_raw(&s.brand.id, "orders/paid", body.clone(), None).await;
    assert_eq!(unsigned.status, 401);
    let forged = app.shopify_raw(&s.brand.id, "orders/paid", body.clone(), Some("bm90IGEgc2lnbmF0dXJl")).await;
    assert_eq!(forged.status, 401);
    let wrong_secret =
        app.shopify(&TestBrand { id: s.brand.id.clone(), ..other.clone() }, "orders/paid", &payload).await;
    assert_eq!(wrong_secret.status, 401);
    let unknown =
        app.shopify(&TestBrand { id: "QnJhbmQ6OTk5".into(), ..s.brand.clone() }, "orders/paid", &payload).await;
    assert_eq!((unknown.status, &unknown.body), (401, &forged.body), "an unknown brand answers like a bad signature");

    let mut negative = payload.clone();
    negative["current_subtotal_price"] = json!("-5.00");
    let mut euro = payload.clone();
    euro["currency"] = json!("EUR");
    let mut no_time = payload.clone();
    no_time.as_object_mut().unwrap().remove("updated_at");
    for (bad, why) in [(negative, "negative"), (euro, "currency"), (no_time, "updated_at")] {
        let d = app.shopify(&s.brand, "orders/paid", &bad).await;
        assert_eq!(d.status, 400, "{why}: {:?}", d.body);
        assert_eq!(d.body["error"]["code"], "BAD_USER_INPUT");
    }
    let malformed = app.signed(&s.brand, b"{not json").await;
    assert_eq!(malformed.status, 400);
    let cases: [&[u8]; 4] = [
        br#"{"externalId":"1","amount":"abc","currency":"USD","status":"PAID","occurredAt":"2026-03-03T10:00:00Z","couponCode":"ANA10"}"#,
        br#"{"externalId":"1","amount":"1.00","currency":"USD","status":"SHIPPED","occurredAt":"2026-03-03T10:00:00Z","couponCode":"ANA10"}"#,
        br#"{"externalId":"1","amount":"1.00","currency":"USD","status":"PAID","couponCode":"ANA10"}"#,
        br#"{"externalId":"1","amount":"1.00","currency":"USD","status":"PAID","occurredAt":"last week","couponCode":"ANA10"}"#,
    ];
    for body in cases {
        let d = app.signed(&s.brand, body).await;
        assert_eq!(d.status, 400, "{}", String::from_utf8_lossy(body));
        assert!(d.body["error"]["message"].as_str().unwrap().len() > 5);
    }
    let gql = app
        .gql(&s.brand.key, "mutation { recordOrderEvent(input: {externalId: \"1\", amount: \"-1\", currency: \"USD\", status: PAID, occurredAt: \"2026-03-03T10:00:00Z\", couponCode: \"ANA10\"}) { id } }", json!({}))
        .await;
    assert_eq!(code(&gql), "BAD_USER_INPUT");
    assert_eq!(gql["errors"][0]["extensions"]["field"], "amount");
    assert_eq!(app.order_count(&s.brand).await, 0);
}

async fn amounts_sent_as_json_numbers_are_parsed_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let mut payload = with_coupon(shopify_order(9401, "paid", "0", "2026-03-04T10:00:00Z"), "ANA10");
    payload["current_subtotal_price"] = serde_json::from_str("99999999999.99").unwrap();
    let raw = serde_json::to_string(&payload).unwrap();
    assert!(raw.contains("99999999999.99"));
    let d = app.shopify(&s.brand, "orders/create", &payload).await;
    let o = order(&app, &s.brand, d.body["orderId"].as_str().unwrap()).await;
    assert_eq!(o["amount"], "99999999999.99");
    let signed = app
        .signed(&s.brand, br#"{"externalId":"n1","amount":0.1,"currency":"USD","status":"PAID","occurredAt":"2026-03-03T10:00:00Z","couponCode":"ANA10"}"#)
        .await;
    let o = order(&app, &s.brand, signed.body["orderId"].as_str().unwrap()).await;
    assert_eq!(o["amount"], "0.10");
}

async fn the_orders_connection_filters_and_pages_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let bo = app.create_creator(&s.brand, "Bo").await;
    app.add_member(&s.brand, &s.campaign, &bo, Some("BO5"), None).await;
    for (i, (coupon, status, day)) in [
        ("ANA10", "PAID", 1),
        ("BO5", "REFUNDED", 2),
        ("ANA10", "CANCELED", 3),
        ("ANA10", "PAID", 4),
        ("BO5", "PAID", 5),
    ]
    .into_iter()
    .enumerate()
    {
        app.order_event(
            &s.brand,
            json!({"externalId": format!("F{i}"), "amount": "10.00", "currency": "USD", "status": status,
            "occurredAt": format!("2026-04-0{day}T12:00:00Z"), "couponCode": coupon}),
        )
        .await;
    }
    let q = "query($f: OrderFilter, $after: String) { orders(first: 2, after: $after, filter: $f) { totalCount edges { node { externalId } } pageInfo { hasNextPage endCursor } } }";
    let ids = |d: &Value| -> Vec<String> {
        d["orders"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["externalId"].as_str().unwrap().to_string())
            .collect()
    };
    let p1 = app.data(&s.brand.key, q, json!({})).await;
    assert_eq!((ids(&p1), p1["orders"]["totalCount"].clone()), (vec!["F4".to_string(), "F3".into()], json!(5)));
    let p2 = app.data(&s.brand.key, q, json!({"after": p1["orders"]["pageInfo"]["endCursor"]})).await;
    assert_eq!(ids(&p2), vec!["F2", "F1"]);
    let p3 = app.data(&s.brand.key, q, json!({"after": p2["orders"]["pageInfo"]["endCursor"]})).await;
    assert_eq!((ids(&p3), p3["orders"]["pageInfo"]["hasNextPage"].clone()), (vec!["F0".to_string()], json!(false)));

    let paid = app.data(&s.brand.key, q, json!({"f": {"status": ["PAID"]}})).await;
    assert_eq!(paid["orders"]["totalCount"], 3);
    let bos = app.data(&s.brand.key, q, json!({"f": {"creatorId": bo}})).await;
    assert_eq!(ids(&bos), vec!["F4", "F1"]);
    let range = app
        .data(&s.brand.key, q, json!({"f": {"range": {"from": "2026-04-02T12:00:00Z", "to": "2026-04-04T12:00:00Z"}}}))
        .await;
    assert_eq!((ids(&range), range["orders"]["totalCount"].clone()), (vec!["F2".to_string(), "F1".into()], json!(2)));
    let other_campaign = app.data(&s.brand.key, q, json!({"f": {"campaignId": "Q2FtcGFpZ246OTk"}})).await;
    assert_eq!(other_campaign["orders"]["totalCount"], 0);
}

async fn a_partial_refund_lowers_sales_but_not_the_pinned_commission(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let paid = with_coupon(shopify_order(9501, "paid", "80.00", "2026-03-04T10:00:00Z"), "ANA10");
    let id = app.shopify(&s.brand, "orders/paid", &paid).await.body["orderId"].as_str().unwrap().to_string();
    let mut partial = paid.clone();
    partial["financial_status"] = json!("partially_refunded");
    partial["current_subtotal_price"] = json!("50.00");
    partial["updated_at"] = json!("2026-03-05T10:00:00Z");
    assert_eq!(app.shopify(&s.brand, "orders/updated", &partial).await.status, 200);
    let o = order(&app, &s.brand, &id).await;
    assert_eq!((o["status"].clone(), o["amount"].clone()), (json!("PAID"), json!("50.00")));
    assert_eq!(o["conversion"]["commission"], "8.00");
    // A late delivery of the original payload changes neither.
    app.shopify(&s.brand, "orders/paid", &{
        let mut late = paid.clone();
        late["updated_at"] = json!("2026-03-04T11:00:00Z");
        late
    })
    .await;
    let o = order(&app, &s.brand, &id).await;
    assert_eq!(o["amount"], "50.00");
    let d = app.data(&s.brand.key, "{ dashboard { totalSales commission } }", json!({})).await;
    assert_eq!(d["dashboard"], json!({"totalSales": "50.00", "commission": "8.00"}));
}

/// Webhooks arriving together end as if each came alone: on SQLite the events waiting
/// for the writer are committed together, each webhook answered after that commit, and
/// one that fails (here, an order past what Tally adds up exactly) fails alone, with
/// nothing of it kept and everything of the others.
async fn webhooks_arriving_together_each_end_as_if_alone(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let campaign = app.create_campaign(&brand, "Launch", "10").await;
    let (ana, bo) = (app.create_creator(&brand, "Ana").await, app.create_creator(&brand, "Bo").await);
    app.add_member(&brand, &campaign, &ana, Some("ANA"), None).await;
    app.add_member(&brand, &campaign, &bo, Some("BO"), None).await;
    let body = |id: &str, coupon: &str| {
        serde_json::to_vec(&json!({"externalId": id, "amount": "10.00", "currency": "USD", "status": "PAID",
            "occurredAt": "2026-03-03T10:00:00Z", "couponCode": coupon}))
        .unwrap()
    };
    assert_eq!(app.signed(&brand, &body("ana-1", "ANA")).await.status, 200);
    // Ana's day (the only rollup row so far) is 5 minor units short of the cap.
    let near = tally::domain::rollup::BUCKET_CAP - 5;
    app.state.db.execute_unprepared(&format!("UPDATE order_rollups SET sales = {near}")).await.unwrap();
    let bodies: Vec<Vec<u8>> =
        (0..40).map(|i| if i == 20 { body("ana-2", "ANA") } else { body(&format!("bo-{i}"), "BO") }).collect();
    let deliveries = futures_util::future::join_all(bodies.iter().map(|b| app.signed(&brand, b))).await;
    for (i, d) in deliveries.iter().enumerate() {
        if i == 20 {
            assert_eq!((d.status, &d.body["error"]["code"]), (400, &json!("BAD_USER_INPUT")), "{}", d.body);
        } else {
            assert_eq!((d.status, &d.body["attributed"]), (200, &json!(true)), "{}", d.body);
        }
    }
    assert_eq!(app.order_count(&brand).await, 40);
    let q = "query($c: ID!) { campaign(id: $c) { performance { rows { creator { name } orders sales } } } }";
    let d = app.data(&brand.key, q, json!({"c": campaign})).await;
    assert_eq!(
        d["campaign"]["performance"]["rows"],
        json!([{"creator": {"name": "Ana"}, "orders": 1, "sales": "10.00"}, {"creator": {"name": "Bo"}, "orders": 39, "sales": "390.00"}])
    );
}

on_both_backends!(
    a_partial_refund_lowers_sales_but_not_the_pinned_commission,
    a_paid_shopify_order_with_a_coupon_becomes_an_order_and_an_approved_conversion,
    shopify_financial_statuses_map_to_order_statuses,
    the_coupon_wins_over_the_affiliate_link,
    unattributed_orders_are_not_stored,
    late_events_join_the_history_but_never_override_a_newer_status,
    a_replayed_shopify_delivery_changes_nothing,
    concurrent_first_deliveries_of_one_order_store_it_once,
    commission_is_pinned_from_the_terms_when_the_conversion_is_created,
    bad_webhooks_answer_clearly_and_store_nothing,
    amounts_sent_as_json_numbers_are_parsed_exactly,
    the_orders_connection_filters_and_pages_newest_first,
    webhooks_arriving_together_each_end_as_if_alone,
);
