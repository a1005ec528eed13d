//! `recmon report JOURNAL`: how complete each broadcast's recording was, from a journal (or
//! an attach copy), reproducibly: the journal's own `received_at` is the clock, and the alert
//! rules ([`crate::core::alerts`]) are replayed through it exactly as they ran live.
//!
//! A **broadcast** is a publish → publish_done session of a stream (ApsaraVideo's ingest
//! callbacks, nginx-rtmp's and SRS's publish hooks, Tencent's push events). Its live time comes
//! from the ingest callbacks' own timestamps (ApsaraVideo's `time`, Tencent's `event_time`),
//! the arrival time only where the sender gives none (nginx-rtmp, SRS, whose files' times
//! recmon derives from arrival times too), so that files and live time share one clock. Each
//! file belongs to the broadcast it was reported in: from its publish until the next publish
//! (a broadcast's last file is reported after its end). Per broadcast: coverage (recorded
//! seconds ÷ live seconds, 0..1) and gaps (the live stretches no file covers longer than
//! `--alert-gap`, before the first file and after the last included) and a verdict (`recorded`,
//! `gaps`, `not recorded`, `live` at the journal's end: the time since its newest file is its
//! current file's, not written yet, and counts neither as covered nor as a gap). A stream with files but no ingest
//! callbacks has no known live time: the report says "live time unknown" rather than a
//! percentage, and lists the holes between its files.
//!
//! Per stream: its provider, files, the seconds they hold, the first start and the last stop,
//! its broadcasts and their totals, the files shorter than `--alert-short-file` (a broadcast's
//! last file, its tail, is never one), the pauses, and every alert that fired. As markdown
//! (default), JSON, or one self-contained HTML page with a timeline per stream.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::core::alerts::{Alert, AlertConfig};
use crate::core::dedup::Deduper;
use crate::core::journal::format_time;
use crate::core::rebuild::{callback_of_ref, for_each_line, LineRef};
use crate::core::store::{Request, Store};
use crate::event::{Callback, IngestAction, Outcome, RecordState, StreamId};

/// One file, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    /// Its uri.
    pub uri: String,
    /// Provider's start (Unix seconds).
    pub start: Option<i64>,
    /// Provider's stop (Unix seconds).
    pub stop: Option<i64>,
    /// Seconds (the reported duration, else stop − start).
    pub seconds: Option<f64>,
    /// The provider sent no times (nginx-rtmp, SRS): these were derived from arrival times.
    pub derived: bool,
    /// Its verdict, when it was checked against the file (`--verify`): `ok`, `short`,
    /// `missing`, `unchecked: 403`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The duration measured from the file, when checked and measurable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_s: Option<f64>,
    /// The verdict is a fault of the recording.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// Never received here: filled in from the provider's records (`recmon reconcile`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reconciled: bool,
}

/// A live stretch no file covers (or, where live time is unknown, a hole between two files).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// Where it begins (Unix seconds): the publish, or the stop of the file before it.
    pub from: i64,
    /// Where it ends: the next file's start, or the publish_done.
    pub to: i64,
    /// `to − from`.
    pub seconds: i64,
}

/// Which clock a broadcast's live time was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// The ingest callbacks' own timestamps (ApsaraVideo's `time`, Tencent's `event_time`).
    Provider,
    /// Their arrival: the sender gives none (nginx-rtmp, SRS).
    Arrival,
}

/// What became of one broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Files cover the whole live time (no gap over `--alert-gap`).
    Recorded,
    /// Files, with live stretches no file covers.
    Gaps,
    /// It ended with no file at all.
    NotRecorded,
    /// Still live at the journal's end (its current file is not written yet).
    Live,
}

impl Verdict {
    /// In words.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Recorded => "recorded",
            Verdict::Gaps => "gaps",
            Verdict::NotRecorded => "not recorded",
            Verdict::Live => "live at the end",
        }
    }
}

/// One publish → publish_done session of a stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Broadcast {
    /// The publish (Unix seconds, on [`Broadcast::clock`]).
    pub from: i64,
    /// The publish_done; `None` while it was live at the journal's end.
    pub to: Option<i64>,
    /// Where the live time was read from.
    pub clock: Clock,
    /// Live seconds: `to − from` (to the journal's end while live).
    pub live_s: f64,
    /// While live at the journal's end: the seconds since its newest file stopped (or since
    /// the publish), which its current file, not written yet, will hold. Left out of its
    /// coverage, and not a gap.
    pub in_progress_s: f64,
    /// Files reported during it (and after its end, until the next publish).
    pub files: usize,
    /// Their seconds (an SRS stream's HLS segments' when they hold more).
    pub recorded_s: f64,
    /// `recorded_s / live_s`, within 0..1 (`None` for no live time).
    pub coverage: Option<f64>,
    /// Live stretches no file covers, longer than `--alert-gap`.
    pub gaps: Vec<Gap>,
    /// What became of it.
    pub verdict: Verdict,
    /// Its files checked against the files themselves (`--verify`), when any were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
}

/// A time span of a stream's state, for the timeline (receive times).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// What: `live`, `recording` or `paused`.
    pub what: &'static str,
    /// When it began.
    #[serde(serialize_with = "ser_time")]
    pub from: DateTime<Utc>,
    /// When it ended (the end of the journal when it had not).
    #[serde(serialize_with = "ser_time")]
    pub to: DateTime<Utc>,
}

fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// One stream's continuity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamReport {
    /// Its files checked against the files themselves (`--verify`), when any were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    /// Domain.
    pub domain: String,
    /// App.
    pub app: String,
    /// Stream.
    pub stream: String,
    /// Whose callbacks name it.
    pub provider: &'static str,
    /// Files accepted.
    pub files: usize,
    /// Of them, files whose times were derived from arrival times (the provider sends none).
    pub derived_files: usize,
    /// HLS segments written (SRS).
    pub hls_segments: u64,
    /// Seconds recorded: the files' seconds, or the HLS segments' when there are segments
    /// and they hold more (the store's rule: SRS writes both for one broadcast).
    pub recorded_s: f64,
    /// The first file's start (Unix seconds).
    pub first_start: Option<i64>,
    /// The last file's stop (Unix seconds).
    pub last_stop: Option<i64>,
    /// Its broadcasts, in order.
    pub broadcasts: Vec<Broadcast>,
    /// Seconds live over its broadcasts (`None`: no ingest callback, live time unknown).
    pub live_s: Option<f64>,
    /// Recorded seconds of its broadcasts ÷ their live seconds, within 0..1; `None` where
    /// live time is unknown.
    pub coverage: Option<f64>,
    /// Its broadcasts' gaps; for files outside any broadcast (live time unknown), the holes
    /// between consecutive ones over `--alert-gap`.
    pub gaps: Vec<Gap>,
    /// Files under `--alert-short-file`, but for each ended broadcast's last file (its tail).
    pub short_files: usize,
    /// `record_paused` events.
    pub pauses: usize,
    /// Seconds spent paused (receive times; a pause still on at the end counts to the end).
    pub paused_s: f64,
    /// Every alert about this stream, in firing order.
    pub alerts: Vec<Alert>,
    /// The files, in start order.
    pub file_list: Vec<File>,
    /// Live, recording and paused spans, for the timeline.
    pub spans: Vec<Span>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The journal read.
    pub journal: String,
    /// The first and last `received_at`.
    #[serde(serialize_with = "ser_opt_time")]
    pub from: Option<DateTime<Utc>>,
    /// See `from`.
    #[serde(serialize_with = "ser_opt_time")]
    pub to: Option<DateTime<Utc>>,
    /// Where the replayed alert clock ended: `to`, or the journal's mark (its modification
    /// time, which a running receiver sets every second) when that is later.
    #[serde(serialize_with = "ser_opt_time")]
    pub evaluated_to: Option<DateTime<Utc>>,
    /// Journal lines read.
    pub entries: u64,
    /// One line for the whole journal: `3 broadcasts, 1 not recorded: cam2 14:02–14:35`.
    pub verdict: String,
    /// Broadcasts of every stream.
    pub broadcasts: usize,
    /// Per stream, in first-seen order.
    pub streams: Vec<StreamReport>,
    /// Alerts about no one stream (silence, bad signatures, …).
    pub alerts: Vec<Alert>,
    /// Reconciling with the providers' records: the runs journaled and, per domain, what
    /// they found and what was filled in (left out when the journal has neither).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation: Option<Reconciliation>,
    /// Lines of the file that are not journal lines, described (skipped).
    #[serde(skip)]
    pub problems: Vec<String>,
}

/// What the journal says about reconciling with the providers' records: its
/// `reconcile_run` lines (each run's findings by kind and domain) and its reconciled lines
/// (the callbacks filled in).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reconciliation {
    /// Runs journaled.
    pub runs: u64,
    /// The newest run: when it started.
    #[serde(serialize_with = "ser_opt_time")]
    pub last_run_at: Option<DateTime<Utc>>,
    /// Per domain (ApsaraVideo's; Tencent's streams under `tencent`), by name.
    pub domains: Vec<DomainReconciliation>,
}

/// One domain's reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DomainReconciliation {
    /// The domain.
    pub domain: String,
    /// Findings by kind in the newest run.
    pub last_run: BTreeMap<String, u64>,
    /// Findings by kind over every run (a finding that stands is counted by each run).
    pub all_runs: BTreeMap<String, u64>,
    /// Callbacks filled in (reconciled lines).
    pub filled: u64,
}

/// The report's reconciliation part, from the runs and the callbacks filled in per domain.
fn reconciliation(
    runs: &[crate::core::reconciled::ReconcileRun],
    filled: &BTreeMap<String, u64>,
) -> Option<Reconciliation> {
    if runs.is_empty() && filled.is_empty() {
        return None;
    }
    let last = runs.iter().max_by_key(|r| r.at);
    let mut domains: BTreeMap<String, DomainReconciliation> = BTreeMap::new();
    for run in runs {
        for (d, kinds) in &run.domains {
            let e = domains.entry(d.clone()).or_default();
            for (k, n) in kinds {
                *e.all_runs.entry(k.clone()).or_default() += n;
            }
        }
    }
    if let Some(last) = last {
        for (d, kinds) in &last.domains {
            domains.entry(d.clone()).or_default().last_run = kinds.clone();
        }
    }
    for (d, n) in filled {
        domains.entry(d.clone()).or_default().filled = *n;
    }
    Some(Reconciliation {
        runs: runs.len() as u64,
        last_run_at: last.map(|r| r.at),
        domains: domains
            .into_iter()
            .map(|(domain, d)| DomainReconciliation { domain, ..d })
            .collect(),
    })
}

/// `kind n, kind n` (or `none`).
fn kinds_text(k: &BTreeMap<String, u64>) -> String {
    if k.values().all(|n| *n == 0) {
        return "none".into();
    }
    k.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} {n}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}

/// Per stream while reading: open spans.
#[derive(Default)]
struct Track {
    live_since: Option<DateTime<Utc>>,
    recording_since: Option<DateTime<Utc>>,
    paused_since: Option<DateTime<Utc>>,
    pauses: usize,
    paused_s: f64,
    spans: Vec<Span>,
}

impl Track {
    fn close(&mut self, what: &'static str, since: &mut Option<DateTime<Utc>>, at: DateTime<Utc>) {
        if let Some(from) = since.take() {
            if what == "paused" {
                self.paused_s += (at - from).num_milliseconds().max(0) as f64 / 1000.0;
            }
            self.spans.push(Span { what, from, to: at });
        }
    }

    fn observe(&mut self, cb: &Callback, at: DateTime<Utc>) {
        match cb {
            Callback::Ingest(i) => match i.action {
                IngestAction::Publish => {
                    if self.live_since.is_none() {
                        self.live_since = Some(at);
                    }
                }
                IngestAction::PublishDone => {
                    let mut s = self.live_since.take();
                    self.close("live", &mut s, at);
                    // The broadcast ended: so did its recording and any pause.
                    let mut r = self.recording_since.take();
                    self.close("recording", &mut r, at);
                    let mut p = self.paused_since.take();
                    self.close("paused", &mut p, at);
                }
            },
            Callback::Status(s) => match s.target_state() {
                Some(RecordState::Started | RecordState::Resumed) => {
                    let mut p = self.paused_since.take();
                    self.close("paused", &mut p, at);
                    if self.recording_since.is_none() {
                        self.recording_since = Some(at);
                    }
                }
                Some(RecordState::Paused) => {
                    let mut r = self.recording_since.take();
                    self.close("recording", &mut r, at);
                    if self.paused_since.is_none() {
                        self.paused_since = Some(at);
                        self.pauses += 1;
                    }
                }
                // Tencent's record_ended, and the errors: the recording stopped.
                Some(RecordState::Ended | RecordState::Error) => {
                    let mut r = self.recording_since.take();
                    self.close("recording", &mut r, at);
                    let mut p = self.paused_since.take();
                    self.close("paused", &mut p, at);
                }
                Some(RecordState::None) | None => {}
            },
            Callback::Recording(_)
            | Callback::Play(_)
            | Callback::Segment(_)
            | Callback::Notice(_) => {}
        }
    }

    fn finish(&mut self, at: DateTime<Utc>) {
        for what in ["live", "recording", "paused"] {
            let mut since = match what {
                "live" => self.live_since.take(),
                "recording" => self.recording_since.take(),
                _ => self.paused_since.take(),
            };
            self.close(what, &mut since, at);
        }
    }
}

