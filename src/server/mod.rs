//! The HTTP listener: takes every request, reads its body within limits, classifies it, hands
//! it to the sequencer and answers once it is journaled.
//!
//! Paths: `/healthz` and `/api/...` are recmon's own; every other path takes callbacks,
//! because the user picks the path in their NotifyUrl.

pub mod api;
pub mod conn_guard;
pub mod metrics;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming as Body;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::core::feed::{Feed, SessionFacts};
use crate::core::journal::Truncation;
use crate::core::outbox::{DeliveryResult, ForwardMode, ForwardedRequest, HOP_BY_HOP};
use crate::core::sequencer::{Incoming, Sequencer};
use crate::core::store::SharedStore;
use crate::event::{Method, Provider, Rejection};
use crate::forward::SyncForward;
use crate::providers::aliyun::auth::{constant_time_eq, AuthConfig};
use crate::providers::Pins;
use crate::server::api::EventStream;
use crate::server::conn_guard::{watchdog, Activity, Expired, PerIp, Watched};

/// Listener limits and access settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest body accepted, in bytes (`--max-body`).
    pub max_body: usize,
    /// Token that opens `/api/...` to non-loopback clients (`--api-token`).
    pub api_token: Option<String>,
    /// Time allowed to send a request's headers, from its first byte (`--header-timeout`).
    pub header_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// Maximum simultaneous connections (`--max-connections`).
    pub max_connections: usize,
    /// Maximum simultaneous connections from one client address (`--max-conns-per-ip`);
    /// 0: no limit. See [`conn_guard::PerIp`].
    pub max_conns_per_ip: usize,
    /// Time allowed for a whole request, headers to answer (`--request-timeout`).
    pub request_timeout: Duration,
    /// Signature checking, when `--auth-key` is set.
    pub auth: Option<AuthConfig>,
    /// Longest quiet time on an `/api/events` stream before a `: keep-alive` comment
    /// (`--keep-alive-secs`, hidden; tests shorten it).
    pub keep_alive: Duration,
    /// Journal every header but the hop-by-hop ones (forwarding resends them from the journal).
    pub keep_all_headers: bool,
    /// `--forward-mode sync`: each callback is passed to this backend and answered with its answer.
    pub forward_sync: Option<SyncForward>,
    /// `--provider PATH_PREFIX=NAME`: paths read as one provider's whatever their shape.
    pub pins: Pins,
    /// `--tencent-key`: Tencent Cloud's callback key; its `sign` is checked when set.
    pub tencent_key: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body: 64 * 1024,
            api_token: None,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_conns_per_ip: DEFAULT_MAX_CONNS_PER_IP,
            request_timeout: Duration::from_secs(30),
            auth: None,
            keep_alive: api::KEEP_ALIVE,
            keep_all_headers: false,
            forward_sync: None,
            pins: Pins::default(),
            tencent_key: None,
        }
    }
}

/// `--max-conns-per-ip`'s default: far above what one provider node opens at once (a callback
/// is one short request; nginx-rtmp opens one connection per notification), and above what
/// recmon's own load tools open from one machine (64 connections, plus `attach` and API reads).
pub const DEFAULT_MAX_CONNS_PER_IP: usize = 128;

/// What the listener counts itself (the rest of `/metrics` is read from the store).
#[derive(Debug, Default)]
pub struct ListenerCounters {
    /// Connections refused for `--max-conns-per-ip`.
    pub refused_per_ip: std::sync::atomic::AtomicU64,
}

/// What the listener publishes to API clients: the feed of committed entries, and the facts
/// `/api/events` starts with.
pub struct Published {
    /// Every committed journal entry, in order.
    pub feed: Arc<Feed>,
    /// This receiver's facts (the hello event; `last_seq` is filled in per client).
    pub facts: SessionFacts,
}

struct Ctx {
    cfg: ServerConfig,
    seq: Sequencer,
    shared: Arc<SharedStore>,
    published: Published,
    counters: ListenerCounters,
    /// Per-address refusals waiting to be journaled (see [`refuse_per_ip`]).
    refusals: std::sync::Mutex<Refusals>,
    /// Refused connections being closed politely (their 429 sent, their request read and
    /// dropped): at most [`REFUSAL_DRAINS`] at a time; beyond that a refused connection is
    /// just closed.
    drains: Arc<Semaphore>,
}

