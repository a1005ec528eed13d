//! Sending callbacks to a receiver, shared by `replay` and `simulate`.
//!
//! One request is in flight at a time over a keep-alive connection: the receiver must see the
//! callbacks in the order they were recorded (or generated), because a stream's state depends
//! on it (paused before resumed). On loopback this still sends thousands of requests a second.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::cli::Speed;
use crate::error::AppError;
use crate::providers::aliyun::auth;
use crate::util::human;
use crate::util::sanitize::terminal;

/// Header carrying the signing time (Unix seconds), see [`crate::providers::aliyun::auth`].
pub const TIMESTAMP_HEADER: &str = "ALI-LIVE-TIMESTAMP";

/// Header carrying the signature, see [`crate::providers::aliyun::auth::signature`].
pub const SIGNATURE_HEADER: &str = "ALI-LIVE-SIGNATURE";

/// How long one request may take before it counts as failed. The provider itself gives up
/// after about 5 s; this is generous so a slow receiver is reported, not mistaken for down.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The receiver a `--to URL` names.
#[derive(Debug, Clone)]
pub struct Target {
    url: String,
    scheme_authority: String,
    host: String,
    path: Option<String>,
    query: Option<String>,
}

impl Target {
    /// Parses `--to URL`: `http://host[:port][/path][?query]`. Only plain HTTP is supported.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e| {
            format!("--to {url:?} is not a URL ({e}); expected e.g. http://127.0.0.1:8080/recmon")
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "--to {url}: https is not supported; send to the receiver's plain http port, or put it behind a local TLS-terminating proxy"
                ))
            }
            _ => {
                return Err(format!(
                    "--to {url:?} needs http:// and a host, e.g. http://127.0.0.1:8080/recmon"
                ))
            }
        }
        let authority = uri.authority().ok_or_else(|| {
            format!("--to {url:?} has no host; expected e.g. http://127.0.0.1:8080")
        })?;
        // The signed host is the URL's host as written: an IPv6 literal keeps its brackets
        // (`[::1]`), as in the Host header the receiver checks (see auth::host_without_port).
        let host = authority.host().to_string();
        let path = match uri.path() {
            "" | "/" => None,
            p => Some(p.to_string()),
        };
        Ok(Target {
            url: url.to_string(),
            scheme_authority: format!("http://{authority}"),
            host,
            path,
            query: uri.query().filter(|q| !q.is_empty()).map(str::to_string),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host the signature is computed over: the URL's host without the port; an IPv6
    /// literal keeps its brackets (`[::1]`), which is what the receiver sees in `Host`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where a recorded request goes. With a bare `--to http://host:port` the recorded path and
    /// query are kept. With a path in `--to`, that path replaces the recorded one (it is the
    /// receiver's NotifyUrl) and the recorded query is kept, after `--to`'s own query if any.
    pub fn uri_for_recorded(&self, recorded: &str) -> Result<Uri, String> {
        let (rec_path, rec_query) = match recorded.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (recorded, None),
        };
        let path = self
            .path
            .as_deref()
            .unwrap_or(if rec_path.is_empty() { "/" } else { rec_path });
        self.build(path, rec_query)
    }

    /// Where a generated request goes: `--to`'s path (or `/`), with `query` after `--to`'s own.
    pub fn uri_with_query(&self, query: Option<&str>) -> Result<Uri, String> {
        self.build(self.path.as_deref().unwrap_or("/"), query)
    }

    fn build(&self, path: &str, extra_query: Option<&str>) -> Result<Uri, String> {
        let query = match (self.query.as_deref(), extra_query.filter(|q| !q.is_empty())) {
            (Some(a), Some(b)) => format!("?{a}&{b}"),
            (Some(a), None) | (None, Some(a)) => format!("?{a}"),
            (None, None) => String::new(),
        };
        let text = format!("{}{path}{query}", self.scheme_authority);
        text.parse()
            .map_err(|e| format!("cannot build a request URL from {text:?}: {e}"))
    }
}

/// Sends each request at `start + offset / speed`. Deadlines are absolute, so time spent
/// sending does not accumulate into drift.
pub struct Pacer {
    speed: Speed,
    start: Option<tokio::time::Instant>,
}

impl Pacer {
    /// A pacer; the clock starts at the first [`Pacer::wait`].
    pub fn new(speed: Speed) -> Self {
        Pacer { speed, start: None }
    }

