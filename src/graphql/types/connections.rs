//! The id-keyed connections: campaigns and creators.
use super::*;

macro_rules! id_connection {
    ($conn:ident, $edge:ident, $node:ident, $model:ty) => {
        pub struct $edge {
            cursor: String,
            node: $model,
        }

        #[Object]
        impl $edge {
            async fn cursor(&self) -> &str {
                &self.cursor
            }
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

        #[Object]
        impl $conn {
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }
            async fn total_count(&self) -> i64 {
                self.total as i64
            }
        }
    };
}

id_connection!(CampaignConnection, CampaignEdge, Campaign, entity::campaign::Model);
id_connection!(CreatorConnection, CreatorEdge, Creator, entity::creator::Model);
