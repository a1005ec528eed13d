//! What both clients share: the HTTP(S) client (hyper's legacy client over the rustls
//! connector of [`crate::util::http_client`], a timeout per request, the answer's size capped),
//! a per-action rate limiter, the retry backoff (pure), the endpoint, capped untrusted text and
//! lenient numbers for the answers' serde structs.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Deserializer};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::event::Provider;
use crate::reconcile::error::ReconcileError;
use crate::util::http_client;

/// The largest answer read (bytes): 500 records of a few KiB each fit many times over; more is
/// refused as a bad answer rather than held in memory.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// An endpoint: scheme, host and port, and the `Host` header value signed for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    pub scheme: String,
    /// The `Host` header (host, and `:port` when not the scheme's default).
    pub host: String,
}

impl Endpoint {
    /// Reads `https://host[:port]` or `http://host[:port]` (a bare host means https). A path,
    /// query or user info is refused: the APIs live at `/`, and a credential in a URL would
    /// end up in messages.
    pub fn parse(provider: Provider, url: &str) -> Result<Endpoint, ReconcileError> {
        let bad = |detail: String| ReconcileError::BadEndpoint { provider, detail };
        let url = url.trim();
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            format!("https://{url}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|_| bad("not a URL; expected https://host[:port]".to_string()))?;
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad("the scheme must be https or http".to_string()));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("no host in the URL".to_string()))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "user info in the URL is not allowed; credentials come from the environment"
                    .to_string(),
            ));
        }
        if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
            return Err(bad(
                "the endpoint takes no path or query; expected https://host[:port]".to_string(),
            ));
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(p) if p != default_port => format!("{}:{p}", authority.host()),
            _ => authority.host().to_string(),
        };
        Ok(Endpoint { scheme, host })
    }

    /// `scheme://host` (never a credential).
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

/// One answer: status, headers and the body (at most [`MAX_ANSWER_BYTES`]).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Why one attempt got no answer.
#[derive(Debug)]
pub enum SendError {
    /// Connection failed, or the request timed out: worth another try.
    Network(String),
    /// The answer was larger than [`MAX_ANSWER_BYTES`], or broke off.
    Body(String),
}

/// The HTTP(S) client: one connection pool, a timeout per request.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpClient(timeout {:?})", self.timeout)
    }
}

impl HttpClient {
    /// A client for `endpoint` with `timeout` per request (connect, send and read the answer).
    pub fn new(
        provider: Provider,
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<HttpClient, ReconcileError> {
        let connector = http_client::connector(endpoint.scheme == "https", None)
            .map_err(|detail| ReconcileError::BadEndpoint { provider, detail })?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpClient { client, timeout })
    }

    /// Sends `req` and reads the answer within the timeout.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Answer, SendError> {
        let work = async {
            let resp = self.client.request(req).await.map_err(|e| {
                SendError::Network(http_client::describe_error(&e, "the provider's API"))
            })?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        SendError::Body(format!(
                            "the answer is larger than {} MiB",
                            MAX_ANSWER_BYTES / (1024 * 1024)
                        ))
                    } else {
                        SendError::Network("the answer broke off".to_string())
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(SendError::Network(format!(
                "no answer within {} s",
                self.timeout.as_secs_f32()
            ))),
        }
    }
}

/// Spaces the requests of each action at least `1/qps` apart (a simple, strict limiter:
/// never more than `qps` requests in any second, from this process).
#[derive(Debug, Default)]
pub struct RateLimiter {
    next: Mutex<HashMap<&'static str, Instant>>,
}

impl RateLimiter {
    /// Waits until `action` may be sent again at `qps` requests per second.
    pub async fn acquire(&self, action: &'static str, qps: u32) {
        let interval = Duration::from_secs_f64(1.0 / f64::from(qps.max(1)));
        let wait_until = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.get(action).copied().unwrap_or(now).max(now);
            next.insert(action, slot + interval);
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }
}

