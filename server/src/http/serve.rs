//! The HTTP server: hyper with a timer, so slow and idle clients are let go, and a cap on open connections.
//!
//! `axum::serve` gives hyper no timer, which silently disables hyper's header-read timeout: a client that
//! never finishes its request head, or keeps an idle connection open, holds a socket, a task and its buffers
//! for ever. Here every connection gets hyper's [`TokioTimer`] and:
//!
//! - a **header-read timeout**: a request's whole head must arrive within it, timed from the connection's start
//!   for the first request and from the first byte for a later one on the same connection;
//! - an **idle timeout**: a connection with no request in progress and no bytes moving for this long is closed
//!   (hyper has none of its own: its header timer would also run while a keep-alive connection waits for its
//!   next request, see [`HeadTimer`]);
//! - a **cap on open connections**: at the cap the server stops accepting; new connections wait in the
//!   listen backlog until one closes.
//!
//! On shutdown the server stops accepting, lets the requests in progress finish (idle connections close at
//! once) and gives up on stragglers after a bounded wait.

use crate::{config::HttpSettings, shutdown::Shutdown};
use axum::{extract::ConnectInfo, Router};
use hyper::{body::Incoming, server::conn::http1, service::service_fn, Request};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tower::ServiceExt;

/// How long an accept error that is not the client's (out of file descriptors, say) pauses accepting.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(250);

/// How often, at most, the server logs that it is at its connection cap.
const AT_CAP_LOG_EVERY: Duration = Duration::from_secs(10);

/// What the server allows a client.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The request head must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress and no traffic is closed after this.
    pub idle_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long shutdown waits for requests in progress.
    pub drain_timeout: Duration,
}

impl ConnectionLimits {
    /// The limits from settings; shutdown waits for the longest a request may take (`request_timeout`), and a
    /// little more.
    pub fn from_settings(settings: &HttpSettings, request_timeout: Duration) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: settings.max_connections.get(),
            drain_timeout: request_timeout + Duration::from_secs(5),
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then drains.
///
/// Handlers can extract `ConnectInfo<SocketAddr>` (the peer's address), as with
/// `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let abandon = Shutdown::default();
    let mut at_cap_logged: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept_within_cap(&listener, &slots, &mut at_cap_logged) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else { continue };
        let connection = Connection { builder: builder.clone(), router: router.clone(), peer, limits };
        let watcher = graceful.watcher();
        let abandon = abandon.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = connection.serve(stream, watcher) => {}
                () = abandon.wait() => tracing::debug!(%peer, "dropped a connection still busy after the shutdown wait"),
            }
            drop(slot);
        });
    }
    // Closing the listener refuses new connections at once, rather than leaving them in the backlog.
    drop(listener);
    drain(graceful, abandon, limits.drain_timeout).await;
    Ok(())
}

/// Waits for a free connection slot, then for a client. `None` when the accept failed (logged).
async fn accept_within_cap(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    at_cap_logged: &mut Option<Instant>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = match Arc::clone(slots).try_acquire_owned() {
        Ok(slot) => slot,
        Err(_) => {
            if at_cap_logged.is_none_or(|logged| logged.elapsed() >= AT_CAP_LOG_EVERY) {
                tracing::warn!("at the HTTP connection cap: new connections wait until one closes");
                *at_cap_logged = Some(Instant::now());
            }
            // The semaphore is never closed.
            Arc::clone(slots).acquire_owned().await.ok()?
        }
    };
    match listener.accept().await {
        Ok((stream, peer)) => {
            // Small responses go out at once rather than waiting for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            Some((stream, peer, slot))
        }
        Err(error) if is_client_side(&error) => None,
        Err(error) => {
            tracing::error!(%error, "accepting a connection failed; pausing");
            tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            None
        }
    }
}

/// Errors of one connection, which say nothing about the listener.
fn is_client_side(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

/// Asks every connection to finish its request and close, and waits at most `within` for them.
async fn drain(graceful: GracefulShutdown, abandon: Shutdown, within: Duration) {
    let open = graceful.count();
    if open > 0 {
        tracing::info!(connections = open, "waiting for requests in progress");
    }
    if tokio::time::timeout(within, graceful.shutdown()).await.is_err() {
        tracing::warn!(seconds = within.as_secs(), "requests still in progress after the shutdown wait; dropping them");
        abandon.trigger();
    }
}

/// One accepted client, before it is served.
struct Connection {
    builder: http1::Builder,
    router: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
}

impl Connection {
    /// Serves requests until the client leaves, a timeout closes the connection, or shutdown has drained it.
    async fn serve(self, stream: TcpStream, watcher: hyper_util::server::graceful::Watcher) {
        let Self { mut builder, router, peer, limits } = self;
        let activity = Arc::new(Activity::new());
        builder.timer(HeadTimer { activity: Arc::clone(&activity), header_read: limits.header_read_timeout });
        let io = TokioIo::new(Tracked { inner: stream, activity: Arc::clone(&activity) });
        let service = {
            let activity = Arc::clone(&activity);
            service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let busy = activity.request_started();
                let answer = router.clone().oneshot(request);
                async move {
                    let response = answer.await;
                    drop(busy);
                    response
                }
            })
        };
        let served = watcher.watch(builder.serve_connection(io, service));
        tokio::select! {
            result = served => {
                if let Err(error) = result {
                    // Timeouts, resets and malformed requests: the client's doing, not an incident.
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            }
            () = activity.idle_for(limits.idle_timeout) => tracing::debug!(%peer, "closed an idle connection"),
        }
    }
}