/// Refused connections journaled so far in one line a second at most, so that one address
/// reconnecting in a loop costs a counter, not a journal line and a task per connect.
#[derive(Default)]
struct Refusals {
    /// When the newest refusal line was journaled.
    last: Option<std::time::Instant>,
    /// Refusals since then, not journaled yet.
    folded: u64,
    /// A line for them is scheduled.
    flush_due: bool,
}

/// Refused connections closed politely at once.
const REFUSAL_DRAINS: usize = 64;

/// A response: a whole body, or the `/api/events` stream.
type Resp = Response<Either<Full<Bytes>, EventStream>>;

fn event_stream_response(ctx: &Ctx, after: u64) -> Resp {
    let body = EventStream::start(
        &ctx.published.feed,
        ctx.published.facts.clone(),
        after,
        ctx.cfg.keep_alive,
    );
    let mut r = Response::new(Either::Right(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    // Reverse proxies (nginx) buffer responses by default, which would hold entries back.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// Largest request head (request line, headers and the blank line ending them), counted
/// byte for byte on the wire by [`crate::server::conn_guard`]; a larger head gets 431 and the
/// connection is closed. 64 KiB fits any real callback with room to spare.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most headers a request may have: hyper's own limit (its default), refused with 431.
pub const MAX_HEADERS: usize = 100;

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

fn json_response(status: u16, body: serde_json::Value) -> Resp {
    text_response(status, body.to_string())
}

/// A JSON answer from already-formatted text.
fn text_response(status: u16, body: String) -> Resp {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Adds `Allow` to a 405 (RFC 9110 §15.5.6: a 405 must list the methods the target takes).
fn allow(resp: &mut Resp, methods: &'static str) {
    resp.headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(methods));
}

fn error_response(status: u16, error: &str) -> Resp {
    json_response(status, serde_json::json!({ "error": error }))
}

/// The headers worth keeping in the journal: what identifies the sender and the provider's
/// signature headers; with `all` (forwarding), every header but the hop-by-hop ones, so that
/// the outbox can resend the request from the journal alone (`transfer-encoding` is kept all
/// the same, as always: it says how the body came). Names are lowercase; values that are not
/// UTF-8 are kept lossily.
fn kept_headers(headers: &HeaderMap, all: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    let listed: Vec<String> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in headers {
        let n = name.as_str();
        let keep = (all && !HOP_BY_HOP.contains(&n) && !listed.iter().any(|l| l == n))
            || matches!(
                n,
                "content-type"
                    | "content-length"
                    | "transfer-encoding"
                    | "user-agent"
                    | "host"
                    | "x-forwarded-for"
            )
            || n.starts_with("ali-live-");
        if keep {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            out.entry(n.to_string())
                .and_modify(|old: &mut String| {
                    old.push_str(", ");
                    old.push_str(&v);
                })
                .or_insert(v);
        }
    }
    out
}

/// Why a body could not be read in full.
enum BodyError {
    /// `--request-timeout` passed first.
    TimedOut(Duration),
    /// The client broke the body (bad chunking, early close).
    Io(String),
}

/// Reads at most `max` bytes of body. A declared Content-Length over the limit is refused
/// without reading; a chunked body is read until it passes the limit, then cut.
/// Whatever arrived before `timeout` is kept, so the journal shows how far a slow client got.
async fn read_body(
    body: Body,
    declared: Option<u64>,
    max: usize,
    timeout: Duration,
) -> (Bytes, Option<Truncation>, Option<BodyError>) {
    let deadline = tokio::time::Instant::now() + timeout;
    if let Some(d) = declared {
        if d > max as u64 {
            return (
                Bytes::new(),
                Some(Truncation {
                    received_bytes: 0,
                    declared_bytes: Some(d),
                }),
                None,
            );
        }
    }
    let mut body = body;
    let mut buf = BytesMut::new();
    let mut received: u64 = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => return (buf.freeze(), None, Some(BodyError::TimedOut(timeout))),
        };
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    received += data.len() as u64;
                    let room = (max + 1).saturating_sub(buf.len());
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                    if received > max as u64 {
                        buf.truncate(max);
                        return (
                            buf.freeze(),
                            Some(Truncation {
                                received_bytes: received,
                                declared_bytes: declared,
                            }),
                            None,
                        );
                    }
                }
            }
            Err(e) => return (buf.freeze(), None, Some(BodyError::Io(e.to_string()))),
        }
    }
    (buf.freeze(), None, None)
}

fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether a request may read `/api/...`: with a token configured, only with
/// `Authorization: Bearer TOKEN` (from anywhere, loopback included, so that a reverse proxy on
/// the same host cannot open it by accident); without one, loopback clients only.
fn api_allowed(
    cfg: &ServerConfig,
    remote: &SocketAddr,
    headers: &HeaderMap,
) -> Result<(), Rejection> {
    match &cfg.api_token {
        Some(token) => {
            let given = headers
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if constant_time_eq(given.as_bytes(), token.as_bytes()) {
                Ok(())
            } else {
                Err(Rejection::new(
                    401,
                    "the API needs Authorization: Bearer <--api-token>",
                ))
            }
        }
        None if is_loopback(remote) => Ok(()),
        None => Err(Rejection::new(
            403,
            "the API answers loopback clients only; start recmon with --api-token to open it",
        )),
    }
}

/// The methods recmon's own endpoints answer (HEAD is GET without the body, which hyper
/// drops by itself), as sent in `Allow` with a 405.
const OWN_ENDPOINT_METHODS: &str = "GET, HEAD";

/// The methods a callback path takes, as sent in `Allow` with a 405.
const CALLBACK_METHODS: &str = "GET, POST";

/// One of recmon's own paths (not a callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnEndpoint {
    /// `/healthz`.
    Health,
    /// `/metrics`: Prometheus, under `/api`'s access rule.
    Metrics,
    /// `/api` or anything under `/api/`, with which known path it is (if it is one).
    Api(Option<ApiPath>),
}

/// recmon's API paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiPath {
    /// `/api/state`: the state document.
    State,
    /// `/api/events`: the feed as Server-Sent Events.
    Events,
    /// `/api/alerts`: the alerts firing and recently resolved.
    Alerts,
}

fn own_endpoint(path: &str) -> Option<OwnEndpoint> {
    if path == "/healthz" {
        Some(OwnEndpoint::Health)
    } else if path == "/metrics" {
        Some(OwnEndpoint::Metrics)
    } else if path == "/api" || path.starts_with("/api/") {
        Some(OwnEndpoint::Api(match path {
            "/api/state" => Some(ApiPath::State),
            "/api/events" => Some(ApiPath::Events),
            "/api/alerts" => Some(ApiPath::Alerts),
            _ => None,
        }))
    } else {
        None
    }
}

/// Why a request to one of recmon's own endpoints is refused once access is granted: an
/// unknown `/api` path (404) or a method the endpoint does not answer (405, with `Allow`).
fn endpoint_refusal(endpoint: OwnEndpoint, method: &hyper::Method) -> Option<Rejection> {
    if endpoint == OwnEndpoint::Api(None) {
        return Some(Rejection::new(
            404,
            "unknown API path: recmon's API has GET /api/state, GET /api/events and GET /api/alerts",
        ));
    }
    if method == hyper::Method::GET || method == hyper::Method::HEAD {
        return None;
    }
    let what = match endpoint {
        OwnEndpoint::Health => "/healthz",
        OwnEndpoint::Metrics => "/metrics",
        OwnEndpoint::Api(Some(ApiPath::Events)) => "/api/events",
        OwnEndpoint::Api(Some(ApiPath::Alerts)) => "/api/alerts",
        OwnEndpoint::Api(_) => "/api/state",
    };
    Some(Rejection::new(
        405,
        format!("method {method} not allowed on {what}: it answers {OWN_ENDPOINT_METHODS} only"),
    ))
}

