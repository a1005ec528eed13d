//! What the journal says about callbacks filled in from a provider's own records
//! (`recmon reconcile --backfill`): one line per callback the provider sent and this
//! receiver never received, marked as such.
//!
//! ```text
//! {"seq":57,"received_at":"…","reconciled":{"provider":"aliyun","sent_at":"…","notify_url":"https://…",
//!  "notify_result":"failed","notify_type":"record","body":{…the callback as the provider sent it…}}}
//! ```
//!
//! The store applies it like the callback it carries (a stream's state, a recording), dated
//! by the provider's send time, but it is not a request received: the request counters do not
//! count it and the request log does not list it; the recordings it adds are marked. The
//! deduper observes it, so reconciling twice adds nothing and a late real retry of the same
//! callback is a duplicate. Backfilled lines are forwarded only with `--forward-reconciled`
//! (then the line lists its targets, `"forward":[…]`, as a request line does), and `recmon
//! replay` never sends them.
//!
//! Each reconcile run that can write the journal (the receiver's, and `recmon reconcile
//! --backfill`) also journals its summary, a [`ReconcileRunLine`], so that the last run is
//! known even when it found nothing:
//!
//! ```text
//! {"seq":58,"received_at":"…","reconcile_run":{"at":"…","from":"…","to":"…","by":"every",
//!  "findings":{"missed":2},"domains":{"live.example.com":{"missed":2}},"filled":2}}
//! ```
//!
//! It is not a request and not a callback: the store keeps the last one and counts them;
//! nothing forwards or replays it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::event::{Callback, Method, Provider};

/// A callback filled in from the provider's records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reconciled {
    /// Whose callback it is.
    pub provider: Provider,
    /// When the provider says it sent it.
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub sent_at: DateTime<Utc>,
    /// Where the provider sent it (its evidence; untrusted text).
    #[serde(default)]
    pub notify_url: String,
    /// What the provider recorded of the answer (`failed`, a timeout…).
    #[serde(default)]
    pub notify_result: String,
    /// The provider's name for its kind (`NotifyType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_type: Option<String>,
    /// The callback's body as the provider sent it (JSON).
    pub body: Box<RawValue>,
}

impl PartialEq for Reconciled {
    fn eq(&self, other: &Self) -> bool {
        self.provider == other.provider
            && self.sent_at == other.sent_at
            && self.notify_url == other.notify_url
            && self.notify_result == other.notify_result
            && self.notify_type == other.notify_type
            && self.body.get() == other.body.get()
    }
}

impl Reconciled {
    /// The callback it carries, read as its provider's (a POSTed JSON body).
    pub fn callback(&self) -> Option<Callback> {
        crate::providers::classify(
            self.provider,
            Method::Post,
            None,
            self.body.get().as_bytes(),
        )
        .0
        .ok()
    }
}

/// A reconciled callback's journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconciledLine {
    /// Its own journal seq.
    pub seq: u64,
    /// When it was filled in.
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// The async forwarding targets it is owed to (`--forward-reconciled`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<String>,
    /// What was filled in.
    pub reconciled: Reconciled,
}

/// The kinds of finding a reconcile reports, as the journal names them (the reconciler's
/// `findings::Kind`, serialized); what `/metrics` and the report list.
pub const FINDING_KINDS: [&str; 6] = [
    "missed",
    "failed_answer",
    "other_url",
    "config",
    "file_without_callback",
    "callback_without_file",
];

/// What started a reconcile run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// The receiver's clock (`--reconcile-every`).
    Every,
    /// `POST /api/reconcile`.
    Api,
    /// `recmon reconcile --backfill`.
    Command,
}

/// Most domains a run's summary names one by one (the rest are summed under `…`).
pub const RUN_DOMAINS_MAX: usize = 64;
/// Most notes a run's summary keeps, each at most [`RUN_NOTE_MAX`] bytes.
pub const RUN_NOTES_MAX: usize = 8;
/// See [`RUN_NOTES_MAX`].
pub const RUN_NOTE_MAX: usize = 300;

