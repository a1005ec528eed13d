//! Command-line interface definitions (clap). Parsing only; `app` acts on them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use std::fmt;
use std::str::FromStr;

use std::time::Duration;

use crate::core::journal::{default_path, FsyncPolicy};
use crate::core::outbox::ForwardMode;
use crate::error::AppError;
use crate::forward::target::Target;
use crate::forward::ForwardConfig;
use crate::providers::aliyun::auth::AuthConfig;
use crate::server::ServerConfig;
use crate::service::{JournalChoice, ServiceConfig};

/// Receive the recording callbacks of ApsaraVideo Live, nginx-rtmp, SRS and Tencent Cloud,
/// journal every request, and watch the streams live in a terminal.
#[derive(Debug, Parser)]
#[command(
    name = "recmon",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A tool that works on journals or sends callbacks; without one, recmon runs the monitor.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options for the monitor.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The subcommands next to the monitor.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a journal's events, recordings or final stream states as JSON lines, JSON or CSV.
    Export(ExportArgs),
    /// Resend a journal's accepted callbacks to a receiver, in order, byte for byte.
    Replay(ReplayArgs),
    /// How complete each broadcast's recording was: files, coverage, gaps, short files,
    /// pauses and alerts per stream, from a journal (markdown, JSON or an HTML timeline).
    Report(ReportArgs),
    /// Send realistic simulated broadcasts (status, recording and ingest callbacks) to a receiver.
    Simulate(SimulateArgs),
    /// Watch one or more running receivers from another terminal (read-only), through their
    /// /api/events feeds; several URLs make one merged view.
    ///
    /// Alerts are evaluated here with the receiver's thresholds, which its feed says (the
    /// first URL's that does, with several); the --alert-* thresholds given here are for a
    /// receiver that says none (an older recmon, or one run with --no-alerts). Where alerts
    /// go (--alert-exec, --alert-webhook, --bell) and --no-alerts are this view's own.
    Attach(AttachArgs),
}

/// `recmon attach URL [URL...]`.
#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    /// The receivers' base URLs, e.g. http://127.0.0.1:8080 or https://recmon.example.com.
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,

    /// The receivers' --api-token, sent as `Authorization: Bearer TOKEN` (needed whenever a
    /// receiver runs with one, even on this machine or through an ssh tunnel). Prefer the
    /// RECMON_API_TOKEN environment variable: arguments show in `ps`.
    #[arg(
        long,
        env = "RECMON_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<String>,

    /// A PEM file of CA certificates to trust for https besides the system's (a private CA).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Print one line per request instead of the terminal UI.
    #[arg(long)]
    pub headless: bool,

    /// With --headless: print each entry's journal line (NDJSON); with several URLs, each
    /// with its `source`.
    #[arg(long)]
    pub json: bool,

    /// Requests kept in memory for the request log (counters stay exact regardless).
    #[arg(long, value_name = "N", default_value_t = crate::core::store::DEFAULT_LOG_CAPACITY)]
    pub log_capacity: usize,

    /// Keep the copy of every entry received (journal format, what `e` exports) in FILE, a new
    /// file. Default: a temporary file, removed on exit.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// Alert rules (run here, on what the receivers send) and where alerts go.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

impl AttachArgs {
    /// Whether this run uses the headless view: asked for, or stdout is not a terminal.
    pub fn wants_headless(&self) -> bool {
        use std::io::IsTerminal;
        self.headless || self.json || !std::io::stdout().is_terminal()
    }

    /// The attachment's configuration.
    pub fn attach_config(&self) -> crate::attach::AttachConfig {
        crate::attach::AttachConfig {
            urls: self.urls.clone(),
            token: self.api_token.clone(),
            ca_cert: self.ca_cert.clone(),
            log_capacity: self.log_capacity,
            save: self.save.clone(),
        }
    }
}

