use clap::Parser;

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
