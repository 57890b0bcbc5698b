use clap::Parser;

/// jemalloc: glibc's allocator spent a fifth of the read path's CPU in malloc/free and its
/// arena locks' futexes (BENCHMARKS.md, "Faster than PostGraphile"). Its background thread
/// hands freed memory back to the system within a second or two, whichever thread freed
/// it (mimalloc, as fast, kept 157 MiB after 5,000 websockets closed, as its idle worker
/// threads never purged).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings: a background thread that purges, and freed pages returned after
/// a second instead of ten.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = tally::cli::Cli::parse();
    tally::cli::init_logging(cli.log_format);
    tally::cli::run(cli).await
}