/// Output format of `recmon export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line (for events: the journal lines themselves, byte for byte).
    Jsonl,
    /// One pretty-printed JSON array.
    Json,
    /// CSV with a header row; columns are listed in docs/tools.md ("CSV").
    Csv,
}

/// What `recmon export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportWhat {
    /// Every request in the journal (accepted, duplicate and rejected).
    Events,
    /// One row per accepted recording file (provider retries excluded).
    Recordings,
    /// The final state of each stream, as in /api/state.
    Streams,
    /// Every forwarding attempt's result (`--forward-to`): which callback, which target, the
    /// backend's status, how long it took, why it failed.
    Deliveries,
}

/// `recmon export JOURNAL`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The journal to read (a recmon-*.jsonl file).
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,

    /// What to export.
    #[arg(long, value_enum, default_value = "events")]
    pub what: ExportWhat,

    /// Only streams whose `domain/app/stream` contains this text.
    #[arg(long, value_name = "TEXT")]
    pub stream: Option<String>,

    /// Only requests received at or after T (RFC 3339, e.g. 2026-11-27T17:00:00Z, or Unix seconds).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,

    /// Only requests received before T (RFC 3339 or Unix seconds).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,

    /// Only one provider's requests, streams and recordings: aliyun, nginx-rtmp, srs or
    /// tencent (each journal line names whose format it was read as).
    #[arg(long, value_name = "NAME", value_parser = parse_provider)]
    pub provider: Option<crate::providers::Provider>,

    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Where the demo sends nginx-rtmp's callbacks; the demo receiver pins it to nginx-rtmp.
pub const DEMO_NGINX_PATH: &str = "/recmon-nginx";
/// Where the demo sends SRS's hooks; the demo receiver pins it to SRS.
pub const DEMO_SRS_PATH: &str = "/recmon-srs";

/// A provider's name, as `--provider` takes it.
pub fn parse_provider(name: &str) -> Result<crate::providers::Provider, String> {
    crate::providers::Provider::from_name(name).ok_or_else(|| {
        format!(
            "unknown provider {name:?}; one of {}",
            crate::providers::Provider::ALL
                .map(|p| p.as_str())
                .join(", ")
        )
    })
}

/// Output format of `recmon report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Markdown: readable in a terminal, pasteable into a ticket.
    Md,
    /// One JSON document.
    Json,
    /// One self-contained HTML page with a timeline per stream.
    Html,
}

/// `recmon report JOURNAL`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The journal (a recmon-*.jsonl file, or an attach copy).
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,

    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The alert thresholds the journal is replayed with (the gap and short-file ones also
    /// decide what the report counts as a gap or a short file).
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// `recmon replay JOURNAL --to URL`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The journal to replay.
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,

    /// The receiver. `http://host:port` keeps each request's recorded path and query;
    /// `http://host:port/path` sends every request to that path (the recorded query is kept).
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// Pace: 1 = the recorded pace, 10 = ten times faster, `max` = as fast as the receiver answers.
    #[arg(long, value_name = "N|max", default_value = "1")]
    pub speed: Speed,

    /// Also resend the provider retries that recmon recorded as duplicates.
    #[arg(long)]
    pub with_duplicates: bool,

    /// Only these journal seqs, e.g. `--seq 12`, `--seq 12,15,40-45` (duplicates among them
    /// are sent too). For resending what forwarding gave up on (`failed_seqs` in
    /// /api/state): each is sent with `X-Recmon-Seq` and its ALI-LIVE-* headers as journaled.
    #[arg(long, value_name = "LIST", value_parser = parse_seq_list)]
    pub seq: Option<SeqList>,

    /// Sign each request with ALI-LIVE-TIMESTAMP / ALI-LIVE-SIGNATURE using this key.
    #[arg(
        long,
        env = "RECMON_AUTH_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub auth_key: Option<String>,
}

