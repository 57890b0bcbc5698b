//! Hostile input, sent as an attacker would: no request stalls the server, and every limit
//! answers LIMIT_EXCEEDED on every transport.
#![recursion_limit = "256"]

mod common;

use std::time::Duration;

use common::ws::{self, Protocol};
use common::*;
use serde_json::{Value, json};
use tally::graphql::Limits;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Fragments that each spread the one below twice: 2^levels expansions in under 1 KB.
fn fragment_bomb(levels: usize) -> String {
    let name = |i: usize| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i]);
    let mut q = format!("query{{...{}}}fragment A on Query{{brand{{name}}}}", name(levels));
    for i in 1..=levels {
        q.push_str(&format!("fragment {} on Query{{...{}...{}}}", name(i), name(i - 1), name(i - 1)));
    }
    q
}

/// A POST to /graphql with a deadline far past any honest answer: a stall fails the test
/// instead of hanging it.
async fn post(app: &TestApp, key: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(key)
        .json(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("an answer, not a stall");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

async fn a_fragment_bomb_is_refused_while_small_queries_answer(backend: Backend) {
    let app = spawn_app_with(backend, Limits { rate_per_second: 0, ..Default::default() }).await;
    let brand = app.brand("Acme").await;
    let bomb = fragment_bomb(30);
    assert!(bomb.len() < 1024, "{} bytes", bomb.len());

    let (status, _, answer) = post(&app, &brand.key, &json!({ "query": bomb })).await;
    assert_eq!((status, code(&answer)), (200, "LIMIT_EXCEEDED"), "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("20000") && message.contains("--max-complexity"), "{message}");

    // Bombs keep arriving from several clients while others ask small questions.
    let attacker = {
        let (app_url, key, bomb) = (app.url.clone(), brand.key.clone(), bomb.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut refused = 0;
            for _ in 0..40 {
                let sends = (0..4).map(|_| {
                    http.post(format!("{app_url}/graphql"))
                        .bearer_auth(&key)
                        .json(&json!({ "query": bomb }))
                        .timeout(Duration::from_secs(20))
                        .send()
                });
                for response in futures_util::future::join_all(sends).await {
                    let answer: Value = response.expect("an answer").json().await.unwrap();
                    assert_eq!(code(&answer), "LIMIT_EXCEEDED");
                    refused += 1;
                }
            }
            refused
        })
    };
    for _ in 0..20 {
        let (status, _, answer) = post(&app, &brand.key, &json!({ "query": "{ brand { name } }" })).await;
        assert_eq!((status, &answer["data"]["brand"]["name"]), (200, &json!("Acme")), "{answer}");
        let health = app.http.get(format!("{}/health", app.url)).timeout(Duration::from_secs(20)).send().await;
        assert_eq!(health.expect("health answers").status(), 200);
    }
    assert_eq!(attacker.await.unwrap(), 160);

    // The same document over the websocket, on both protocols.
    for protocol in [Protocol::TransportWs, Protocol::LegacyGraphqlWs] {
        let mut client = ws::connect(&app.url, protocol, &brand.key).await;
        client.subscribe("bomb", &bomb, json!({})).await;
        let refusal = client.next_json(Duration::from_secs(20)).await.expect("a refusal");
        assert_eq!((refusal["type"].as_str(), refusal["id"].as_str()), (Some("error"), Some("bomb")), "{refusal}");
        assert_eq!(refusal["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{refusal}");
        // The connection stays usable.
        client.subscribe("q", "query { brand { name } }", json!({})).await;
        assert_eq!(client.next_data("q").await["brand"]["name"], "Acme");
    }
}

async fn aggregates_weigh_what_they_cost(backend: Backend) {
    let app = spawn_app_with(backend, Limits { rate_per_second: 0, ..Default::default() }).await;
    let brand = app.brand("Acme").await;
    let aliases = |n: usize| (0..n).map(|i| format!("d{i}: dashboard {{ orders }}")).collect::<Vec<_>>().join(" ");

    let (_, _, answer) = post(&app, &brand.key, &json!({ "query": format!("{{ {} }}", aliases(6000)) })).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED", "6,000 dashboards");
    let batch: Vec<Value> = (0..10).map(|_| json!({ "query": format!("{{ {} }}", aliases(3700)) })).collect();
    let (_, _, answer) = post(&app, &brand.key, &json!(batch)).await;
    assert!(answer.as_array().unwrap().iter().all(|a| code(a) == "LIMIT_EXCEEDED"), "10 × 3,700 dashboards");
    // What stays allowed: a few dashboards, and a batch whose sum is within the limit.
    let (_, _, answer) = post(&app, &brand.key, &json!({ "query": format!("{{ {} }}", aliases(10)) })).await;
    assert_eq!(answer["data"]["d9"]["orders"], 0, "{answer}");
    let batch: Vec<Value> = (0..10).map(|_| json!({ "query": format!("{{ {} }}", aliases(5)) })).collect();
    let (_, _, answer) = post(&app, &brand.key, &json!(batch)).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED", "50 dashboards in one batch: {answer}");
    let batch: Vec<Value> = (0..4).map(|_| json!({ "query": format!("{{ {} }}", aliases(4)) })).collect();
    let (_, _, answer) = post(&app, &brand.key, &json!(batch)).await;
    assert_eq!(answer[3]["data"]["d3"]["orders"], 0, "{answer}");
    // Counting rows weighs as well: 300 totalCounts.
    let counts = (0..300).map(|i| format!("c{i}: orders(first: 0) {{ totalCount }}")).collect::<Vec<_>>().join(" ");
    let (_, _, answer) = post(&app, &brand.key, &json!({ "query": format!("{{ {counts} }}") })).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED");
}

async fn each_key_is_rate_limited_with_retry_after_and_ratelimit_headers(backend: Backend) {
    let limits = Limits { rate_per_second: 1, rate_burst: 3, ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let brand = app.brand("Acme").await;
    let other = app.viewer_key(&brand).await;
    let small = json!({ "query": "{ brand { name } }" });
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (status, headers, _) = post(&app, &brand.key, &small).await;
        assert_eq!(status, 200);
        assert_eq!(headers["ratelimit-limit"], "3");
        remaining.push(headers["ratelimit-remaining"].to_str().unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(remaining, [2, 1, 0]);
    let (status, headers, answer) = post(&app, &brand.key, &small).await;
    assert_eq!((status, code(&answer)), (429, "LIMIT_EXCEEDED"), "{answer}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(answer["errors"][0]["extensions"]["retryAfter"], retry);
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("--rate-limit"));
    // An export is an operation of the key too.
    let export = app.http.get(format!("{}/exports/sales.csv", app.url)).bearer_auth(&brand.key).send().await.unwrap();
    assert_eq!(export.status(), 429);
    assert!(export.headers().contains_key("retry-after"));
    // Another key of the same brand has its own allowance.
    let (status, _, _) = post(&app, &other, &small).await;
    assert_eq!(status, 200);
    // Over the websocket an operation past the limit is refused the same way.
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &other).await;
    for i in 0..3 {
        client.subscribe(&format!("s{i}"), "subscription { orderStatusChanged { status } }", json!({})).await;
    }
    let refusal = client.next_json(Duration::from_secs(5)).await.expect("a refusal");
    assert_eq!((refusal["type"].as_str(), refusal["id"].as_str()), (Some("error"), Some("s2")), "{refusal}");
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    // The allowance comes back.
    tokio::time::sleep(Duration::from_millis(1100 * retry)).await;
    let (status, _, _) = post(&app, &brand.key, &small).await;
    assert_eq!(status, 200);
}

async fn expensive_operations_of_one_key_wait_their_turn(backend: Backend) {
    let limits = Limits { expensive_per_key: 1, expensive_wait: Duration::from_millis(300), ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let brand = app.brand("Acme").await;
    let key_id = tally::domain::auth::authenticate(&app.state.db, &brand.key).await.unwrap().key_id;
    // The key's only turn is taken (as by a long aggregate in flight).
    let turn = app.state.throttle.turn(key_id, u64::MAX).await.unwrap();
    let dashboard = json!({ "query": "{ dashboard { orders } }" });
    let (status, headers, answer) = post(&app, &brand.key, &dashboard).await;
    assert_eq!((status, code(&answer)), (429, "LIMIT_EXCEEDED"), "{answer}");
    assert_eq!(headers["retry-after"], "1");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("expensive"));
    // Cheap work does not wait, and another key is not held up.
    let (status, _, _) = post(&app, &brand.key, &json!({ "query": "{ brand { name } }" })).await;
    assert_eq!(status, 200);
    let viewer = app.viewer_key(&brand).await;
    let (status, _, _) = post(&app, &viewer, &dashboard).await;
    assert_eq!(status, 200);
    // An export is expensive for as long as it streams.
    let export = app.http.get(format!("{}/exports/sales.csv", app.url)).bearer_auth(&brand.key).send().await.unwrap();
    assert_eq!(export.status(), 429);
    drop(turn);
    let export = app.http.get(format!("{}/exports/sales.csv", app.url)).bearer_auth(&brand.key).send().await.unwrap();
    assert_eq!(export.status(), 200);
    assert!(export.headers().contains_key("ratelimit-remaining"));
    export.text().await.unwrap();
    let (status, _, answer) = post(&app, &brand.key, &dashboard).await;
    assert_eq!((status, &answer["data"]["dashboard"]["orders"]), (200, &json!(0)));
}

/// Opens a raw connection to the app.
async fn raw(app: &TestApp) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(&app.addr).await.unwrap()
}

/// Reads until the server closes the connection (or the deadline passes); returns what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream, deadline: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(deadline, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

async fn slow_and_oversized_requests_are_cut_off(backend: Backend) {
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let app = spawn_app_with(backend, limits).await;
    let brand = app.brand("Acme").await;

    // Headers that never finish: the connection is closed.
    let mut slow = raw(&app).await;
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n").await.unwrap();
    assert!(read_to_close(&mut slow, Duration::from_secs(10)).await.is_some(), "closed after the header timeout");

    // A body that stops halfway: 408 LIMIT_EXCEEDED.
    let mut slow = raw(&app).await;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\":",
        brand.key
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut slow, Duration::from_secs(10)).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("LIMIT_EXCEEDED") && answer.contains("--body-timeout"), "{answer}");

    // A declared Content-Length past the cap: 413 before a byte of body is sent.
    let mut big = raw(&app).await;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n",
        brand.key
    );
    big.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut big, Duration::from_secs(5)).await.expect("refused at once");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("LIMIT_EXCEEDED") && answer.contains("1048576"), "{answer}");
    // A chunked body (no length declared) that grows past the cap is refused as well.
    let mut chunked = raw(&app).await;
    let head = format!(
        "POST /webhooks/{}/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        brand.id
    );
    chunked.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
    for _ in 0..20 {
        if chunked.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let answer = read_to_close(&mut chunked, Duration::from_secs(5)).await.expect("refused");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#"{"error":{"code":"LIMIT_EXCEEDED""#), "{answer}");
}