/// A stream's broadcasts while reading: each file goes to the broadcast it was reported in.
#[derive(Default)]
struct Lives {
    list: Vec<Live>,
    /// Files reported before any publish of the stream (indexes into the store's recordings).
    outside: Vec<usize>,
}

struct Live {
    from: i64,
    to: Option<i64>,
    clock: Clock,
    files: Vec<usize>,
    segments: u64,
    segment_s: f64,
}

impl Lives {
    fn publish(&mut self, at: i64, clock: Clock) {
        if self.list.last().is_some_and(|b| b.to.is_none()) {
            return; // already live: a publish without a publish_done between is one broadcast
        }
        self.list.push(Live {
            from: at,
            to: None,
            clock,
            files: Vec::new(),
            segments: 0,
            segment_s: 0.0,
        });
    }

    fn done(&mut self, at: i64) {
        // A publish_done with no publish before it (the journal began mid-broadcast) starts
        // no broadcast: its live time is unknown.
        if let Some(b) = self.list.last_mut().filter(|b| b.to.is_none()) {
            b.to = Some(at.max(b.from));
        }
    }

    fn file(&mut self, i: usize) {
        match self.list.last_mut() {
            Some(b) => b.files.push(i),
            None => self.outside.push(i),
        }
    }

    fn segment(&mut self, seconds: f64) {
        if let Some(b) = self.list.last_mut() {
            b.segments += 1;
            if seconds.is_finite() && seconds > 0.0 {
                b.segment_s += seconds;
            }
        }
    }
}

/// The live stretches of `from..to` that no file covers, longer than `limit` seconds. `files`
/// are (start, stop), in any order.
fn uncovered(from: i64, to: i64, files: &[(i64, i64)], limit: i64) -> Vec<Gap> {
    let mut files = files.to_vec();
    files.sort_unstable();
    let mut gaps = Vec::new();
    let mut push = |a: i64, b: i64| {
        if let Some(seconds) = b.checked_sub(a).filter(|s| *s > limit) {
            gaps.push(Gap {
                from: a,
                to: b,
                seconds,
            });
        }
    };
    let mut cursor = from;
    for (start, stop) in files {
        if start >= to {
            break;
        }
        push(cursor, start);
        cursor = cursor.max(stop);
    }
    push(cursor, to);
    gaps
}

/// Seconds of `from..to` that at least one file covers: the union of the files' spans, so
/// that one stretch recorded in several formats at once (ApsaraVideo writes flv, m3u8 and mp4
/// side by side) counts once.
fn covered_s(from: i64, to: i64, files: &[(i64, i64)]) -> f64 {
    let mut files: Vec<(i64, i64)> = files
        .iter()
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    files.sort_unstable();
    let (mut total, mut cursor) = (0f64, from);
    for (a, b) in files {
        let a = a.max(cursor);
        if b > a {
            total += (b as f64) - (a as f64);
            cursor = b;
        }
    }
    total
}

fn file_of(r: &crate::core::store::Recording, store: &Store) -> File {
    let check = store.checks().of(r.seq);
    File {
        uri: r.uri.to_string(),
        start: r.start_time,
        stop: r.stop_time,
        seconds: r.effective_duration().filter(|d| d.is_finite()),
        derived: r.derived,
        verdict: check.map(|c| {
            let mut v = c.verdict.to_string();
            for also in &c.also {
                v.push_str(&format!(", {also}"));
            }
            v
        }),
        measured_s: check.and_then(|c| c.measured_s),
        failed: check.is_some_and(|c| c.failed()),
        reconciled: store.reconciled().contains(r.seq),
    }
}

/// Recording proof over some files (`--verify`): how many were checked, failed, and the
/// seconds measured against the seconds claimed of those checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Proof {
    /// Files with a verdict.
    pub checked: usize,
    /// Of them, files that failed (short, long, empty, broken, missing, no audio or video).
    pub failed: usize,
    /// Of them, files recmon could not check (its access: no rule, 403, timeout...).
    pub unchecked: usize,
    /// Seconds the checked files claimed.
    pub claimed_s: f64,
    /// Seconds measured from them (a missing or broken file: 0).
    pub verified_s: f64,
}

fn proof_of<'a>(files: impl Iterator<Item = &'a File>) -> Option<Proof> {
    let mut p = Proof::default();
    for f in files {
        let Some(v) = &f.verdict else { continue };
        p.checked += 1;
        if v.starts_with("unchecked") {
            p.unchecked += 1;
            continue;
        }
        p.failed += f.failed as usize;
        p.claimed_s += f.seconds.unwrap_or(0.0);
        p.verified_s += f.measured_s.unwrap_or(0.0);
    }
    (p.checked > 0).then_some(p)
}

/// The seconds of `files`, summed from +0.0 (a float sum starts at -0.0, which prints as
/// "-0.000").
fn seconds_of<'a>(files: impl Iterator<Item = &'a File>) -> f64 {
    files.filter_map(|f| f.seconds).fold(0.0, |a, b| a + b)
}

/// Each of a stream's broadcasts, with its files, coverage, gaps and verdict. `end` is the
/// journal's end (arrival clock), where a broadcast still live is measured to. `owed` is how
/// long a live broadcast's current file may take (its cycle plus `--alert-file-overdue`):
/// the time since its newest file is its current file's up to that, and a gap beyond it.
fn broadcasts_of(
    lives: &Lives,
    recordings: &[crate::core::store::Recording],
    store: &Store,
    end: DateTime<Utc>,
    gap_limit: i64,
    owed: std::time::Duration,
) -> Vec<Broadcast> {
    lives
        .list
        .iter()
        .map(|b| {
            let files: Vec<File> = b
                .files
                .iter()
                .filter_map(|i| recordings.get(*i))
                .map(|r| file_of(r, store))
                .collect();
            let spans: Vec<(i64, i64)> = files
                .iter()
                .filter_map(|f| Some((f.start?, f.stop?)))
                .filter(|(a, z)| a <= z)
                .collect();
            let files_s = seconds_of(files.iter());
            let recorded_s = if b.segments > 0 {
                files_s.max(b.segment_s)
            } else {
                files_s
            };
            let newest_stop = spans.iter().map(|s| s.1).max();
            // Still live: measured to the journal's end, or to its newest file where the
            // provider's clock runs ahead of the arrivals (a simulated session sent fast).
            let until =
                b.to.unwrap_or_else(|| {
                    let end = end.timestamp();
                    match b.clock {
                        Clock::Arrival => end,
                        Clock::Provider => end.max(newest_stop.unwrap_or(b.from)),
                    }
                })
                .max(b.from);
            let live_s = (until as f64) - (b.from as f64);
            // What is known: all of an ended broadcast; a live one up to where its current
            // file may still be coming.
            let known_to = match b.to {
                Some(to) => to,
                None => {
                    let owed = i64::try_from(owed.as_secs()).unwrap_or(i64::MAX);
                    newest_stop
                        .unwrap_or(b.from)
                        .clamp(b.from, until)
                        .max(until.saturating_sub(owed))
                }
            };
            let in_progress_s = (until as f64) - (known_to as f64);
            let known = (known_to as f64) - (b.from as f64);
            // Files without times (one reported before any start could be derived) and an
            // SRS stream's HLS segments count by their seconds.
            let timeless_s = seconds_of(
                files
                    .iter()
                    .filter(|f| f.start.is_none() || f.stop.is_none()),
            );
            let covered = (covered_s(b.from, known_to, &spans) + timeless_s)
                .max(if b.segments > 0 { b.segment_s } else { 0.0 });
            let coverage = (known > 0.0).then(|| (covered / known).clamp(0.0, 1.0));
            let gaps = uncovered(b.from, known_to, &spans, gap_limit);
            let verdict = if files.is_empty() && b.segments == 0 && b.to.is_some() {
                Verdict::NotRecorded
            } else if !gaps.is_empty() {
                Verdict::Gaps
            } else if b.to.is_none() {
                Verdict::Live
            } else {
                Verdict::Recorded
            };
            Broadcast {
                from: b.from,
                to: b.to,
                clock: b.clock,
                live_s,
                in_progress_s,
                files: files.len(),
                recorded_s,
                coverage,
                gaps,
                verdict,
                proof: proof_of(files.iter()),
            }
        })
        .collect()
}

