//! `recmon`'s own options (the monitor: receiver and view), in groups by what they are about.
//! Parsing only: [`super::validate`] checks them together and turns them into the service's
//! configuration.
//!
//! `recmon --help` lists these options in one order that does not follow the groups (the order
//! they had before they were grouped); each one's `display_order` keeps it, and the alert group
//! is placed with `next_display_order`. A test in `super` checks the order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::alerts::AlertArgs;
use crate::cli::values::parse_listen;
use crate::core::journal::FsyncPolicy;
use crate::core::outbox::ForwardMode;

/// Where the demo sends nginx-rtmp's callbacks; the demo receiver pins it to nginx-rtmp.
pub const DEMO_NGINX_PATH: &str = "/recmon-nginx";
/// Where the demo sends SRS's hooks; the demo receiver pins it to SRS.
pub const DEMO_SRS_PATH: &str = "/recmon-srs";

/// Options for the monitor (listener, journal, views).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Listening and its limits.
    #[command(flatten)]
    pub server: ServerArgs,

    /// The journal.
    #[command(flatten)]
    pub journal: JournalArgs,

    /// Run a simulated broadcast against this monitor, so there is something to watch.
    #[arg(long, display_order = 3)]
    pub demo: bool,

    /// Which view, and where diagnostics go.
    #[command(flatten)]
    pub view: ViewArgs,

    /// Who may call: the API token, the providers' signatures, provider pins.
    #[command(flatten)]
    pub auth: AuthArgs,

    /// Forwarding to backends.
    #[command(flatten)]
    pub forward: ForwardArgs,

    /// Alert rules and where alerts go.
    #[command(flatten, next_display_order = 29)]
    pub alerts: AlertArgs,

    /// Checking each recording against its file.
    #[command(flatten)]
    pub verify: VerifyArgs,

    /// Reconciling with the providers' own records.
    #[command(flatten)]
    pub reconcile: ReconcileRunArgs,
}

/// Reconciling with the providers' own records while the receiver runs (see
/// docs/reconcile.md).
#[derive(Debug, Clone, Args)]
pub struct ReconcileRunArgs {
    /// Every DURATION, ask the providers which callbacks they sent in the last DURATION (and
    /// a margin) and fill in the ones this receiver missed, marked reconciled. Credentials
    /// from ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET and TENCENTCLOUD_SECRET_ID / _KEY. Off by
    /// default.
    #[arg(long, value_name = "DURATION", value_parser = crate::util::human::parse_duration, display_order = 40)]
    pub reconcile_every: Option<Duration>,

    /// With --reconcile-every: the ApsaraVideo Live OpenAPI endpoint (default
    /// https://live.aliyuncs.com).
    #[arg(
        long,
        value_name = "URL",
        requires = "reconcile_every",
        display_order = 40
    )]
    pub aliyun_endpoint: Option<String>,

    /// With --reconcile-every: the Tencent Cloud API endpoint (default
    /// https://live.tencentcloudapi.com).
    #[arg(
        long,
        value_name = "URL",
        requires = "reconcile_every",
        display_order = 40
    )]
    pub tencent_endpoint: Option<String>,
}

/// Recording proof: where each recording's file is, and how it is checked (see
/// docs/verify.md).
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Check every recording against its file: `[PROVIDER[:DOMAIN]=]LOCATION`, where LOCATION
    /// is oss://BUCKET[/PREFIX]?region=R, cos://BUCKET[/PREFIX]?region=R (or ?endpoint=URL),
    /// s3://BUCKET[/PREFIX]?endpoint=URL[&region=R], file:///DIR, local (the path the
    /// callback names, on this host) or http (the URL it names); repeatable, the most
    /// specific rule wins. Credentials come from the clouds'
    /// standard environment variables only. See docs/verify.md.
    #[arg(long = "verify", value_name = "RULE", display_order = 40)]
    pub verify: Vec<String>,

    /// With --verify: read a path the media server names FROM... at TO... on this host
    /// (recordings mounted elsewhere); repeatable.
    #[arg(long, value_name = "FROM=TO", requires = "verify", display_order = 40)]
    pub verify_path_map: Vec<String>,

    /// With --verify: files checked at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256), requires = "verify", display_order = 40)]
    pub verify_concurrency: u32,

    /// With --verify: how long a file that is not there yet is looked for again before it is
    /// `missing` (object stores lag behind the callback).
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = crate::util::human::parse_duration, requires = "verify", display_order = 40)]
    pub verify_missing_for: Duration,

    /// With --verify: time for one request to the store.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::util::human::parse_duration, requires = "verify", display_order = 40)]
    pub verify_timeout: Duration,
}

