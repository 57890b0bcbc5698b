//! The accept loop: the router on hyper, as `axum::serve` runs it, plus what `axum::serve`
//! does not offer: a client that trickles its request headers is cut off after
//! `header_timeout`, and a connection that cannot be taken for want of file descriptors is
//! refused with a 503 and closed instead of being left waiting in the backlog: one
//! descriptor is held in reserve for that.
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// What a connection refused for want of file descriptors is told before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Retry-After: 1\r\nConnection: close\r\nContent-Length: 87\r\n\r\n\
{\"error\":{\"code\":\"LIMIT_EXCEEDED\",\"message\":\"the server has no file descriptors left\"}}";

fn out_of_descriptors(err: &std::io::Error) -> bool {
    // EMFILE (this process) and ENFILE (the system).
    matches!(err.raw_os_error(), Some(24 | 23))
}

/// Raises this process's soft limit on open files to its hard limit (each websocket is
/// one), returning the limit now in force.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Serves until `shutdown` resolves, then stops accepting and lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    builder.http2().enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut reserve = std::fs::File::open("/dev/null").ok();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) if out_of_descriptors(&err) && reserve.is_some() => {
                    // Free the reserve to take the waiting connection, refuse it, take it back.
                    drop(reserve.take());
                    if let Ok((stream, peer)) = listener.accept().await {
                        tracing::warn!(%peer, error = %err, "out of file descriptors: refusing a connection with 503");
                        let _ = stream.try_write(REFUSED);
                    }
                    reserve = std::fs::File::open("/dev/null").ok();
                    continue;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    reserve = reserve.or_else(|| std::fs::File::open("/dev/null").ok());
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(|request: hyper::Request<Incoming>| request.map(Body::new));
        let service = TowerToHyperService::new(service.map_err(|never: Infallible| match never {}));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
