//! One `--forward-to` target, and the request a callback is forwarded as. Pure: no I/O.
//!
//! What the backend gets ([`prepare`]):
//! - the callback's method;
//! - the target URL, with the callback's query string appended after the target's own query
//!   (ingest callbacks are GETs whose data is the query);
//! - the body byte for byte;
//! - every header recmon received except the hop-by-hop ones (RFC 9110 §7.6.1, and any named
//!   in `Connection`), `Host` (the target's own is sent) and `Content-Length` (recomputed), so
//!   `Content-Type`, `ALI-LIVE-TIMESTAMP` and `ALI-LIVE-SIGNATURE` pass unchanged;
//! - `X-Recmon-Seq: <seq>` (the backend can de-duplicate on it: a redelivery carries the same
//!   seq; left out for the one kind of callback that has none: nginx-rtmp's or SRS's in sync
//!   mode while the journal cannot be written), `X-Forwarded-For` (the provider's address appended), `X-Forwarded-Host` and
//!   `X-Forwarded-Proto` (kept when a proxy in front of recmon already set them);
//! - with `--forward-sign-key`, a fresh `ALI-LIVE-TIMESTAMP` / `ALI-LIVE-SIGNATURE` pair for the
//!   target's host instead of the provider's.

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Uri;

use crate::core::outbox::{ForwardedRequest, HOP_BY_HOP};
use crate::providers::aliyun::auth::{host_without_port, signature};

/// A parsed `--forward-to URL`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL without any `user:password@`: how the journal and the views name it.
    pub name: String,
    scheme: String,
    authority: String,
    path: String,
    query: Option<String>,
    basic_auth: Option<HeaderValue>,
}

/// The header naming every recmon a callback was forwarded by (each process's
/// [`crate::forward::instance_id`], comma-separated): a recmon that sees its own refuses the
/// callback (508) instead of forwarding it again.
pub const VIA_HEADER: &str = "x-recmon-via";

/// Headers recmon sets itself (or that describe the received message), never passed on as
/// received; the hop-by-hop ones ([`HOP_BY_HOP`]) are not either.
const SET_HERE: &[&str] = &[
    "transfer-encoding",
    "host",
    "content-length",
    "x-recmon-seq",
    VIA_HEADER,
];