async fn a_request_past_the_request_timeout_answers_503(backend: Backend) {
    let limits = Limits { request_timeout: Duration::from_millis(400), ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let brand = app.brand("Acme").await;
    // Hold what the request needs: SQLite's one connection, PostgreSQL's api_keys table.
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let hold = app.state.db.begin().await.unwrap();
    if backend == Backend::Postgres {
        hold.execute_unprepared("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE").await.unwrap();
    }
    let (status, headers, answer) = post(&app, &brand.key, &json!({ "query": "{ brand { name } }" })).await;
    assert_eq!((status, code(&answer)), (503, "LIMIT_EXCEEDED"), "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("--request-timeout"));
    assert!(headers.contains_key("retry-after"));
    hold.rollback().await.unwrap();
    let (status, _, _) = post(&app, &brand.key, &json!({ "query": "{ brand { name } }" })).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_postgres_statement_timeout_answers_limit_exceeded() {
    let limits = Limits { statement_timeout: Duration::from_millis(300), ..Default::default() };
    let app = spawn_app_with(Backend::Postgres, limits).await;
    let brand = app.brand("Acme").await;
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let database = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let hold = database.begin().await.unwrap();
    hold.execute_unprepared("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let (status, _, answer) = post(&app, &brand.key, &json!({ "query": "{ brand { name } }" })).await;
    assert_eq!((status, code(&answer)), (503, "LIMIT_EXCEEDED"), "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("--statement-timeout"));
    hold.rollback().await.unwrap();
}

async fn nesting_too_deep_answers_limit_exceeded_on_both_transports(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    // Past the parser's own nesting limit.
    let deep = format!("{{ {}name{} }}", "brand { ".repeat(70), " }".repeat(70));
    let (_, _, answer) = post(&app, &brand.key, &json!({ "query": deep })).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED", "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("--max-depth"));
    // Far past it, in selection sets and in values, where the parser's own error used to
    // answer BAD_USER_INPUT.
    let deeper = format!("{{ {}name{} }}", "brand { ".repeat(10_000), " }".repeat(10_000));
    let values =
        format!("{{ orders(filter: {{status: {}PAID{}}}) {{ totalCount }} }}", "[".repeat(10_000), "]".repeat(10_000));
    for query in [deeper, values] {
        let (_, _, answer) = post(&app, &brand.key, &json!({ "query": query })).await;
        assert_eq!(code(&answer), "LIMIT_EXCEEDED", "{answer}");
    }
    // Past --max-depth (12) with fields the schema has.
    let thirteen = "{ orders { edges { node { campaign { orders { edges { node { campaign { orders { edges { node { campaign { id } } } } } } } } } } } } }";
    let (_, _, answer) = post(&app, &brand.key, &json!({ "query": thirteen })).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED", "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("--max-depth"));
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &brand.key).await;
    client.subscribe("deep", &deep, json!({})).await;
    let refusal = client.next_json(Duration::from_secs(5)).await.expect("a refusal");
    assert_eq!(refusal["type"], "error");
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    // A document the engine refuses is BAD_USER_INPUT on both transports, and on the
    // websocket it is the protocol's `error` message.
    client.subscribe("bad", "subscription { noSuchField }", json!({})).await;
    let refusal = client.next_json(Duration::from_secs(5)).await.expect("a refusal");
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refusal}");
}

async fn the_standard_introspection_query_passes(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let query = include_str!("fixtures/introspection.graphql");
    let (status, _, answer) = post(&app, &brand.key, &json!({ "query": query })).await;
    assert_eq!(status, 200);
    assert!(answer.get("errors").is_none(), "{answer}");
    assert!(answer["data"]["__schema"]["types"].as_array().unwrap().len() > 20);
}

fn event(external_id: &str, status: &str, at: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "externalId": external_id, "amount": "40.00", "currency": "USD", "status": status,
        "occurredAt": at, "couponCode": "ANA10"
    }))
    .unwrap()
}

