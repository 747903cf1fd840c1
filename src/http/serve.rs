//! The HTTP listener: hyper's connection loop with the limits a public
//! endpoint needs, which `axum::serve` does not set.
//!
//! - **Header read timeout**: a connection must send a whole request head
//!   within `http.header_read_timeout_ms` once hyper waits for one (slow
//!   header attacks hold a socket and a task each otherwise).
//! - **Idle timeout**: a connection with no request in flight for
//!   `http.idle_timeout_ms` is closed, so idle sockets cannot pile up.
//! - **Graceful shutdown**: on shutdown the listener stops accepting, idle
//!   connections close, and requests in flight get their answer first
//!   (webhooks are answered only after their commit).
//!
//! A request counts as in flight until its response head is written; a
//! streamed response body is not tracked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::HttpConfig;

/// A pause after a failed `accept` (out of file descriptors): retrying at
/// once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown`, then waits for the requests
/// in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpConfig,
    shutdown: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms));
    builder.http2().timer(TokioTimer::new());
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            let app = app.clone();
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let busy = activity.begin();
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(axum::body::Body::new)).await;
                    drop(busy);
                    response
                }
            })
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(error = %error, "connection ended with an error");
                    }
                }
                // Dropping an idle connection closes its socket.
                _ = activity.idle_for(idle) => tracing::debug!("idle connection closed"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds after `origin` of the last request's start or end.
    last_ms: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn touch(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        Busy(self.clone())
    }

    /// Resolves once no request has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet_until = last + idle;
            let now = Instant::now();
            let busy = self.in_flight.load(Ordering::Acquire) > 0;
            if !busy && now >= quiet_until {
                return;
            }
            // A busy connection is looked at again one idle period later.
            tokio::time::sleep_until(if busy { now + idle } else { quiet_until }).await;
        }
    }
}

/// A request in flight; ending it marks the connection active now.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