/// The retry policy: how many attempts, and how long to wait before each retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all (the first included).
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each one after.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 6 attempts, 0.5 s doubling up to 8 s (0.5 + 1 + 2 + 4 + 8: about 15 s in all), which
    /// outlasts a one-second QPS window several times over.
    fn default() -> Self {
        Backoff {
            max_attempts: 6,
            base: Duration::from_millis(500),
            max: Duration::from_secs(8),
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first), or the provider's own hint
    /// when it gave one (capped at `max`). Pure: no jitter here; the clients add up to a
    /// quarter more at random so that several processes do not retry in step.
    pub fn delay(&self, retry: u32, hint: Option<Duration>) -> Duration {
        if let Some(h) = hint {
            return h.min(self.max);
        }
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Up to a quarter of `d` more, at random.
pub fn jitter(d: Duration) -> Duration {
    let quarter = d.as_millis() as u64 / 4;
    if quarter == 0 {
        return d;
    }
    d + Duration::from_millis(rand::random_range(0..=quarter))
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A JSON string (or number, or bool, written as text), absent or null as empty, capped.
fn text<'de, D: Deserializer<'de>>(d: D, max: usize) -> Result<String, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => cap(s, max),
        Some(other @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            other.to_string()
        }
        Some(other) => cap(other.to_string(), max),
    })
}

/// Serde helper: a short field (a name, a time, a code), capped at 1 KiB.
pub fn text_1k<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, 1024)
}

/// Serde helper: a URL or a message, capped at 8 KiB.
pub fn text_8k<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, 8 * 1024)
}

/// Serde helper: a callback's body or the answer to it, capped at 64 KiB.
pub fn text_64k<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d, 64 * 1024)
}

/// Serde helper: a number given as a number or as a string; absent, null or unreadable as
/// `None` (an odd field must not lose the whole page).
pub fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Serde helper: an integer given as a number or as a string, else `None`.
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Serde helper: a bool given as a bool or as `"true"`/`"false"`, else `None`.
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// A 32-hex-digit nonce, like the SDK's.
pub fn nonce() -> String {
    let v: u128 = rand::random();
    format!("{v:032x}")
}

/// Words for a JSON error without its text (which may quote the provider's answer).
pub trait ClassifyWords {
    /// The words.
    fn classify_words(&self) -> &'static str;
}

impl ClassifyWords for serde_json::Error {
    /// The words.
    fn classify_words(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "cut short",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a field of the wrong type",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse(Provider::Aliyun, "https://live.aliyuncs.com").unwrap();
        assert_eq!(e.host, "live.aliyuncs.com");
        assert_eq!(e.scheme, "https");
        let e = Endpoint::parse(Provider::Aliyun, "http://127.0.0.1:8080/").unwrap();
        assert_eq!(e.host, "127.0.0.1:8080");
        assert_eq!(e.base(), "http://127.0.0.1:8080");
        let e = Endpoint::parse(Provider::Tencent, "live.tencentcloudapi.com:443").unwrap();
        assert_eq!(e.host, "live.tencentcloudapi.com");
        for bad in [
            "ftp://x",
            "https://user:pw@x",
            "https://x/path",
            "https://x/?a=1",
            "",
        ] {
            assert!(Endpoint::parse(Provider::Aliyun, bad).is_err(), "{bad}");
        }
        let err = Endpoint::parse(Provider::Aliyun, "https://user:pw@x").unwrap_err();
        assert!(!err.to_string().contains("pw"));
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_honours_hints() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, None), Duration::from_millis(500));
        assert_eq!(b.delay(2, None), Duration::from_secs(1));
        assert_eq!(b.delay(5, None), Duration::from_secs(8));
        assert_eq!(b.delay(40, None), Duration::from_secs(8));
        assert_eq!(
            b.delay(1, Some(Duration::from_millis(3))),
            Duration::from_millis(3)
        );
        assert_eq!(b.delay(1, Some(Duration::from_secs(99))), b.max);
    }

    #[test]
    fn cap_cuts_at_a_character_boundary() {
        assert_eq!(cap("héllo".to_string(), 2), "h");
        assert_eq!(cap("abc".to_string(), 10), "abc");
    }

    #[tokio::test]
    async fn the_limiter_spaces_requests() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            l.acquire("A", 20).await;
        }
        // 5 requests at 20/s: the 5th no sooner than 4 × 50 ms.
        assert!(t0.elapsed() >= Duration::from_millis(195));
        let t1 = Instant::now();
        l.acquire("B", 20).await;
        assert!(t1.elapsed() < Duration::from_millis(40));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
        assert_eq!(nonce().len(), 32);
    }
}
