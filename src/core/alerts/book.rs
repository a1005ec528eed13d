//! The alert book: the rules' names and severities, their thresholds, alerts, and what fires
//! now and resolved lately. Plain state that the store keeps; the rules that produce the
//! conditions are in [`crate::core::alerts`], above the store.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::util::human::hms;

/// The rules, by their names in the API, the environment and the flags' documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A stream paused too long.
    PausedTooLong,
    /// A broadcast ended with no recording file.
    NotRecorded,
    /// Live but not recording.
    LiveNotRecording,
    /// The next recording file is late.
    FileOverdue,
    /// A recording file shorter than the threshold.
    ShortFile,
    /// A hole between consecutive files.
    Gap,
    /// No callback at all while something is live or recording.
    Silence,
    /// Requests with a bad signature.
    BadSignature,
    /// The journal cannot be written.
    JournalFailure,
    /// A forwarding target is not keeping up.
    ForwardFailing,
    /// A file's duration disagrees with its times.
    DurationMismatch,
    /// The provider reported the stream's recording failed.
    RecordingError,
    /// The newest checked file of a stream is not where its callback said (`--verify`).
    FileMissing,
    /// The newest checked file of a stream is empty or unreadable (`--verify`).
    FileBroken,
    /// The newest checked file of a stream is shorter than its callback claimed (`--verify`).
    FileShort,
    /// The newest checked file of a stream has no audio (`--verify`).
    NoAudio,
}

impl Rule {
    /// The rule's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::PausedTooLong => "paused_too_long",
            Rule::NotRecorded => "not_recorded",
            Rule::LiveNotRecording => "live_not_recording",
            Rule::FileOverdue => "file_overdue",
            Rule::ShortFile => "short_file",
            Rule::Gap => "gap",
            Rule::Silence => "silence",
            Rule::BadSignature => "bad_signature",
            Rule::JournalFailure => "journal_failure",
            Rule::ForwardFailing => "forward_failing",
            Rule::DurationMismatch => "duration_mismatch",
            Rule::RecordingError => "recording_error",
            Rule::FileMissing => "file_missing",
            Rule::FileBroken => "file_broken",
            Rule::FileShort => "file_short",
            Rule::NoAudio => "no_audio",
        }
    }

    /// Every rule, in the table's order.
    pub const ALL: [Rule; 16] = [
        Rule::PausedTooLong,
        Rule::NotRecorded,
        Rule::LiveNotRecording,
        Rule::FileOverdue,
        Rule::ShortFile,
        Rule::Gap,
        Rule::Silence,
        Rule::BadSignature,
        Rule::JournalFailure,
        Rule::ForwardFailing,
        Rule::DurationMismatch,
        Rule::RecordingError,
        Rule::FileMissing,
        Rule::FileBroken,
        Rule::FileShort,
        Rule::NoAudio,
    ];

    /// How bad it is.
    pub fn severity(self) -> Severity {
        match self {
            Rule::LiveNotRecording
            | Rule::NotRecorded
            | Rule::FileOverdue
            | Rule::Silence
            | Rule::JournalFailure
            | Rule::ForwardFailing
            | Rule::RecordingError
            | Rule::FileMissing
            | Rule::FileBroken => Severity::Critical,
            Rule::PausedTooLong
            | Rule::ShortFile
            | Rule::Gap
            | Rule::BadSignature
            | Rule::FileShort
            | Rule::NoAudio => Severity::Warning,
            Rule::DurationMismatch => Severity::Info,
        }
    }
}

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone should act now.
    Critical,
    /// Worth a look.
    Warning,
    /// For the record.
    Info,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The thresholds (`None` turns a rule off: the flag's `0`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    /// `--alert-paused` (5m).
    pub paused: Option<Duration>,
    /// `--alert-not-recording` (2m).
    pub not_recording: Option<Duration>,
    /// `--alert-not-recorded` (5m): how long after a broadcast ends its last file may still
    /// arrive before the broadcast counts as not recorded.
    pub not_recorded: Option<Duration>,
    /// `--alert-file-overdue` (10m slack).
    pub file_overdue: Option<Duration>,
    /// `--record-cycle` (6h, the provider's default `CycleDuration`): the cycle assumed
    /// until a stream's own files show theirs.
    pub record_cycle: Duration,
    /// `--alert-short-file` (10s).
    pub short_file: Option<Duration>,
    /// `--alert-gap` (5s).
    pub gap: Option<Duration>,
    /// `--alert-silence` (10m).
    pub silence: Option<Duration>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            paused: Some(Duration::from_secs(300)),
            not_recording: Some(Duration::from_secs(120)),
            not_recorded: Some(Duration::from_secs(300)),
            file_overdue: Some(Duration::from_secs(600)),
            record_cycle: Duration::from_secs(6 * 3600),
            short_file: Some(Duration::from_secs(10)),
            gap: Some(Duration::from_secs(5)),
            silence: Some(Duration::from_secs(600)),
        }
    }
}