/// `recmon simulate --to URL`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Instead of broadcasts: every alert rule's condition (a stream left paused, live but not
    /// recording, a file overdue, a short file, a gap, a duration mismatch, out-of-order and
    /// duplicated callbacks, then silence), to try alerts and your own alert hooks.
    #[arg(long)]
    pub chaos: bool,

    /// The receiver; every callback goes to this URL's path (ingest callbacks add their query).
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// Number of streams broadcasting.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub streams: u32,

    /// Number of streaming domains the streams are spread over.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub domains: u32,

    /// Requests per second, or `max` (one at a time, as fast as the receiver answers).
    #[arg(long, value_name = "R|max", default_value = "20")]
    pub rate: Speed,

    /// Send exactly N requests (streams keep broadcasting until then). Default: one broadcast
    /// per stream, start to end.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Random seed; the same seed and options send the same sequence. Default: a random seed,
    /// printed at the end.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Simulated clock start (RFC 3339 or Unix seconds) for the callbacks' times.
    /// Default: 2026-01-01T00:00:00Z, so that a seed repeats exactly.
    #[arg(long, value_name = "T")]
    pub start_time: Option<String>,

    /// Sign each ApsaraVideo Live request with ALI-LIVE-TIMESTAMP / ALI-LIVE-SIGNATURE using
    /// this key (the other providers' requests are not signed so).
    #[arg(
        long,
        env = "RECMON_AUTH_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub auth_key: Option<String>,

    /// Whose callbacks to send, in that provider's wire format: aliyun (ApsaraVideo Live:
    /// ingest GETs, JSON status and recording callbacks, retries), nginx-rtmp (form POSTs:
    /// connect, publish, update_publish, play/play_done, record_done, publish_done, done,
    /// disconnect; no retries), srs (SRS http_hooks JSON with an SRS User-Agent: on_connect,
    /// on_publish, on_hls, on_dvr, on_play/on_stop, on_unpublish, on_close; no retries) or
    /// tencent (Tencent Cloud JSON events: 1 push, 332 recording status, 100 recording file,
    /// 0 push cut; retries).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "aliyun",
        value_parser = clap::builder::TypedValueParser::map(
            clap::builder::PossibleValuesParser::new(["aliyun", "nginx-rtmp", "srs", "tencent"]),
            |name: String| crate::providers::Provider::from_name(&name).unwrap_or_default(),
        )
    )]
    pub provider: crate::providers::Provider,

    /// With --provider tencent: sign each callback as Tencent Cloud does, `sign` = md5(KEY + t)
    /// with `t` = the send time + 10 minutes, for a receiver run with the same --tencent-key.
    /// Without it the callbacks carry `t` but no `sign`. Prefer the RECMON_TENCENT_KEY
    /// environment variable: arguments show in `ps`.
    #[arg(
        long,
        env = "RECMON_TENCENT_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub tencent_key: Option<String>,
}

/// The alert rules' thresholds and where alerts go (the receiver's and `recmon attach`'s).
/// Durations like `90s`, `5m`, `2h`; `0` turns a rule off.
#[derive(Debug, Clone, Args)]
pub struct AlertArgs {
    /// Alert when a stream has been paused longer than this (paused_too_long).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::util::human::parse_duration)]
    pub alert_paused: Duration,

    /// Alert when a stream is live but not recording for this long, on a domain that sends
    /// recording status callbacks (live_not_recording).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = crate::util::human::parse_duration)]
    pub alert_not_recording: Duration,

    /// Alert when a broadcast (publish → publish_done) ended with no recording file, once its
    /// last file is this late (not_recorded). ApsaraVideo keeps the file open for DelayTime
    /// (often 3m) after the publish ends; nginx-rtmp and SRS report it at once, so they get at
    /// most 15s.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::util::human::parse_duration)]
    pub alert_not_recorded: Duration,

    /// Slack after a recording stream's cycle before its next file is overdue (file_overdue).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::util::human::parse_duration)]
    pub alert_file_overdue: Duration,

