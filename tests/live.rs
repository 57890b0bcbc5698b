//! Live updates over websockets: both protocols, auth, filters, isolation, slow
//! subscribers, and replicas sharing PostgreSQL.
#![recursion_limit = "256"]

mod common;

use std::time::Duration;

use common::ws::{self, Protocol};
use common::*;
use serde_json::json;

const STATUS_SUB: &str = "subscription($k: ID) { orderStatusChanged(campaignId: $k) { order { externalId status campaign { name } } previousStatus status changedAt } }";
const APPROVAL_SUB: &str = "subscription($k: ID) { conversionApprovalChanged(campaignId: $k) { id approval rejectionReason earnedCommission } }";

fn event(id: &str, status: &str, at: &str, coupon: &str) -> serde_json::Value {
    json!({"externalId": id, "amount": "20.00", "currency": "USD", "status": status, "occurredAt": at, "couponCode": coupon})
}

async fn status_changes_reach_subscribers_over_graphql_transport_ws(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    client.subscribe("1", STATUS_SUB, json!({})).await;

    let payload = {
        let mut p = shopify_order(4242, "paid", "20.00", "2026-03-01T10:00:00Z");
        p["discount_codes"] = json!([{"code": "ANA10"}]);
        p
    };
    assert_eq!(app.shopify(&s.brand, "orders/paid", &payload).await.status, 200);
    assert_eq!(
        client.next_data("1").await,
        json!({"orderStatusChanged": {"order": {"externalId": "4242", "status": "PAID", "campaign": {"name": "Spring Launch"}},
            "previousStatus": null, "status": "PAID", "changedAt": "2026-03-01T10:00:00.000Z"}})
    );
    // A replay and a late event change nothing and announce nothing; the next push is
    // the refund.
    app.shopify(&s.brand, "orders/paid", &payload).await;
    app.order_event(&s.brand, event("4242", "CANCELED", "2026-03-01T09:00:00Z", "ANA10")).await;
    app.order_event(&s.brand, event("4242", "REFUNDED", "2026-03-02T10:00:00Z", "ANA10")).await;
    let refund = client.next_data("1").await;
    assert_eq!(refund["orderStatusChanged"]["previousStatus"], "PAID");
    assert_eq!(refund["orderStatusChanged"]["status"], "REFUNDED");
    assert_eq!(refund["orderStatusChanged"]["order"]["status"], "REFUNDED");
    client.expect_silence(Duration::from_millis(700)).await;
}

