//! The id-keyed connections: campaigns and creators.
use super::*;

macro_rules! id_connection {
    ($conn:ident, $edge:ident, $node:ident, $model:ty, $conn_doc:tt, $edge_doc:tt, $node_doc:tt, $total_doc:tt) => {
        pub struct $edge {
            cursor: String,
            node: $model,
        }

        #[doc = $edge_doc]
        #[Object]
        impl $edge {
            /// This item's place in the list: pass it as `after` to get the items that follow
            /// it. Opaque: pass it on as is.
            async fn cursor(&self) -> &str {
                &self.cursor
            }
            #[doc = $node_doc]
            async fn node(&self) -> $node {
                $node(self.node.clone())
            }
        }

        pub struct $conn {
            edges: Vec<$edge>,
            page_info: PageInfo,
            total: u64,
        }

        impl $conn {
            pub fn new(rows: Vec<$model>, limit: u64, after: Option<i64>, total: u64) -> $conn {
                let (rows, more) = connection::split_page(rows, limit);
                let edges: Vec<$edge> =
                    rows.into_iter().map(|r| $edge { cursor: connection::id_cursor(r.id), node: r }).collect();
                let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
                $conn { page_info: connection::page_info(&cursors, more, after.is_some()), edges, total }
            }
        }

        #[doc = $conn_doc]
        #[Object]
        impl $conn {
            /// The items of this page, each with its cursor.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            /// Where this page stands: its first and last cursors, and whether more follow.
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }
            #[doc = $total_doc]
            async fn total_count(&self) -> i64 {
                self.total as i64
            }
        }
    };
}

id_connection!(
    CampaignConnection,
    CampaignEdge,
    Campaign,
    entity::campaign::Model,
    "A page of the brand's campaigns, oldest first (a Relay cursor connection).",
    "One campaign of a page, with its cursor.",
    "The campaign.",
    "How many campaigns the brand has, across all pages."
);
id_connection!(
    CreatorConnection,
    CreatorEdge,
    Creator,
    entity::creator::Model,
    "A page of the brand's creators, oldest first (a Relay cursor connection).",
    "One creator of a page, with its cursor.",
    "The creator.",
    "How many creators the list holds across all pages: deleted creators count only with `includeDeleted`."
);
