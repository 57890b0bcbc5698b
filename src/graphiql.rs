//! `GET /`: GraphiQL, wired to `/graphql` and `/graphql/ws`; in demo mode it opens with the
//! demo key in its headers and an overview query.
use async_graphql::http::GraphiQLSource;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(graphiql))
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

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    let bearer = state.graphiql_key.as_ref().map(|k| format!("Bearer {k}"));
    let mut source = GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("Tally");
    if let Some(b) = &bearer {
        source = source.header("Authorization", b).ws_connection_param("authorization", b);
    }
    let props = format!(
        "defaultQuery: {}, defaultHeaders: {}, defaultEditorToolsVisibility: true,",
        serde_json::Value::from(GRAPHIQL_QUERY),
        serde_json::Value::from(
            bearer.as_ref().map(|b| serde_json::json!({ "Authorization": b }).to_string()).unwrap_or_default()
        ),
    );
    Html(source.finish().replace("defaultEditorToolsVisibility: true,", &props))
}
