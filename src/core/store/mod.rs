//! The state store: the one place where the session's state changes.
//!
//! It knows nothing about HTTP or terminals. Every view (terminal UI, headless printer,
//! `/api/state`) is derived from it. It is fed committed journal entries in `seq` order, both
//! live (by the sequencer in [`crate::core::sequencer`]) and when rebuilding from a journal, so a
//! rebuilt store is the same as the live one was.
//!
//! Memory: stream identities are stored once, and a recording refers to its stream by index,
//! so a recording costs its uri and push_args text plus a fixed ~100 bytes. The request log is
//! a bounded ring; the counters stay exact however long the session runs.
//!
//! The store is split by job: the streams and recordings and how callbacks change them
//! ([`streams`]), the request log ([`requests`]), the forwarding state ([`forwarding`]); this
//! file holds the store itself, its apply entry points, its counters and [`SharedStore`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::core::alerts::book::{AlertBook, AlertChange, AlertConfig, AlertEvent, Condition};
use crate::core::alerts::line::{AlertLine, AlertNote};
use crate::core::journal::{EntryRef, JournalEntry};
use crate::core::outbox::ForwardMode;
use crate::event::{AuthCheck, Outcome, Provider, CALLBACK_KINDS};
use crate::event::{Callback, StreamId};

pub mod checks;
pub mod forwarding;
pub mod reconciled;
pub mod requests;
pub mod streams;
#[cfg(test)]
pub(crate) mod tests;

pub use crate::describe::{ForwardEvent, RequestDetail};
pub use forwarding::{
    Attempt, DeliveryState, ForwardNote, ForwardTarget, TargetDelivery, ATTEMPTS_KEPT, FAILED_KEPT,
};
pub use requests::LogEntry;
pub use streams::{span_s, Ingest, Recording, Stream};

/// How far a background rebuild has read: what the views show as "rebuilding 41%".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Bytes of the journal read.
    pub read: u64,
    /// Bytes to read (the journal as it was when `--resume` started).
    pub total: u64,
}

impl RebuildProgress {
    /// Whole percent read, 0 to 100 (100 only once everything is read).
    pub fn percent(&self) -> u8 {
        if self.total == 0 || self.read >= self.total {
            return 100;
        }
        ((self.read as u128 * 100) / self.total as u128).min(99) as u8
    }
}

/// Default number of requests kept in the in-memory request log.
pub const DEFAULT_LOG_CAPACITY: usize = 10_000;

/// The targets a request is owed to, borrowed from its entry.
#[derive(Debug, Clone, Copy, Default)]
pub enum Targets<'a> {
    /// Owed to none.
    #[default]
    None,
    /// From a [`JournalEntry`].
    Owned(&'a [String]),
    /// From an [`EntryRef`].
    Borrowed(&'a [Cow<'a, str>]),
}

impl<'a> Targets<'a> {
    /// The targets' names.
    pub fn names(self) -> impl Iterator<Item = &'a str> {
        let (a, b): (&[String], &[Cow<str>]) = match self {
            Targets::None => (&[], &[]),
            Targets::Owned(o) => (o, &[]),
            Targets::Borrowed(b) => (&[], b),
        };
        a.iter()
            .map(String::as_str)
            .chain(b.iter().map(|c| c.as_ref()))
    }

    /// Whether it is owed to none.
    pub fn is_empty(self) -> bool {
        self.names().next().is_none()
    }
}

/// What the store reads from one journal entry, borrowed from a [`JournalEntry`] (live) or an
/// [`EntryRef`] (read back from a journal).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Journal sequence number.
    pub seq: u64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// accepted / duplicate / rejected.
    pub outcome: Outcome,
    /// HTTP status answered.
    pub status: u16,
    /// The signature check's result.
    pub auth: Option<AuthCheck>,
    /// Peer address.
    pub remote: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Path with query.
    pub path: &'a str,
    /// status / recording / ingest.
    pub kind: Option<&'a str>,
    /// Why it was rejected.
    pub error: Option<&'a str>,
    /// See [`LogEntry::source`].
    pub source: Option<u16>,
    /// The targets it is owed to.
    pub forward: Targets<'a>,
    /// Whose format it was read as.
    pub provider: Provider,
}

