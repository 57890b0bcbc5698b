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
            app.warm(&brand.key).await;
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

const RESUMABLE: &str = "subscription($k: ID, $after: String) { orderStatusChanged(campaignId: $k, after: $after) { order { externalId } status cursor } }";

/// The next push of subscription `id`: its order's external id, its status, and its cursor
/// (checked to be the same in the data and in `extensions`).
async fn push(client: &mut ws::WsClient, id: &str) -> (String, String, String) {
    let message = client.next_json(Duration::from_secs(10)).await.expect("a push within 10 s");
    assert_eq!((message["type"].as_str(), message["id"].as_str()), (Some("next"), Some(id)), "{message}");
    let change = &message["payload"]["data"]["orderStatusChanged"];
    let cursor = change["cursor"].as_str().expect("a cursor").to_string();
    assert_eq!(message["payload"]["extensions"]["cursor"].as_str(), Some(cursor.as_str()), "{message}");
    (
        change["order"]["externalId"].as_str().unwrap().to_string(),
        change["status"].as_str().unwrap().to_string(),
        cursor,
    )
}

async fn pushes(client: &mut ws::WsClient, id: &str, n: usize) -> Vec<(String, String, String)> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(push(client, id).await);
    }
    got
}

fn orders_and_statuses(pushes: &[(String, String, String)]) -> Vec<(&str, &str)> {
    pushes.iter().map(|(order, status, _)| (order.as_str(), status.as_str())).collect()
}

async fn resuming_with_a_cursor_replays_exactly_what_was_missed_then_goes_live(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let summer = app.create_campaign(&s.brand, "Summer", "10").await;
    let bo = app.create_creator(&s.brand, "Bo").await;
    app.add_member(&s.brand, &summer, &bo, Some("BO"), None).await;
    let spring = json!({"k": s.campaign});

    let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    client.subscribe("1", RESUMABLE, spring.clone()).await;
    app.order_event(&s.brand, event("M1", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    let (_, _, seen) = push(&mut client, "1").await;
    drop(client);

    // While the client is away: two changes of its campaign, one of another campaign, and
    // a change of another kind.
    let m2 = app.order_event(&s.brand, event("M2", "PAID", "2026-03-01T11:00:00Z", "ANA10")).await;
    app.order_event(&s.brand, event("S1", "PAID", "2026-03-01T11:30:00Z", "BO")).await;
    let refunded = app.order_event(&s.brand, event("M1", "REFUNDED", "2026-03-02T10:00:00Z", "ANA10")).await;
    assert_eq!(refunded["status"], "REFUNDED");
    app.order_event(&s.brand, event("M3", "PAID", "2026-03-01T12:00:00Z", "ANA10")).await;

    // Resume, with a change committed while the replay may still be running.
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    client
        .send(json!({"id": "2", "type": "subscribe", "payload": {"query": RESUMABLE, "variables": {"k": s.campaign, "after": seen}}}))
        .await;
    app.order_event(&s.brand, event("M4", "PAID", "2026-03-01T13:00:00Z", "ANA10")).await;
    let resumed = pushes(&mut client, "2", 4).await;
    assert_eq!(
        orders_and_statuses(&resumed),
        [("M2", "PAID"), ("M1", "REFUNDED"), ("M3", "PAID"), ("M4", "PAID")],
        "every missed change in commit order, then live, each once"
    );
    client.expect_silence(Duration::from_millis(500)).await;
    app.order_event(&s.brand, event("M5", "PAID", "2026-03-01T14:00:00Z", "ANA10")).await;
    assert_eq!(orders_and_statuses(&pushes(&mut client, "2", 1).await), [("M5", "PAID")]);
    drop(client);

    // A cursor from the middle of a replay resumes from there; the newest cursor replays
    // nothing; and a subscriber of every campaign gets the other campaign's change too.
    let middle = resumed[1].2.clone();
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    client.subscribe("3", RESUMABLE, json!({"k": s.campaign, "after": middle})).await;
    let again = pushes(&mut client, "3", 3).await;
    assert_eq!(orders_and_statuses(&again), [("M3", "PAID"), ("M4", "PAID"), ("M5", "PAID")]);
    client.subscribe("4", RESUMABLE, json!({"k": s.campaign, "after": again[2].2})).await;
    client.subscribe("5", RESUMABLE, json!({"after": seen})).await;
    let everything = pushes(&mut client, "5", 5).await;
    assert_eq!(
        orders_and_statuses(&everything),
        [("M2", "PAID"), ("S1", "PAID"), ("M1", "REFUNDED"), ("M3", "PAID"), ("M4", "PAID")]
    );
    assert_eq!(orders_and_statuses(&pushes(&mut client, "5", 1).await), [("M5", "PAID")]);
    client.expect_silence(Duration::from_millis(500)).await;

    // Conversions resume from their pushes' extensions.cursor.
    let conversion = m2["conversion"]["id"].as_str().unwrap().to_string();
    let approvals = "subscription($after: String) { conversionApprovalChanged(after: $after) { id approval } }";
    client.subscribe("6", approvals, json!({})).await;
    let review = |mutation: &'static str| {
        let (app, key, id) = (&app, s.brand.key.clone(), conversion.clone());
        async move {
            let query = format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ conversion {{ id }} }} }}");
            app.data(&key, &query, json!({"id": id})).await;
        }
    };
    review("rejectConversion").await;
    let rejected = client.next_json(Duration::from_secs(10)).await.expect("a push");
    assert_eq!(rejected["payload"]["data"]["conversionApprovalChanged"]["approval"], "REJECTED");
    let cursor = rejected["payload"]["extensions"]["cursor"].as_str().expect("extensions.cursor").to_string();
    drop(client);
    review("undoRejection").await;
    let mut client = ws::connect(&app.url, Protocol::LegacyGraphqlWs, &s.brand.key).await;
    client.subscribe("7", approvals, json!({"after": cursor})).await;
    assert_eq!(
        client.next_data("7").await,
        json!({"conversionApprovalChanged": {"id": conversion, "approval": "APPROVED"}})
    );
    client.expect_silence(Duration::from_millis(500)).await;
}

