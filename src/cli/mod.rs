//! Command-line interface definitions (clap), by job:
//!
//! - here: the top level, [`Cli`] and its [`Command`]s;
//! - [`run`]: the monitor's own options ([`RunArgs`]), in flattened groups;
//! - [`alerts`]: the alert rules' options, shared by the monitor, `attach` and `report`;
//! - [`tools`]: the subcommands' options;
//! - [`values`]: parsers and enums of single option values;
//! - [`validate`]: checks across options and conversions into configurations (pure).
//!
//! Parsing only; `main` and `crate::tools` act on them.

use clap::{Parser, Subcommand};

pub mod alerts;
pub mod run;
pub mod tools;
pub mod validate;
pub mod values;

pub use alerts::AlertArgs;
pub use run::{
    AuthArgs, ForwardArgs, JournalArgs, ReconcileRunArgs, RunArgs, ServerArgs, VerifyArgs,
    ViewArgs, DEMO_NGINX_PATH, DEMO_SRS_PATH,
};
pub use tools::{
    AttachArgs, ExportArgs, ExportFormat, ExportWhat, ReconcileArgs, ReplayArgs, ReportArgs,
    ReportFormat, SimulateArgs, VerifyToolArgs,
};
pub use values::{parse_listen, parse_provider, parse_seq_list, ProviderName, SeqList, Speed};

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
    /// Check every recording of a journal against its file (exists, size, container, measured
    /// duration, audio and video), for a nightly job: exit 1 when any file failed, 3 when none
    /// failed but some could not be checked.
    Verify(VerifyToolArgs),
    /// Compare a journal with the providers' own records of the callbacks they sent (and the
    /// recording files that exist): what never arrived, what the provider saw fail, what went
    /// to another URL; --backfill fills the missed ones in.
    Reconcile(ReconcileArgs),
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The long options in the order `--help` lists them.
    fn listed(help: &str) -> Vec<String> {
        help.lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l
                    .strip_prefix("-h, ")
                    .or_else(|| l.strip_prefix("-V, "))
                    .unwrap_or(l);
                let l = l.split_once(", ").map_or(
                    l,
                    |(short, long)| {
                        if short.len() == 2 {
                            long
                        } else {
                            l
                        }
                    },
                );
                l.strip_prefix("--")
                    .map(|rest| rest.split([' ', '=']).next().unwrap_or("").to_string())
            })
            .collect()
    }

    #[test]
    fn the_monitors_options_keep_their_order_in_help() {
        let help = Cli::command().render_long_help().to_string();
        let want = [
            "listen",
            "journal",
            "resume",
            "demo",
            "no-journal",
            "fsync",
            "max-body",
            "headless",
            "json",
            "api-token",
            "auth-key",
            "auth-host",
            "auth-max-age",
            "tencent-key",
            "provider",
            "header-timeout",
            "idle-timeout",
            "request-timeout",
            "max-connections",
            "max-conns-per-ip",
            "log-capacity",
            "forward-to",
            "forward-mode",
            "forward-timeout",
            "forward-give-up",
            "forward-concurrency",
            "forward-reconciled",
            "forward-skip-duplicates",
            "forward-sign-key",
            "alert-paused",
            "alert-not-recording",
            "alert-not-recorded",
            "alert-file-overdue",
            "record-cycle",
            "alert-short-file",
            "alert-gap",
            "alert-silence",
            "alert-exec",
            "alert-webhook",
            "bell",
            "aliyun-endpoint",
            "no-alerts",
            "reconcile-every",
            "tencent-endpoint",
            "verify",
            "verify-concurrency",
            "verify-missing-for",
            "verify-path-map",
            "verify-timeout",
            "log-file",
            "help",
            "version",
        ];
        assert_eq!(listed(&help), want);
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