/// What a connection is doing: when bytes last moved, how many reads brought some, and its requests.
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last read or write that moved bytes.
    last_traffic_ms: AtomicU64,
    reads: AtomicU64,
    requests_started: AtomicU64,
    requests_in_progress: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_traffic_ms: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            requests_started: AtomicU64::new(0),
            requests_in_progress: AtomicUsize::new(0),
        }
    }

    fn bytes_arrived(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }

    /// How many reads have brought bytes so far.
    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_traffic_ms.store(now, Ordering::Relaxed);
    }

    fn last_traffic(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_traffic_ms.load(Ordering::Relaxed))
    }

    /// Marks a request in progress until the returned guard is dropped (when the handler has answered;
    /// sending the body counts as traffic).
    fn request_started(self: &Arc<Self>) -> RequestInProgress {
        self.requests_started.fetch_add(1, Ordering::Relaxed);
        self.requests_in_progress.fetch_add(1, Ordering::Relaxed);
        self.touch();
        RequestInProgress(Arc::clone(self))
    }

    /// Resolves once the connection has had no request in progress and no traffic for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let deadline = self.last_traffic() + idle;
            tokio::time::sleep_until(deadline).await;
            let quiet = self.last_traffic() + idle <= Instant::now();
            if quiet && self.requests_in_progress.load(Ordering::Relaxed) == 0 {
                return;
            }
            if quiet {
                // A slow handler: look again one idle period later.
                tokio::time::sleep(idle).await;
            }
        }
    }
}

/// hyper's header-read timer for one connection (hyper uses its timer for nothing else on an HTTP/1 server).
///
/// hyper starts the timer as soon as it waits for a request. For the first request that is right: a client that
/// connects must send its head in time. For a later one it would close every keep-alive connection after the
/// header-read timeout instead of the idle timeout, so there the timer starts with the first byte of the next
/// request; until then the connection is idle and [`Activity::idle_for`] applies.
struct HeadTimer {
    activity: Arc<Activity>,
    header_read: Duration,
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        TokioTimer::new().sleep(duration)
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        if self.activity.requests_started.load(Ordering::Relaxed) == 0 {
            return TokioTimer::new().sleep_until(deadline);
        }
        Box::pin(NextHeadDeadline {
            activity: Arc::clone(&self.activity),
            header_read: self.header_read,
            reads_when_idle: self.activity.reads(),
            deadline: None,
        })
    }
}

/// Resolves `header_read` after the first bytes that arrive once the connection is idle; never before.
struct NextHeadDeadline {
    activity: Arc<Activity>,
    header_read: Duration,
    reads_when_idle: u64,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for NextHeadDeadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.deadline.is_none() {
            if self.activity.reads() == self.reads_when_idle {
                // Nothing yet. hyper polls this after each read of the socket, so it looks again when bytes come.
                return Poll::Pending;
            }
            let header_read = self.header_read;
            self.deadline = Some(Box::pin(tokio::time::sleep(header_read)));
        }
        match self.deadline.as_mut() {
            Some(deadline) => deadline.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

impl hyper::rt::Sleep for NextHeadDeadline {}

/// A request being answered; see [`Activity::request_started`].
struct RequestInProgress(Arc<Activity>);

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        self.0.touch();
        self.0.requests_in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records its traffic in [`Activity`].
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_quiet_connection_is_idle_after_the_timeout() {
        let activity = Activity::new();
        let started = Instant::now();
        activity.idle_for(IDLE).await;
        let took = started.elapsed();
        assert!(took >= IDLE && took < IDLE * 3, "{took:?}");
    }

    #[tokio::test]
    async fn traffic_pushes_the_idle_deadline_back() {
        let activity = Arc::new(Activity::new());
        let started = Instant::now();
        let talker = {
            let activity = Arc::clone(&activity);
            tokio::spawn(async move {
                tokio::time::sleep(IDLE / 2).await;
                activity.touch();
            })
        };
        activity.idle_for(IDLE).await;
        talker.await.expect("the talker finishes");
        assert!(started.elapsed() >= IDLE + IDLE / 2, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_request_in_progress_is_never_idle() {
        let activity = Arc::new(Activity::new());
        let busy = activity.request_started();
        let idle = tokio::time::timeout(IDLE * 3, activity.idle_for(IDLE)).await;
        assert!(idle.is_err(), "idle while a request was in progress");
        drop(busy);
        let started = Instant::now();
        activity.idle_for(IDLE).await;
        let took = started.elapsed();
        assert!(took >= IDLE / 2 && took < IDLE * 3, "idle once the request was answered: {took:?}");
    }
}