impl Target {
    /// Parses and checks a target URL: http or https, with a host.
    pub fn parse(url: &str) -> Result<Target, String> {
        let shown = crate::util::sanitize::terminal(url, 200).into_owned();
        let uri: Uri = url.trim().parse().map_err(|_| {
            format!("--forward-to {shown:?} is not a URL; e.g. http://127.0.0.1:9000/callbacks")
        })?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            Some(other) => {
                return Err(format!(
                    "--forward-to {shown:?}: the scheme must be http or https, not {other}"
                ))
            }
            None => {
                return Err(format!(
                "--forward-to {shown:?} has no scheme: write http:// or https:// before the host"
            ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--forward-to {shown:?} has no host"))?
            .as_str();
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(format!("--forward-to {shown:?} has no host"));
        }
        let basic_auth = userinfo.map(|u| {
            let token = base64::engine::general_purpose::STANDARD.encode(percent_decode(u));
            let mut v = HeaderValue::from_str(&format!("Basic {token}"))
                .expect("base64 is a valid header value");
            v.set_sensitive(true);
            v
        });
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let query = uri.query().map(str::to_string);
        let name = format!(
            "{scheme}://{host}{path}{}",
            query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default()
        );
        Ok(Target {
            name,
            scheme,
            authority: host.to_string(),
            path,
            query,
            basic_auth,
        })
    }

    /// Whether the target is https.
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// The host (an IPv6 address without its brackets) and port a connection to the target
    /// goes to: what an outage's probe connects to.
    pub fn host_port(&self) -> (String, u16) {
        let default = if self.is_https() { 443 } else { 80 };
        let (host, port) = match self.authority.rsplit_once(':') {
            // `[::1]` alone has colons but no port.
            Some((h, p)) if !p.contains(']') => (h, p.parse().unwrap_or(default)),
            _ => (self.authority.as_str(), default),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (host.to_string(), port)
    }

    /// The URL a callback with `query` is sent to: the target's query first, then the
    /// callback's.
    pub fn uri_for(&self, query: Option<&str>) -> Uri {
        let q = match (self.query.as_deref(), query.filter(|q| !q.is_empty())) {
            (Some(a), Some(b)) => format!("?{a}&{b}"),
            (Some(a), None) => format!("?{a}"),
            (None, Some(b)) => format!("?{b}"),
            (None, None) => String::new(),
        };
        format!("{}://{}{}{q}", self.scheme, self.authority, self.path)
            .parse()
            .unwrap_or_else(|_| {
                // The callback's query came through hyper's parser, so it is valid in a URI;
                // should it ever not be, the target's own URL still is.
                format!("{}://{}{}", self.scheme, self.authority, self.path)
                    .parse()
                    .expect("the target URL parsed once")
            })
    }

    /// The host the provider's signature formula takes for this target (no port).
    pub fn signature_host(&self) -> &str {
        host_without_port(&self.authority)
    }
}

/// `%41` → `A` in a URL's user:password.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The request a callback is forwarded as (see the module's documentation). `sign_key` is
/// `--forward-sign-key`; `now` is Unix seconds for its timestamp.
pub fn prepare(
    target: &Target,
    req: &ForwardedRequest,
    seq: u64,
    sign_key: Option<&str>,
    now: i64,
) -> hyper::Request<Full<Bytes>> {
    let method = hyper::Method::from_bytes(req.method.as_bytes()).unwrap_or(hyper::Method::POST);
    let mut out = hyper::Request::builder()
        .method(method)
        .uri(target.uri_for(req.query()))
        .body(Full::new(req.body.clone()))
        .expect("method and URI are valid");
    let h = out.headers_mut();
    // Names listed in Connection are hop-by-hop too.
    let listed: Vec<String> = req
        .headers
        .get("connection")
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let signing = sign_key.is_some();
    for (name, value) in &req.headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || SET_HERE.contains(&n)
            || listed.iter().any(|l| l == n)
            || (signing && (n == "ali-live-timestamp" || n == "ali-live-signature"))
        {
            continue;
        }
        // Names and values came through hyper's parser; one that no longer makes a header
        // (a value that was not UTF-8, kept lossily) is left out rather than sent altered.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    // 0: not journaled (sync mode, nginx-rtmp or SRS, while the journal fails): no seq to
    // de-duplicate on.
    if seq > 0 {
        h.insert(
            HeaderName::from_static("x-recmon-seq"),
            HeaderValue::from(seq),
        );
    }
    let via = match req.headers.get(VIA_HEADER) {
        Some(prior) if !prior.trim().is_empty() => {
            format!("{prior}, {}", crate::forward::instance_id())
        }
        _ => crate::forward::instance_id().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&via) {
        h.insert(HeaderName::from_static(VIA_HEADER), v);
    }
    let client_ip = req
        .remote
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| req.remote.clone());
    let xff = match req.headers.get("x-forwarded-for") {
        Some(prior) if !prior.trim().is_empty() => format!("{prior}, {client_ip}"),
        _ => client_ip,
    };
    // A callback filled in from the provider's records came from no peer.
    if let Some(v) = Some(xff)
        .filter(|x| !x.is_empty())
        .and_then(|x| HeaderValue::from_str(&x).ok())
    {
        h.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    if !req.headers.contains_key("x-forwarded-host") {
        if let Some(v) = req
            .headers
            .get("host")
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            h.insert(HeaderName::from_static("x-forwarded-host"), v);
        }
    }
    if !req.headers.contains_key("x-forwarded-proto") {
        h.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
    }
    if let Some(key) = sign_key {
        h.insert(
            HeaderName::from_static("ali-live-timestamp"),
            HeaderValue::from(now),
        );
        let sig = signature(target.signature_host(), now, key);
        h.insert(
            HeaderName::from_static("ali-live-signature"),
            HeaderValue::from_str(&sig).expect("hex is a valid header value"),
        );
    }
    if let Some(auth) = &target.basic_auth {
        h.insert(hyper::header::AUTHORIZATION, auth.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn request(path: &str, headers: &[(&str, &str)]) -> ForwardedRequest {
        ForwardedRequest {
            method: "GET".into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            remote: "203.0.113.7:5555".into(),
            body: Bytes::from_static(b""),
        }
    }

    #[test]
    fn the_probe_connects_to_the_targets_host_and_port() {
        let hp = |url: &str| Target::parse(url).unwrap().host_port();
        assert_eq!(hp("http://127.0.0.1:9000/cb"), ("127.0.0.1".into(), 9000));
        assert_eq!(
            hp("https://u:p@backend.example/cb"),
            ("backend.example".into(), 443)
        );
        assert_eq!(
            hp("http://backend.example/cb"),
            ("backend.example".into(), 80)
        );
        assert_eq!(hp("http://[::1]:8081/cb"), ("::1".into(), 8081));
        assert_eq!(hp("https://[2001:db8::1]/cb"), ("2001:db8::1".into(), 443));
    }

    #[test]
    fn the_callback_query_goes_after_the_targets_own() {
        let t = Target::parse("http://127.0.0.1:9000/hook?token=abc").unwrap();
        assert_eq!(
            t.uri_for(Some("action=publish&app=x")).to_string(),
            "http://127.0.0.1:9000/hook?token=abc&action=publish&app=x"
        );
        assert_eq!(
            t.uri_for(None).to_string(),
            "http://127.0.0.1:9000/hook?token=abc"
        );
        let bare = Target::parse("https://backend.example").unwrap();
        assert_eq!(bare.name, "https://backend.example/");
        assert_eq!(
            bare.uri_for(Some("a=1")).to_string(),
            "https://backend.example/?a=1"
        );
    }

    #[test]
    fn targets_are_checked_and_named_without_their_password() {
        assert!(Target::parse("ftp://x/")
            .unwrap_err()
            .contains("http or https"));
        assert!(Target::parse("backend:9000")
            .unwrap_err()
            .contains("scheme"));
        let t = Target::parse("http://user:p%40ss@10.0.0.1:81/cb").unwrap();
        assert_eq!(t.name, "http://10.0.0.1:81/cb");
        assert_eq!(t.signature_host(), "10.0.0.1");
        let r = prepare(&t, &request("/x", &[]), 1, None, 0);
        // "user:p@ss", base64.
        assert_eq!(
            r.headers()["authorization"],
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("user:p@ss")
            )
        );
    }

    #[test]
    fn end_to_end_headers_pass_and_hop_by_hop_ones_do_not() {
        let t = Target::parse("http://backend:9000/cb").unwrap();
        let req = request(
            "/recmon?action=publish",
            &[
                ("content-type", "application/json"),
                ("ali-live-timestamp", "1700000000"),
                ("ali-live-signature", "0123abcd"),
                ("host", "rec.example.com:8080"),
                ("content-length", "99"),
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "1"),
                ("transfer-encoding", "chunked"),
                ("x-recmon-seq", "999"),
                ("user-agent", "provider"),
            ],
        );
        let r = prepare(&t, &req, 42, None, 0);
        let h = r.headers();
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["ali-live-timestamp"], "1700000000");
        assert_eq!(h["ali-live-signature"], "0123abcd");
        assert_eq!(h["user-agent"], "provider");
        assert_eq!(h["x-recmon-seq"], "42");
        assert_eq!(h["x-forwarded-for"], "203.0.113.7");
        assert_eq!(h["x-forwarded-host"], "rec.example.com:8080");
        assert_eq!(h["x-forwarded-proto"], "http");
        for gone in [
            "host",
            "content-length",
            "connection",
            "x-hop",
            "transfer-encoding",
        ] {
            assert!(!h.contains_key(gone), "{gone} was forwarded");
        }
        assert_eq!(r.uri().to_string(), "http://backend:9000/cb?action=publish");
        assert_eq!(r.method(), hyper::Method::GET);
    }

    #[test]
    fn a_sign_key_replaces_the_pair_with_one_for_the_targets_host() {
        let t = Target::parse("http://backend.example:9000/cb").unwrap();
        let req = request(
            "/x",
            &[
                ("ali-live-timestamp", "1"),
                ("ali-live-signature", "old"),
                ("x-forwarded-for", "198.51.100.1"),
            ],
        );
        let r = prepare(&t, &req, 1, Some("key0123456789abc"), 1_800_000_000);
        let h = r.headers();
        assert_eq!(h["ali-live-timestamp"], "1800000000");
        assert_eq!(
            h["ali-live-signature"],
            signature("backend.example", 1_800_000_000, "key0123456789abc").as_str()
        );
        assert_eq!(h["x-forwarded-for"], "198.51.100.1, 203.0.113.7");
    }
}