async fn handle(req: Request<Body>, remote: SocketAddr, head_bytes: usize, ctx: Arc<Ctx>) -> Resp {
    let received_at = Utc::now();
    let path = req.uri().path().to_string();

    // Checked before anything else, for every path: the documented limit holds to the byte.
    if head_bytes > MAX_HEAD_BYTES {
        let rej = Rejection::new(
            431,
            format!(
                "request head too large: {} bytes; the request line and headers may take at most {} bytes, so send fewer or shorter headers",
                crate::util::human::thousands(head_bytes as u64),
                crate::util::human::thousands(MAX_HEAD_BYTES as u64)
            ),
        );
        let mut resp = submit_rejected(req, remote, received_at, rej, &ctx).await;
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }

    // recmon's own endpoints. A successful read of them is not journaled (it is not a
    // callback); every refusal is, like any other rejected request.
    if let Some(endpoint) = own_endpoint(&path) {
        let refusal = match endpoint {
            OwnEndpoint::Health => None,
            OwnEndpoint::Api(_) | OwnEndpoint::Metrics => {
                api_allowed(&ctx.cfg, &remote, req.headers()).err()
            }
        };
        let refusal = refusal.or_else(|| endpoint_refusal(endpoint, req.method()));
        return match refusal {
            Some(rej) => {
                let status = rej.status;
                let mut resp = submit_rejected(req, remote, received_at, rej, &ctx).await;
                if status == 405 && resp.status() == StatusCode::METHOD_NOT_ALLOWED {
                    allow(&mut resp, OWN_ENDPOINT_METHODS);
                }
                resp
            }
            None => match endpoint {
                OwnEndpoint::Health => json_response(200, serde_json::json!({ "status": "ok" })),
                OwnEndpoint::Metrics => {
                    let (text, content_type) = metrics::render(&ctx.shared.lock(), &ctx.counters);
                    let mut r = text_response(200, text);
                    r.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                    r
                }
                OwnEndpoint::Api(Some(ApiPath::Events)) => {
                    let start = api::start_position(
                        req.headers()
                            .get("last-event-id")
                            .map(|v| v.to_str().unwrap_or("(not text)")),
                        req.uri().query(),
                    );
                    match start {
                        Ok(after) => event_stream_response(&ctx, after),
                        Err(e) => {
                            submit_rejected(req, remote, received_at, Rejection::new(400, e), &ctx)
                                .await
                        }
                    }
                }
                OwnEndpoint::Api(Some(ApiPath::Alerts)) => {
                    let doc = api::alerts_document(&ctx.shared.lock());
                    json_response(200, doc)
                }
                OwnEndpoint::Api(_) => {
                    let doc = api::state_document(&ctx.shared.lock());
                    json_response(200, doc)
                }
            },
        };
    }

    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path);
    let method_name = req.method().as_str().to_string();
    let headers = kept_headers(req.headers(), ctx.cfg.keep_all_headers);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let query = req.uri().query().map(str::to_string);
    // Content-Length with Transfer-Encoding is a request-smuggling shape: hyper already
    // lets chunked win (RFC 9112 §6.3); recmon also closes the connection after answering,
    // as the RFC asks, so nothing after this request is read from the same stream.
    let smuggling = req.headers().contains_key(CONTENT_LENGTH)
        && req.headers().contains_key(hyper::header::TRANSFER_ENCODING);

    let (body, truncated, read_error) = read_body(
        req.into_body(),
        declared,
        ctx.cfg.max_body,
        ctx.cfg.request_timeout,
    )
    .await;

    // Whose request it is: pinned by path, else told by its shape. With --auth-key, the
    // providers that sign nothing are read only on the paths pinned to them: elsewhere a
    // request of their shape is ApsaraVideo's, and needs its signature, so that nobody can
    // get past the key by sending another provider's shape.
    let method = Method::from_name(&method_name);
    let provider = ctx.cfg.pins.for_path(&path_q).unwrap_or_else(|| {
        let p = crate::providers::detect(
            method,
            query.as_deref(),
            headers.get("content-type").map(String::as_str),
            headers.get("user-agent").map(String::as_str),
            &body,
        );
        match p {
            Provider::NginxRtmp | Provider::Srs if ctx.cfg.auth.is_some() => Provider::Aliyun,
            p => p,
        }
    });
    // Checked first: a forged request is refused whatever it contains, and never reaches
    // the classifier or the store. Each provider checks its own signature: ApsaraVideo's
    // headers with --auth-key, Tencent's body `sign` with --tencent-key; nginx-rtmp and SRS
    // sign nothing.
    let auth_result = match provider {
        Provider::Aliyun => ctx.cfg.auth.as_ref().map(|auth| {
            auth.verify(
                headers.get("host").map(String::as_str),
                headers.get("ali-live-timestamp").map(String::as_str),
                headers.get("ali-live-signature").map(String::as_str),
                received_at.timestamp(),
            )
        }),
        Provider::Tencent => ctx
            .cfg
            .tencent_key
            .as_ref()
            .map(|key| crate::providers::tencent::verify(&body, key, received_at.timestamp())),
        Provider::NginxRtmp | Provider::Srs => None,
    };
    let mut body_is_json = false;
    let body_unread = read_error.is_some();
    // A callback this recmon forwarded itself has come back (a --forward-to that points at
    // this listener, directly or through a proxy): answering it as a callback would forward
    // it again, for ever.
    let looped = ctx.cfg.forward_sync.is_some() || ctx.cfg.keep_all_headers;
    let looped = looped
        && headers
            .get(crate::forward::target::VIA_HEADER)
            .is_some_and(|v| {
                v.split(',')
                    .any(|id| id.trim() == crate::forward::instance_id())
            });
    let verdict = if looped {
        Err(Rejection::new(
            508,
            "forwarding loop: this callback was forwarded by this recmon itself; a --forward-to points back at this listener",
        ))
    } else if let Some(Err(why)) = &auth_result {
        Err(Rejection::new(
            403,
            format!("signature check failed: {why}"),
        ))
    } else if let Some(t) = &truncated {
        Err(Rejection::new(
            413,
            format!(
                "body too large: {} bytes, over the --max-body limit of {} bytes",
                t.declared_bytes.unwrap_or(t.received_bytes),
                ctx.cfg.max_body
            ),
        ))
    } else if let Some(e) = read_error {
        Err(match e {
            BodyError::TimedOut(t) => Rejection::new(
                408,
                format!(
                    "the body did not arrive within --request-timeout ({}s)",
                    t.as_secs()
                ),
            ),
            BodyError::Io(e) => Rejection::new(400, format!("could not read the body: {e}")),
        })
    } else {
        let (verdict, json) = crate::providers::classify(provider, method, query.as_deref(), &body);
        body_is_json = json;
        verdict
    };
    // The rest of a body that was cut, timed out or failed to read is still on the wire (or
    // the stream is broken): nothing after it on this connection can be trusted.
    let close = truncated.is_some() || smuggling || body_unread;

    let incoming = Incoming {
        provider,
        received_at,
        remote: remote.to_string(),
        method: method_name,
        path: path_q,
        headers,
        body,
        truncated,
        verdict,
        body_is_json,
        auth: auth_result.map(|r| r.is_ok()),
    };
    let error_text = incoming.verdict.as_ref().err().map(|r| r.error.clone());
    let mut resp = match &ctx.cfg.forward_sync {
        Some(sync) if incoming.verdict.is_ok() => {
            let fwd = ForwardedRequest {
                method: incoming.method.clone(),
                path: incoming.path.clone(),
                headers: incoming.headers.clone(),
                remote: incoming.remote.clone(),
                body: incoming.body.clone(),
            };
            answer_sync(&ctx, sync, incoming, fwd).await
        }
        _ => answer(&ctx, incoming, error_text).await,
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        allow(&mut resp, CALLBACK_METHODS);
    }
    if close {
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
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

async fn submit_rejected(
    req: Request<Body>,
    remote: SocketAddr,
    received_at: chrono::DateTime<Utc>,
    rej: Rejection,
    ctx: &Ctx,
) -> Resp {
    let incoming = Incoming {
        // Not a provider's request (a broken connection, recmon's own paths): journaled
        // under the default provider, whose readers find no callback in it.
        provider: Provider::Aliyun,
        received_at,
        remote: remote.to_string(),
        method: req.method().as_str().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        headers: kept_headers(req.headers(), ctx.cfg.keep_all_headers),
        body: Bytes::new(),
        truncated: None,
        verdict: Err(rej.clone()),
        body_is_json: false,
        auth: None,
    };
    answer(ctx, incoming, Some(rej.error)).await
}

/// `--forward-mode sync`: journal the callback, pass it to the backend, journal the attempt,
/// and answer with the backend's status and body; 504 when it does not answer within
/// `--forward-timeout`, 502 when it cannot be reached, so the provider retries.
///
/// nginx-rtmp and SRS never retry, and take any answer but a success as "refuse or drop the
/// stream" ([`crate::providers::never_refuse`]): for them recmon's own failures never reach
/// the answer. The backend's answer is still theirs when it gives one (a 4xx from the
/// backend's `on_publish` is its decision), but a backend that cannot be reached, does not
/// answer in time or fails (5xx) gets them a success ([`crate::providers::going_on`]); and a
/// journal that cannot be written does not stop the callback from reaching the backend (sent
/// without `X-Recmon-Seq`: it has none).
///
/// The attempt runs in a task of its own, so that it is made and journaled to the end even if
/// the provider hangs up first.
async fn answer_sync(
    ctx: &Arc<Ctx>,
    sync: &SyncForward,
    incoming: Incoming,
    fwd: ForwardedRequest,
) -> Resp {
    let provider = incoming.provider;
    let goes_on = crate::providers::never_refuse(provider);
    let going_on = |why: &str| {
        let (status, body) = crate::providers::going_on(why);
        text_response(status, body)
    };
    let ack = match ctx.seq.submit(incoming).await {
        Ok(ack) => Some(ack),
        Err(failed) if goes_on => {
            tracing::warn!("{}; the callback goes to the backend unjournaled", failed.0);
            None
        }
        Err(failed) => {
            return error_response(
                503,
                &format!("{}; the callback was not recorded, retry later", failed.0),
            )
        }
    };
    let (ctx, sync) = (ctx.clone(), sync.clone());
    let attempt = tokio::spawn(async move {
        let seq = ack.as_ref().map_or(0, |a| a.seq);
        let tried = sync.sender.send(&sync.target, &fwd, seq).await;
        let delivered = tried.delivered();
        let result = if delivered {
            DeliveryResult::Delivered
        } else {
            DeliveryResult::Failed
        };
        let journaled = match ack {
            Some(_) => format!("the callback is journaled as seq {seq}"),
            None => "the callback could not be journaled either".to_string(),
        };
        let resp = match &tried.answer {
            Ok(a) if goes_on && a.status.is_server_error() => going_on(&format!(
                "the backend answered {}; {journaled}",
                a.status.as_u16()
            )),
            Ok(a) => {
                let mut r = Response::new(Either::Left(Full::new(a.body.clone())));
                *r.status_mut() = a.status;
                if let Some(ct) = &a.content_type {
                    r.headers_mut().insert(CONTENT_TYPE, ct.clone());
                }
                r
            }
            Err(crate::forward::Failure::Timeout(t)) if goes_on => going_on(&format!(
                "the backend did not answer within {} ms (--forward-timeout); {journaled}",
                t.as_millis()
            )),
            Err(crate::forward::Failure::Timeout(t)) => error_response(
                504,
                &format!(
                    "the backend did not answer within {} ms (--forward-timeout); {journaled}, retry",
                    t.as_millis()
                ),
            ),
            Err(crate::forward::Failure::Connection(e)) if goes_on => {
                going_on(&format!("the backend could not be reached: {e}; {journaled}"))
            }
            Err(crate::forward::Failure::Connection(e)) => error_response(
                502,
                &format!("the backend could not be reached: {e}; {journaled}, retry"),
            ),
        };
        if ack.is_none() {
            return resp;
        }
        let mut d = tried.delivery(seq, &sync.target.name, ForwardMode::Sync, 1, result);
        d.answered = Some(resp.status().as_u16());
        match ctx.seq.record_delivery(d).await {
            Ok(_) => resp,
            // The backend has the callback (and, for nginx-rtmp and SRS, decided): its answer
            // stands.
            Err(_) if goes_on => resp,
            Err(failed) => error_response(
                503,
                &format!(
                    "{}; the backend's answer could not be recorded, retry later",
                    failed.0
                ),
            ),
        }
    });
    match attempt.await {
        Ok(resp) => resp,
        Err(e) if goes_on => going_on(&format!("forwarding failed: {e}")),
        Err(e) => error_response(502, &format!("forwarding failed: {e}")),
    }
}

async fn answer(ctx: &Ctx, incoming: Incoming, error_text: Option<String>) -> Resp {
    let provider = incoming.provider;
    // Only a notice changes the answer's shape (the on-demand question); nothing is cloned
    // for the others.
    let notice = match &incoming.verdict {
        Ok(cb @ crate::event::Callback::Notice(_)) => Some(cb.clone()),
        _ => None,
    };
    match ctx.seq.submit(incoming).await {
        Ok(ack) => {
            let (status, body) = crate::providers::answer(
                provider,
                ack.seq,
                ack.outcome,
                ack.status,
                error_text.as_deref(),
                notice.as_ref(),
            );
            text_response(status, body)
        }
        // nginx-rtmp and SRS never retry, and a non-2xx refuses or drops the stream: the
        // callback is lost either way (and the failing journal is on every screen), the
        // broadcast need not be.
        Err(failed) if crate::providers::never_refuse(provider) => {
            let (status, body) =
                crate::providers::going_on(&format!("{}; the callback was not recorded", failed.0));
            text_response(status, body)
        }
        Err(failed) => error_response(
            503,
            &format!("{}; the callback was not recorded, retry later", failed.0),
        ),
    }
}