async fn a_cursor_that_is_not_one_or_is_too_old_is_refused_with_its_code(backend: Backend) {
    use base64::Engine;
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let eight_days_ago = chrono::Utc::now().timestamp_millis() - 8 * 24 * 3600 * 1000;
    for (id, after, want) in [
        ("garbage", "not a cursor".to_string(), "BAD_USER_INPUT"),
        ("order-cursor", encode("ord:1:1"), "BAD_USER_INPUT"),
        ("old", encode(&format!("evt:1:{eight_days_ago}:")), "CURSOR_EXPIRED"),
        ("ahead", encode(&format!("evt:999999:{}:", chrono::Utc::now().timestamp_millis())), "BAD_USER_INPUT"),
    ] {
        client
            .send(
                json!({"id": id, "type": "subscribe", "payload": {"query": RESUMABLE, "variables": {"after": after}}}),
            )
            .await;
        let refusal = client.next_json(Duration::from_secs(10)).await.expect("a refusal");
        assert_eq!((refusal["type"].as_str(), refusal["id"].as_str()), (Some("error"), Some(id)), "{refusal}");
        assert_eq!(refusal["payload"][0]["extensions"]["code"], want, "{refusal}");
    }
}

async fn caps_on_sockets_per_key_and_sockets_awaiting_init_refuse_with_codes(backend: Backend) {
    let limits = tally::graphql::Limits { ws_max_sockets_per_key: 2, ws_max_awaiting_init: 2, ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let s = one_member(&app, "10").await;
    let first = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    let _second = ws::connect(&app.url, Protocol::LegacyGraphqlWs, &s.brand.key).await;
    let mut third = ws::open(&app.url, Protocol::TransportWs).await;
    third
        .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", s.brand.key)}}))
        .await;
    assert_eq!(third.close_code(Duration::from_secs(5)).await, Some(1013), "over the key's cap of sockets");
    // Another key is not held back; a socket closed frees its place.
    let viewer = app.viewer_key(&s.brand).await;
    let _other_key = ws::connect(&app.url, Protocol::TransportWs, &viewer).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _again = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;

    // Sockets that have not sent connection_init: past the cap, the upgrade is refused.
    let quiet = [ws::open(&app.url, Protocol::TransportWs).await, ws::open(&app.url, Protocol::TransportWs).await];
    let url = format!("{}/graphql/ws", app.url.replacen("http", "ws", 1));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
        }
        other => panic!("expected a 503 refusal, got {:?}", other.map(|(_, r)| r.status())),
    }
    drop(quiet);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _viewer_again = ws::connect(&app.url, Protocol::TransportWs, &viewer).await;
}

/// Answers over the websocket keep the order the query asked for, key by key, both a
/// subscription's events and a query sent on the socket (serde_json keeps the order read).
async fn answers_over_the_websocket_keep_the_field_order_of_the_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &s.brand.key).await;
    let sub = "subscription { orderStatusChanged { status changedAt order { status campaign { name } externalId } previousStatus } }";
    client.subscribe("1", sub, json!({})).await;
    app.order_event(&s.brand, event("77", "PAID", "2026-03-01T10:00:00Z", "ANA10")).await;
    let data = client.next_data("1").await;
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let changed = &data["orderStatusChanged"];
    assert_eq!(keys(changed), ["status", "changedAt", "order", "previousStatus"], "{data}");
    assert_eq!(keys(&changed["order"]), ["status", "campaign", "externalId"], "{data}");

    let query = "{ dashboard { totalSales byCampaign { sales campaign { name id } orders } } brand { currency name } }";
    client.subscribe("2", query, json!({})).await;
    let data = client.next_data("2").await;
    assert_eq!(keys(&data), ["dashboard", "brand"], "{data}");
    assert_eq!(keys(&data["dashboard"]), ["totalSales", "byCampaign"], "{data}");
    assert_eq!(keys(&data["dashboard"]["byCampaign"][0]), ["sales", "campaign", "orders"], "{data}");
    assert_eq!(keys(&data["dashboard"]["byCampaign"][0]["campaign"]), ["name", "id"], "{data}");
    assert_eq!(keys(&data["brand"]), ["currency", "name"], "{data}");
}

on_both_backends!(
    answers_over_the_websocket_keep_the_field_order_of_the_query,
    resuming_with_a_cursor_replays_exactly_what_was_missed_then_goes_live,
    a_cursor_that_is_not_one_or_is_too_old_is_refused_with_its_code,
    caps_on_sockets_per_key_and_sockets_awaiting_init_refuse_with_codes,
    each_event_costs_the_same_statements_for_1_subscriber_as_for_50,
    protocol_violations_close_with_their_codes_and_caps_refuse_with_codes,
    revoking_a_key_closes_its_open_sockets_with_4403,
    status_changes_reach_subscribers_over_graphql_transport_ws,
    approval_changes_reach_subscribers_over_the_legacy_protocol,
    subscribers_see_only_their_campaign_and_their_brand,
    sockets_without_a_valid_key_or_init_are_closed_with_protocol_codes,
    a_subscriber_that_stops_reading_is_closed_with_4008_and_slows_no_one,
);