impl<'a> From<&'a JournalEntry> for Request<'a> {
    fn from(e: &'a JournalEntry) -> Self {
        Request {
            seq: e.seq,
            received_at: e.received_at,
            outcome: e.outcome,
            status: e.status,
            auth: e.auth,
            remote: &e.remote,
            method: &e.method,
            path: &e.path,
            kind: e.kind.as_deref(),
            error: e.error.as_deref(),
            source: None,
            forward: Targets::Owned(&e.forward),
            provider: e.provider,
        }
    }
}

impl<'a> From<&'a EntryRef<'_>> for Request<'a> {
    fn from(e: &'a EntryRef<'_>) -> Self {
        Request {
            seq: e.seq,
            received_at: e.received_at,
            outcome: e.outcome,
            status: e.status,
            auth: e.auth,
            remote: &e.remote,
            method: &e.method,
            path: &e.path,
            kind: e.kind.as_deref(),
            error: e.error.as_deref(),
            source: None,
            forward: Targets::Borrowed(&e.forward),
            provider: e.provider,
        }
    }
}

/// Request counters. Exact for the whole session, whatever the log keeps.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    /// Callbacks applied.
    pub accepted: u64,
    /// Provider retries recognised and not applied again.
    pub duplicate: u64,
    /// Requests refused with a 4xx.
    pub rejected: u64,
}

/// The session state.
#[derive(Debug)]
pub struct Store {
    streams: Vec<Stream>,
    /// Streams by provider and identity: two providers' streams of the same name are two
    /// streams (an unsigned provider's request never moves a signed provider's stream).
    index: HashMap<StreamId, [Option<u32>; Provider::ALL.len()]>,
    recordings: Vec<Recording>,
    log: VecDeque<LogEntry>,
    log_capacity: usize,
    counters: Counters,
    journal_failures: u64,
    last_journal_error: Option<String>,
    auth_failures: u64,
    last_seq: u64,
    last_callback_at: Option<DateTime<Utc>>,
    forward: Vec<ForwardTarget>,
    forward_notes: VecDeque<ForwardNote>,
    /// The newest delivery lines (seq, text), bounded like the request log: `--json` prints
    /// them between the requests, in seq order.
    delivery_log: VecDeque<(u64, Arc<str>)>,
    /// Domains that sent a recording status callback (`live_not_recording` applies to them).
    status_domains: HashSet<String>,
    last_auth_failure_at: Option<DateTime<Utc>>,
    last_journal_failure_at: Option<DateTime<Utc>>,
    /// The alert rules' thresholds, when alerting is on.
    alert_config: Option<AlertConfig>,
    alerts: AlertBook,
    /// Callbacks (accepted and duplicate) by kind, in [`CALLBACK_KINDS`] order.
    by_kind: [u64; CALLBACK_KINDS.len()],
    /// Streams per provider, in [`Provider::ALL`] order.
    by_provider: [u32; Provider::ALL.len()],
    /// While `--resume` rebuilds the state in the background: how far it has read (this
    /// store is then the stand-in the views show; the rebuilt one replaces it).
    rebuilding: Option<RebuildProgress>,
    /// Recording files checked against the files themselves (`--verify`).
    checks: checks::Checks,
    /// Callbacks filled in from the providers' records.
    reconciled: reconciled::Reconciled,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(DEFAULT_LOG_CAPACITY)
    }
}

impl Store {
    /// When the newest callback (accepted or duplicate) arrived. Rejected requests do not
    /// count: a scanner hitting the port must not hide that the provider went quiet.
    pub fn last_callback_at(&self) -> Option<DateTime<Utc>> {
        self.last_callback_at
    }

    /// An empty store keeping at most `log_capacity` requests in the log.
    pub fn new(log_capacity: usize) -> Self {
        Store {
            streams: Vec::new(),
            index: HashMap::new(),
            recordings: Vec::new(),
            log: VecDeque::new(),
            log_capacity: log_capacity.max(1),
            counters: Counters::default(),
            journal_failures: 0,
            last_journal_error: None,
            auth_failures: 0,
            last_seq: 0,
            last_callback_at: None,
            forward: Vec::new(),
            forward_notes: VecDeque::new(),
            delivery_log: VecDeque::new(),
            status_domains: HashSet::new(),
            last_auth_failure_at: None,
            last_journal_failure_at: None,
            alert_config: None,
            alerts: AlertBook::default(),
            by_kind: [0; CALLBACK_KINDS.len()],
            by_provider: [0; Provider::ALL.len()],
            rebuilding: None,
            checks: checks::Checks::default(),
            reconciled: reconciled::Reconciled::default(),
        }
    }