/// One alert: firing until it resolves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Which rule.
    pub rule: Rule,
    /// `firing` or `resolved`.
    pub state: &'static str,
    /// critical, warning or info.
    pub severity: Severity,
    /// `domain/app/stream`, or `None` for a rule about the whole receiver.
    pub stream: Option<String>,
    /// When it fired.
    #[serde(with = "time_text")]
    pub fired_at: DateTime<Utc>,
    /// When it resolved.
    #[serde(with = "opt_time_text")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// What is wrong, for a person (holds stream names: untrusted text, sanitize to show).
    pub message: String,
}

mod time_text {
    use chrono::{DateTime, Utc};
    use serde::Serializer;
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::core::time::format_time(*t))
    }
}

mod opt_time_text {
    use chrono::{DateTime, Utc};
    use serde::Serializer;
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::core::time::format_time(*t)),
            None => s.serialize_none(),
        }
    }
}

/// A change: an alert fired or resolved (the alert as it is now).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// The alert; `resolved_at` is set when it resolved.
    pub alert: Alert,
}

impl AlertEvent {
    /// Whether this is a resolution.
    pub fn resolved(&self) -> bool {
        self.alert.resolved_at.is_some()
    }

    /// One line for a person: `ALERT critical file_overdue: d/a/s: no recording file for …` or
    /// `RESOLVED warning gap after 0:03:10: …` (untrusted text inside: sanitize to show).
    pub fn line(&self) -> String {
        let a = &self.alert;
        match a.resolved_at {
            None => format!(
                "ALERT {} {}: {}",
                a.severity.as_str(),
                a.rule.as_str(),
                a.message
            ),
            Some(at) => format!(
                "RESOLVED {} {} after {}: {}",
                a.severity.as_str(),
                a.rule.as_str(),
                hms((at - a.fired_at).num_seconds()),
                a.message
            ),
        }
    }
}

/// A transition of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It started firing.
    Firing,
    /// Still firing, about something newer: a new message.
    Updated,
    /// It stopped firing.
    Resolved,
}

/// One alert's transition, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertChange {
    /// What happened.
    pub state: Change,
    /// Which rule.
    pub rule: Rule,
    /// critical, warning or info.
    pub severity: Severity,
    /// `domain/app/stream`, or `None` for a rule about the whole receiver (untrusted text).
    pub stream: Option<String>,
    /// When it fired.
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub fired_at: DateTime<Utc>,
    /// When it resolved.
    #[serde(default, with = "opt_rfc3339_ms")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// What is wrong, for a person (untrusted text: sanitize to show).
    pub message: String,
    /// One line for a chat: `recmon: ALERT critical …` (what a webhook's `text` is).
    #[serde(default)]
    pub text: String,
    /// The stream's index in the store (the alert book's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_index: Option<u32>,
    /// What the condition was about (see [`super::Condition::version`]).
    #[serde(default)]
    pub version: u64,
    /// The sinks this page is owed to (`exec`, `webhook`): none for `updated`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<String>,
}

impl AlertChange {
    /// The alert as the book and the API hold it.
    pub fn alert(&self) -> Alert {
        Alert {
            rule: self.rule,
            state: match self.state {
                Change::Resolved => "resolved",
                Change::Firing | Change::Updated => "firing",
            },
            severity: self.severity,
            stream: self.stream.clone(),
            fired_at: self.fired_at,
            resolved_at: self.resolved_at,
            message: self.message.clone(),
        }
    }

    /// The event a person is told of (`None` for `updated`: nobody is paged for it).
    pub fn event(&self) -> Option<AlertEvent> {
        (self.state != Change::Updated).then(|| AlertEvent {
            alert: self.alert(),
        })
    }
}