async fn equal_event_times_end_alike_whatever_the_arrival_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let orders = [
        ["PAID", "REFUNDED", "CANCELED"],
        ["CANCELED", "REFUNDED", "PAID"],
        ["REFUNDED", "PAID", "CANCELED"],
        ["PAID", "CANCELED", "REFUNDED"],
        ["CANCELED", "PAID", "REFUNDED"],
        ["REFUNDED", "CANCELED", "PAID"],
    ];
    let at = "2026-03-03T10:00:00Z";
    for (i, arrival) in orders.iter().enumerate() {
        let id = format!("same-instant-{i}");
        let mut order_id = String::new();
        for status in arrival {
            let d = app.signed(&s.brand, &event(&id, status, at)).await;
            assert_eq!(d.status, 200, "{}", d.body);
            order_id = d.body["orderId"].as_str().unwrap().to_string();
        }
        let d = app
            .data(
                &s.brand.key,
                "query($id: ID!) { node(id: $id) { ... on Order { status history { status } } } }",
                json!({ "id": order_id }),
            )
            .await;
        assert_eq!(d["node"]["status"], "REFUNDED", "arrival {arrival:?}");
        assert_eq!(d["node"]["history"].as_array().unwrap().len(), 3);
    }
    // Paid then canceled at one instant: canceled, either way round.
    for (i, arrival) in [["PAID", "CANCELED"], ["CANCELED", "PAID"]].iter().enumerate() {
        let id = format!("pc-{i}");
        for status in arrival {
            app.signed(&s.brand, &event(&id, status, at)).await;
        }
    }
    let d = app.data(&s.brand.key, "{ orders(filter: {status: [CANCELED]}) { totalCount } }", json!({})).await;
    assert_eq!(d["orders"]["totalCount"], 2);
    let d = app.data(&s.brand.key, "{ dashboard { orders totalSales } }", json!({})).await;
    assert_eq!(d["dashboard"], json!({ "orders": 8, "totalSales": "0.00" }));
}

