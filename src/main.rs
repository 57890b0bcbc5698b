use clap::Parser;

/// mimalloc: glibc's allocator spent a fifth of the read path's CPU in malloc/free and its
/// arena locks' futexes (BENCHMARKS.md, "Faster than PostGraphile").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "tally=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    tally::cli::run(tally::cli::Cli::parse()).await
}