mod opt_rfc3339_ms {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::core::time::format_time(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// What one evaluation found: a condition that holds now, keyed by rule and stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The rule.
    pub rule: Rule,
    /// The stream's index in the store, if the rule is about one.
    pub stream: Option<u32>,
    /// What the condition is about (the newest file's number, a failure count): a new one
    /// gives the alert a new message.
    pub version: u64,
    /// The message, for a condition whose alert is not firing with this version yet.
    pub message: Option<String>,
}

/// Resolved alerts kept for `recent`.
pub const RECENT_KEPT: usize = 200;

/// The alerts firing now and the ones that resolved lately.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    firing: BTreeMap<(Rule, Option<u32>), Alert>,
    /// Per firing alert: the version its message was made for.
    meta: std::collections::HashMap<(Rule, Option<u32>), u64>,
    recent: VecDeque<Alert>,
    /// Alerts fired so far, by rule (for /metrics and the report).
    fired_total: BTreeMap<Rule, u64>,
    /// The newest events, numbered 1, 2, ... (views print and ring for the new ones).
    log: VecDeque<(u64, AlertEvent)>,
    logged: u64,
    /// Pages a sink has not taken yet, by the seq of their journal line: to which sinks, and
    /// the event (a `--resume` sends these again).
    owed: BTreeMap<u64, (Vec<String>, AlertEvent)>,
}

/// Alert events kept for the views.
const LOG_KEPT: usize = 256;

/// Pages kept owed at most: past this, the oldest are given up (a sink that never answers
/// must not grow the store without bound).
pub const OWED_KEPT: usize = 1000;

impl AlertBook {
    /// Applies one evaluation's conditions at `now`: a condition not firing yet fires, a firing
    /// alert whose condition no longer holds resolves. Returns the changes, in rule order.
    /// (A receiver journals [`AlertBook::decide`]'s changes and applies them from their lines;
    /// this is for a store no journal backs: an attached view, the report.)
    pub fn apply(
        &mut self,
        conditions: Vec<Condition>,
        now: DateTime<Utc>,
        name_of: impl Fn(u32) -> String,
    ) -> Vec<AlertEvent> {
        let changes = self.decide(conditions, now, name_of);
        let mut events = Vec::with_capacity(changes.len());
        for c in &changes {
            events.extend(self.apply_change(c, None));
        }
        events
    }

    /// What one evaluation's conditions at `now` change, without changing anything: alerts
    /// that start firing, firing ones about something newer (a new message), and firing ones
    /// whose condition no longer holds. In rule order, firings before resolutions.
    pub fn decide(
        &self,
        conditions: Vec<Condition>,
        now: DateTime<Utc>,
        name_of: impl Fn(u32) -> String,
    ) -> Vec<AlertChange> {
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::with_capacity(conditions.len());
        for c in conditions {
            let key = (c.rule, c.stream);
            if !seen.insert(key) {
                continue;
            }
            let state = match (self.firing.get(&key), &c.message) {
                // Still firing, nothing new to say.
                (Some(_), None) => continue,
                (Some(a), Some(m))
                    if *m == a.message && self.meta.get(&key) == Some(&c.version) =>
                {
                    continue
                }
                (Some(_), Some(_)) => Change::Updated,
                (None, _) => Change::Firing,
            };
            let fired_at = self.firing.get(&key).map_or(now, |a| a.fired_at);
            let stream = match self.firing.get(&key) {
                Some(a) => a.stream.clone(),
                None => key.1.map(&name_of),
            };
            let mut change = AlertChange {
                state,
                rule: key.0,
                severity: key.0.severity(),
                stream,
                fired_at,
                resolved_at: None,
                message: c.message.unwrap_or_default(),
                text: String::new(),
                stream_index: key.1,
                version: c.version,
                sinks: Vec::new(),
            };
            change.text = change
                .event()
                .map(|e| format!("recmon: {}", e.line()))
                .unwrap_or_default();
            changes.push(change);
        }
        for (key, a) in &self.firing {
            if seen.contains(key) {
                continue;
            }
            let mut change = AlertChange {
                state: Change::Resolved,
                rule: a.rule,
                severity: a.severity,
                stream: a.stream.clone(),
                fired_at: a.fired_at,
                resolved_at: Some(now),
                message: a.message.clone(),
                text: String::new(),
                stream_index: key.1,
                version: self.meta.get(key).copied().unwrap_or_default(),
                sinks: Vec::new(),
            };
            change.text = change
                .event()
                .map(|e| format!("recmon: {}", e.line()))
                .unwrap_or_default();
            changes.push(change);
        }
        changes.sort_by_key(|c| (c.rule, c.state == Change::Resolved));
        changes
    }