    /// Waits until `offset_secs` (scaled) after the first call.
    pub async fn wait(&mut self, offset_secs: f64) {
        let Speed::Factor(speed) = self.speed else {
            return;
        };
        let start = *self.start.get_or_insert_with(tokio::time::Instant::now);
        let secs = (offset_secs / speed).max(0.0);
        if secs.is_finite() {
            tokio::time::sleep_until(start + Duration::from_secs_f64(secs)).await;
        }
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// GET, POST, ...
    pub method: String,
    /// Full URL (from [`Target`]).
    pub uri: Uri,
    /// Content-Type to send, if any.
    pub content_type: Option<String>,
    /// The body, byte for byte.
    pub body: Bytes,
    /// More headers to send (replay's `X-Recmon-Seq`), before any signature.
    pub headers: Vec<(String, String)>,
}

/// The receiver's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The answer's body (for reporting non-2xx answers).
    pub body: Bytes,
}

impl Answer {
    /// Whether the receiver accepted the request (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as terminal-safe text, cut short, for a report line.
    pub fn body_excerpt(&self) -> String {
        terminal(&String::from_utf8_lossy(&self.body), 200).into_owned()
    }
}

/// Sends callbacks over one keep-alive HTTP/1.1 client, signing them when a key is given.
pub struct CallbackSender {
    client: Client<HttpConnector, Full<Bytes>>,
    target: Target,
    auth_key: Option<String>,
    user_agent: HeaderValue,
}

impl CallbackSender {
    /// A sender to `target`. With `auth_key`, each request gets fresh `ALI-LIVE-TIMESTAMP`
    /// and `ALI-LIVE-SIGNATURE` headers (see [`crate::providers::aliyun::auth`]).
    pub fn new(target: Target, auth_key: Option<String>, user_agent: &'static str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(4)
            .build(connector);
        CallbackSender {
            client,
            target,
            auth_key: auth_key.filter(|k| !k.is_empty()),
            user_agent: HeaderValue::from_static(user_agent),
        }
    }

    /// The receiver.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends one request and waits for the whole answer. An error means no HTTP answer came
    /// back (connection refused, reset, timeout); its text says what to check.
    pub async fn send(&self, out: Outgoing) -> Result<Answer, String> {
        let method = Method::from_bytes(out.method.as_bytes())
            .map_err(|_| format!("{:?} is not an HTTP method", out.method))?;
        let mut req = Request::builder()
            .method(method)
            .uri(out.uri.clone())
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(ct) = out.content_type.as_deref() {
            if let Ok(v) = HeaderValue::from_str(ct) {
                req = req.header(CONTENT_TYPE, v);
            }
        }
        for (name, value) in &out.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                req = req.header(name.as_str(), v);
            }
        }
        if let Some(key) = &self.auth_key {
            let ts = chrono::Utc::now().timestamp();
            req = req.header(TIMESTAMP_HEADER, ts.to_string()).header(
                SIGNATURE_HEADER,
                auth::signature(&self.target.host, ts, key),
            );
        }
        let req = req
            .body(Full::new(out.body))
            .map_err(|e| format!("cannot build the request to {}: {e}", out.uri))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                let mut msg = format!("no answer from {}: {e}", self.target.url());
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg.push_str(&format!(": {s}"));
                    source = s.source();
                }
                msg.push_str("; is the receiver running and reachable?");
                msg
            })?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("the answer from {} was cut off: {e}", self.target.url()))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "{} did not answer within {} s",
                self.target.url(),
                REQUEST_TIMEOUT.as_secs()
            )),
        }
    }
}

/// Why a sending command (`replay`, `simulate`) stopped before the end of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The user pressed Ctrl-C (exit code 130, as shells expect).
    Interrupted,
    /// Nobody reads the report any more (`recmon simulate … 2>&1 | head`): a normal end, as
    /// for any Unix filter whose reader has what it wanted.
    OutputClosed,
    /// A request could not be sent or built (the receiver went away, say): why.
    Failed(String),
}

/// Counts answers by status, and by what a recmon receiver made of them, for the summary.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Requests for which an answer came back.
    pub answered: u64,
    /// Answers per HTTP status.
    pub by_status: std::collections::BTreeMap<u16, u64>,
    /// 2xx answers per `outcome` named in their body (`accepted`, `duplicate`): what a
    /// recmon receiver did with them. Empty for receivers that do not say.
    pub by_outcome: std::collections::BTreeMap<String, u64>,
    /// Requests that got no answer.
    pub failed: u64,
    started: Option<Instant>,
}