    /// The recording cycle assumed until a stream's own files show theirs (the provider's
    /// default CycleDuration is 6h).
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = crate::util::human::parse_duration)]
    pub record_cycle: Duration,

    /// Alert on a recording file shorter than this (short_file).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::util::human::parse_duration)]
    pub alert_short_file: Duration,

    /// Alert when a stream's next file starts more than this after the previous one stopped
    /// (gap).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::util::human::parse_duration)]
    pub alert_gap: Duration,

    /// Alert when no callback at all arrives for this long while a stream is live or
    /// recording (silence).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::util::human::parse_duration)]
    pub alert_silence: Duration,

    /// Run this program (directly, never through a shell) on each alert firing or resolving:
    /// RECMON_ALERT_* in its environment, the alert's JSON on stdin, killed after 10 s.
    #[arg(long, value_name = "PROGRAM")]
    pub alert_exec: Option<PathBuf>,

    /// POST each alert firing or resolving as JSON with a `text` field (Slack-style incoming
    /// webhooks take it as it is), retried with backoff.
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,

    /// Ring the terminal bell on each new critical alert (terminal UI).
    #[arg(long)]
    pub bell: bool,

    /// Turn the alert engine off (no rule is evaluated; /api/alerts stays empty).
    #[arg(long)]
    pub no_alerts: bool,
}

impl AlertArgs {
    /// The thresholds, or `None` with `--no-alerts`.
    pub fn enabled(&self) -> Option<crate::core::alerts::AlertConfig> {
        (!self.no_alerts).then(|| self.config())
    }

    /// The thresholds.
    pub fn config(&self) -> crate::core::alerts::AlertConfig {
        let on = |d: Duration| (!d.is_zero()).then_some(d);
        crate::core::alerts::AlertConfig {
            paused: on(self.alert_paused),
            not_recording: on(self.alert_not_recording),
            not_recorded: on(self.alert_not_recorded),
            file_overdue: on(self.alert_file_overdue),
            record_cycle: if self.record_cycle.is_zero() {
                crate::core::alerts::AlertConfig::default().record_cycle
            } else {
                self.record_cycle
            },
            short_file: on(self.alert_short_file),
            gap: on(self.alert_gap),
            silence: on(self.alert_silence),
        }
    }

    /// Where alerts go. `Err` for a webhook URL that is not one.
    pub fn sinks(&self) -> Result<crate::alerting::AlertSinks, AppError> {
        let webhook = match &self.alert_webhook {
            None => None,
            Some(url) => {
                let uri: hyper::Uri = url.parse().map_err(|_| {
                    AppError::new(2, format!("--alert-webhook {url:?} is not a URL; e.g. https://hooks.slack.com/services/T000/B000/XXXX"))
                })?;
                if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none()
                {
                    return Err(AppError::new(
                        2,
                        format!("--alert-webhook {url:?} must be an http:// or https:// URL with a host"),
                    ));
                }
                Some(uri)
            }
        };
        Ok(crate::alerting::AlertSinks {
            exec: self.alert_exec.clone(),
            webhook,
        })
    }
}

