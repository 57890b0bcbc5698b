//! The schema as graphql-js sees it: the standard introspection query at the default
//! limits, and a client schema built from the answer (tests/js/introspect.mjs).
mod common;

use common::*;

async fn graphql_js_introspects_and_builds_the_schema_at_the_default_limits(backend: Backend) {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(std::path::Path::new(&format!("{root}/node_modules/graphql")).exists(), "run `npm ci` first");
    let app = spawn_app(backend).await;
    let brand = app.brand("Acme").await;
    let output = tokio::process::Command::new("node")
        .arg(format!("{root}/tests/js/introspect.mjs"))
        .args([&app.url, &brand.key])
        .output()
        .await
        .expect("node is installed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let sdl = String::from_utf8(output.stdout).unwrap();
    // What graphql-js rebuilt holds every type and field the server prints.
    for line in ["type Query {", "type Subscription {", "interface Node {", "scalar DateTime", "enum OrderStatus {"] {
        assert!(sdl.contains(line), "{line} missing from:\n{sdl}");
    }
    assert!(sdl.contains(r#"@specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339")"#), "{sdl}");
}

on_both_backends!(graphql_js_introspects_and_builds_the_schema_at_the_default_limits);
