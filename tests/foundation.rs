//! The foundation: CLI, auth, roles, tenancy, pagination, validation and limits.
#![recursion_limit = "256"]

mod common;

use common::*;
use serde_json::json;

#[test]
fn schema_graphql_equals_print_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tally")).arg("print-schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "schema.graphql is stale: run `cargo run -q -- print-schema > schema.graphql`"
    );
}

/// What GraphiQL and code generators show beside each name: every type, field, argument,
/// input field and enum value of the public schema is described, and DateTime links to
/// its specification.
async fn introspection_describes_every_type_field_argument_and_enum_value(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let schema = app.data(&brand.key, include_str!("fixtures/introspection.graphql"), json!({})).await;
    let types = schema["__schema"]["types"].as_array().unwrap();
    let described = |item: &serde_json::Value| item["description"].as_str().is_some_and(|d| !d.trim().is_empty());
    let named = |item: &serde_json::Value| item["name"].as_str().unwrap().to_string();
    let list = |item: &serde_json::Value, key: &str| item[key].as_array().cloned().unwrap_or_default();
    let mut missing = Vec::new();
    for ty in types {
        let name = named(ty);
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name.as_str()) {
            continue;
        }
        if !described(ty) {
            missing.push(name.clone());
        }
        for field in list(ty, "fields") {
            let field_name = format!("{name}.{}", named(&field));
            if !described(&field) {
                missing.push(field_name.clone());
            }
            for arg in list(&field, "args").iter().filter(|a| !described(a)) {
                missing.push(format!("{field_name}({})", named(arg)));
            }
        }
        for item in list(ty, "inputFields").iter().chain(&list(ty, "enumValues")).filter(|i| !described(i)) {
            missing.push(format!("{name}.{}", named(item)));
        }
    }
    assert!(missing.is_empty(), "schema elements without a description: {missing:?}");
    let date_time = types.iter().find(|t| t["name"] == "DateTime").unwrap();
    assert_eq!(date_time["specifiedByURL"], "https://datatracker.ietf.org/doc/html/rfc3339");
}