/// Options for the monitor (listener, journal, views).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Address to listen on. Use 0.0.0.0:8080 so the provider can reach you.
    // hide_env_values: clap prints `[env: NAME=VALUE]` with the variable's value, and so
    // `[env: RECMON_LISTEN=]` when it is not set at all; `[env: RECMON_LISTEN]` reads right.
    #[arg(
        long,
        env = "RECMON_LISTEN",
        hide_env_values = true,
        default_value = "127.0.0.1:8080",
        value_parser = parse_listen
    )]
    pub listen: SocketAddr,

    /// Journal file (JSON lines). Default: recmon-YYYYmmdd-HHMMSS.jsonl in the working directory.
    #[arg(long, value_name = "PATH", conflicts_with = "no_journal")]
    pub journal: Option<PathBuf>,

    /// Rebuild the state from an earlier journal, then keep appending to it (seq continues).
    /// For restarting recmon mid-broadcast.
    #[arg(long, value_name = "JOURNAL", conflicts_with_all = ["journal", "no_journal"])]
    pub resume: Option<PathBuf>,

    /// Run a simulated broadcast against this monitor, so there is something to watch.
    #[arg(long)]
    pub demo: bool,

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

    /// Check Tencent Cloud's `sign` (md5(KEY + t), t not expired) on its callbacks with this
    /// key (the callback template's key). Prefer the RECMON_TENCENT_KEY environment variable.
    #[arg(
        long,
        env = "RECMON_TENCENT_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub tencent_key: Option<String>,

    /// Read requests under PATH_PREFIX as NAME's (aliyun, nginx-rtmp, srs, tencent) whatever
    /// their shape, e.g. `--provider /srs=srs`; repeatable. Without it each request's
    /// provider is told by its shape.
    #[arg(long = "provider", value_name = "PATH_PREFIX=NAME")]
    pub provider_pins: Vec<String>,

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

    /// Maximum simultaneous connections from one client address (IPv6: one /64); more are
    /// refused at once with 429, journaled and counted. 0 = no limit (behind a reverse proxy,
    /// every client has the proxy's address).
    #[arg(long, value_name = "N", default_value_t = crate::server::DEFAULT_MAX_CONNS_PER_IP)]
    pub max_conns_per_ip: usize,

    /// Seconds of quiet on an /api/events stream before a keep-alive comment (hidden: tests
    /// shorten it; 15 suits proxies and the attach client's idle limit).
    #[arg(long, value_name = "SECS", default_value_t = 15, hide = true)]
    pub keep_alive_secs: u64,

    /// Requests kept in memory for the request log (counters stay exact regardless).
    #[arg(long, value_name = "N", default_value_t = crate::core::store::DEFAULT_LOG_CAPACITY)]
    pub log_capacity: usize,

    /// Pass every callback on to this backend (http or https); may be given more than once,
    /// each target with its own outbox. See docs/forwarding.md.
    #[arg(long = "forward-to", value_name = "URL")]
    pub forward_to: Vec<String>,

    /// async: answer the provider at once and deliver from the journal (at least once, each
    /// stream in order, retried); sync: answer with the backend's answer (502/504 when it
    /// fails, so the provider retries).
    #[arg(long, value_enum, default_value = "async", requires = "forward_to")]
    pub forward_mode: ForwardMode,

    /// Time for one delivery attempt, e.g. 10s, 500ms. Default: 10s in async mode, 4s in sync
    /// mode (under the provider's 5 s).
    #[arg(long, value_name = "DURATION", value_parser = crate::util::human::parse_duration, requires = "forward_to")]
    pub forward_timeout: Option<Duration>,

    /// Async: how long after a callback arrived it is still retried before it is marked failed.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::util::human::parse_duration, requires = "forward_to")]
    pub forward_give_up: Duration,

    /// Async: streams delivered at once per target (each stream's callbacks stay in order).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024), requires = "forward_to")]
    pub forward_concurrency: u32,

    /// Async: do not forward provider retries (duplicates) of a callback already forwarded.
    #[arg(long, requires = "forward_to")]
    pub forward_skip_duplicates: bool,

    /// Replace ALI-LIVE-TIMESTAMP / ALI-LIVE-SIGNATURE with a fresh pair signed for the
    /// target's host with this key (for a backend that checks its own host). Prefer the
    /// RECMON_FORWARD_SIGN_KEY environment variable.
    #[arg(
        long,
        env = "RECMON_FORWARD_SIGN_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub forward_sign_key: Option<String>,

    /// Alert rules and where alerts go.
    #[command(flatten)]
    pub alerts: AlertArgs,

    /// Write diagnostics (tracing) to this file. Default: warnings to stderr in headless
    /// mode, nowhere under the terminal UI (nothing may disturb the screen).
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