    /// While `--resume` rebuilds the state in the background, how far it has got; `None` once
    /// this store holds the whole journal (see [`crate::core::rebuild`]).
    pub fn rebuilding(&self) -> Option<RebuildProgress> {
        self.rebuilding
    }

    /// Sets (or clears) [`Store::rebuilding`].
    pub fn set_rebuilding(&mut self, progress: Option<RebuildProgress>) {
        self.rebuilding = progress;
    }

    /// Takes over the journal failures noted in `stand_in` (the store the views showed while
    /// this one was being rebuilt), which the journal does not hold.
    pub fn carry_journal_failures(&mut self, stand_in: &Store) {
        self.journal_failures += stand_in.journal_failures;
        if stand_in.last_journal_error.is_some() {
            self.last_journal_error
                .clone_from(&stand_in.last_journal_error);
            self.last_journal_failure_at = stand_in.last_journal_failure_at;
        }
    }

    /// Callbacks (accepted and duplicate) by kind, in [`CALLBACK_KINDS`] order.
    pub fn callbacks_by_kind(&self) -> [(&'static str, u64); CALLBACK_KINDS.len()] {
        std::array::from_fn(|i| (CALLBACK_KINDS[i], self.by_kind[i]))
    }

    /// The providers whose streams are in the store, with how many streams each.
    pub fn providers(&self) -> impl Iterator<Item = (Provider, u32)> + '_ {
        Provider::ALL
            .into_iter()
            .zip(self.by_provider)
            .filter(|(_, n)| *n > 0)
    }

    /// Whether streams of more than one provider are in the store (the views tag each row
    /// with its provider then).
    pub fn several_providers(&self) -> bool {
        self.providers().nth(1).is_some()
    }

    /// Turns the alert rules on with these thresholds.
    pub fn set_alert_config(&mut self, cfg: AlertConfig) {
        self.alert_config = Some(cfg);
    }

    /// The alert thresholds, when alerting is on.
    pub fn alert_config(&self) -> Option<&AlertConfig> {
        self.alert_config.as_ref()
    }