/// Listening: the address, request and connection limits, the memory kept for the request log.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on. Use 0.0.0.0:8080 so the provider can reach you.
    // hide_env_values: clap prints `[env: NAME=VALUE]` with the variable's value, and so
    // `[env: RECMON_LISTEN=]` when it is not set at all; `[env: RECMON_LISTEN]` reads right.
    #[arg(
        long,
        env = "RECMON_LISTEN",
        hide_env_values = true,
        default_value = "127.0.0.1:8080",
        value_parser = parse_listen,
        display_order = 0
    )]
    pub listen: SocketAddr,

    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, display_order = 6)]
    pub max_body: usize,

    /// Seconds a client may take to send a request's headers, from its first byte
    /// (against slowloris).
    #[arg(long, value_name = "SECS", default_value_t = 10, display_order = 15)]
    pub header_timeout: u64,

    /// Seconds a keep-alive connection may wait for its next request before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = 30, display_order = 16)]
    pub idle_timeout: u64,

    /// Seconds a client may take to send a whole request body.
    #[arg(long, value_name = "SECS", default_value_t = 30, display_order = 17)]
    pub request_timeout: u64,

    /// Maximum simultaneous connections; more wait in the kernel's accept queue.
    #[arg(long, value_name = "N", default_value_t = 1024, display_order = 18)]
    pub max_connections: usize,

    /// Maximum simultaneous connections from one client address (IPv6: one /64); more are
    /// refused at once with 429, journaled and counted. 0 = no limit (behind a reverse proxy,
    /// every client has the proxy's address).
    #[arg(long, value_name = "N", default_value_t = crate::server::DEFAULT_MAX_CONNS_PER_IP, display_order = 19)]
    pub max_conns_per_ip: usize,

    /// Seconds of quiet on an /api/events stream before a keep-alive comment (hidden: tests
    /// shorten it; 15 suits proxies and the attach client's idle limit).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 15,
        hide = true,
        display_order = 20
    )]
    pub keep_alive_secs: u64,

    /// Requests kept in memory for the request log (counters stay exact regardless).
    #[arg(long, value_name = "N", default_value_t = crate::core::store::DEFAULT_LOG_CAPACITY, display_order = 21)]
    pub log_capacity: usize,
}

/// The journal: where, whether, resumed from which, how durable.
#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// Journal file (JSON lines). Default: recmon-YYYYmmdd-HHMMSS.jsonl in the working directory.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "no_journal",
        display_order = 1
    )]
    pub journal: Option<PathBuf>,

    /// Rebuild the state from an earlier journal, then keep appending to it (seq continues).
    /// For restarting recmon mid-broadcast.
    #[arg(long, value_name = "JOURNAL", conflicts_with_all = ["journal", "no_journal"], display_order = 2)]
    pub resume: Option<PathBuf>,

    /// Do not write a journal (requests are still sequenced, counted and shown).
    #[arg(long, display_order = 4)]
    pub no_journal: bool,

    /// Whether each batch of journal lines is fsynced before its requests are answered.
    #[arg(long, value_enum, default_value = "batch", display_order = 5)]
    pub fsync: FsyncPolicy,
}

/// The view (terminal UI or headless lines) and the diagnostics log.
#[derive(Debug, Clone, Args)]
pub struct ViewArgs {
    /// Print one line per request instead of the terminal UI.
    #[arg(long, display_order = 7)]
    pub headless: bool,

    /// With --headless: print each journal line (NDJSON) instead of a human-readable line.
    #[arg(long, display_order = 8)]
    pub json: bool,

    /// Write diagnostics (tracing) to this file. Default: warnings to stderr in headless
    /// mode, nowhere under the terminal UI (nothing may disturb the screen).
    #[arg(long, value_name = "PATH", display_order = 41)]
    pub log_file: Option<PathBuf>,
}