    /// Applies one transition (from its journal line, `seq` its line's, or decided in memory);
    /// returns the event a person is told of (none for an update). A transition that does not
    /// fit the book (a resolution of an alert not firing, from a damaged journal) changes
    /// nothing.
    pub fn apply_change(&mut self, c: &AlertChange, seq: Option<u64>) -> Option<AlertEvent> {
        let key = (c.rule, c.stream_index);
        match c.state {
            Change::Firing => {
                self.meta.insert(key, c.version);
                *self.fired_total.entry(c.rule).or_default() += 1;
                self.firing.insert(key, c.alert());
            }
            Change::Updated => {
                let a = self.firing.get_mut(&key)?;
                a.message = c.message.clone();
                self.meta.insert(key, c.version);
                return None;
            }
            Change::Resolved => {
                self.meta.remove(&key);
                self.firing.remove(&key)?;
                if self.recent.len() == RECENT_KEPT {
                    self.recent.pop_front();
                }
                self.recent.push_back(c.alert());
            }
        }
        let event = c.event()?;
        self.logged += 1;
        if self.log.len() == LOG_KEPT {
            self.log.pop_front();
        }
        self.log.push_back((self.logged, event.clone()));
        if let (Some(seq), false) = (seq, c.sinks.is_empty()) {
            if self.owed.len() == OWED_KEPT {
                self.owed.pop_first();
            }
            self.owed.insert(seq, (c.sinks.clone(), event.clone()));
        }
        Some(event)
    }

    /// A sink took (or gave up) the page journaled at `of`.
    pub fn apply_sent(&mut self, of: u64, sink: &str) {
        if let Some((sinks, _)) = self.owed.get_mut(&of) {
            sinks.retain(|s| s != sink);
            if sinks.is_empty() {
                self.owed.remove(&of);
            }
        }
    }

    /// Pages some sink has not taken yet: the seq of their line, the sinks, the event.
    pub fn owed(&self) -> impl Iterator<Item = (u64, &[String], &AlertEvent)> {
        self.owed
            .iter()
            .map(|(seq, (sinks, e))| (*seq, sinks.as_slice(), e))
    }

    /// Whether the alert of `rule` about `stream` is firing with a message made for `version`.
    pub fn is_firing(&self, rule: Rule, stream: Option<u32>, version: u64) -> bool {
        self.meta.get(&(rule, stream)) == Some(&version)
    }

    /// The newest events, numbered (oldest first).
    pub fn log(&self) -> &VecDeque<(u64, AlertEvent)> {
        &self.log
    }

    /// The number of the newest event (0 before any).
    pub fn logged(&self) -> u64 {
        self.logged
    }

    /// The alerts firing now, most severe first.
    pub fn firing(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.firing.values().collect();
        v.sort_by_key(|a| (a.severity, a.fired_at));
        v
    }

    /// Whether an alert about this stream is firing (the streams panel marks the row).
    pub fn stream_firing(&self, stream: u32) -> Option<Severity> {
        self.firing
            .iter()
            .filter(|((_, s), _)| *s == Some(stream))
            .map(|(_, a)| a.severity)
            .min()
    }

    /// Resolved alerts, oldest first (the newest [`RECENT_KEPT`]).
    pub fn recent(&self) -> &VecDeque<Alert> {
        &self.recent
    }

    /// Alerts fired so far, by rule.
    pub fn fired_total(&self) -> &BTreeMap<Rule, u64> {
        &self.fired_total
    }

    /// Firing alerts by rule.
    pub fn firing_by_rule(&self) -> BTreeMap<Rule, u64> {
        let mut m = BTreeMap::new();
        for (rule, _) in self.firing.keys() {
            *m.entry(*rule).or_default() += 1;
        }
        m
    }
}