    /// Applies one evaluation of the alert rules (the conditions that hold at `now`, from
    /// [`crate::core::alerts::tick`]) to the alert book; returns what fired and what resolved.
    pub fn apply_alert_conditions(
        &mut self,
        conditions: Vec<Condition>,
        now: DateTime<Utc>,
    ) -> Vec<AlertEvent> {
        let streams = &self.streams;
        self.alerts.apply(conditions, now, |i| {
            streams
                .get(i as usize)
                .map(|s| format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream))
                .unwrap_or_default()
        })
    }

    /// What one evaluation's conditions at `now` would change in the alert book (see
    /// [`AlertBook::decide`]), changing nothing.
    pub fn decide_alerts(
        &self,
        conditions: Vec<Condition>,
        now: DateTime<Utc>,
    ) -> Vec<AlertChange> {
        let streams = &self.streams;
        self.alerts.decide(conditions, now, |i| {
            streams
                .get(i as usize)
                .map(|s| format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream))
                .unwrap_or_default()
        })
    }

    /// Applies an alert line (a transition, or a page's outcome at a sink) to the alert
    /// book; returns the event a person is told of, for a firing or a resolution.
    pub fn apply_alert_line(&mut self, line: &AlertLine) -> Option<AlertEvent> {
        self.last_seq = self.last_seq.max(line.seq);
        match &line.note {
            AlertNote::Alert(c) => self.alerts.apply_change(c, Some(line.seq)),
            AlertNote::AlertSent(s) => {
                self.alerts.apply_sent(s.of, &s.sink);
                None
            }
        }
    }

    /// Applies an alert transition that could not be journaled (the journal is failing):
    /// the views and the pages still say it, nothing is owed.
    pub fn apply_alert_change_unjournaled(&mut self, c: &AlertChange) -> Option<AlertEvent> {
        self.alerts.apply_change(c, None)
    }

    /// The alerts: firing and recently resolved.
    pub fn alerts(&self) -> &AlertBook {
        &self.alerts
    }

    /// Domains that sent a recording status callback.
    pub fn status_domains(&self) -> &HashSet<String> {
        &self.status_domains
    }

    /// When the newest request with a bad signature arrived.
    pub fn last_auth_failure_at(&self) -> Option<DateTime<Utc>> {
        self.last_auth_failure_at
    }

    /// When the newest journal write failed.
    pub fn last_journal_failure_at(&self) -> Option<DateTime<Utc>> {
        self.last_journal_failure_at
    }

    /// Applies one committed request. `callback` is the classified request when the outcome
    /// is accepted or duplicate. Duplicates and rejections only count and log.
    pub fn apply(&mut self, entry: &JournalEntry, callback: Option<&Callback>, line: Arc<str>) {
        self.apply_request(&Request::from(entry), callback, line);
    }

    /// [`Store::apply`] for a request already read out of its entry (an attached view reads
    /// entries in place, and may renumber them or decide their outcome again).
    pub fn apply_request(&mut self, req: &Request, callback: Option<&Callback>, line: Arc<str>) {
        let stream = self.apply_state(req, callback);
        self.push_log(req, callback, stream, line);
    }

    /// The state half of [`Store::apply`]: counters and streams and recordings, but not the
    /// request log. Rebuilding from a journal applies every entry this way, and logs only
    /// the entries the bounded log will keep ([`Store::push_log`]); an export, which shows no
    /// log, only this. Returns the stream's index when the request was a callback.
    pub fn apply_state(&mut self, req: &Request, callback: Option<&Callback>) -> Option<u32> {
        self.last_seq = self.last_seq.max(req.seq);
        match req.outcome {
            Outcome::Accepted => self.counters.accepted += 1,
            Outcome::Duplicate => self.counters.duplicate += 1,
            Outcome::Rejected => self.counters.rejected += 1,
            // Changes nothing: its settled copy, decided later, does (see `Outcome::Pending`).
            Outcome::Pending => return None,
        }
        if req.auth == Some(AuthCheck::Failed) {
            self.auth_failures += 1;
            self.last_auth_failure_at = self.last_auth_failure_at.max(Some(req.received_at));
        }
        if req.outcome != Outcome::Rejected {
            self.last_callback_at = self.last_callback_at.max(Some(req.received_at));
        }
        if let (Some(cb), false) = (callback, req.outcome == Outcome::Rejected) {
            self.by_kind[cb.kind_index()] += 1;
        }
        let stream = callback
            .and_then(Callback::stream_id)
            .map(|id| self.intern(id, req.provider));
        if let (Outcome::Accepted, Some(cb), Some(idx)) = (req.outcome, callback, stream) {
            self.apply_accepted(idx, cb, req.seq, req.received_at);
        }
        for name in req.forward.names() {
            let t = self.forward_target(name, ForwardMode::Async);
            self.forward[t as usize]
                .pending
                .insert(req.seq, req.received_at);
        }
        stream
    }

    /// Records a failed journal write (its requests were answered 503 and not applied).
    pub fn note_journal_failure(&mut self, error: String) {
        self.journal_failures += 1;
        self.last_journal_error = Some(error);
        self.last_journal_failure_at = Some(Utc::now());
    }

    /// Exact request counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// How many journal writes failed, and the last error.
    pub fn journal_failures(&self) -> (u64, Option<&str>) {
        (self.journal_failures, self.last_journal_error.as_deref())
    }

    /// Requests refused because their signature was missing, wrong or stale.
    pub fn auth_failures(&self) -> u64 {
        self.auth_failures
    }

    /// The highest `seq` applied.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

/// The store as shared between the sequencer (the only writer) and the views.
/// Views wait on `changes` instead of polling.
pub struct SharedStore {
    store: Mutex<Store>,
    changes: watch::Sender<u64>,
}

impl SharedStore {
    /// Wraps a store.
    pub fn new(store: Store) -> Arc<Self> {
        let (changes, _) = watch::channel(0);
        Arc::new(SharedStore {
            store: Mutex::new(store),
            changes,
        })
    }

    /// Locks the store for reading or (from the sequencer) writing. Keep it short.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves a store that is still consistent per entry.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the views that the store changed.
    pub fn notify(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    /// A receiver that wakes when the store changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}