async fn approval_changes_reach_subscribers_over_the_legacy_protocol(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let order = app.order_event(&s.brand, event("A1", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    let conversion = order["conversion"]["id"].as_str().unwrap().to_string();
    let mut client = ws::connect(&app.url, Protocol::LegacyGraphqlWs, &s.brand.key).await;
    client.subscribe("7", APPROVAL_SUB, json!({"k": s.campaign})).await;
    // A refused move writes nothing and announces nothing.
    let refused = app
        .gql(
            &s.brand.key,
            "mutation($id: ID!) { undoRejection(id: $id) { conversion { id } } }",
            json!({"id": conversion}),
        )
        .await;
    assert_eq!(code(&refused), "INVALID_TRANSITION");
    app.data(
        &s.brand.key,
        "mutation($id: ID!) { rejectConversion(id: $id, reason: \"fraud\") { conversion { id } } }",
        json!({"id": conversion}),
    )
    .await;
    assert_eq!(
        client.next_data("7").await,
        json!({"conversionApprovalChanged": {"id": conversion, "approval": "REJECTED", "rejectionReason": "fraud", "earnedCommission": "0.00"}})
    );
    app.data(
        &s.brand.key,
        "mutation($id: ID!) { undoRejection(id: $id) { conversion { id } } }",
        json!({"id": conversion}),
    )
    .await;
    assert_eq!(client.next_data("7").await["conversionApprovalChanged"]["approval"], "APPROVED");
}

async fn subscribers_see_only_their_campaign_and_their_brand(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let summer = app.create_campaign(&s.brand, "Summer", "10").await;
    let bo = app.create_creator(&s.brand, "Bo").await;
    app.add_member(&s.brand, &summer, &bo, Some("BO"), None).await;
    let other = one_member(&app, "10").await;

    let mut spring_only = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    spring_only.subscribe("s", STATUS_SUB, json!({"k": s.campaign})).await;
    let mut everything = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    everything.subscribe("e", STATUS_SUB, json!({})).await;
    let mut theirs = ws::connect(&app.url, Protocol::TransportWs, &other.brand.key).await;
    theirs.subscribe("t", STATUS_SUB, json!({"k": s.campaign})).await;
    let mut theirs_all = ws::connect(&app.url, Protocol::TransportWs, &other.brand.key).await;
    theirs_all.subscribe("ta", STATUS_SUB, json!({})).await;

    app.order_event(&s.brand, event("S1", "PAID", "2026-03-01T10:00:00Z", "BO")).await;
    app.order_event(&s.brand, event("S2", "PAID", "2026-03-01T11:00:00Z", "ANA10")).await;
    assert_eq!(everything.next_data("e").await["orderStatusChanged"]["order"]["externalId"], "S1");
    assert_eq!(everything.next_data("e").await["orderStatusChanged"]["order"]["externalId"], "S2");
    assert_eq!(spring_only.next_data("s").await["orderStatusChanged"]["order"]["externalId"], "S2");
    // The other brand's subscribers get nothing of this brand: naming its campaign is
    // refused as naming a campaign that does not exist; their first event is their own.
    let refused = theirs.next_json(Duration::from_secs(5)).await.expect("a refusal");
    assert_eq!((refused["type"].as_str(), refused["id"].as_str()), (Some("error"), Some("t")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "NOT_FOUND");
    app.order_event(&other.brand, event("O1", "PAID", "2026-03-01T12:00:00Z", "ANA10")).await;
    assert_eq!(theirs_all.next_data("ta").await["orderStatusChanged"]["order"]["externalId"], "O1");
    theirs.expect_silence(Duration::from_millis(500)).await;
    spring_only.expect_silence(Duration::from_millis(300)).await;
}

async fn sockets_without_a_valid_key_or_init_are_closed_with_protocol_codes(backend: Backend) {
    let limits = tally::graphql::Limits { ws_init_timeout: Duration::from_millis(500), ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let s = one_member(&app, "10").await;
    for protocol in [Protocol::TransportWs, Protocol::LegacyGraphqlWs] {
        let mut no_key = ws::open(&app.url, protocol).await;
        no_key.send(json!({"type": "connection_init", "payload": {}})).await;
        assert_eq!(no_key.close_code(Duration::from_secs(5)).await, Some(4401), "{protocol:?}");
        let mut bad_key = ws::open(&app.url, protocol).await;
        bad_key.send(json!({"type": "connection_init", "payload": {"authorization": "Bearer tly_nope"}})).await;
        assert_eq!(bad_key.close_code(Duration::from_secs(5)).await, Some(4401));
        let mut subscribe_first = ws::open(&app.url, protocol).await;
        subscribe_first.send(json!({"id": "1", "type": "subscribe", "payload": {"query": STATUS_SUB}})).await;
        assert_eq!(subscribe_first.close_code(Duration::from_secs(5)).await, Some(4401));
        let mut silent = ws::open(&app.url, protocol).await;
        assert_eq!(silent.close_code(Duration::from_secs(5)).await, Some(4408));
    }
    let viewer = app.viewer_key(&s.brand).await;
    let mut ok = ws::connect(&app.url, Protocol::TransportWs, &viewer).await;
    ok.subscribe("v", STATUS_SUB, json!({})).await;
    app.order_event(&s.brand, event("V1", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    assert_eq!(ok.next_data("v").await["orderStatusChanged"]["status"], "PAID", "viewers may subscribe");
}

async fn a_subscriber_that_stops_reading_is_closed_with_4008_and_slows_no_one(backend: Backend) {
    let limits = tally::graphql::Limits { subscriber_buffer: 16, ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let s = one_member(&app, "10").await;
    let order = app.order_event(&s.brand, event("B1", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    let order_id = tally::ids::decode(tally::ids::Kind::Order, order["id"].as_str().unwrap()).unwrap();
    let campaign_id = tally::ids::decode(tally::ids::Kind::Campaign, &s.campaign).unwrap();
    let brand_id = tally::ids::decode(tally::ids::Kind::Brand, &s.brand.id).unwrap();
    // About 20 KB per event, so that a few hundred fill any socket buffer.
    let wide = (0..200).map(|i| format!("a{i}: order {{ externalId status amount }}")).collect::<Vec<_>>().join(" ");
    let wide = format!("subscription {{ orderStatusChanged {{ {wide} status }} }}");
    let mut stalled = ws::connect_small_window(&app.url, Protocol::TransportWs, &s.brand.key).await;
    stalled.subscribe("1", &wide, json!({})).await;
    let mut reading = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    reading.subscribe("1", &wide, json!({})).await;
    let other = one_member(&app, "10").await;
    let mut elsewhere = ws::connect(&app.url, Protocol::TransportWs, &other.brand.key).await;
    elsewhere.subscribe("o", STATUS_SUB, json!({})).await;
    // A burst far larger than what the stalled socket can take, committed at once, as a
    // busy brand would produce.
    const BURST: i64 = 600;
    use sea_orm::TransactionTrait;
    let txn = app.state.db.begin().await.unwrap();
    for i in 0..BURST {
        let change = tally::domain::outbox::OrderStatusChanged {
            order_id,
            previous_status: Some(entity::enums::OrderStatus::Paid),
            status: entity::enums::OrderStatus::Paid,
            changed_at: 1_772_000_000_000 + i,
        };
        tally::domain::outbox::append(
            &txn,
            brand_id,
            campaign_id,
            entity::enums::EventKind::OrderStatusChanged,
            &change,
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e));
    }
    txn.commit().await.unwrap();
    app.state.bus.kick();
    // The reading subscriber of the same brand gets every event; another brand's is not
    // held up either.
    for _ in 0..BURST {
        reading.next_data("1").await;
    }
    app.order_event(&other.brand, event("O1", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    assert_eq!(elsewhere.next_data("o").await["orderStatusChanged"]["order"]["externalId"], "O1");
    assert_eq!(stalled.close_code(Duration::from_secs(30)).await, Some(4008));
}

async fn revoking_a_key_closes_its_open_sockets_with_4403(backend: Backend) {
    let limits = tally::graphql::Limits { ws_key_recheck: Duration::from_millis(200), ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let s = one_member(&app, "10").await;
    let viewer = app.viewer_key(&s.brand).await;
    let mut watching = ws::connect(&app.url, Protocol::TransportWs, &viewer).await;
    watching.subscribe("1", STATUS_SUB, json!({})).await;
    let mut admin = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    admin.subscribe("2", STATUS_SUB, json!({})).await;
    assert_eq!(tally::domain::auth::revoke_secret(&app.state.db, &viewer).await.unwrap_or(0), 1);
    assert_eq!(watching.close_code(Duration::from_secs(5)).await, Some(4403));
    assert_eq!(code(&app.gql(&viewer, "{ brand { name } }", json!({})).await), "UNAUTHENTICATED");
    // Other keys' sockets stay open and keep receiving.
    app.order_event(&s.brand, event("K1", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    assert_eq!(admin.next_data("2").await["orderStatusChanged"]["order"]["externalId"], "K1");
}

async fn each_event_costs_the_same_statements_for_1_subscriber_as_for_50(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let mut first = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    first.subscribe("1", STATUS_SUB, json!({})).await;
    // One event with one subscriber: what it costs beyond recording the order.
    let cost_of = |id: &'static str| {
        let app = &app;
        let brand = s.brand.clone();
        async move {
            let before = app.statements();
            app.order_event(&brand, event(id, "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
            before
        }
    };
    let before = cost_of("C1").await;
    assert_eq!(first.next_data("1").await["orderStatusChanged"]["order"]["externalId"], "C1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alone = app.statements() - before;
    let mut others = Vec::new();
    for i in 0..49 {
        let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
        client.subscribe(&format!("s{i}"), STATUS_SUB, json!({})).await;
        others.push((format!("s{i}"), client));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cost_of("C2").await;
    assert_eq!(first.next_data("1").await["orderStatusChanged"]["order"]["externalId"], "C2");
    for (id, client) in &mut others {
        assert_eq!(client.next_data(id).await["orderStatusChanged"]["order"]["externalId"], "C2");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.statements() - before, alone, "the same statements with 50 subscribers as with 1");
}

async fn protocol_violations_close_with_their_codes_and_caps_refuse_with_codes(backend: Backend) {
    let limits = tally::graphql::Limits { ws_max_subscriptions: 2, ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let s = one_member(&app, "10").await;
    for protocol in [Protocol::TransportWs, Protocol::LegacyGraphqlWs] {
        // Not the protocol's message: 4400.
        let mut client = ws::connect(&app.url, protocol, &s.brand.key).await;
        client.send(json!({"type": "nonsense"})).await;
        assert_eq!(client.close_code(Duration::from_secs(5)).await, Some(4400));
        // A second connection_init: 4429.
        let mut client = ws::connect(&app.url, protocol, &s.brand.key).await;
        client.send(json!({"type": "connection_init", "payload": {}})).await;
        assert_eq!(client.close_code(Duration::from_secs(5)).await, Some(4429));
        // An id already running: 4409.
        let mut client = ws::connect(&app.url, protocol, &s.brand.key).await;
        client.subscribe("same", STATUS_SUB, json!({})).await;
        client.subscribe("same", STATUS_SUB, json!({})).await;
        assert_eq!(client.close_code(Duration::from_secs(5)).await, Some(4409));
        // Past the cap of operations per socket: an error with its code, the socket open.
        let mut client = ws::connect(&app.url, protocol, &s.brand.key).await;
        client.subscribe("a", STATUS_SUB, json!({})).await;
        client.subscribe("b", STATUS_SUB, json!({})).await;
        client.subscribe("c", STATUS_SUB, json!({})).await;
        let refusal = client.next_json(Duration::from_secs(5)).await.expect("a refusal");
        assert_eq!((refusal["type"].as_str(), refusal["id"].as_str()), (Some("error"), Some("c")), "{refusal}");
        assert_eq!(refusal["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
        // A bad argument is an error at once, never silence.
        client
            .send(json!({"id": "a", "type": if protocol == Protocol::TransportWs { "complete" } else { "stop" }}))
            .await;
        client.subscribe("d", "subscription { orderStatusChanged(campaignId: \"nope\") { status } }", json!({})).await;
        loop {
            let message = client.next_json(Duration::from_secs(5)).await.expect("a refusal");
            if message["type"] == "complete" {
                continue;
            }
            assert_eq!((message["type"].as_str(), message["id"].as_str()), (Some("error"), Some("d")), "{message}");
            assert_eq!(message["payload"][0]["extensions"]["code"], "NOT_FOUND");
            break;
        }
        // Queries run over the socket too.
        client.subscribe("q", "{ brand { name } }", json!({})).await;
        assert_eq!(client.next_data("q").await["brand"]["name"], "Acme");
    }
}

on_both_backends!(
    each_event_costs_the_same_statements_for_1_subscriber_as_for_50,
    protocol_violations_close_with_their_codes_and_caps_refuse_with_codes,
    revoking_a_key_closes_its_open_sockets_with_4403,
    status_changes_reach_subscribers_over_graphql_transport_ws,
    approval_changes_reach_subscribers_over_the_legacy_protocol,
    subscribers_see_only_their_campaign_and_their_brand,
    sockets_without_a_valid_key_or_init_are_closed_with_protocol_codes,
    a_subscriber_that_stops_reading_is_closed_with_4008_and_slows_no_one,
);
