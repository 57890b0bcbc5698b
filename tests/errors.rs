//! Errors that help: each names what was wrong and how to put it right, as graphql-js
//! would word it where graphql-js has a word for it.
mod common;

use std::time::Duration;

use common::ws::{self, Protocol};
use common::*;
use serde_json::{Value, json};

fn message(answer: &Value) -> &str {
    answer["errors"][0]["message"].as_str().unwrap_or_else(|| panic!("no error in {answer:#}"))
}

async fn enum_values_are_accepted_only_as_enum_literals(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let quoted = app.gql(&brand.key, r#"{ orders(filter: {status: "PAID"}) { totalCount } }"#, json!({})).await;
    assert_eq!(code(&quoted), "BAD_USER_INPUT", "{quoted}");
    assert_eq!(
        message(&quoted),
        r#"Enum "OrderStatus" cannot represent non-enum value: "PAID". Did you mean the enum value PAID?"#
    );
    // In a list, in a nested input, and a name that is no value at all.
    let listed =
        app.gql(&brand.key, r#"{ orders(filter: {status: [PAID, "PAYED"]}) { totalCount } }"#, json!({})).await;
    assert_eq!(
        message(&listed),
        r#"Enum "OrderStatus" cannot represent non-enum value: "PAYED". Its values are PAID, CANCELED, REFUNDED."#
    );
    // Inside a fragment, which the walk of the operation does not enter.
    let fragment = r#"query { ...F } fragment F on Query { orders(filter: {status: ["REFUNDED"]}) { totalCount } }"#;
    assert_eq!(code(&app.gql(&brand.key, fragment, json!({})).await), "BAD_USER_INPUT");
    // The same over the websocket, as the protocol's `error` message.
    let mut client = ws::connect(&app.url, Protocol::TransportWs, &brand.key).await;
    let nested = r#"subscription { orderStatusChanged { order { campaign { orders(filter: {status: "PAID"}) { totalCount } } } } }"#;
    client.subscribe("q", nested, json!({})).await;
    let refusal = client.next_json(Duration::from_secs(5)).await.expect("a refusal");
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert!(refusal["payload"][0]["message"].as_str().unwrap().contains("cannot represent non-enum value"));

    // Enum literals, and enum values as JSON strings in variables, are answered.
    let literal =
        app.data(&brand.key, "{ orders(filter: {status: [PAID, REFUNDED]}) { totalCount } }", json!({})).await;
    assert_eq!(literal["orders"]["totalCount"], 0);
    let variables = "query($s: [OrderStatus!]) { orders(filter: {status: $s}) { totalCount } }";
    let answer = app.data(&brand.key, variables, json!({ "s": ["PAID"] })).await;
    assert_eq!(answer["orders"]["totalCount"], 0);
    // A string where a string goes is left alone.
    let named = app.data(&brand.key, r#"{ __type(name: "OrderStatus") { kind } }"#, json!({})).await;
    assert_eq!(named["__type"]["kind"], "ENUM");
}

async fn a_required_variable_not_sent_is_named_with_its_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let query = "query($id: ID!, $first: Int = 5) { node(id: $id) { id } campaigns(first: $first) { totalCount } }";
    let missing = app.gql(&brand.key, query, json!({})).await;
    assert_eq!(code(&missing), "BAD_USER_INPUT");
    assert_eq!(message(&missing), r#"Variable "$id" of required type "ID!" was not provided."#);
    let null = app.gql(&brand.key, query, json!({ "id": null })).await;
    assert_eq!(message(&null), r#"Variable "$id" of non-null type "ID!" must not be null."#);
    // Sent, with the defaulted one left out.
    let sent = app.data(&brand.key, query, json!({ "id": "Q2FtcGFpZ246OTk" })).await;
    assert_eq!(sent, json!({ "node": null, "campaigns": { "totalCount": 0 } }));
}

async fn unknown_names_get_a_did_you_mean(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let answer = app.gql(&brand.key, "{ dashbord { orders } }", json!({})).await;
    assert_eq!(code(&answer), "BAD_USER_INPUT");
    assert_eq!(message(&answer), r#"Unknown field "dashbord" on type "Query". Did you mean "dashboard"?"#);
    let answer = app.gql(&brand.key, "{ campaigns(frist: 2) { totalCount } }", json!({})).await;
    assert_eq!(message(&answer), r#"Unknown argument "frist" on field "Query.campaigns". Did you mean "first"?"#);
    let answer = app.gql(&brand.key, "{ orders(filter: {stauts: [PAID]}) { totalCount } }", json!({})).await;
    assert_eq!(code(&answer), "BAD_USER_INPUT");
    assert_eq!(message(&answer), r#"Field "stauts" is not defined by type "OrderFilter". Did you mean "status"?"#);
    // Nothing close: no guess.
    let answer = app.gql(&brand.key, "{ campaigns(zzzzzzzz: 2) { totalCount } }", json!({})).await;
    assert_eq!(message(&answer), r#"Unknown argument "zzzzzzzz" on field "Query.campaigns"."#);
}

async fn every_limit_names_its_figure_and_the_flag_that_raises_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let thirteen = "{ orders { edges { node { campaign { orders { edges { node { campaign { orders { edges { node { campaign { id } } } } } } } } } } } } }";
    let costly =
        format!("{{ {} }}", (0..30).map(|i| format!("d{i}: dashboard {{ orders }}")).collect::<Vec<_>>().join(" "));
    for (query, words) in [
        (thirteen.to_string(), "limit of 12 (--max-depth or TALLY_MAX_DEPTH)"),
        (costly, "--max-complexity or TALLY_MAX_COMPLEXITY"),
    ] {
        let answer = app.gql(&brand.key, &query, json!({})).await;
        assert_eq!(code(&answer), "LIMIT_EXCEEDED");
        assert!(message(&answer).contains(words), "{answer}");
    }
    let batch: Vec<Value> = (0..200).map(|_| json!({ "query": "{ brand { name } }" })).collect();
    let answer: Value =
        (app.http.post(format!("{}/graphql", app.url)).bearer_auth(&brand.key).json(&batch).send().await)
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(answer.to_string().contains("--max-batch or TALLY_MAX_BATCH"), "{answer}");
    // Declared too large: refused from Content-Length alone (raw, so that no client is
    // still writing a body the server will not read).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(&app.addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
        brand.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("--max-body-bytes or TALLY_MAX_BODY_BYTES"), "{answer}");
}

async fn a_refused_transition_says_which_conversions_it_applies_to(backend: Backend) {
    let app = spawn_app(backend).await;
    let setup = one_member(&app, "10").await;
    let order = app
        .order_event(
            &setup.brand,
            json!({ "externalId": "1001", "amount": "50.00", "currency": "USD", "status": "PAID",
                    "occurredAt": "2026-03-01T10:00:00Z", "couponCode": "ANA10" }),
        )
        .await;
    let conversion = order["conversion"]["id"].as_str().unwrap().to_string();
    let undo = "mutation($id: ID!) { undoRejection(id: $id) { conversion { id } } }";
    let answer = app.gql(&setup.brand.key, undo, json!({ "id": conversion })).await;
    assert_eq!(code(&answer), "INVALID_TRANSITION");
    assert_eq!(
        message(&answer),
        "the conversion is APPROVED; only REJECTED conversions can be restored with undoRejection"
    );
    let reject = "mutation($id: ID!) { rejectConversion(id: $id) { conversion { id } } }";
    app.data(&setup.brand.key, reject, json!({ "id": conversion })).await;
    let again = app.gql(&setup.brand.key, reject, json!({ "id": conversion })).await;
    assert_eq!(
        message(&again),
        "the conversion is REJECTED; only APPROVED conversions can be rejected with rejectConversion"
    );
}

on_both_backends!(
    enum_values_are_accepted_only_as_enum_literals,
    a_required_variable_not_sent_is_named_with_its_type,
    unknown_names_get_a_did_you_mean,
    every_limit_names_its_figure_and_the_flag_that_raises_it,
    a_refused_transition_says_which_conversions_it_applies_to,
);
