//! The accept loop: connection slots, the per-client cap and its refusals, per-connection
//! setup, and the journaling of requests hyper refuses before they reach the handler.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Either;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::core::feed::Feed;
use crate::core::sequencer::{Incoming, Sequencer};
use crate::core::store::SharedStore;
use crate::event::{Provider, Rejection};
use crate::server::config::{ServerConfig, MAX_HEADERS, MAX_HEAD_BYTES};
use crate::server::conn_guard::{watchdog, Activity, Expired, PerIp, Watched};
use crate::server::context::{Ctx, ListenerCounters, Published, Refusals};
use crate::server::handle::handle;

/// hyper's read buffer cap while it waits for a complete head. It is not an exact head limit
/// (a read may overshoot it), so it is set above [`MAX_HEAD_BYTES`]: a head just over the
/// limit reaches the handler, which refuses it with its method and path, journaled before
/// the answer. Only heads far over the limit meet hyper's own 431 (journaled after it).
const HYPER_BUF_CAP: usize = 2 * MAX_HEAD_BYTES;

/// At shutdown, how long an `/api/events` response may take to end by itself once the feed
/// is closed before its connection is dropped.
const STREAM_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Resolves [`STREAM_CLOSE_GRACE`] after the feed closed if the connection is still sending an
/// `/api/events` stream; never otherwise. A client that stopped reading keeps hyper waiting to
/// write the end of the stream forever, and would hold the listener's drain (and so the exit)
/// for the whole grace; its connection is dropped instead. Requests in flight on other
/// connections are left to finish.
async fn stream_cut(feed: &Feed, streaming: &AtomicBool) {
    feed.closed().await;
    tokio::time::sleep(STREAM_CLOSE_GRACE).await;
    if !streaming.load(Ordering::Acquire) {
        std::future::pending::<()>().await;
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets requests in flight finish
/// (up to `grace`), and returns. The sequencer handle is dropped on return.
pub async fn serve(
    listener: TcpListener,
    cfg: ServerConfig,
    seq: Sequencer,
    shared: Arc<SharedStore>,
    published: Published,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let conns = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let per_ip = PerIp::new(cfg.max_conns_per_ip);
    let ctx = Arc::new(Ctx {
        cfg,
        seq,
        shared,
        published,
        counters: ListenerCounters::default(),
        refusals: std::sync::Mutex::new(Refusals::default()),
        drains: Arc::new(Semaphore::new(REFUSAL_DRAINS)),
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // Wait for a connection slot before accepting: excess clients queue in the kernel's
        // backlog instead of being accepted and starved.
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // One client may not hold every slot: over its limit, the connection is refused at
        // once (its slot freed for the others) and the refusal journaled.
        let Some(ip_slot) = per_ip.take(remote.ip()) else {
            drop(permit);
            refuse_per_ip(&ctx, stream, remote);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let streaming = Arc::new(AtomicBool::new(false));
        let limits = (ctx.cfg.idle_timeout, ctx.cfg.header_timeout);
        let service = {
            let ctx = ctx.clone();
            let activity = activity.clone();
            let streaming = streaming.clone();
            service_fn(move |req| {
                let ctx = ctx.clone();
                let activity = activity.clone();
                let streaming = streaming.clone();
                async move {
                    activity.request_started();
                    let head_bytes = activity.take_head_bytes();
                    let mut resp = handle(req, remote, head_bytes, ctx).await;
                    match resp.body_mut() {
                        // A stream keeps the connection busy until it ends.
                        Either::Right(events) => events.hold(activity, streaming),
                        Either::Left(_) => activity.request_finished(),
                    }
                    Ok::<_, Infallible>(resp)
                }
            })
        };
        // hyper's header_read_timeout would also cut idle keep-alive connections; the
        // watchdog enforces the two limits separately (see conn_guard).
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            // A client that shuts down its write side after sending a request still gets
            // its answer (and the request is not cancelled half-way through journaling).
            .half_close(true)
            .max_buf_size(HYPER_BUF_CAP)
            .max_headers(MAX_HEADERS)
            .serve_connection(
                TokioIo::new(Watched::new(stream, activity.clone())),
                service,
            );
        let conn = graceful.watch(conn);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ip_slot = ip_slot;
            let fields = activity.clone();
            let broken = tokio::select! {
                r = conn => match r {
                    // hyper answered 414 itself: journal what it answered.
                    Err(e) if e.is_parse_too_large() && e.to_string().contains("URI too long") => {
                        Some(Rejection::new(
                            414,
                            format!(
                                "request target too long (the request line may take at most {} bytes): {e}; send a shorter path and query",
                                crate::util::human::thousands(MAX_HEAD_BYTES as u64)
                            ),
                        ))
                    }
                    // hyper reads at most MAX_HEADERS headers: say which limit it was.
                    Err(e) if e.is_parse_too_large() && fields.head_fields() > MAX_HEADERS => Some(Rejection::new(
                        431,
                        format!(
                            "too many headers: {} or more, and a request may have at most {MAX_HEADERS}; send fewer headers",
                            fields.head_fields()
                        ),
                    )),
                    Err(e) if e.is_parse_too_large() => Some(Rejection::new(
                        431,
                        format!(
                            "request head too large (far over the {}-byte limit): {e}; send fewer or shorter headers",
                            crate::util::human::thousands(MAX_HEAD_BYTES as u64)
                        ),
                    )),
                    Err(e) if e.is_parse() => {
                        Some(Rejection::new(400, format!("malformed HTTP request: {e}")))
                    }
                    _ => None,
                },
                why = watchdog(activity, limits.0, limits.1) => {
                    tracing::debug!("closing connection from {remote}: {why:?}");
                    (why == Expired::SlowHeaders).then(|| Rejection::new(
                        408,
                        format!(
                            "request headers not complete within --header-timeout ({}s); connection closed",
                            limits.1.as_secs()
                        ),
                    ))
                }
                _ = stream_cut(&ctx.published.feed, &streaming) => {
                    tracing::debug!("closing the event stream to {remote}: recmon is stopping");
                    None
                }
            };
            // Requests hyper refuses before they reach the service (bad request line, huge
            // head, conflicting Content-Length / Transfer-Encoding) and slowloris attempts
            // are still requests that reached the listener: journal them.
            if let Some(rej) = broken {
                journal_broken(&ctx, remote, rej).await;
            }
        });
    }
    drop(listener);
    drop(ctx);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {grace:?}; stopping anyway");
    }
}

/// Refuses a connection from a client over `--max-conns-per-ip`, before reading anything from
/// it: a 429 written if the socket takes it at once (it always does: nothing was sent on it
/// yet), then the connection closed politely (its write side shut, what the client sent read
/// and dropped for up to a second, so that the close is no reset that loses the 429), and the
/// refusal counted. Never waits: the accept loop goes on at once.
///
/// Refusals are journaled (rejected, 429, the client's address; method and path `-`, as
/// nothing was read) **at most one line a second**: a line says how many connections were
/// refused since the one before (`N refused since the previous line`), so that a client
/// reconnecting in a loop costs a counter, not a journal line and a task per connect.
fn refuse_per_ip(ctx: &Arc<Ctx>, mut stream: tokio::net::TcpStream, remote: SocketAddr) {
    ctx.counters.refused_per_ip.fetch_add(1, Ordering::Relaxed);
    let limit = ctx.cfg.max_conns_per_ip;
    let error = format!(
        "too many connections from {}: it already holds {limit} (--max-conns-per-ip {limit}); this one was closed before a request was read",
        PerIp::key(remote.ip())
    );
    let body = serde_json::json!({ "error": error }).to_string();
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    if let Ok(permit) = ctx.drains.clone().try_acquire_owned() {
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _permit = permit;
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let mut read = 0usize;
                while read < 64 * 1024 {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                }
            })
            .await;
        });
    }
    let now = std::time::Instant::now();
    let journal_now = {
        let mut r = ctx.refusals.lock().unwrap_or_else(|e| e.into_inner());
        r.folded += 1;
        match r.last {
            Some(t) if now.duration_since(t) < REFUSAL_LINE_EVERY => {
                // Within the second: folded into a line due when it ends.
                if r.flush_due {
                    None
                } else {
                    r.flush_due = true;
                    let wait = REFUSAL_LINE_EVERY - now.duration_since(t);
                    let (ctx, error) = (ctx.clone(), error.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(wait).await;
                        let n = {
                            let mut r = ctx.refusals.lock().unwrap_or_else(|e| e.into_inner());
                            r.flush_due = false;
                            r.last = Some(std::time::Instant::now());
                            std::mem::take(&mut r.folded)
                        };
                        if n > 0 {
                            journal_refusals(&ctx, remote, &error, n).await;
                        }
                    });
                    None
                }
            }
            _ => {
                r.last = Some(now);
                Some(std::mem::take(&mut r.folded))
            }
        }
    };
    if let Some(n) = journal_now {
        let ctx = ctx.clone();
        tokio::spawn(async move { journal_refusals(&ctx, remote, &error, n).await });
    }
}

/// Refused connections closed politely at once.
const REFUSAL_DRAINS: usize = 64;

/// At most one journal line of per-address refusals a second.
const REFUSAL_LINE_EVERY: Duration = Duration::from_secs(1);

/// The journal line of `n` refusals, the newest from `remote`.
async fn journal_refusals(ctx: &Ctx, remote: SocketAddr, error: &str, n: u64) {
    let text = format!("{error}; {n} refused since the previous line");
    journal_broken(ctx, remote, Rejection::new(429, text)).await;
}

async fn journal_broken(ctx: &Ctx, remote: SocketAddr, rej: Rejection) {
    let incoming = Incoming {
        // Not a provider's request (a broken connection, recmon's own paths): journaled
        // under the default provider, whose readers find no callback in it.
        provider: Provider::Aliyun,
        received_at: Utc::now(),
        remote: remote.to_string(),
        method: "-".into(),
        path: "-".into(),
        headers: BTreeMap::new(),
        body: Bytes::new(),
        truncated: None,
        verdict: Err(rej),
        body_is_json: false,
        auth: None,
    };
    let _ = ctx.seq.submit(incoming).await;
}