async fn cli_creates_brands_and_keys_that_authenticate(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(args)
            .env("DATABASE_URL", &database_url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8(out.stdout).unwrap();
        assert_eq!(line.lines().count(), 1, "one JSON line: {line}");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    let brand = run(&["brand", "create", "--name", "Acme", "--currency", "EUR"]);
    let keys: Vec<&str> = brand.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["brandId", "apiKey", "webhookSecret"]);
    let brand_id = brand["brandId"].as_str().unwrap();
    let viewer = run(&["key", "create", "--brand-id", brand_id, "--name", "bi tool", "--role", "VIEWER"]);
    let app = spawn_on(backend, &database_url, Default::default()).await;
    let d = app.data(brand["apiKey"].as_str().unwrap(), "{ brand { id name currency } }", json!({})).await;
    assert_eq!(d["brand"], json!({ "id": brand_id, "name": "Acme", "currency": "EUR" }));
    let denied = app
        .gql(viewer["apiKey"].as_str().unwrap(), "mutation { createCreator(input: {name: \"x\"}) { id } }", json!({}))
        .await;
    assert_eq!(code(&denied), "FORBIDDEN");

    // The server remembers keys for a few seconds, but a revocation by another process
    // ends a key's requests as soon as the outbox is read (well within a second).
    let viewer_key = viewer["apiKey"].as_str().unwrap();
    app.data(viewer_key, "{ brand { name } }", json!({})).await;
    assert_eq!(run(&["key", "revoke", "--api-key", viewer_key]), json!({ "revoked": 1 }));
    let revoked_at = std::time::Instant::now();
    while app.gql(viewer_key, "{ brand { name } }", json!({})).await["errors"][0]["extensions"]["code"]
        != "UNAUTHENTICATED"
    {
        assert!(revoked_at.elapsed() < std::time::Duration::from_secs(1), "the revoked key still works");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["brand", "create", "--name", "X", "--currency", "XXQ"])
        .env("DATABASE_URL", &database_url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ISO 4217"));
}

async fn requests_without_a_valid_key_are_unauthenticated(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let none = app
        .http
        .post(format!("{}/graphql", app.url))
        .json(&json!({"query": "{ brand { name } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED");
    let wrong = app.gql("tly_not_a_key", "{ brand { name } }", json!({})).await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    let right = app.data(&brand.key, "{ brand { name } }", json!({})).await;
    assert_eq!(right["brand"]["name"], "Acme");
}

async fn viewer_keys_read_but_cannot_mutate(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let viewer = app.viewer_key(&brand).await;
    app.create_creator(&brand, "Ana").await;
    let read = app.data(&viewer, "{ creators { totalCount } }", json!({})).await;
    assert_eq!(read["creators"]["totalCount"], 1);
    for mutation in [
        "mutation { createCreator(input: {name: \"x\"}) { id } }",
        "mutation { createCampaign(input: {name: \"x\"}) { id } }",
        "mutation { rejectConversion(id: \"x\") { conversion { id } } }",
    ] {
        let answer = app.gql(&viewer, mutation, json!({})).await;
        assert_eq!(code(&answer), "FORBIDDEN", "{mutation}");
    }
    let after = app.data(&viewer, "{ creators { totalCount } campaigns { totalCount } }", json!({})).await;
    assert_eq!(after["creators"]["totalCount"], 1);
    assert_eq!(after["campaigns"]["totalCount"], 0);
}

async fn another_brands_objects_answer_as_if_they_did_not_exist(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.brand("Brand A").await;
    let b = app.brand("Brand B").await;
    let creator = app.create_creator(&a, "Ana").await;
    let campaign = app.create_campaign(&a, "Spring", "10").await;

    let seen = app
        .data(&b.key, "query($c: ID!, $k: ID!) { node(id: $c) { id } campaign(id: $k) { id } creators { totalCount } campaigns { totalCount } }", json!({"c": creator, "k": campaign}))
        .await;
    assert_eq!(
        seen,
        json!({"node": null, "campaign": null, "creators": {"totalCount": 0}, "campaigns": {"totalCount": 0}})
    );
    let unknown = app.data(&b.key, "{ node(id: \"bm9wZQ\") { id } }", json!({})).await;
    assert_eq!(unknown["node"], serde_json::Value::Null);

    let delete = app.gql(&b.key, "mutation($c: ID!) { deleteCreator(id: $c) { id } }", json!({"c": creator})).await;
    assert_eq!(code(&delete), "NOT_FOUND");
    let add = app
        .gql(
            &b.key,
            "mutation($k: ID!, $c: ID!) { addCreatorToCampaign(input: {campaignId: $k, creatorId: $c}) { id } }",
            json!({"k": campaign, "c": creator}),
        )
        .await;
    assert_eq!(code(&add), "NOT_FOUND");
    let remove = app
        .gql(
            &b.key,
            "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id } }",
            json!({"k": campaign, "c": creator}),
        )
        .await;
    assert_eq!(code(&remove), "NOT_FOUND");

    let own = app
        .data(&a.key, "query($c: ID!) { node(id: $c) { id ... on Creator { name deletedAt } } }", json!({"c": creator}))
        .await;
    assert_eq!(own["node"], json!({"id": creator, "name": "Ana", "deletedAt": null}));
}

async fn creators_page_with_stable_cursors_and_a_capped_size(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_creator(&brand, &format!("Creator {i}")).await);
    }
    let query = "query($after: String) { creators(first: 3, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    let mut pages = 0;
    loop {
        let d = app.data(&brand.key, query, json!({ "after": after })).await;
        let conn = &d["creators"];
        assert_eq!(conn["totalCount"], 7);
        for edge in conn["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);

    let too_many = app.gql(&brand.key, "{ creators(first: 101) { totalCount } }", json!({})).await;
    assert_eq!(code(&too_many), "BAD_USER_INPUT");
    let bad_cursor = app.gql(&brand.key, "{ creators(after: \"garbage\") { totalCount } }", json!({})).await;
    assert_eq!(code(&bad_cursor), "BAD_USER_INPUT");
    let default_page = app.data(&brand.key, "{ creators { edges { cursor } } }", json!({})).await;
    assert_eq!(default_page["creators"]["edges"].as_array().unwrap().len(), 7);
}

async fn invalid_input_is_refused_by_field_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let cases = [
        ("mutation { createCreator(input: {name: \"   \"}) { id } }", "name"),
        ("mutation { createCreator(input: {name: \"ok\", email: \"not-an-email\"}) { id } }", "email"),
        (
            "mutation { createCampaign(input: {name: \"ok\", defaultCommissionRate: \"100.5\"}) { id } }",
            "defaultCommissionRate",
        ),
        (
            "mutation { createCampaign(input: {name: \"ok\", defaultCommissionRate: \"-1\"}) { id } }",
            "defaultCommissionRate",
        ),
    ];
    for (mutation, field) in cases {
        let answer = app.gql(&brand.key, mutation, json!({})).await;
        assert_eq!(code(&answer), "BAD_USER_INPUT", "{mutation}");
        assert_eq!(answer["errors"][0]["extensions"]["field"], field, "{mutation}");
    }
    let long = "x".repeat(201);
    let answer = app
        .gql(&brand.key, "mutation($n: String!) { createCreator(input: {name: $n}) { id } }", json!({"n": long}))
        .await;
    assert_eq!(code(&answer), "BAD_USER_INPUT");
    let numeric = app
        .gql(
            &brand.key,
            "mutation { createCampaign(input: {name: \"ok\", defaultCommissionRate: 10}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&numeric), "BAD_USER_INPUT");
    let unknown_field = app.gql(&brand.key, "{ brand { nope } }", json!({})).await;
    assert_eq!(code(&unknown_field), "BAD_USER_INPUT");

    let counts = app.data(&brand.key, "{ creators { totalCount } campaigns { totalCount } }", json!({})).await;
    assert_eq!(counts, json!({"creators": {"totalCount": 0}, "campaigns": {"totalCount": 0}}));
}

async fn coupon_and_affiliate_codes_are_unique_among_current_members(backend: Backend) {
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let spring = app.create_campaign(&brand, "Spring", "12.5").await;
    let ana = app.create_creator(&brand, "Ana").await;
    let bo = app.create_creator(&brand, "Bo").await;
    let m = app.add_member(&brand, &spring, &ana, Some("ANA10"), Some("ana")).await;
    assert_eq!(m["couponCode"], "ANA10");
    assert_eq!(m["commissionRate"], "12.5");
    assert_eq!(m["commissionFlat"], "0.00");
    assert_eq!(m["affiliateLink"], "https://shop.example.com/?ref=ana");

    let add = "mutation($i: AddCreatorToCampaignInput!) { addCreatorToCampaign(input: $i) { id } }";
    let dup_coupon =
        app.gql(&brand.key, add, json!({"i": {"campaignId": spring, "creatorId": bo, "couponCode": "ana10"}})).await;
    assert_eq!(code(&dup_coupon), "BAD_USER_INPUT");
    assert_eq!(dup_coupon["errors"][0]["extensions"]["field"], "couponCode");
    let dup_link =
        app.gql(&brand.key, add, json!({"i": {"campaignId": spring, "creatorId": bo, "affiliateCode": "ana"}})).await;
    assert_eq!(dup_link["errors"][0]["extensions"]["field"], "affiliateCode");
    let twice = app.gql(&brand.key, add, json!({"i": {"campaignId": spring, "creatorId": ana}})).await;
    assert_eq!(twice["errors"][0]["extensions"]["field"], "creatorId");
    let bad_rate =
        app.gql(&brand.key, add, json!({"i": {"campaignId": spring, "creatorId": bo, "commissionRate": "101"}})).await;
    assert_eq!(bad_rate["errors"][0]["extensions"]["field"], "commissionRate");
    let bad_flat = app
        .gql(&brand.key, add, json!({"i": {"campaignId": spring, "creatorId": bo, "commissionFlat": "1.234"}}))
        .await;
    assert_eq!(bad_flat["errors"][0]["extensions"]["field"], "commissionFlat");

    // Removal frees the codes; re-adding makes a fresh membership.
    let removed = app
        .data(
            &brand.key,
            "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id removedAt } }",
            json!({"k": spring, "c": ana}),
        )
        .await;
    assert!(removed["removeCreatorFromCampaign"]["removedAt"].is_string());
    let again = app
        .gql(
            &brand.key,
            "mutation($k: ID!, $c: ID!) { removeCreatorFromCampaign(campaignId: $k, creatorId: $c) { id } }",
            json!({"k": spring, "c": ana}),
        )
        .await;
    assert_eq!(code(&again), "NOT_FOUND");
    let bo_m = app.add_member(&brand, &spring, &bo, Some("Ana10"), None).await;
    assert_eq!(bo_m["couponCode"], "Ana10");
    let readded = app.add_member(&brand, &spring, &ana, Some("ANA11"), Some("ana")).await;
    assert_ne!(readded["id"], m["id"]);

    let members = app
        .data(
            &brand.key,
            "query($k: ID!) { campaign(id: $k) { members { couponCode removedAt creator { name } } } }",
            json!({"k": spring}),
        )
        .await;
    assert_eq!(
        members["campaign"]["members"],
        json!([
            {"couponCode": "Ana10", "removedAt": null, "creator": {"name": "Bo"}},
            {"couponCode": "ANA11", "removedAt": null, "creator": {"name": "Ana"}},
        ])
    );

    // A deleted creator leaves the member list and cannot be added again.
    app.data(&brand.key, "mutation($c: ID!) { deleteCreator(id: $c) { deletedAt } }", json!({"c": bo})).await;
    let members = app
        .data(&brand.key, "query($k: ID!) { campaign(id: $k) { members { creator { name } } } }", json!({"k": spring}))
        .await;
    assert_eq!(members["campaign"]["members"], json!([{"creator": {"name": "Ana"}}]));
    // includeDeleted is false when omitted and when null, literal or through a variable.
    let creators = app
        .data(
            &brand.key,
            "query($d: Boolean) { a: creators { totalCount } b: creators(includeDeleted: true) { totalCount } \
             c: creators(includeDeleted: null) { totalCount } d: creators(includeDeleted: $d) { totalCount } }",
            json!({"d": null}),
        )
        .await;
    assert_eq!(
        creators,
        json!({"a": {"totalCount": 1}, "b": {"totalCount": 2}, "c": {"totalCount": 1}, "d": {"totalCount": 1}})
    );
}

async fn oversized_and_overly_complex_requests_are_limited(backend: Backend) {
    let limits = tally::graphql::Limits { body_bytes: 4096, depth: 6, complexity: 500, batch: 2, ..Default::default() };
    let app = spawn_app_with(backend, limits).await;
    let brand = app.brand("Acme").await;
    let big = format!("{{ brand {{ name }} }} # {}", "x".repeat(5000));
    let answer = app.gql(&brand.key, &big, json!({})).await;
    assert_eq!(code(&answer), "LIMIT_EXCEEDED");
    let deep = "{ orders { edges { node { campaign { orders { edges { node { id } } } } } } } }";
    assert_eq!(code(&app.gql(&brand.key, deep, json!({})).await), "LIMIT_EXCEEDED");
    let wide = "{ orders(first: 100) { edges { node { id externalId amount currency status orderedAt } } } }";
    assert_eq!(code(&app.gql(&brand.key, wide, json!({})).await), "LIMIT_EXCEEDED");
    let narrow = "{ orders(first: 10) { edges { node { id } } } }";
    app.data(&brand.key, narrow, json!({})).await;
    let batch =
        json!([{"query": "{ brand { name } }"}, {"query": "{ brand { name } }"}, {"query": "{ brand { name } }"}]);
    let answer: serde_json::Value = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&brand.key)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&answer), "LIMIT_EXCEEDED");
    let ok: serde_json::Value = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&brand.key)
        .json(&json!([{"query": "{ brand { name } }"}, {"query": "{ brand { currency } }"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok, json!([{"data": {"brand": {"name": "Acme"}}}, {"data": {"brand": {"currency": "USD"}}}]));
}

async fn health_ready_and_graphiql_are_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.http.get(format!("{}/health", app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(format!("{}/ready", app.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let page = app.http.get(format!("{}/", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/graphql") && page.contains("/graphql/ws"), "GraphiQL wired to both endpoints");
    assert!(!page.contains("://"), "the page loads nothing from elsewhere: {page}");
    assert!(!page.contains("tly_"), "no key outside demo mode");
    // Its files are served from here, production builds, cached for good.
    let files: Vec<&str> = page.split("/graphiql/").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(files.len(), 4, "{page}");
    for file in files {
        let asset = app.http.get(format!("{}/graphiql/{file}", app.url)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{file}");
        assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
        let body = asset.text().await.unwrap();
        assert!(!body.contains("react.development") && body.len() > 10_000, "{file}");
    }
    let missing = app.http.get(format!("{}/graphiql/nothing.js", app.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

async fn serve_demo_answers_at_once_with_graphiql_ready(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let (child, key, url) = serve_demo(&database_url).await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{url}/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&key), "GraphiQL is pre-filled with the demo key");
    assert!(page.contains("defaultQuery"));
    let answer: serde_json::Value = http
        .post(format!("{url}/graphql"))
        .bearer_auth(&key)
        .json(&json!({"query": "{ brand { name } dashboard { orders } campaigns { totalCount edges { node { members { id } performance { rows { orders } totals { orders rejectedConversions } } } } } creators(includeDeleted: true) { totalCount } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer:#}");
    let d = &answer["data"];
    assert_eq!(d["brand"]["name"], "Glow Cosmetics");
    assert_eq!(d["dashboard"]["orders"], 320);
    assert_eq!(d["campaigns"]["totalCount"], 3);
    assert_eq!(d["creators"]["totalCount"], 12);
    let tab_orders: i64 = d["campaigns"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["performance"]["totals"]["orders"].as_i64().unwrap())
        .sum();
    assert!(tab_orders < 320, "the removed member and the deleted creator leave the tabs, not the dashboard");
    let rejected: i64 = d["campaigns"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["performance"]["totals"]["rejectedConversions"].as_i64().unwrap())
        .sum();
    assert!(rejected > 0);
    drop(child);

    // A restart adds nothing and shows the same key.
    let (_child, key2, url2) = serve_demo(&database_url).await;
    assert_eq!(key, key2);
    let again: serde_json::Value = http
        .post(format!("{url2}/graphql"))
        .bearer_auth(&key2)
        .json(&json!({"query": "{ dashboard { orders } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["data"]["dashboard"]["orders"], 320);
}

async fn browsers_on_allowed_origins_may_call_the_api(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let mut state = tally::app::AppState::new(&database_url, Default::default()).await.unwrap();
    state.cors_origins.push("https://app.example.com".parse().unwrap());
    let app = serve_state(backend, &database_url, state).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(allowed.headers().get("access-control-allow-origin").unwrap(), "https://app.example.com");
    let allowed_headers =
        allowed.headers().get("access-control-allow-headers").unwrap().to_str().unwrap().to_lowercase();
    assert!(allowed_headers.contains("authorization"));
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

on_both_backends!(
    introspection_describes_every_type_field_argument_and_enum_value,
    browsers_on_allowed_origins_may_call_the_api,
    serve_demo_answers_at_once_with_graphiql_ready,
    cli_creates_brands_and_keys_that_authenticate,
    requests_without_a_valid_key_are_unauthenticated,
    viewer_keys_read_but_cannot_mutate,
    another_brands_objects_answer_as_if_they_did_not_exist,
    creators_page_with_stable_cursors_and_a_capped_size,
    invalid_input_is_refused_by_field_and_changes_nothing,
    coupon_and_affiliate_codes_are_unique_among_current_members,
    oversized_and_overly_complex_requests_are_limited,
    health_ready_and_graphiql_are_served,
);
