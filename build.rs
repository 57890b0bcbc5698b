//! GraphiQL's page is served from files of npm packages (package.json's `dependencies`,
//! pinned with their integrity hashes in package-lock.json), embedded in the binary by
//! `src/graphiql.rs`: the explorer works with no internet. `npm ci` puts them in
//! node_modules/; without them the build stops here and says so.
use std::path::Path;

/// What `src/graphiql.rs` embeds, under node_modules/.
const ASSETS: [&str; 4] = [
    "react/umd/react.production.min.js",
    "react-dom/umd/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
];

fn main() {
    println!("cargo:rerun-if-changed=package-lock.json");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules");
    for asset in ASSETS {
        let path = root.join(asset);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            panic!(
                "{} is missing: GraphiQL's files come from npm packages. Run `npm ci` in {} first (README, \"Building\").",
                path.display(),
                env!("CARGO_MANIFEST_DIR")
            );
        }
    }
}