/// Broadcasts named per kind in the verdict line.
const VERDICT_NAMES: usize = 5;

/// `HH:MM` (UTC), with the date when the journal spans more than one day.
fn clock_text(t: i64, with_date: bool) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|t| {
            t.format(if with_date { "%Y-%m-%d %H:%M" } else { "%H:%M" })
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

/// The journal's one-line verdict: `3 broadcasts, 1 not recorded: cam2 14:02–14:35` (times in
/// UTC, as everywhere in the report).
fn verdict_line(streams: &[StreamReport]) -> String {
    use crate::util::human::count;
    let all: Vec<(&StreamReport, &Broadcast)> = streams
        .iter()
        .flat_map(|s| s.broadcasts.iter().map(move |b| (s, b)))
        .collect();
    if all.is_empty() {
        let with_files = streams.iter().filter(|s| s.files > 0).count();
        return if with_files == 0 {
            "no broadcasts and no files".into()
        } else {
            format!(
                "no broadcasts: live time unknown (no ingest callbacks) for {} with files",
                count(with_files as u64, "stream", "streams")
            )
        };
    }
    let days: Vec<chrono::NaiveDate> = all
        .iter()
        .flat_map(|(_, b)| [Some(b.from), b.to])
        .flatten()
        .filter_map(|t| DateTime::from_timestamp(t, 0))
        .map(|t| t.date_naive())
        .collect();
    let with_date = days.iter().min() != days.iter().max();
    let when = |b: &Broadcast| {
        format!(
            "{}–{}",
            clock_text(b.from, with_date),
            b.to.map_or_else(|| "now".into(), |t| clock_text(t, with_date))
        )
    };
    let of = |v: Verdict| -> Vec<&(&StreamReport, &Broadcast)> {
        all.iter().filter(|(_, b)| b.verdict == v).collect()
    };
    let mut parts = vec![count(all.len() as u64, "broadcast", "broadcasts")];
    let not_recorded = of(Verdict::NotRecorded);
    let gaps = of(Verdict::Gaps);
    let live = of(Verdict::Live);
    if not_recorded.is_empty() && gaps.is_empty() {
        parts.push(if live.is_empty() {
            "all recorded".into()
        } else {
            "all recorded so far".into()
        });
    }
    // The first few of each kind by name; the sections below list them all.
    let listed = |names: Vec<String>| -> String {
        let more = names.len().saturating_sub(VERDICT_NAMES);
        let mut text = names
            .into_iter()
            .take(VERDICT_NAMES)
            .collect::<Vec<_>>()
            .join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    if !not_recorded.is_empty() {
        let names: Vec<String> = not_recorded
            .iter()
            .map(|(s, b)| format!("{} {}", s.stream, when(b)))
            .collect();
        parts.push(format!(
            "{} not recorded: {}",
            not_recorded.len(),
            listed(names)
        ));
    }
    if !gaps.is_empty() {
        let names: Vec<String> = gaps
            .iter()
            .map(|(s, b)| format!("{} {} ({})", s.stream, when(b), pct(b.coverage)))
            .collect();
        parts.push(format!("{} with gaps: {}", gaps.len(), listed(names)));
    }
    if !live.is_empty() {
        parts.push(format!("{} live at the end", live.len()));
    }
    parts.join(", ")
}

/// Seconds past the journal's last line evaluated one by one (then one step to its mark).
const IDLE_TICKS: u32 = 3600;

/// Builds the report of `journal` with the alert thresholds `cfg`.
pub fn build(journal: &Path, cfg: &AlertConfig) -> std::io::Result<Report> {
    let mut store = Store::new(1);
    store.set_alert_config(cfg.clone());
    let mut deduper = Deduper::default();
    let mut tracks: BTreeMap<StreamId, Track> = BTreeMap::new();
    let mut lives: BTreeMap<u32, Lives> = BTreeMap::new();
    let mut alerts: Vec<Alert> = Vec::new();
    let mut runs: Vec<crate::core::reconciled::ReconcileRun> = Vec::new();
    let mut filled: BTreeMap<String, u64> = BTreeMap::new();
    let (mut first, mut last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut next_tick: Option<DateTime<Utc>> = None;
    let tick = chrono::Duration::seconds(1);
    let evaluate = |store: &mut Store, at: DateTime<Utc>, alerts: &mut Vec<Alert>| {
        for e in crate::core::alerts::tick(store, at) {
            if e.resolved() {
                if let Some(a) = alerts.iter_mut().rev().find(|a| {
                    a.rule == e.alert.rule && a.stream == e.alert.stream && a.resolved_at.is_none()
                }) {
                    *a = e.alert;
                }
            } else {
                alerts.push(e.alert);
            }
        }
    };
    let read = for_each_line(
        journal,
        |line| {
            let LineRef::Request(entry) = line else {
                match line {
                    LineRef::Delivery(d, _) => {
                        store.apply_delivery_state(d);
                    }
                    LineRef::Verdict(v, _) => store.apply_verdict(v),
                    LineRef::ReconcileRun(r, _) => {
                        store.apply_reconcile_run(r);
                        runs.push(r.reconcile_run.clone());
                    }
                    LineRef::Reconciled(r, _) => {
                        if let Some(cb) = r.reconciled.callback() {
                            store.apply_reconciled(r, &cb);
                            let domain = match r.reconciled.provider {
                                crate::event::Provider::Tencent => "tencent".to_string(),
                                _ => cb.stream_id().map(|s| s.domain.clone()).unwrap_or_default(),
                            };
                            *filled.entry(domain).or_default() += 1;
                        }
                    }
                    // The report runs the alert rules itself, on the journal's clock.
                    LineRef::Alert(..) | LineRef::Request(_) => {}
                }
                return ControlFlow::Continue(());
            };
            let at = entry.received_at;
            // The clock: every second of the journal's time is a tick of the live engine,
            // evaluated before the entry that moves the clock past it.
            while let Some(t) = next_tick.filter(|t| *t <= at) {
                evaluate(&mut store, t, &mut alerts);
                next_tick = Some(t + tick);
            }
            if next_tick.is_none() {
                next_tick = Some(at + tick);
            }
            first = first.min(Some(at)).or(Some(at));
            last = last.max(Some(at));
            let cb = callback_of_ref(entry);
            if entry.outcome == Outcome::Accepted {
                if let Some(cb) = &cb {
                    deduper.observe_accepted_from(entry.provider, cb, at);
                    if let Some(id) = cb.stream_id() {
                        tracks.entry(id.clone()).or_default().observe(cb, at);
                    }
                }
            }
            let stream = store.apply_state(&Request::from(entry), cb.as_ref());
            if let (Outcome::Accepted, Some(cb), Some(idx)) = (entry.outcome, &cb, stream) {
                let b = lives.entry(idx).or_default();
                match cb {
                    Callback::Ingest(i) => {
                        // The sender's own time where it gives one, else the arrival.
                        let (t, clock) = match i.sent_at() {
                            Some(t) => (t, Clock::Provider),
                            None => (at.timestamp(), Clock::Arrival),
                        };
                        match i.action {
                            IngestAction::Publish => b.publish(t, clock),
                            IngestAction::PublishDone => b.done(t),
                        }
                    }
                    Callback::Recording(_) => {
                        if let Some(r) = store.streams()[idx as usize].last_recording {
                            b.file(r);
                        }
                    }
                    Callback::Segment(seg) => b.segment(seg.duration.unwrap_or(0.0)),
                    _ => {}
                }
            }
            // And at the entry itself: an alert a callback starts or ends is dated by it.
            evaluate(&mut store, at, &mut alerts);
            ControlFlow::Continue(())
        },
        |_| {},
    )?;
    // The clock runs to the journal's end: its last line, or its mark when later: the file's
    // modification time, when a receiver last wrote it. A receiver journals each alert as it
    // fires, so a broadcast that ended just before the last callback and whose file never came
    // is `not_recorded` here as it was there.
    // The mark is never taken past now (a clock set wrong), and a journal copied without its
    // times is read up to the copy.
    let marked = std::fs::metadata(journal)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from)
        .filter(|m| *m <= Utc::now());
    let clock_end = match (last, marked) {
        (Some(l), Some(m)) => Some(l.max(m)),
        (l, _) => l,
    };
    if let (Some(mut t), Some(end)) = (next_tick, clock_end) {
        // Every second past the last line, as live; a long idle tail in one step at the end.
        let mut ticks = 0;
        while t < end && ticks < IDLE_TICKS {
            evaluate(&mut store, t, &mut alerts);
            t += tick;
            ticks += 1;
        }
    }
    if let Some(end) = clock_end {
        // The journal's end: one last evaluation there, then whatever still fires stays open.
        evaluate(&mut store, end, &mut alerts);
    }
    let end = clock_end.unwrap_or_else(Utc::now);
    let recordings = store.recordings();
    let mut streams = Vec::new();
    for (idx, s) in store.streams().iter().enumerate() {
        let name = crate::core::alerts::stream_name(s);
        let mut files: Vec<File> = s
            .recordings_newest_first(recordings)
            .map(|(_, r)| file_of(r, &store))
            .collect();
        files.reverse();
        files.sort_by_key(|f| f.start.unwrap_or(i64::MAX));
        let files_s = seconds_of(files.iter());
        let recorded_s = if s.segments > 0 && s.segment_s.is_finite() {
            files_s.max(s.segment_s)
        } else {
            files_s
        };
        let first_start = files.iter().filter_map(|f| f.start).min();
        let last_stop = files.iter().filter_map(|f| f.stop).max();
        let limit = cfg.gap.map_or(0, |g| g.as_secs() as i64);
        let stream_lives = lives.remove(&(idx as u32)).unwrap_or_default();
        let owed = crate::core::alerts::learned_cycle(s, recordings, cfg.record_cycle)
            + cfg.file_overdue.unwrap_or_default();
        let broadcasts = broadcasts_of(&stream_lives, recordings, &store, end, limit, owed);
        let (live_s, coverage) = if broadcasts.is_empty() {
            (None, None)
        } else {
            let live: f64 = broadcasts.iter().map(|b| b.live_s).sum();
            // What is known: a broadcast still live leaves out its current file's time.
            let known: f64 = broadcasts.iter().map(|b| b.live_s - b.in_progress_s).sum();
            let rec: f64 = broadcasts
                .iter()
                .map(|b| b.coverage.unwrap_or(0.0) * (b.live_s - b.in_progress_s))
                .sum();
            (
                Some(live),
                (known > 0.0).then(|| (rec / known).clamp(0.0, 1.0)),
            )
        };
        let mut gaps: Vec<Gap> = broadcasts.iter().flat_map(|b| b.gaps.clone()).collect();
        // Files outside any broadcast: only the holes between them can be told.
        let mut outside: Vec<File> = stream_lives
            .outside
            .iter()
            .filter_map(|i| recordings.get(*i))
            .map(|r| file_of(r, &store))
            .collect();
        outside.sort_by_key(|f| f.start.unwrap_or(i64::MAX));
        gaps.extend(outside.windows(2).filter_map(|w| {
            let (from, to) = (w[0].stop?, w[1].start?);
            let seconds = to.checked_sub(from)?;
            (seconds > limit).then_some(Gap { from, to, seconds })
        }));
        gaps.sort_by_key(|g| g.from);
        // Each ended broadcast's last file is its tail, short by nature.
        let tails: std::collections::HashSet<usize> = stream_lives
            .list
            .iter()
            .filter(|b| b.to.is_some())
            .filter_map(|b| b.files.last().copied())
            .collect();
        let short = cfg.short_file.map_or(0.0, |d| d.as_secs_f64());
        let short_files = s
            .recordings_newest_first(recordings)
            .filter(|(i, _)| !tails.contains(i))
            .filter_map(|(_, r)| r.effective_duration())
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < short)
            .count();
        let mut track = tracks.remove(&s.id).unwrap_or_default();
        track.finish(end);
        track.spans.sort_by_key(|sp| sp.from);
        streams.push(StreamReport {
            proof: proof_of(files.iter()),
            domain: s.id.domain.clone(),
            app: s.id.app.clone(),
            stream: s.id.stream.clone(),
            provider: s.provider.as_str(),
            files: files.len(),
            derived_files: files.iter().filter(|f| f.derived).count(),
            hls_segments: s.segments,
            recorded_s,
            first_start,
            last_stop,
            broadcasts,
            live_s,
            coverage,
            gaps,
            short_files,
            pauses: track.pauses,
            paused_s: track.paused_s,
            alerts: alerts
                .iter()
                .filter(|a| a.stream.as_deref() == Some(name.as_str()))
                .cloned()
                .collect(),
            file_list: files,
            spans: track.spans,
        });
    }
    Ok(Report {
        journal: journal.display().to_string(),
        from: first,
        to: last,
        evaluated_to: clock_end,
        entries: read.entries,
        verdict: verdict_line(&streams),
        broadcasts: streams.iter().map(|s| s.broadcasts.len()).sum(),
        streams,
        alerts: alerts.into_iter().filter(|a| a.stream.is_none()).collect(),
        reconciliation: reconciliation(&runs, &filled),
        problems: read.problems,
    })
}

fn unix(t: Option<i64>) -> String {
    t.and_then(crate::util::human::utc_seconds)
        .unwrap_or_else(|| "-".into())
}

fn pct(c: Option<f64>) -> String {
    c.map_or("-".into(), |c| format!("{:.1}%", c * 100.0))
}

/// Markdown: readable in a terminal, pasteable into a ticket. Untrusted text (names, uris,
/// messages) is made inert and its markdown specials escaped.
pub fn markdown(r: &Report) -> String {
    let md = |s: &str| -> String {
        let t = crate::util::sanitize::terminal(s, 400);
        let mut out = String::with_capacity(t.len());
        for c in t.chars() {
            if "\\`*_[]<>|#".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let mut o = String::new();
    o.push_str(&format!("# Recording continuity: {}\n\n", md(&r.journal)));
    o.push_str(&format!(
        "{} journal lines, {} to {}; {}.\n\n",
        r.entries,
        r.from.map(format_time).unwrap_or_else(|| "-".into()),
        r.to.map(format_time).unwrap_or_else(|| "-".into()),
        crate::util::human::count(r.streams.len() as u64, "stream", "streams")
    ));
    o.push_str(&format!("**{}**\n\n", md(&r.verdict)));
    o.push_str("| stream | provider | broadcasts | files | recorded | coverage | gaps | short files | pauses | alerts |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for s in &r.streams {
        o.push_str(&format!(
            "| {}/{}/{} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} |\n",
            md(&s.domain),
            md(&s.app),
            md(&s.stream),
            s.provider,
            s.broadcasts.len(),
            s.files,
            crate::util::human::hms(s.recorded_s.round() as i64),
            coverage_cell(s),
            s.gaps.len(),
            s.short_files,
            s.pauses,
            crate::util::human::hms(s.paused_s.round() as i64),
            s.alerts.len()
        ));
    }
    for s in &r.streams {
        o.push_str(&format!(
            "\n## {}/{}/{}\n\n",
            md(&s.domain),
            md(&s.app),
            md(&s.stream)
        ));
        o.push_str(&format!(
            "- files: {}, recorded {} ({:.3} s)\n- first start {}, last stop {}\n- coverage: {}\n- short files: {}\n- pauses: {}, paused {}\n",
            s.files,
            crate::util::human::hms(s.recorded_s.round() as i64),
            s.recorded_s,
            unix(s.first_start),
            unix(s.last_stop),
            match s.live_s {
                Some(live) => format!(
                    "{} of {} live, over {}",
                    coverage_text(s),
                    crate::util::human::hms(live.round() as i64),
                    crate::util::human::count(s.broadcasts.len() as u64, "broadcast", "broadcasts")
                ),
                None => "live time unknown (no ingest callback for this stream)".into(),
            },
            s.short_files,
            s.pauses,
            crate::util::human::hms(s.paused_s.round() as i64)
        ));
        if s.gaps.is_empty() {
            o.push_str("- gaps: none\n");
        } else {
            o.push_str("- gaps:\n");
            for g in &s.gaps {
                o.push_str(&format!(
                    "  - {} → {}: {} s\n",
                    unix(Some(g.from)),
                    unix(Some(g.to)),
                    g.seconds
                ));
            }
        }
        if s.provider != crate::event::Provider::default().as_str() || s.hls_segments > 0 {
            o.push_str(&format!("- provider: {}", s.provider));
            if s.hls_segments > 0 {
                o.push_str(&format!(", {} HLS segments", s.hls_segments));
            }
            o.push('\n');
        }
        if s.derived_files > 0 {
            o.push_str(&format!(
                "- ~ times of {} derived from arrival times (the provider sends none): coverage and gaps are estimates\n",
                crate::util::human::count(s.derived_files as u64, "file", "files")
            ));
        }
        let filled_in = s.file_list.iter().filter(|f| f.reconciled).count();
        if filled_in > 0 {
            o.push_str(&format!(
                "- {} never received here, filled in from the provider's records (recmon reconcile)\n",
                crate::util::human::count(filled_in as u64, "file", "files")
            ));
        }
        if let Some(p) = &s.proof {
            o.push_str(&format!("- {}\n", proof_text(p)));
            let failed: Vec<&File> = s.file_list.iter().filter(|f| f.failed).collect();
            if !failed.is_empty() {
                o.push_str("- failed files:\n");
                for f in failed {
                    o.push_str(&format!(
                        "  - {}: {} (claimed {}, measured {})\n",
                        md(&f.uri),
                        f.verdict.as_deref().unwrap_or("-"),
                        f.seconds
                            .map_or("-".into(), |d| crate::util::human::hms(d.round() as i64)),
                        f.measured_s
                            .map_or("-".into(), |d| crate::util::human::hms(d.round() as i64)),
                    ));
                }
            }
        }
        alert_lines(&mut o, &s.alerts, &md);
        for (n, b) in s.broadcasts.iter().enumerate() {
            broadcast_section(&mut o, n + 1, b);
        }
    }
    if !r.alerts.is_empty() {
        o.push_str("\n## Alerts about the whole receiver\n\n");
        alert_lines(&mut o, &r.alerts, &md);
    }
    if let Some(rc) = &r.reconciliation {
        o.push_str("\n## Reconciliation with the providers' records\n\n");
        o.push_str(&format!(
            "{}{}.\n\n",
            crate::util::human::count(rc.runs, "reconcile run", "reconcile runs"),
            rc.last_run_at
                .map(|t| format!(", the last at {}", format_time(t)))
                .unwrap_or_default()
        ));
        if rc.domains.is_empty() {
            o.push_str("No findings: every callback the providers sent is in the journal.\n");
        } else {
            o.push_str("| domain | findings, last run | findings, all runs | filled in |\n|---|---|---|---:|\n");
            for d in &rc.domains {
                o.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    md(&d.domain),
                    md(&kinds_text(&d.last_run)),
                    md(&kinds_text(&d.all_runs)),
                    d.filled
                ));
            }
        }
    }
    o
}

/// The stream's coverage, or `live time unknown`.
fn coverage_text(s: &StreamReport) -> String {
    match s.live_s {
        Some(_) => pct(s.coverage),
        None => "live time unknown".into(),
    }
}

/// [`coverage_text`] with `~` before it where file times were derived (an estimate), as the
/// page's headings show it.
fn coverage_cell(s: &StreamReport) -> String {
    let tilde = if s.derived_files > 0 && s.live_s.is_some() {
        "~"
    } else {
        ""
    };
    format!("{tilde}{}", coverage_text(s))
}

fn clock_words(c: Clock) -> &'static str {
    match c {
        Clock::Provider => "the provider's clock",
        Clock::Arrival => "arrival times",
    }
}

