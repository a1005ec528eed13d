//! The alert rules' options, shared by the receiver, `recmon attach` and `recmon report`.
//! Parsing only; [`super::validate`] turns them into the rules and the sinks.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

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
