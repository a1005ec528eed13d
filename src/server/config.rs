//! The listener's settings and limits.

use std::time::Duration;

use crate::forward::SyncForward;
use crate::providers::aliyun::auth::AuthConfig;
use crate::providers::Pins;
use crate::server::api;

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
    /// 0: no limit. See [`crate::server::conn_guard::PerIp`].
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
    /// `--reconcile-every`: where `POST /api/reconcile` asks for a run now (the receiver's
    /// reconcile loop, `reconciler::every`); `None` without it.
    pub reconcile: Option<tokio::sync::mpsc::Sender<crate::core::reconciled::RunNow>>,
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
            reconcile: None,
        }
    }
}

/// `--max-conns-per-ip`'s default: far above what one provider node opens at once (a callback
/// is one short request; nginx-rtmp opens one connection per notification), and above what
/// recmon's own load tools open from one machine (64 connections, plus `attach` and API reads).
pub const DEFAULT_MAX_CONNS_PER_IP: usize = 128;

/// Largest request head (request line, headers and the blank line ending them), counted
/// byte for byte on the wire by [`crate::server::conn_guard`]; a larger head gets 431 and the
/// connection is closed. 64 KiB fits any real callback with room to spare.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most headers a request may have: hyper's own limit (its default), refused with 431.
pub const MAX_HEADERS: usize = 100;
