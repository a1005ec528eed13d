//! Per-connection time limits: idle keep-alive, slow headers (slowloris).
//!
//! hyper's own `header_read_timeout` starts as soon as a connection waits for its next
//! request, so it cannot tell an idle keep-alive connection from one trickling its headers a
//! byte at a time. recmon needs both limits separately: the provider may keep a connection
//! open between callbacks, while a slowloris client must be cut quickly. The connection's IO
//! is wrapped so the first byte of a new request is noticed, and the service marks when a
//! request is being handled; a watchdog closes the connection when a phase lasts too long.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const IDLE: u8 = 0;
const HEADERS: u8 = 1;
const HANDLING: u8 = 2;

fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// What a connection is doing, shared between its IO wrapper, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    phase: AtomicU8,
    since_ms: AtomicU64,
}

impl Activity {
    /// A fresh connection: idle since now.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            phase: AtomicU8::new(IDLE),
            since_ms: AtomicU64::new(now_ms()),
        })
    }

    fn set(&self, phase: u8) {
        self.since_ms.store(now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }

    /// The service started handling a request (its headers are complete).
    pub fn request_started(&self) {
        self.set(HANDLING);
    }

    /// The service produced its response; the connection waits for the next request.
    pub fn request_finished(&self) {
        self.set(IDLE);
    }

    fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.set(HEADERS);
        }
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// No new request within the idle timeout.
    Idle,
    /// A request's headers took longer than the header timeout.
    SlowHeaders,
}

/// Resolves when the connection has been idle longer than `idle`, or has been sending one
/// request's headers for longer than `headers`. Never resolves while a request is handled
/// (the body read has its own timeout in the handler).
pub async fn watchdog(activity: Arc<Activity>, idle: Duration, headers: Duration) -> Expired {
    loop {
        let phase = activity.phase.load(Ordering::Acquire);
        let since = activity.since_ms.load(Ordering::Relaxed);
        let limit = match phase {
            IDLE => Some((idle, Expired::Idle)),
            HEADERS => Some((headers, Expired::SlowHeaders)),
            _ => None,
        };
        let wait = match limit {
            Some((limit, why)) => {
                let elapsed = now_ms().saturating_sub(since);
                let limit_ms = limit.as_millis() as u64;
                if elapsed >= limit_ms {
                    return why;
                }
                Duration::from_millis(limit_ms - elapsed).min(Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// A stream that reports arriving bytes to its [`Activity`].
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// Wraps a stream.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
