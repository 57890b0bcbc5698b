//! `GET /`: GraphiQL, wired to `/graphql` and `/graphql/ws`; in demo mode it opens with the
//! demo key in its headers. Its scripts and stylesheet are files of the npm packages
//! `graphiql`, `react` and `react-dom` (production builds), embedded in the binary at
//! build time (build.rs) and served from `/graphiql/…`: the page loads nothing from
//! elsewhere, so it works with no internet. Each file's path carries a hash of its
//! bytes, so browsers may keep it for good and a new version is a new path.
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(page)).route("/graphiql/{file}", get(asset))
}

/// An embedded file and the path it is served at.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! npm_file {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/", $path))
    };
}

const REACT: Asset = Asset {
    name: "react.production.min.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: npm_file!("react/umd/react.production.min.js"),
};
const REACT_DOM: Asset = Asset {
    name: "react-dom.production.min.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: npm_file!("react-dom/umd/react-dom.production.min.js"),
};
const GRAPHIQL_JS: Asset = Asset {
    name: "graphiql.min.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: npm_file!("graphiql/graphiql.min.js"),
};
const GRAPHIQL_CSS: Asset = Asset {
    name: "graphiql.min.css",
    content_type: "text/css; charset=utf-8",
    bytes: npm_file!("graphiql/graphiql.min.css"),
};

/// The files with their served names (`<hash>-<name>`), in the order the page loads them.
static ASSETS: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    [&GRAPHIQL_CSS, &REACT, &REACT_DOM, &GRAPHIQL_JS]
        .into_iter()
        .map(|asset| {
            let mut hasher = DefaultHasher::new();
            asset.bytes.hash(&mut hasher);
            (format!("{:016x}-{}", hasher.finish(), asset.name), asset)
        })
        .collect()
});

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _)| *name == file) {
        Some((_, asset)) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What GraphiQL opens with: the dashboard and the first campaign's Performance table.
const GRAPHIQL_QUERY: &str = "# Tally: how your creators sell. Press Run (Ctrl-Enter).
query Overview {
  brand { name currency }
  dashboard { totalSales orders commission byCampaign { campaign { name } sales orders } }
  campaigns(first: 1) {
    edges {
      node {
        name
        performance {
          rows { creator { name handle } couponCode affiliateLink orders sales approvedConversions rejectedConversions commission }
          totals { orders sales commission }
        }
        orders(first: 5) { totalCount edges { node { externalId amount status orderedAt creator { name } conversion { id approval earnedCommission } } } }
      }
    }
  }
}
";

async fn page(State(state): State<AppState>) -> Response {
    // In demo mode the header editor holds the demo key; GraphiQL sends its headers with
    // every request and, as `connection_init`'s payload, on the websocket.
    let headers = state
        .graphiql_key
        .as_ref()
        .map(|key| serde_json::json!({ "Authorization": format!("Bearer {key}") }).to_string())
        .unwrap_or_else(|| "{\n  \"Authorization\": \"Bearer <your API key>\"\n}".to_string());
    let config = serde_json::json!({
        "endpoint": "/graphql",
        "subscriptions": "/graphql/ws",
        "query": GRAPHIQL_QUERY,
        "headers": headers,
    });
    let tag = |name: &str| {
        let (path, asset) = ASSETS.iter().find(|(_, a)| a.name == name).expect("an embedded file");
        if asset.content_type.starts_with("text/css") {
            format!(r#"<link rel="stylesheet" href="/graphiql/{path}">"#)
        } else {
            format!(r#"<script src="/graphiql/{path}"></script>"#)
        }
    };
    // `<` escaped so that no text in the configuration can close the script element.
    let config = config.to_string().replace('<', "\\u003c");
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Tally · GraphiQL</title>
{css}
<style>body {{ margin: 0; height: 100vh; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{react}
{react_dom}
{graphiql}
<script>
const config = {config};
const url = (path, socket) => {{
  const u = new URL(path, window.location.href);
  if (socket) u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}};
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {{
    fetcher: GraphiQL.createFetcher({{ url: url(config.endpoint), subscriptionUrl: url(config.subscriptions, true) }}),
    defaultQuery: config.query,
    defaultHeaders: config.headers,
    defaultEditorToolsVisibility: true,
  }}),
);
</script>
</body>
</html>
"#,
        css = tag(GRAPHIQL_CSS.name),
        react = tag(REACT.name),
        react_dom = tag(REACT_DOM.name),
        graphiql = tag(GRAPHIQL_JS.name),
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}