async fn far_future_event_times_are_refused_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let shopify = with_coupon(shopify_order(7001, "paid", "30.00", "9999-12-31T23:59:59Z"), "ANA10");
    let d = app.shopify(&s.brand, "orders/paid", &shopify).await;
    assert_eq!((d.status, &d.body["error"]["code"]), (400, &json!("BAD_USER_INPUT")), "{}", d.body);
    assert!(d.body["error"]["message"].as_str().unwrap().contains("future"));
    let d = app.signed(&s.brand, &event("7002", "PAID", "9999-01-01T00:00:00Z")).await;
    assert_eq!(d.status, 400);
    let answer = app
        .gql(&s.brand.key, "mutation { recordOrderEvent(input: {externalId: \"7003\", amount: \"1.00\", currency: \"USD\", status: PAID, occurredAt: \"9999-01-01T00:00:00Z\", couponCode: \"ANA10\"}) { id } }", json!({}))
        .await;
    assert_eq!((code(&answer), &answer["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT", &json!("occurredAt")));
    assert_eq!(app.order_count(&s.brand).await, 0);
    // An order that exists is not frozen by a far-future event: the real refund applies.
    app.signed(&s.brand, &event("7004", "PAID", "2026-03-03T10:00:00Z")).await;
    let d = app.signed(&s.brand, &event("7004", "PAID", "9999-01-01T00:00:00Z")).await;
    assert_eq!(d.status, 400);
    app.signed(&s.brand, &event("7004", "REFUNDED", "2026-03-05T10:00:00Z")).await;
    let d = app.data(&s.brand.key, "{ orders { edges { node { status history { status } } } } }", json!({})).await;
    assert_eq!(d["orders"]["edges"][0]["node"]["status"], "REFUNDED");
    assert_eq!(d["orders"]["edges"][0]["node"]["history"].as_array().unwrap().len(), 2);
}