/// A broadcast's section of the markdown report.
/// `recording proof: 2:41:30 verified of 3:00:00 claimed (4 files checked, 1 failed)`.
fn proof_text(p: &Proof) -> String {
    let mut t = format!(
        "recording proof: {} verified of {} claimed ({} checked, {} failed",
        crate::util::human::hms(p.verified_s.round() as i64),
        crate::util::human::hms(p.claimed_s.round() as i64),
        crate::util::human::count(p.checked as u64, "file", "files"),
        p.failed
    );
    if p.unchecked > 0 {
        t.push_str(&format!(", {} could not be checked", p.unchecked));
    }
    t.push(')');
    t
}

fn broadcast_section(o: &mut String, n: usize, b: &Broadcast) {
    o.push_str(&format!(
        "\n### Broadcast {n}: {} → {} · {}\n\n",
        unix(Some(b.from)),
        b.to.map_or_else(
            || "live at the end of the journal".into(),
            |t| unix(Some(t))
        ),
        b.verdict.as_str()
    ));
    o.push_str(&format!(
        "- live {} ({}), {}, recorded {}, coverage {}\n",
        crate::util::human::hms(b.live_s.round() as i64),
        clock_words(b.clock),
        crate::util::human::count(b.files as u64, "file", "files"),
        crate::util::human::hms(b.recorded_s.round() as i64),
        pct(b.coverage)
    ));
    if let Some(p) = &b.proof {
        o.push_str(&format!("- {}\n", proof_text(p)));
    }
    if b.to.is_none() {
        o.push_str(&format!(
            "- live at the end: its last {} are its current file, not written yet (not counted)\n",
            crate::util::human::hms(b.in_progress_s.round() as i64)
        ));
    }
    if b.gaps.is_empty() {
        o.push_str("- gaps: none\n");
    } else {
        o.push_str("- gaps (live, no file):\n");
        for g in &b.gaps {
            o.push_str(&format!(
                "  - {} → {}: {} s\n",
                unix(Some(g.from)),
                unix(Some(g.to)),
                g.seconds
            ));
        }
    }
}

