//! Which endpoint a path is: recmon's own (`/healthz`, `/metrics`, `/api/...`), who may read
//! them and with which methods; every other path takes callbacks.

use std::net::SocketAddr;

use hyper::header::HeaderMap;

use crate::event::Rejection;
use crate::providers::aliyun::auth::constant_time_eq;
use crate::server::config::ServerConfig;

pub(super) fn is_loopback(addr: &SocketAddr) -> bool {
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
pub(super) fn api_allowed(
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
pub(super) const OWN_ENDPOINT_METHODS: &str = "GET, HEAD";

/// The method `/api/reconcile` answers, as sent in `Allow` with a 405.
pub(super) const RECONCILE_METHODS: &str = "POST";

/// The methods a callback path takes, as sent in `Allow` with a 405.
pub(super) const CALLBACK_METHODS: &str = "GET, POST";

/// One of recmon's own paths (not a callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OwnEndpoint {
    /// `/healthz`.
    Health,
    /// `/metrics`: Prometheus, under `/api`'s access rule.
    Metrics,
    /// `/api` or anything under `/api/`, with which known path it is (if it is one).
    Api(Option<ApiPath>),
}

/// recmon's API paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ApiPath {
    /// `/api/state`: the state document.
    State,
    /// `/api/events`: the feed as Server-Sent Events.
    Events,
    /// `/api/alerts`: the alerts firing and recently resolved.
    Alerts,
    /// `/api/reconcile`: a reconcile run now (POST).
    Reconcile,
}

pub(super) fn own_endpoint(path: &str) -> Option<OwnEndpoint> {
    if path == "/healthz" {
        Some(OwnEndpoint::Health)
    } else if path == "/metrics" {
        Some(OwnEndpoint::Metrics)
    } else if path == "/api" || path.starts_with("/api/") {
        Some(OwnEndpoint::Api(match path {
            "/api/state" => Some(ApiPath::State),
            "/api/events" => Some(ApiPath::Events),
            "/api/alerts" => Some(ApiPath::Alerts),
            "/api/reconcile" => Some(ApiPath::Reconcile),
            _ => None,
        }))
    } else {
        None
    }
}

/// Why a request to one of recmon's own endpoints is refused once access is granted: an
/// unknown `/api` path (404) or a method the endpoint does not answer (405, with `Allow`).
pub(super) fn endpoint_refusal(endpoint: OwnEndpoint, method: &hyper::Method) -> Option<Rejection> {
    if endpoint == OwnEndpoint::Api(None) {
        return Some(Rejection::new(
            404,
            "unknown API path: recmon's API has GET /api/state, GET /api/events, GET /api/alerts and POST /api/reconcile",
        ));
    }
    if endpoint == OwnEndpoint::Api(Some(ApiPath::Reconcile)) {
        return (method != hyper::Method::POST).then(|| {
            Rejection::new(
                405,
                format!("method {method} not allowed on /api/reconcile: it answers {RECONCILE_METHODS} only (a run now)"),
            )
        });
    }
    if method == hyper::Method::GET || method == hyper::Method::HEAD {
        return None;
    }
    let what = match endpoint {
        OwnEndpoint::Health => "/healthz",
        OwnEndpoint::Metrics => "/metrics",
        OwnEndpoint::Api(Some(ApiPath::Events)) => "/api/events",
        OwnEndpoint::Api(Some(ApiPath::Alerts)) => "/api/alerts",
        OwnEndpoint::Api(Some(ApiPath::State | ApiPath::Reconcile) | None) => "/api/state",
    };
    Some(Rejection::new(
        405,
        format!("method {method} not allowed on {what}: it answers {OWN_ENDPOINT_METHODS} only"),
    ))
}
