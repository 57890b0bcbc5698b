//! GraphQL over HTTP as the spec has it: graphql-http's server audit (npm) finds no MUST
//! failure and no SHOULD warning, and the rules it checks hold here too, one by one.
mod common;

use common::*;
use serde_json::{Value, json};

async fn the_graphql_http_audit_passes_with_no_warning(backend: Backend) {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(std::path::Path::new(&format!("{root}/node_modules/graphql-http")).exists(), "run `npm ci` first");
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let output = tokio::process::Command::new("node")
        .arg(format!("{root}/tests/js/audit.mjs"))
        .args([&app.url, &brand.key])
        .output()
        .await
        .expect("node is installed");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}{}", String::from_utf8_lossy(&output.stderr));
    let counts: Value = serde_json::from_str(report.lines().last().unwrap()).unwrap();
    assert_eq!((counts["error"].as_u64(), counts["warn"].as_u64()), (Some(0), Some(0)), "{report}");
    assert!(counts["ok"].as_u64().unwrap() >= 55, "{report}");
}

async fn queries_run_over_get_and_mutations_do_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let get = |params: Vec<(&'static str, String)>| {
        app.http.get(format!("{}/graphql", app.url)).bearer_auth(&brand.key).query(&params).send()
    };
    let query = "query Named($n: Int) { brand { name } campaigns(first: $n) { totalCount } }".to_string();
    let answer = get(vec![("query", query), ("variables", r#"{"n": 1}"#.into()), ("operationName", "Named".into())])
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json; charset=utf-8");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({ "data": { "brand": { "name": "Acme" }, "campaigns": { "totalCount": 0 } } }));

    let mutation = r#"mutation { createCreator(input: {name: "Ana"}) { id } }"#.to_string();
    let refused = get(vec![("query", mutation)]).await.unwrap();
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["allow"], "POST");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(app.data(&brand.key, "{ creators { totalCount } }", json!({})).await["creators"]["totalCount"], 0);

    let no_query = get(vec![]).await.unwrap();
    assert_eq!(no_query.status(), 400);
    let bad_variables = get(vec![("query", "{ brand { name } }".into()), ("variables", "[1]".into())]).await.unwrap();
    assert_eq!(bad_variables.status(), 400);
}

async fn request_errors_answer_400_without_data_under_the_specs_media_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let post = |accept: &'static str, query: &'static str, variables: Value| {
        let request = app.http.post(format!("{}/graphql", app.url)).bearer_auth(&brand.key);
        let request = if accept.is_empty() { request } else { request.header("accept", accept) };
        request.json(&json!({ "query": query, "variables": variables })).send()
    };
    let spec = "application/graphql-response+json, application/json;q=0.9";
    for (query, variables) in [
        ("{ brand { name ", json!({})),    // does not parse
        ("{ brand { nope } }", json!({})), // does not validate
        ("query($n: Int) { campaigns(first: $n) { totalCount } }", json!({ "n": "many" })), // does not coerce
    ] {
        let response = post(spec, query, variables.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(response.headers()["content-type"], "application/graphql-response+json; charset=utf-8");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("data").is_none() && body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", "{body}");
        // Under application/json (and with no Accept) the same answers 200, as clients
        // written before the spec expect.
        for accept in ["application/json", ""] {
            let legacy = post(accept, query, variables.clone()).await.unwrap();
            assert_eq!(legacy.status(), 200, "{query}");
            assert_eq!(legacy.headers()["content-type"], "application/json; charset=utf-8");
            let body: Value = legacy.json().await.unwrap();
            assert_eq!(body["data"], Value::Null, "{body}");
        }
    }
    // A field's error is a partial answer, 200 under either type, with its data.
    let partial = post(spec, "{ brand { name } node(id: \"bm9wZQ\") { id } }", json!({})).await.unwrap();
    assert_eq!(partial.status(), 200);
    let body: Value = partial.json().await.unwrap();
    assert_eq!(body["data"]["brand"]["name"], "Acme", "{body}");

    // A POST that does not say its body is JSON is refused.
    let untyped = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&brand.key)
        .body(r#"{"query": "{ brand { name } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), 415);
    let body: Value = untyped.json().await.unwrap();
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("Content-Type: application/json"), "{body}");
}

on_both_backends!(
    the_graphql_http_audit_passes_with_no_warning,
    queries_run_over_get_and_mutations_do_not,
    request_errors_answer_400_without_data_under_the_specs_media_type,
);
