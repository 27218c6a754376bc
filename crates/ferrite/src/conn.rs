//! Connections: how many the server holds, and how long it lets one sit idle.
//!
//! Every socket costs a file descriptor and some memory whether or not it ever sends
//! a request, so none is held on the client's word alone:
//! - at most `max_connections` are served at once; past that a new connection waits
//!   up to [`ConnLimits::admission_wait`] for a slot, then gets `503 SlowDown` and is
//!   closed (connections already open keep being served);
//! - a connection must deliver its first complete request head within the handshake
//!   timeout, counted from when it got its slot: the TLS handshake on an HTTPS port,
//!   then the first request (a socket that sends nothing, a ClientHello that never
//!   comes, a slow preface, an unfinished HTTP/2 preface all hold a slot that long at
//!   most), and after that may sit without a request in flight for at most the idle
//!   timeout;
//! - HTTP/1 request heads must arrive within the header read timeout; HTTP/2
//!   connections are pinged while they carry requests and dropped when a ping goes
//!   unanswered.
//!
//! A connection past its time is shut down gracefully (HTTP/1: closed between
//! requests; HTTP/2: GOAWAY) and dropped outright if that does not end it promptly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// The connection limits and timeouts, in one place (the table in ARCHITECTURE.md).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// From accept to the first complete request head.
    pub handshake_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// HTTP/1: the whole request head must arrive within this (every request).
    pub header_read_timeout: Duration,
    /// HTTP/2: ping interval while the connection is open, and how long a ping may
    /// go unanswered.
    pub h2_keep_alive_interval: Duration,
    pub h2_keep_alive_timeout: Duration,
    /// How long a connection past the limit waits for a slot before it is refused.
    pub admission_wait: Duration,
    /// Connections waiting for a slot at once; more are refused at once.
    pub max_waiting: usize,
    /// After a graceful close starts, how long the connection may take to end.
    pub close_grace: Duration,
}

impl ConnLimits {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    pub const DEFAULT_HANDSHAKE_TIMEOUT_SECS: u64 = 10;
    pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
}

/// What the service tells the connection's watchdog: requests in flight and when the
/// last one ended.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    inflight: AtomicUsize,
    /// Milliseconds after `start` at which the last request ended (or began).
    last_ms: AtomicU64,
    /// Whether a request head has arrived on this connection.
    served: AtomicBool,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            inflight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            served: AtomicBool::new(false),
        })
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// A request has arrived; the connection counts as busy until the guard (kept
    /// in the response body) is dropped.
    pub fn begin(self: &Arc<Self>) -> InflightGuard {
        self.served.store(true, Ordering::Relaxed);
        self.inflight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InflightGuard(self.clone())
    }

    /// When the handshake time of this connection runs out: its TLS handshake must
    /// be over by then (and its first request head in, as [`watch_connection`] sees to).
    pub fn handshake_deadline(&self, limits: &ConnLimits) -> Instant {
        self.start + limits.handshake_timeout
    }

    /// When the connection may be closed for idleness, if nothing happens first;
    /// `None` while a request is in flight.
    fn idle_deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        if self.inflight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let limit = if self.served.load(Ordering::Relaxed) {
            limits.idle_timeout
        } else {
            limits.handshake_timeout
        };
        Some(self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + limit)
    }
}

/// Held while a request is in flight (until its response body is sent or dropped).
#[derive(Debug)]
pub struct InflightGuard(Arc<Activity>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection counted busy until it is done.
pub struct Guarded<B> {
    inner: B,
    _guard: Option<InflightGuard>,
}

impl<B> Guarded<B> {
    pub fn new(inner: B, guard: InflightGuard) -> Self {
        Self {
            inner,
            _guard: Some(guard),
        }
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Guarded<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Admits connections up to the limit.
pub struct Admission {
    limits: ConnLimits,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Admission {
    pub fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            waiting: AtomicUsize::new(0),
            limits,
        })
    }

    /// A slot for a new connection: at once, after a short wait, or `None` (the
    /// connection has been refused and closed). A refused plain-HTTP connection is
    /// told `503 SlowDown`; a TLS one (`tls`) is closed, as nothing it could read
    /// can be sent before a handshake.
    pub async fn admit(&self, stream: &mut TcpStream, tls: bool) -> Option<OwnedSemaphorePermit> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Some(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            if !tls {
                refuse(stream).await;
            }
            return None;
        }
        let got = tokio::time::timeout(self.limits.admission_wait, self.slots.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match got {
            Ok(Ok(p)) => Some(p),
            _ => {
                if !tls {
                    refuse(stream).await;
                }
                None
            }
        }
    }

    /// Waits until every admitted connection has ended, or `within` has passed;
    /// returns whether all ended.
    pub async fn drained(&self, within: Duration) -> bool {
        let all = self.limits.max_connections.max(1) as u32;
        tokio::time::timeout(within, self.slots.acquire_many(all)).await.is_ok()
    }
}

/// Best effort: tell an HTTP/1 client to come back later, then close.
async fn refuse(stream: &mut TcpStream) {
    const BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
<Message>The server has too many open connections; please retry.</Message></Error>";
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\nconnection: close\r\n\
retry-after: 1\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Drives one connection to its end: closes it when it has been idle too long or
/// when the server shuts down, and drops it if a graceful close takes too long.
pub async fn watch_connection<C: Future>(
    conn: C,
    graceful: impl FnOnce(Pin<&mut C>),
    activity: Arc<Activity>,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
    shutdown_grace: Duration,
) {
    let mut conn = std::pin::pin!(conn);
    let grace = loop {
        if *shutdown.borrow() {
            break shutdown_grace;
        }
        // While a request is in flight, look again after the idle timeout.
        let deadline = activity
            .idle_deadline(&limits)
            .unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep_until(deadline) => {
                if activity.idle_deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("closing an idle connection");
                    break limits.close_grace;
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break shutdown_grace;
                }
            }
        }
    };
    graceful(conn.as_mut());
    if tokio::time::timeout(grace, conn).await.is_err() {
        tracing::debug!("dropping a connection that did not close in time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            max_connections: 2,
            handshake_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(1),
            h2_keep_alive_interval: Duration::from_secs(1),
            h2_keep_alive_timeout: Duration::from_secs(1),
            admission_wait: Duration::from_millis(100),
            max_waiting: 1,
            close_grace: Duration::from_millis(100),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn idle_deadline_uses_the_handshake_timeout_until_a_request_arrives() {
        let a = Activity::new();
        let l = limits();
        assert_eq!(a.idle_deadline(&l), Some(a.start + l.handshake_timeout));
        tokio::time::advance(Duration::from_secs(3)).await;
        let g = a.begin();
        assert_eq!(a.idle_deadline(&l), None, "busy while a request is in flight");
        tokio::time::advance(Duration::from_secs(2)).await;
        drop(g);
        let d = a.idle_deadline(&l).unwrap();
        assert_eq!(d, a.start + Duration::from_secs(5) + l.idle_timeout);
    }
}