fn alert_lines(o: &mut String, alerts: &[Alert], md: &dyn Fn(&str) -> String) {
    if alerts.is_empty() {
        o.push_str("- alerts: none\n");
        return;
    }
    o.push_str("- alerts:\n");
    for a in alerts {
        o.push_str(&format!(
            "  - {} {} at {}{}: {}\n",
            a.severity.as_str(),
            a.rule.as_str(),
            format_time(a.fired_at),
            a.resolved_at
                .map(|t| format!(", resolved {}", format_time(t)))
                .unwrap_or_else(|| ", still firing at the end".into()),
            md(&a.message)
        ));
    }
}

/// HTML-escapes untrusted text (names, uris, messages).
fn esc(s: &str) -> String {
    let t = crate::util::sanitize::terminal(s, 400);
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One self-contained page: a table, then per stream a timeline drawn as inline SVG (live,
/// recording and paused spans; each file as a bar; gaps marked in red). No script, no
/// external resource.
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    o.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>recmon report</title><style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}h2{font-size:16px;margin-top:28px}.legend span{display:inline-block;margin-right:16px}.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}</style></head><body>");
    o.push_str(&format!(
        "<h1>Recording continuity</h1><p>{} · {} journal lines · {} to {}</p>",
        esc(&r.journal),
        r.entries,
        r.from.map(format_time).unwrap_or_default(),
        r.to.map(format_time).unwrap_or_default()
    ));
    o.push_str("<p class=\"legend\"><span><i class=\"sw\" style=\"background:#7aa7e0\"></i>live</span><span><i class=\"sw\" style=\"background:#5cb85c\"></i>recording</span><span><i class=\"sw\" style=\"background:#f0ad4e\"></i>paused</span><span><i class=\"sw\" style=\"background:#555\"></i>file</span><span><i class=\"sw\" style=\"background:#d9534f\"></i>gap</span></p>");
    o.push_str(&format!(
        "<p class=\"verdict\"><b>{}</b></p>",
        esc(&r.verdict)
    ));
    o.push_str("<table><tr><th>stream</th><th>provider</th><th>broadcasts</th><th>files</th><th>recorded</th><th>coverage</th><th>gaps</th><th>short files</th><th>pauses</th><th>alerts</th></tr>");
    for s in &r.streams {
        o.push_str(&format!(
            "<tr><td>{}/{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.domain),
            esc(&s.app),
            esc(&s.stream),
            s.provider,
            s.broadcasts.len(),
            s.files,
            crate::util::human::hms(s.recorded_s.round() as i64),
            coverage_text(s),
            s.gaps.len(),
            s.short_files,
            s.pauses,
            s.alerts.len()
        ));
    }
    o.push_str("</table>");
    // One time axis for every stream: the journal's span and the files' span together.
    let mut lo = r.from.map(|t| t.timestamp());
    let mut hi = r.to.map(|t| t.timestamp());
    for s in &r.streams {
        lo = lo.min(s.first_start).or(lo).or(s.first_start);
        hi = hi.max(s.last_stop);
        for b in &s.broadcasts {
            lo = lo.min(Some(b.from)).or(Some(b.from));
            hi = hi.max(b.to);
        }
    }
    // In f64: the provider's times are untrusted, and i64 differences of them can overflow.
    let lo = lo.unwrap_or(0);
    let hi = hi.unwrap_or(1).max(lo.saturating_add(1));
    let width = 1000.0;
    let span = (hi as f64) - (lo as f64);
    let x = |t: i64| (((t as f64) - (lo as f64)) / span * width).clamp(0.0, width);
    for s in &r.streams {
        o.push_str(&format!(
            "<h2>{}/{}/{} · coverage {}{} · {}</h2>",
            esc(&s.domain),
            esc(&s.app),
            esc(&s.stream),
            if s.derived_files > 0 && s.live_s.is_some() {
                "~"
            } else {
                ""
            },
            coverage_text(s),
            crate::util::human::count(s.gaps.len() as u64, "gap", "gaps")
        ));
        o.push_str(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"84\" viewBox=\"0 0 {} 84\"><rect x=\"0\" y=\"0\" width=\"{}\" height=\"84\" fill=\"#fafafa\"/>",
            width + 120.0,
            width + 120.0,
            width
        ));
        for (row, what, color) in [(0, "live", "#7aa7e0"), (1, "recording", "#5cb85c")] {
            let y = 4 + row * 20;
            o.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"11\">{what}</text>",
                width + 6.0,
                y + 12
            ));
            if row == 0 {
                // Live time from the broadcasts, on the files' clock.
                for b in &s.broadcasts {
                    let to = b.from.saturating_add(b.live_s as i64);
                    let (a, z) = (x(b.from), x(to));
                    o.push_str(&format!(
                        "<rect class=\"live\" x=\"{a:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"{color}\"><title>live {} → {} ({})</title></rect>",
                        (z - a).max(1.0),
                        unix(Some(b.from)),
                        unix(Some(to)),
                        b.verdict.as_str()
                    ));
                }
                continue;
            }
            for sp in s
                .spans
                .iter()
                .filter(|sp| sp.what == what || (row == 1 && sp.what == "paused"))
            {
                let c = if sp.what == "paused" {
                    "#f0ad4e"
                } else {
                    color
                };
                let (a, b) = (x(sp.from.timestamp()), x(sp.to.timestamp()));
                o.push_str(&format!(
                    "<rect class=\"{}\" x=\"{a:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"{c}\"><title>{} {} → {}</title></rect>",
                    sp.what,
                    (b - a).max(1.0),
                    sp.what,
                    format_time(sp.from),
                    format_time(sp.to)
                ));
            }
        }
        o.push_str(&format!(
            "<text x=\"{}\" y=\"56\" font-size=\"11\">files</text>",
            width + 6.0
        ));
        for f in &s.file_list {
            if let (Some(a), Some(b)) = (f.start, f.stop) {
                let (a, b) = (x(a), x(b));
                o.push_str(&format!(
                    "<rect class=\"file\" x=\"{a:.1}\" y=\"44\" width=\"{:.1}\" height=\"14\" fill=\"#555\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{} ({})</title></rect>",
                    (b - a).max(1.0),
                    esc(&f.uri),
                    f.seconds.map(crate::util::human::seconds).unwrap_or_default()
                ));
            }
        }
        for g in &s.gaps {
            let (a, b) = (x(g.from), x(g.to));
            o.push_str(&format!(
                "<rect class=\"gap\" x=\"{a:.1}\" y=\"40\" width=\"{:.1}\" height=\"22\" fill=\"#d9534f\"><title>gap of {} s</title></rect>",
                (b - a).max(2.0),
                g.seconds
            ));
        }
        o.push_str(&format!(
            "<text x=\"0\" y=\"78\" font-size=\"10\" fill=\"#666\">{}</text><text x=\"{width}\" y=\"78\" font-size=\"10\" fill=\"#666\" text-anchor=\"end\">{}</text></svg>",
            unix(Some(lo)),
            unix(Some(hi))
        ));
        if !s.broadcasts.is_empty() {
            o.push_str("<ul class=\"broadcasts\">");
            for b in &s.broadcasts {
                o.push_str(&format!(
                    "<li class=\"broadcast\">{} → {} · <b>{}</b> · live {} · {} · recorded {} · coverage {} · {}</li>",
                    unix(Some(b.from)),
                    b.to.map_or_else(|| "live at the end".into(), |t| unix(Some(t))),
                    b.verdict.as_str(),
                    crate::util::human::hms(b.live_s.round() as i64),
                    crate::util::human::count(b.files as u64, "file", "files"),
                    crate::util::human::hms(b.recorded_s.round() as i64),
                    pct(b.coverage),
                    crate::util::human::count(b.gaps.len() as u64, "gap", "gaps")
                ));
            }
            o.push_str("</ul>");
        }
        if !s.alerts.is_empty() {
            o.push_str("<ul>");
            for a in &s.alerts {
                o.push_str(&format!(
                    "<li>{} <b>{}</b> {}{}: {}</li>",
                    a.severity.as_str(),
                    a.rule.as_str(),
                    format_time(a.fired_at),
                    a.resolved_at
                        .map(|t| format!(" → {}", format_time(t)))
                        .unwrap_or_else(|| " (still firing)".into()),
                    esc(&a.message)
                ));
            }
            o.push_str("</ul>");
        }
    }
    if let Some(rc) = &r.reconciliation {
        o.push_str(&format!(
            "<h2>Reconciliation with the providers' records</h2><p>{}{}.</p>",
            crate::util::human::count(rc.runs, "reconcile run", "reconcile runs"),
            rc.last_run_at
                .map(|t| format!(", the last at {}", format_time(t)))
                .unwrap_or_default()
        ));
        if rc.domains.is_empty() {
            o.push_str("<p>No findings: every callback the providers sent is in the journal.</p>");
        } else {
            o.push_str("<table class=\"reconcile\"><tr><th>domain</th><th>findings, last run</th><th>findings, all runs</th><th>filled in</th></tr>");
            for d in &rc.domains {
                o.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.domain),
                    esc(&kinds_text(&d.last_run)),
                    esc(&kinds_text(&d.all_runs)),
                    d.filled
                ));
            }
            o.push_str("</table>");
        }
    }
    o.push_str("</body></html>\n");
    o
}