async fn unknown_brands_answer_exactly_like_bad_signatures(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let payload = with_coupon(shopify_order(7101, "paid", "30.00", "2026-03-04T10:00:00Z"), "ANA10");
    let body = serde_json::to_vec(&payload).unwrap();
    // The next sequential id, a malformed one, and the real one with a forged signature.
    let next = tally::ids::encode(
        tally::ids::Kind::Brand,
        tally::ids::decode(tally::ids::Kind::Brand, &s.brand.id).unwrap() + 1,
    );
    let forged = app.shopify_raw(&s.brand.id, "orders/paid", body.clone(), Some("bm90IGEgc2lnbmF0dXJl")).await;
    for id in [next.as_str(), "QnJhbmQ6OTk5", "not-an-id"] {
        let unknown = app.shopify(&TestBrand { id: id.to_string(), ..s.brand.clone() }, "orders/paid", &payload).await;
        assert_eq!((unknown.status, &unknown.body), (forged.status, &forged.body), "{id}");
        let unknown = app
            .signed(&TestBrand { id: id.to_string(), ..s.brand.clone() }, &event("1", "PAID", "2026-03-03T10:00:00Z"))
            .await;
        assert_eq!((unknown.status, &unknown.body), (forged.status, &forged.body), "{id}");
    }
    assert_eq!(forged.status, 401);
    assert_eq!(app.order_count(&s.brand).await, 0);
}