/// `IP:PORT`, plus two forms people type: `localhost:PORT` and a bare `PORT` (both loopback).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if s.trim().is_empty() {
        // Most often RECMON_LISTEN set to nothing, which clap passes on as a value.
        return Err(
            "the address is empty (is RECMON_LISTEN set to nothing? unset it, or set it to IP:PORT such as 0.0.0.0:8080)"
                .into(),
        );
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let loopback = |port: &str| {
        port.parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    };
    let found = match s.rsplit_once(':') {
        Some(("localhost", port)) => loopback(port),
        None => loopback(s),
        _ => None,
    };
    found.ok_or_else(|| {
        format!("{s:?} is not IP:PORT; use 0.0.0.0:8080 (all interfaces, for the provider) or 127.0.0.1:8080 (this machine only)")
    })
}

impl RunArgs {
    /// The service this command line asks for. `Err` for a usage mistake (exit 2).
    pub fn service_config(&self) -> Result<ServiceConfig, AppError> {
        let auth = match self.auth_key.as_deref() {
            Some("") => {
                return Err(AppError::new(
                    2,
                    "--auth-key (or RECMON_AUTH_KEY) is empty: set it to your NotifyAuthKey",
                ))
            }
            Some(k) => Some(AuthConfig::new(
                k.to_string(),
                self.auth_host.clone(),
                self.auth_max_age,
            )),
            None => None,
        };
        let journal = if self.no_journal {
            JournalChoice::Off
        } else if let Some(p) = &self.resume {
            JournalChoice::Resume(p.clone())
        } else {
            JournalChoice::New(self.journal.clone().unwrap_or_else(|| {
                let path = default_path(chrono::Utc::now());
                if self.demo {
                    // Name demo journals so they are easy to tell from real sessions.
                    PathBuf::from(
                        path.to_string_lossy()
                            .replacen("recmon-", "recmon-demo-", 1),
                    )
                } else {
                    path
                }
            }))
        };
        Ok(ServiceConfig {
            alerts: self.alerts.enabled(),
            alert_sinks: self.alerts.sinks()?,
            forward: self.forward_config()?,
            listen: self.listen,
            any_port_if_taken: self.demo,
            journal,
            fsync: self.fsync,
            log_capacity: self.log_capacity,
            server: ServerConfig {
                max_body: self.max_body,
                api_token: self.api_token.clone(),
                header_timeout: Duration::from_secs(self.header_timeout.max(1)),
                idle_timeout: Duration::from_secs(self.idle_timeout.max(1)),
                max_connections: self.max_connections,
                max_conns_per_ip: self.max_conns_per_ip,
                request_timeout: Duration::from_secs(self.request_timeout.max(1)),
                auth,
                keep_alive: Duration::from_secs(self.keep_alive_secs.max(1)),
                keep_all_headers: false,
                forward_sync: None,
                pins: {
                    // The demo sends nginx-rtmp and SRS to paths of their own, pinned (with
                    // --auth-key they are read only where pinned).
                    let mut pins = self.provider_pins.clone();
                    if self.demo {
                        pins.push(format!("{DEMO_NGINX_PATH}=nginx-rtmp"));
                        pins.push(format!("{DEMO_SRS_PATH}=srs"));
                    }
                    crate::providers::Pins::parse(&pins).map_err(|e| AppError::new(2, e))?
                },
                tencent_key: match self.tencent_key.as_deref() {
                    Some("") => {
                        return Err(AppError::new(
                            2,
                            "--tencent-key (or RECMON_TENCENT_KEY) is empty: set it to your callback key",
                        ))
                    }
                    k => k.map(str::to_string),
                },
            },
        })
    }