/// `recmon report`.
pub fn run(args: crate::cli::ReportArgs) -> Result<(), crate::error::AppError> {
    use crate::error::AppError;
    let report = build(&args.journal, &args.alerts.config()).map_err(|e| {
        AppError::new(
            1,
            format!(
                "cannot read the journal {}: {e}. Expected the path of a recmon journal (recmon-*.jsonl)",
                args.journal.display()
            ),
        )
    })?;
    if report.entries == 0 && !report.problems.is_empty() {
        return Err(AppError::new(
            2,
            format!(
                "{} is not a recmon journal: none of its {} lines is a journal entry ({}). Give the recmon-*.jsonl file of the session",
                args.journal.display(),
                report.problems.len(),
                crate::util::sanitize::terminal(&report.problems[0], 300)
            ),
        ));
    }
    for p in report.problems.iter().take(20) {
        crate::util::output::eline(&format!("recmon report: {}: {p}", args.journal.display()));
    }
    let text = match args.format {
        crate::cli::ReportFormat::Md => markdown(&report),
        crate::cli::ReportFormat::Json => {
            serde_json::to_string_pretty(&report).expect("a report serializes") + "\n"
        }
        crate::cli::ReportFormat::Html => html(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| AppError::new(1, format!("cannot write {}: {e}", path.display())))?,
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(AppError::new(1, format!("cannot write the report: {e}")));
                }
            }
        }
    }
    Ok(())
}