/// Access: the API token, the providers' signature keys, which provider reads which path.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Token that opens /api/... to any client with `Authorization: Bearer TOKEN`.
    /// Without it, /api answers loopback clients only.
    #[arg(
        long,
        env = "RECMON_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        display_order = 9
    )]
    pub api_token: Option<String>,

    /// Check ALI-LIVE-SIGNATURE on every callback with this key (the NotifyAuthKey).
    /// Prefer the RECMON_AUTH_KEY environment variable: arguments show in `ps`.
    #[arg(
        long,
        env = "RECMON_AUTH_KEY",
        value_name = "KEY",
        hide_env_values = true,
        display_order = 10
    )]
    pub auth_key: Option<String>,

    /// Host name the signature is computed over, instead of the Host header (for a reverse
    /// proxy that rewrites Host).
    #[arg(long, value_name = "NAME", display_order = 11)]
    pub auth_host: Option<String>,

    /// Largest age (either way) of ALI-LIVE-TIMESTAMP, in seconds; 0 = do not check.
    #[arg(long, value_name = "SECS", default_value_t = 300, display_order = 12)]
    pub auth_max_age: u64,

    /// Check Tencent Cloud's `sign` (md5(KEY + t), t not expired) on its callbacks with this
    /// key (the callback template's key). Prefer the RECMON_TENCENT_KEY environment variable.
    #[arg(
        long,
        env = "RECMON_TENCENT_KEY",
        value_name = "KEY",
        hide_env_values = true,
        display_order = 13
    )]
    pub tencent_key: Option<String>,

    /// Read requests under PATH_PREFIX as NAME's (aliyun, nginx-rtmp, srs, tencent) whatever
    /// their shape, e.g. `--provider /srs=srs`; repeatable. Without it each request's
    /// provider is told by its shape.
    #[arg(long = "provider", value_name = "PATH_PREFIX=NAME", display_order = 14)]
    pub provider_pins: Vec<String>,
}

/// Forwarding every callback to backends (see docs/forwarding.md).
#[derive(Debug, Clone, Args)]
pub struct ForwardArgs {
    /// Pass every callback on to this backend (http or https); may be given more than once,
    /// each target with its own outbox. See docs/forwarding.md.
    #[arg(long = "forward-to", value_name = "URL", display_order = 22)]
    pub forward_to: Vec<String>,

    /// async: answer the provider at once and deliver from the journal (at least once, each
    /// stream in order, retried); sync: answer with the backend's answer (502/504 when it
    /// fails, so the provider retries).
    #[arg(
        long,
        value_enum,
        default_value = "async",
        requires = "forward_to",
        display_order = 23
    )]
    pub forward_mode: ForwardMode,

    /// Time for one delivery attempt, e.g. 10s, 500ms. Default: 10s in async mode, 4s in sync
    /// mode (under the provider's 5 s).
    #[arg(long, value_name = "DURATION", value_parser = crate::util::human::parse_duration, requires = "forward_to", display_order = 24)]
    pub forward_timeout: Option<Duration>,

    /// Async: how long after a callback arrived it is still retried before it is marked failed.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::util::human::parse_duration, requires = "forward_to", display_order = 25)]
    pub forward_give_up: Duration,

    /// Async: streams delivered at once per target (each stream's callbacks stay in order).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024), requires = "forward_to", display_order = 26)]
    pub forward_concurrency: u32,

    /// Async: do not forward provider retries (duplicates) of a callback already forwarded.
    #[arg(long, requires = "forward_to", display_order = 27)]
    pub forward_skip_duplicates: bool,

    /// Async: also forward the callbacks that --reconcile-every (or POST /api/reconcile) fills
    /// in from the providers' records, marked X-Recmon-Reconciled. Off by default: your
    /// backend gets only what the providers delivered. See docs/reconcile.md.
    #[arg(long, requires_all = ["forward_to", "reconcile_every"], display_order = 27)]
    pub forward_reconciled: bool,

    /// Replace ALI-LIVE-TIMESTAMP / ALI-LIVE-SIGNATURE with a fresh pair signed for the
    /// target's host with this key (for a backend that checks its own host). Prefer the
    /// RECMON_FORWARD_SIGN_KEY environment variable.
    #[arg(
        long,
        env = "RECMON_FORWARD_SIGN_KEY",
        value_name = "KEY",
        hide_env_values = true,
        display_order = 28
    )]
    pub forward_sign_key: Option<String>,
}