    /// The forwarding this command line asks for, if any. `Err` for a usage mistake.
    pub fn forward_config(&self) -> Result<Option<ForwardConfig>, AppError> {
        if self.forward_to.is_empty() {
            // RECMON_FORWARD_SIGN_KEY alone (set for every run) does not ask for forwarding.
            return Ok(None);
        }
        let mut targets: Vec<Target> = Vec::new();
        for url in &self.forward_to {
            let t = Target::parse(url).map_err(|e| AppError::new(2, e))?;
            if targets.iter().any(|o| o.name == t.name) {
                return Err(AppError::new(
                    2,
                    format!("--forward-to {} is given twice", t.name),
                ));
            }
            targets.push(t);
        }
        if self.forward_mode == ForwardMode::Sync {
            if targets.len() > 1 {
                return Err(AppError::new(
                    2,
                    "--forward-mode sync answers the provider with one backend's answer: give one --forward-to (or use the default async mode for several)",
                ));
            }
            if self.forward_skip_duplicates {
                return Err(AppError::new(
                    2,
                    "--forward-skip-duplicates does not apply to --forward-mode sync: there the provider's retries are how a failed delivery is sent again, so every one is forwarded",
                ));
            }
        }
        if self.forward_sign_key.as_deref() == Some("") {
            return Err(AppError::new(
                2,
                "--forward-sign-key (or RECMON_FORWARD_SIGN_KEY) is empty",
            ));
        }
        let timeout = self.forward_timeout.unwrap_or(match self.forward_mode {
            ForwardMode::Async => Duration::from_secs(10),
            ForwardMode::Sync => Duration::from_secs(4),
        });
        if timeout.is_zero() {
            return Err(AppError::new(2, "--forward-timeout must be more than 0"));
        }
        Ok(Some(ForwardConfig {
            targets,
            mode: self.forward_mode,
            timeout,
            give_up: self.forward_give_up,
            concurrency: self.forward_concurrency as usize,
            skip_duplicates: self.forward_skip_duplicates,
            sign_key: self.forward_sign_key.clone(),
        }))
    }

    /// Whether this run uses the headless view: asked for, or stdout is not a terminal.
    pub fn wants_headless(&self) -> bool {
        use std::io::IsTerminal;
        self.headless || self.json || !std::io::stdout().is_terminal()
    }
}

/// Journal seqs and ranges, as `--seq` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqList(pub Vec<std::ops::RangeInclusive<u64>>);

impl SeqList {
    /// Whether `seq` is listed.
    pub fn contains(&self, seq: u64) -> bool {
        self.0.iter().any(|r| r.contains(&seq))
    }
}

/// `12`, `12,15`, `40-45`, or a mix.
pub fn parse_seq_list(s: &str) -> Result<SeqList, String> {
    let bad = || format!("{s:?} is not a list of seqs; write e.g. 12 or 12,15,40-45");
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (a, b) = (
            a.parse::<u64>().map_err(|_| bad())?,
            b.parse::<u64>().map_err(|_| bad())?,
        );
        if a > b {
            return Err(bad());
        }
        out.push(a..=b);
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(SeqList(out))
}

/// How fast to send: a factor of the recorded pace, or as fast as the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// No waiting between requests.
    Max,
    /// Offsets are divided by this factor (2 = twice as fast).
    Factor(f64),
}

impl FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Factor(x)),
            _ => Err(format!(
                "expected a positive number (e.g. 1, 10, 0.5) or `max`, got {s:?}"
            )),
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Factor(x) => write!(f, "{x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("0.0.0.0:8080").unwrap().to_string(),
            "0.0.0.0:8080"
        );
        assert_eq!(parse_listen("[::]:8080").unwrap().to_string(), "[::]:8080");
        assert_eq!(
            parse_listen("localhost:9000").unwrap().to_string(),
            "127.0.0.1:9000"
        );
        assert_eq!(parse_listen("9000").unwrap().to_string(), "127.0.0.1:9000");
        let e = parse_listen("example.com:80").unwrap_err();
        assert!(e.contains("0.0.0.0:8080"), "{e}");
        assert!(parse_listen("localhost:99999").is_err());
        assert!(parse_listen("").unwrap_err().contains("RECMON_LISTEN"));
    }
}
