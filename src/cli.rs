//! Command-line interface definitions (clap). Parsing only; `app` acts on them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser};

use crate::journal::FsyncPolicy;

/// Receive ApsaraVideo Live recording callbacks, journal every request, and watch the streams
/// live in a terminal.
#[derive(Debug, Parser)]
#[command(name = "recmon", version, about, long_about = None)]
pub struct Cli {
    /// Options for the monitor.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Options for the monitor (listener, journal, views).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Address to listen on. Use 0.0.0.0:8080 so the provider can reach you.
    #[arg(long, env = "RECMON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Journal file (JSON lines). Default: recmon-YYYYmmdd-HHMMSS.jsonl in the working directory.
    #[arg(long, value_name = "PATH", conflicts_with = "no_journal")]
    pub journal: Option<PathBuf>,

    /// Do not write a journal (requests are still sequenced, counted and shown).
    #[arg(long)]
    pub no_journal: bool,

    /// Whether each batch of journal lines is fsynced before its requests are answered.
    #[arg(long, value_enum, default_value = "batch")]
    pub fsync: FsyncPolicy,

    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    pub max_body: usize,

    /// Print one line per request instead of the terminal UI.
    #[arg(long)]
    pub headless: bool,

    /// With --headless: print each journal line (NDJSON) instead of a human-readable line.
    #[arg(long)]
    pub json: bool,

    /// Token that opens /api/... to any client with `Authorization: Bearer TOKEN`.
    /// Without it, /api answers loopback clients only.
    #[arg(
        long,
        env = "RECMON_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<String>,

    /// Check ALI-LIVE-SIGNATURE on every callback with this key (the NotifyAuthKey).
    /// Prefer the RECMON_AUTH_KEY environment variable: arguments show in `ps`.
    #[arg(
        long,
        env = "RECMON_AUTH_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub auth_key: Option<String>,

    /// Host name the signature is computed over, instead of the Host header (for a reverse
    /// proxy that rewrites Host).
    #[arg(long, value_name = "NAME")]
    pub auth_host: Option<String>,

    /// Largest age (either way) of ALI-LIVE-TIMESTAMP, in seconds; 0 = do not check.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub auth_max_age: u64,

    /// Seconds a client may take to send a request's headers, from its first byte
    /// (against slowloris).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub header_timeout: u64,

    /// Seconds a keep-alive connection may wait for its next request before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub idle_timeout: u64,

    /// Seconds a client may take to send a whole request body.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub request_timeout: u64,

    /// Maximum simultaneous connections; more wait in the kernel's accept queue.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// Requests kept in memory for the request log (counters stay exact regardless).
    #[arg(long, value_name = "N", default_value_t = crate::store::DEFAULT_LOG_CAPACITY)]
    pub log_capacity: usize,

    /// Write diagnostics (tracing) to this file. Default: stderr in headless mode.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}