/// One reconcile run's summary (the `reconcile_run` object of a [`ReconcileRunLine`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconcileRun {
    /// When the run started.
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub at: DateTime<Utc>,
    /// The window compared: its start.
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub from: DateTime<Utc>,
    /// Its end.
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub to: DateTime<Utc>,
    /// What started it.
    pub by: RunTrigger,
    /// Findings by kind (see [`FINDING_KINDS`]); kinds with none are left out.
    #[serde(default)]
    pub findings: BTreeMap<String, u64>,
    /// The same, per domain (ApsaraVideo's domain; Tencent's streams under `tencent`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, BTreeMap<String, u64>>,
    /// Callbacks filled in (reconciled lines written by this run).
    #[serde(default)]
    pub filled: u64,
    /// What could not be asked (no credentials, a provider's error), capped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ReconcileRun {
    /// How many findings of `kind`.
    pub fn count(&self, kind: &str) -> u64 {
        self.findings.get(kind).copied().unwrap_or(0)
    }
}

/// A reconcile run's journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconcileRunLine {
    /// Its own journal seq.
    pub seq: u64,
    /// When it was journaled (the run's end).
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// The run.
    pub reconcile_run: ReconcileRun,
}

/// A reconcile window: from, to.
pub type RunWindow = (DateTime<Utc>, DateTime<Utc>);

/// A run asked for now (`POST /api/reconcile`): the window (`None`: one `--reconcile-every`
/// tick's), and where its summary goes (or why it could not run).
pub type RunNow = (
    Option<RunWindow>,
    tokio::sync::oneshot::Sender<Result<ReconcileRun, String>>,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconciled_line_round_trips_and_carries_its_callback() {
        let line = ReconciledLine {
            seq: 5,
            received_at: "2026-12-04T10:00:00.000Z".parse().unwrap(),
            forward: Vec::new(),
            reconciled: Reconciled {
                provider: Provider::Aliyun,
                sent_at: "2026-12-04T09:00:00.000Z".parse().unwrap(),
                notify_url: "https://rec.example.com/recmon".into(),
                notify_result: "failed".into(),
                notify_type: Some("record".into()),
                body: RawValue::from_string(
                    r#"{"domain":"d","app":"a","stream":"s","uri":"a/s/1.flv","duration":60,"start_time":1,"stop_time":61}"#.into(),
                )
                .unwrap(),
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"seq":5,"received_at":"2026-12-04T10:00:00.000Z","reconciled":{"provider":"aliyun""#), "{text}");
        let back: ReconciledLine = serde_json::from_str(&text).unwrap();
        assert_eq!(back, line);
        assert!(matches!(
            back.reconciled.callback(),
            Some(Callback::Recording(_))
        ));
    }

    #[test]
    fn a_run_line_round_trips_and_reads_back_from_the_journal() {
        let line = ReconcileRunLine {
            seq: 7,
            received_at: "2026-12-04T10:00:01.000Z".parse().unwrap(),
            reconcile_run: ReconcileRun {
                at: "2026-12-04T10:00:00.000Z".parse().unwrap(),
                from: "2026-12-04T08:50:00.000Z".parse().unwrap(),
                to: "2026-12-04T09:50:00.000Z".parse().unwrap(),
                by: RunTrigger::Every,
                findings: BTreeMap::new(),
                domains: BTreeMap::new(),
                filled: 0,
                notes: Vec::new(),
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"seq":7,"received_at":"2026-12-04T10:00:01.000Z","reconcile_run":{"at":"2026-12-04T10:00:00.000Z","from":"2026-12-04T08:50:00.000Z","to":"2026-12-04T09:50:00.000Z","by":"every","findings":{},"filled":0}}"#
        );
        match crate::core::journal::parse_line(&text).unwrap() {
            crate::core::journal::Line::ReconcileRun(back) => assert_eq!(back, line),
            other => panic!("{other:?}"),
        }
    }
}