async fn demo_never_keys_a_brand_it_did_not_create(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let real = {
        let app = spawn_on(backend, &database_url, Limits::default()).await;
        let real = app.brand("Real Brand").await;
        app.create_creator(&real, "Private Person").await;
        real
    };
    let (child, key, url) = serve_demo(&database_url).await;
    let http = reqwest::Client::new();
    let ask = |key: String, url: String| {
        let http = http.clone();
        async move {
            let answer: Value = http
                .post(format!("{url}/graphql"))
                .bearer_auth(key)
                .json(&json!({ "query": "{ brand { name } creators(includeDeleted: true) { totalCount } }" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["data"].clone()
        }
    };
    let d = ask(key.clone(), url.clone()).await;
    assert_eq!(d["brand"]["name"], "Glow Cosmetics", "the demo keyed its own brand, not the real one");
    assert_eq!(d["creators"]["totalCount"], 12);
    let page = http.get(format!("{url}/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&key) && !page.contains(&real.key));
    drop(child);
    // A restart shows the same key and mints none, for either brand.
    let (_child, again, url) = serve_demo(&database_url).await;
    assert_eq!(again, key);
    let d = ask(real.key.clone(), url).await;
    assert_eq!(d["brand"]["name"], "Real Brand");
    let db = sea_orm::Database::connect(&database_url).await.unwrap();
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entity::api_key::Entity::find().count(&db).await.unwrap(), 3, "the real brand's key, the demo's two");
}

async fn orders_at_the_cap_add_up_exactly_and_never_overflow(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = one_member(&app, "10").await;
    let cap = "100000000000.00";
    for i in 0..3 {
        let body = serde_json::to_vec(&json!({
            "externalId": format!("cap-{i}"), "amount": cap, "currency": "USD", "status": "PAID",
            "occurredAt": "2026-03-03T10:00:00Z", "couponCode": "ANA10"
        }))
        .unwrap();
        assert_eq!(app.signed(&s.brand, &body).await.status, 200);
    }
    let over = app
        .gql(&s.brand.key, "mutation { recordOrderEvent(input: {externalId: \"over\", amount: \"100000000000.01\", currency: \"USD\", status: PAID, occurredAt: \"2026-03-03T10:00:00Z\", couponCode: \"ANA10\"}) { id } }", json!({}))
        .await;
    assert_eq!((code(&over), &over["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT", &json!("amount")));
    let q = "query($c: ID!) { campaign(id: $c) { performance { totals { sales commission } } } dashboard { totalSales commission } }";
    let d = app.data(&s.brand.key, q, json!({ "c": s.campaign })).await;
    assert_eq!(
        d["campaign"]["performance"]["totals"],
        json!({ "sales": "300000000000.00", "commission": "30000000000.00" })
    );
    assert_eq!(d["dashboard"], json!({ "totalSales": "300000000000.00", "commission": "30000000000.00" }));

    // A day's bucket that is nearly full refuses the order that would overflow it; nothing
    // is stored and the bucket stays an exact integer.
    use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
    let near = tally::domain::rollup::BUCKET_CAP - 5;
    app.state.db.execute_unprepared(&format!("UPDATE order_rollups SET sales = {near}")).await.unwrap();
    let body = serde_json::to_vec(&json!({
        "externalId": "overflow", "amount": "1.00", "currency": "USD", "status": "PAID",
        "occurredAt": "2026-03-03T11:00:00Z", "couponCode": "ANA10"
    }))
    .unwrap();
    let d = app.signed(&s.brand, &body).await;
    assert_eq!((d.status, &d.body["error"]["code"]), (400, &json!("BAD_USER_INPUT")), "{}", d.body);
    assert_eq!(app.order_count(&s.brand).await, 3);
    #[derive(FromQueryResult)]
    struct Bucket {
        sales: i64,
    }
    let backend_kind = app.state.db.get_database_backend();
    let row = Bucket::find_by_statement(Statement::from_string(backend_kind, "SELECT sales FROM order_rollups"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sales, near);
    if backend == Backend::Sqlite {
        #[derive(FromQueryResult)]
        struct Kind {
            kind: String,
        }
        let kind = Kind::find_by_statement(Statement::from_string(
            backend_kind,
            "SELECT typeof(sales) AS kind FROM order_rollups",
        ))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
        assert_eq!(kind.kind, "integer");
    }

    // So does a creator's all-time row, on a day of its own.
    app.state.db.execute_unprepared("UPDATE order_rollups SET sales = 0").await.unwrap();
    app.state.db.execute_unprepared(&format!("UPDATE order_totals SET sales = {near}")).await.unwrap();
    let d = app.signed(&s.brand, &body).await;
    assert_eq!((d.status, &d.body["error"]["code"]), (400, &json!("BAD_USER_INPUT")), "{}", d.body);
    assert_eq!(app.order_count(&s.brand).await, 3);
    let row = Bucket::find_by_statement(Statement::from_string(backend_kind, "SELECT sales FROM order_totals"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sales, near);

    // And its month's row.
    app.state.db.execute_unprepared("UPDATE order_totals SET sales = 0").await.unwrap();
    app.state.db.execute_unprepared(&format!("UPDATE order_months SET sales = {near}")).await.unwrap();
    let d = app.signed(&s.brand, &body).await;
    assert_eq!((d.status, &d.body["error"]["code"]), (400, &json!("BAD_USER_INPUT")), "{}", d.body);
    assert_eq!(app.order_count(&s.brand).await, 3);
    let row = Bucket::find_by_statement(Statement::from_string(backend_kind, "SELECT sales FROM order_months"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sales, near);
}

async fn a_panic_answers_500_internal_and_the_server_keeps_serving(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let state = tally::app::AppState::new(&database_url, Limits::default()).await.unwrap();
    let boom = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            "never"
        }),
    );
    let router = tally::app::router_with(state.clone(), boom);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(tally::http::serve::serve(listener, router, Duration::from_secs(10), std::future::pending()));
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let response = http.get(format!("{url}/boom")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": { "code": "INTERNAL", "message": "internal error" } }));
    }
    assert_eq!(http.get(format!("{url}/health")).send().await.unwrap().status(), 200);
}

async fn a_megabyte_of_fields_is_refused_and_long_lists_are_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    // Up to the body cap with aliases: refused from a scan of the text, unparsed.
    let aliases = (0..45_000).map(|i| format!("a{i}: brand {{ name }}")).collect::<Vec<_>>().join(" ");
    let query = format!("{{ {aliases} }}");
    assert!(query.len() > 1_000_000 && query.len() < 1_048_000);
    let (status, _, answer) = post(&app, &brand.key, &json!({ "query": query })).await;
    assert_eq!((status, code(&answer)), (200, "LIMIT_EXCEEDED"), "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("at least 90000 fields"), "{answer}");
    // Up to the body cap with values in one argument: refused from the scan as well.
    let values = vec!["PAID"; 170_000].join(", ");
    let query = format!("{{ orders(filter: {{status: [{values}]}}) {{ totalCount }} }}");
    let (_, _, answer) = post(&app, &brand.key, &json!({ "query": query })).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED", "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("names, numbers and strings"));
    // A status filter repeating one status 30,000 times is one status (it once exceeded
    // SQLite's 32,766 bound parameters and answered INTERNAL).
    let statuses = vec!["PAID"; 30_000].join(", ");
    let query = format!("{{ orders(filter: {{status: [{statuses}, REFUNDED]}}) {{ totalCount }} }}");
    let (status, _, answer) = post(&app, &brand.key, &json!({ "query": query })).await;
    assert_eq!((status, &answer["data"]["orders"]["totalCount"]), (200, &json!(0)), "{answer}");
}

/// With its descriptors used up, `tally serve` answers a new connection 503 and closes it
/// (it keeps one descriptor in reserve for that), and serves again once some are freed.
async fn out_of_descriptors_a_connection_is_refused_with_503_not_left_waiting(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let mut child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -n 96 && exec "$0" serve --addr 127.0.0.1:0"#)
        .arg(env!("CARGO_BIN_EXE_tally"))
        .env("DATABASE_URL", &database_url)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("Tally listening on http://") {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    let mut held = Vec::new();
    let mut refusal = None;
    for _ in 0..300 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // An accepted connection waits for its request; a refused one is answered and closed.
        if let Some(answer) = read_to_close(&mut stream, Duration::from_millis(100)).await {
            refusal = Some(answer);
            break;
        }
        held.push(stream);
    }
    let refusal = refusal.expect("a refusal before 300 connections with 96 descriptors");
    assert!(refusal.starts_with("HTTP/1.1 503"), "{refusal}");
    assert!(refusal.contains("LIMIT_EXCEEDED"), "{refusal}");
    drop(held);
    // Once the held connections are gone (and the backlog behind them drained), it serves.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match reqwest::get(format!("http://{addr}/health")).await {
            Ok(health) if health.status() == 200 => break,
            other => assert!(tokio::time::Instant::now() < deadline, "still refusing: {other:?}"),
        }
    }
}

on_both_backends!(
    out_of_descriptors_a_connection_is_refused_with_503_not_left_waiting,
    a_megabyte_of_fields_is_refused_and_long_lists_are_answered,
    a_fragment_bomb_is_refused_while_small_queries_answer,
    aggregates_weigh_what_they_cost,
    each_key_is_rate_limited_with_retry_after_and_ratelimit_headers,
    expensive_operations_of_one_key_wait_their_turn,
    slow_and_oversized_requests_are_cut_off,
    a_request_past_the_request_timeout_answers_503,
    nesting_too_deep_answers_limit_exceeded_on_both_transports,
    the_standard_introspection_query_passes,
    equal_event_times_end_alike_whatever_the_arrival_order,
    far_future_event_times_are_refused_and_store_nothing,
    unknown_brands_answer_exactly_like_bad_signatures,
    demo_never_keys_a_brand_it_did_not_create,
    orders_at_the_cap_add_up_exactly_and_never_overflow,
    a_panic_answers_500_internal_and_the_server_keeps_serving,
);