/// The `outcome` a recmon acknowledgement carries: `{"ok":true,"seq":7,"outcome":"duplicate"}`.
fn ack_outcome(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Ack {
        outcome: String,
    }
    let ack: Ack = serde_json::from_slice(body).ok()?;
    // Only a plain word is counted: the receiver is not trusted to send sane text.
    (!ack.outcome.is_empty()
        && ack.outcome.len() <= 32
        && ack
            .outcome
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some(ack.outcome)
}

impl Tally {
    /// Starts the clock for the rate in [`Tally::summary`].
    pub fn start(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    /// Counts one answer.
    pub fn record(&mut self, answer: &Answer) {
        self.answered += 1;
        *self.by_status.entry(answer.status).or_default() += 1;
        if answer.is_success() {
            if let Some(outcome) = ack_outcome(&answer.body) {
                *self.by_outcome.entry(outcome).or_default() += 1;
            }
        }
    }

    /// Answers outside 2xx.
    pub fn non_success(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// True when every request was answered 2xx.
    pub fn all_ok(&self) -> bool {
        self.failed == 0 && self.non_success() == 0
    }

    /// How a sending command (`replay`, `simulate`) ends: 130 when interrupted, 1 when it
    /// stopped early for another reason or when any answer was not 2xx, else success. A
    /// closed output is a normal end: the code is what the requests sent until then earned.
    pub fn outcome(&self, command: &str, stopped: Option<Stop>) -> Result<(), AppError> {
        match stopped {
            None | Some(Stop::OutputClosed) => {}
            Some(Stop::Interrupted) => {
                return Err(AppError::new(
                    130,
                    format!("{command} stopped early: interrupted (Ctrl-C)"),
                ))
            }
            Some(Stop::Failed(e)) => {
                return Err(AppError::new(1, format!("{command} stopped early: {e}")))
            }
        }
        if !self.all_ok() {
            let n = self.non_success();
            return Err(AppError::new(
                1,
                format!(
                    "{} not answered 2xx{}",
                    human::count(n, "request was", "requests were"),
                    if self.failed > 0 && n == 0 {
                        String::new()
                    } else {
                        " (listed above)".to_string()
                    }
                ),
            ));
        }
        Ok(())
    }

    /// `answers: 200 ×57, 503 ×2; the receiver counted 50 accepted, 7 duplicates;
    /// 1 without answer; 3.1 s (18/s)`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .by_status
            .iter()
            .map(|(s, n)| format!("{s} ×{}", human::thousands(*n)))
            .collect();
        if parts.is_empty() {
            parts.push("none".into());
        }
        let mut line = format!("answers: {}", parts.join(", "));
        if !self.by_outcome.is_empty() {
            let counted: Vec<String> = self
                .by_outcome
                .iter()
                .map(|(o, n)| match o.as_str() {
                    "duplicate" => human::count(*n, "duplicate", "duplicates"),
                    _ => format!("{} {o}", human::thousands(*n)),
                })
                .collect();
            line.push_str(&format!("; the receiver counted {}", counted.join(", ")));
        }
        if self.failed > 0 {
            line.push_str(&format!(
                "; {} without answer",
                human::thousands(self.failed)
            ));
        }
        if let Some(t) = self.started {
            let secs = t.elapsed().as_secs_f64();
            let rate = if secs > 0.0 {
                self.answered as f64 / secs
            } else {
                0.0
            };
            line.push_str(&format!(
                "; {secs:.1} s ({}/s)",
                human::thousands(rate.round() as u64)
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_target_keeps_the_recorded_path_and_query() {
        let t = Target::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            t.uri_for_recorded("/pub?action=publish&id=x").unwrap(),
            "http://127.0.0.1:9000/pub?action=publish&id=x"
        );
        assert_eq!(t.host(), "127.0.0.1");
        let t = Target::parse("http://example.com/").unwrap();
        assert_eq!(
            t.uri_for_recorded("/recmon").unwrap(),
            "http://example.com/recmon"
        );
    }

    #[test]
    fn target_path_replaces_the_recorded_path_and_queries_join() {
        let t = Target::parse("http://h:1/hooks/aliyun?token=t").unwrap();
        assert_eq!(
            t.uri_for_recorded("/recmon?action=publish").unwrap(),
            "http://h:1/hooks/aliyun?token=t&action=publish"
        );
        assert_eq!(
            t.uri_for_recorded("/recmon").unwrap(),
            "http://h:1/hooks/aliyun?token=t"
        );
        assert_eq!(
            t.uri_with_query(Some("a=1")).unwrap(),
            "http://h:1/hooks/aliyun?token=t&a=1"
        );
        assert_eq!(t.host(), "h");
    }

    #[test]
    fn the_signed_host_is_the_one_the_receiver_checks() {
        // The receiver signs over the Host header without its port; the sender's Host header
        // is the URL's authority. Both sides must land on the same text, IPv6 included.
        for (url, host) in [
            ("http://rec.example.com/cb", "rec.example.com"),
            ("http://rec.example.com:8080/cb", "rec.example.com"),
            ("http://127.0.0.1:8080", "127.0.0.1"),
            ("http://[::1]:8080/recmon", "[::1]"),
            ("http://[fd00::2]/recmon", "[fd00::2]"),
        ] {
            let t = Target::parse(url).unwrap();
            assert_eq!(t.host(), host, "{url}");
            let authority = url.trim_start_matches("http://").split('/').next().unwrap();
            assert_eq!(auth::host_without_port(authority), t.host(), "{url}");
        }
    }

    #[test]
    fn bad_targets_say_what_is_expected() {
        assert!(Target::parse("https://h").unwrap_err().contains("https"));
        assert!(Target::parse("h:80").unwrap_err().contains("http://"));
        assert!(Target::parse("ftp://h").unwrap_err().contains("http://"));
        assert_eq!(Target::parse("http://[::1]:8080").unwrap().host(), "[::1]");
    }

    #[test]
    fn speed_parses_numbers_and_max() {
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        assert_eq!("2.5".parse::<Speed>().unwrap(), Speed::Factor(2.5));
        for bad in ["0", "-1", "fast", "NaN", "inf"] {
            assert!(bad.parse::<Speed>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tally_counts_non_success() {
        let mut t = Tally::default();
        for s in [200, 200, 503, 404] {
            t.record(&Answer {
                status: s,
                body: Bytes::new(),
            });
        }
        assert_eq!(t.non_success(), 2);
        assert!(!t.all_ok());
        assert!(t.summary().starts_with("answers: 200 ×2, 404 ×1, 503 ×1"));
        assert_eq!(
            t.outcome("replay", None).unwrap_err().message,
            "2 requests were not answered 2xx (listed above)"
        );
    }

    #[test]
    fn why_a_run_stopped_decides_its_exit_code() {
        let ok = Tally::default();
        assert!(ok.outcome("simulate", None).is_ok());
        // A reader that went away is a normal end.
        assert!(ok.outcome("simulate", Some(Stop::OutputClosed)).is_ok());
        let e = ok.outcome("replay", Some(Stop::Interrupted)).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (130, "replay stopped early: interrupted (Ctrl-C)")
        );
        let e = ok
            .outcome("replay", Some(Stop::Failed("#3 POST /cb: refused".into())))
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (1, "replay stopped early: #3 POST /cb: refused")
        );
    }

    #[test]
    fn tally_counts_what_the_receiver_made_of_each_answer() {
        let mut t = Tally::default();
        let ack = |outcome: &str| Answer {
            status: 200,
            body: Bytes::from(format!(r#"{{"ok":true,"seq":1,"outcome":"{outcome}"}}"#)),
        };
        for _ in 0..1234 {
            t.record(&ack("accepted"));
        }
        t.record(&ack("duplicate"));
        // Not from recmon, or not a word: not counted as an outcome.
        t.record(&Answer {
            status: 200,
            body: Bytes::from_static(b"OK"),
        });
        t.record(&ack("\\u001b[2J"));
        t.record(&Answer {
            status: 503,
            body: Bytes::from_static(br#"{"outcome":"accepted"}"#),
        });
        assert_eq!(
            t.summary(),
            "answers: 200 ×1,237, 503 ×1; the receiver counted 1,234 accepted, 1 duplicate"
        );
        assert_eq!(
            t.outcome("simulate", None).unwrap_err().message,
            "1 request was not answered 2xx (listed above)"
        );
    }
}
