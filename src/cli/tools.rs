//! The subcommands' options: `recmon export`, `report`, `replay`, `simulate` and `attach`.
//! Parsing only; `crate::tools` and `crate::attach` act on them.

use std::path::PathBuf;

use clap::builder::{EnumValueParser, TypedValueParser};
use clap::{Args, ValueEnum};

use crate::cli::alerts::AlertArgs;
use crate::cli::values::{parse_provider, parse_seq_list, ProviderName, SeqList, Speed};
use crate::providers::Provider;

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
    pub provider: Option<Provider>,

    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
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

/// `recmon verify JOURNAL --verify RULE...`.
#[derive(Debug, Clone, Args)]
pub struct VerifyToolArgs {
    /// The journal (a recmon-*.jsonl file, or an attach copy).
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,

    /// Where the recordings' files are: `[PROVIDER[:DOMAIN]=]LOCATION`, as the receiver's
    /// --verify (see docs/verify.md); repeatable, the most specific rule wins.
    #[arg(long = "verify", value_name = "RULE", required = true)]
    pub verify: Vec<String>,

    /// Read a path the media server names FROM... at TO... on this host; repeatable.
    #[arg(long, value_name = "FROM=TO")]
    pub verify_path_map: Vec<String>,

    /// One JSON object per recording (stream, uri, claimed and measured duration, verdict)
    /// instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Files checked at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// How long a missing file is looked for again before it is `missing` (0: at once; a
    /// finished session's files are where they will be).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::util::human::parse_duration)]
    pub missing_for: std::time::Duration,

    /// Time for one request to the store.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::util::human::parse_duration)]
    pub timeout: std::time::Duration,
}

/// `recmon reconcile JOURNAL`.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// The journal (a recmon-*.jsonl file).
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,

    /// From (RFC 3339, e.g. 2026-12-04T10:00:00Z). Default: the journal's first callback,
    /// less 10 minutes.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// To (RFC 3339). Default: the journal's last callback, plus 10 minutes.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,

    /// Print the findings as JSON (each with its kind) instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Fill in the missed callbacks: one journal line each, marked reconciled (the journal
    /// must not be held by a running receiver).
    #[arg(long)]
    pub backfill: bool,

    /// This receiver's URL as the provider calls it (callbacks sent elsewhere are
    /// `other_url`). Default: the URL most received callbacks were sent to.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// ApsaraVideo domains to ask about besides those the journal names; repeatable.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,

    /// The ApsaraVideo Live OpenAPI endpoint (default https://live.aliyuncs.com; http
    /// allowed, for tests and private endpoints).
    #[arg(long, value_name = "URL")]
    pub aliyun_endpoint: Option<String>,

    /// The Tencent Cloud API endpoint (default https://live.tencentcloudapi.com).
    #[arg(long, value_name = "URL")]
    pub tencent_endpoint: Option<String>,
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
        value_parser = TypedValueParser::map(EnumValueParser::<ProviderName>::new(), Provider::from)
    )]
    pub provider: Provider,

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
