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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::core::alerts::book::{AlertBook, AlertConfig, AlertEvent, Condition};
use crate::core::journal::{EntryRef, JournalEntry};
use crate::core::outbox::{DeliveryLine, DeliveryResult, ForwardMode};
use crate::event::{AuthCheck, Outcome, PlayAction, Provider, CALLBACK_KINDS};
use crate::event::{Callback, IngestAction, RecordState, StreamId};

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

/// Whether the stream is being pushed, from ingest callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ingest {
    /// No ingest callback seen.
    Unknown,
    /// Last ingest callback was `publish`.
    Live,
    /// Last ingest callback was `publish_done`.
    Offline,
}

impl Ingest {
    /// The lowercase name used in the API and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Ingest::Unknown => "unknown",
            Ingest::Live => "live",
            Ingest::Offline => "offline",
        }
    }
}

/// One stream, keyed by (domain, app, stream).
#[derive(Debug, Clone)]
pub struct Stream {
    /// Identity.
    pub id: StreamId,
    /// Recording state from status callbacks.
    pub state: RecordState,
    /// When the current state was entered (receive time; status callbacks carry no clock).
    pub state_since: Option<DateTime<Utc>>,
    /// Ingest state from publish / publish_done.
    pub ingest: Ingest,
    /// When the ingest state last changed.
    pub ingest_since: Option<DateTime<Utc>>,
    /// The last accepted event's name: a status event name, `recording`, `publish` or
    /// `publish_done`.
    pub last_event: Option<String>,
    /// When the last accepted event arrived.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Accepted recordings.
    pub recordings: u64,
    /// Accepted `record_paused` events.
    pub pauses: u64,
    /// Sum of the recordings' durations, in seconds.
    pub total_duration_s: f64,
    /// Index into [`Store::recordings`] of the newest recording.
    pub last_recording: Option<usize>,
    /// The provider whose callback first named the stream.
    pub provider: Provider,
    /// Viewers now: plays minus stops (nginx-rtmp, SRS), never below 0.
    pub viewers: u32,
    /// HLS segments written (SRS on_hls).
    pub segments: u64,
    /// Their seconds. SRS writes HLS and DVR files of one broadcast side by side, so the
    /// stream's recorded time (`total_duration_s`) is its files' seconds or these, whichever
    /// is more: never both added up.
    pub segment_s: f64,
    /// Seconds of the stream's recording files.
    pub file_s: f64,
    /// When the newest publish arrived (kept after publish_done: nginx-rtmp reports the last
    /// file after it).
    pub published_at: Option<DateTime<Utc>>,
    /// Broadcasts: publishes that took the stream live (a publish while already live is not
    /// a new one).
    pub broadcasts: u64,
    /// The newest broadcast's start and end, Unix seconds, on the sender's clock where its
    /// ingest callbacks carry one (ApsaraVideo's `time`, Tencent's `event_time`), else their
    /// arrival: the times a person is told (the alert rules count with arrival times).
    pub broadcast_span: (Option<i64>, Option<i64>),
    /// Recording files and HLS segments reported since the newest broadcast began (files
    /// reported after its publish_done still count: the last file comes after the end).
    pub broadcast_files: u64,
    /// Error events (recording errors, push errors).
    pub errors: u64,
    /// The newest error: its event name and what the provider said (untrusted text), and when.
    pub last_error: Option<(String, DateTime<Utc>)>,
}

impl Stream {
    /// The stream's recorded time: its files' seconds, or its HLS segments' seconds when it
    /// has segments and they hold more (SRS writes both for one broadcast; never added up).
    pub fn recorded_s(&self) -> f64 {
        if self.segments > 0 {
            self.file_s.max(self.segment_s)
        } else {
            self.file_s
        }
    }

    /// This stream's recordings, newest first, from `recordings` (the store's, or a prefix of
    /// them such as a frozen view's). Each step follows one link, so listing the newest few
    /// costs the same however many recordings other streams have.
    pub fn recordings_newest_first<'a>(
        &self,
        recordings: &'a [Recording],
    ) -> impl Iterator<Item = (usize, &'a Recording)> + 'a {
        let mut next = self.last_recording;
        std::iter::from_fn(move || {
            let i = next?;
            let r = recordings.get(i)?;
            next = r.previous_in_stream();
            Some((i, r))
        })
    }
}

/// One recording file, as reported by a generation callback.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Journal sequence number of the callback.
    pub seq: u64,
    /// Index into [`Store::streams`].
    pub stream: u32,
    /// When the callback arrived.
    pub received_at: DateTime<Utc>,
    /// Object path in the OSS bucket.
    pub uri: Box<str>,
    /// Reported duration, seconds.
    pub duration: Option<f64>,
    /// Unix seconds.
    pub start_time: Option<i64>,
    /// Unix seconds.
    pub stop_time: Option<i64>,
    /// `callback_*` ingest parameters.
    pub push_args: Box<[(Box<str>, Box<str>)]>,
    /// `duration` differs from `stop_time - start_time` by more than 1 s.
    pub mismatch: bool,
    /// Size in bytes plus one, where the provider reports it (8 bytes instead of an
    /// option's 16; see [`Recording::file_size`]).
    file_size: Option<std::num::NonZeroU64>,
    /// The provider sent no duration or times (nginx-rtmp, SRS): `start_time` is when the
    /// stream's previous file was reported or its publish arrived, `stop_time` and the
    /// duration are from this callback's arrival.
    pub derived: bool,
    /// Index into [`Store::recordings`] of the same stream's previous recording: with
    /// [`Stream::last_recording`] a list per stream, so that one stream's recordings are
    /// listed without scanning everyone's (4 bytes, which fit in the struct's padding).
    previous_in_stream: Option<NonMaxIndex>,
}

/// A recording's index, stored in 4 bytes: recordings are addressed with `u32` everywhere in
/// the views, and `u32::MAX` is kept free to mean "none" so that the option costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NonMaxIndex(std::num::NonZeroU32);

impl NonMaxIndex {
    fn new(i: usize) -> Option<Self> {
        let i = u32::try_from(i).ok()?;
        std::num::NonZeroU32::new(i ^ u32::MAX).map(NonMaxIndex)
    }

    fn get(self) -> usize {
        (self.0.get() ^ u32::MAX) as usize
    }
}

/// `stop − start` in seconds, when both are known and the difference fits: the provider's
/// times are untrusted, and `i64::MAX − i64::MIN` would overflow.
pub fn span_s(start: Option<i64>, stop: Option<i64>) -> Option<i64> {
    stop?.checked_sub(start?)
}

impl Recording {
    /// Size in bytes, where the provider reports it (Tencent).
    pub fn file_size(&self) -> Option<u64> {
        self.file_size.map(|n| n.get() - 1)
    }

    /// Index into [`Store::recordings`] of this stream's recording before this one.
    pub fn previous_in_stream(&self) -> Option<usize> {
        self.previous_in_stream.map(NonMaxIndex::get)
    }

    /// The duration to count: the reported one, else stop - start.
    pub fn effective_duration(&self) -> Option<f64> {
        self.duration
            .or_else(|| span_s(self.start_time, self.stop_time).map(|s| s as f64))
    }

    /// `stop_time − start_time`, when both are known (see [`span_s`]).
    pub fn span_s(&self) -> Option<i64> {
        span_s(self.start_time, self.stop_time)
    }

    /// push_args as one JSON object text (for views and exports).
    pub fn push_args_json(&self) -> String {
        // The classifier gives them in key order, one per key: then they are written as they
        // are, which is what going through a JSON map would write.
        if self.push_args.windows(2).all(|w| w[0].0 < w[1].0) {
            return serde_json::to_string(&PushArgs(&self.push_args)).expect("strings serialize");
        }
        serde_json::Value::Object(self.push_args_map()).to_string()
    }

    /// push_args as a JSON map (for JSON exports).
    pub fn push_args_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.push_args
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect()
    }
}

/// push_args written as a JSON object, in their order.
struct PushArgs<'a>(&'a [(Box<str>, Box<str>)]);

impl Serialize for PushArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One request, for the request log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Journal sequence number.
    pub seq: u64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Peer address.
    pub remote: String,
    /// HTTP method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// accepted / duplicate / rejected.
    pub outcome: Outcome,
    /// HTTP status answered.
    pub status: u16,
    /// status / recording / ingest.
    pub kind: Option<String>,
    /// Index into [`Store::streams`] when the request was a recognised callback.
    pub stream: Option<u32>,
    /// The event name, uri or ingest action.
    pub summary: String,
    /// Key fields: a recording's duration and times, an ingest's client address.
    pub detail: String,
    /// Why it was rejected.
    pub error: Option<String>,
    /// Whose format it was read as.
    pub provider: Provider,
    /// Refused for a missing, wrong or stale signature.
    pub auth_failed: bool,
    /// The journal line, for `--json` output and the detail view.
    pub line: Arc<str>,
    /// Which attached receiver it came from (an index into the attach's source list), in a
    /// view merged from several receivers; `None` on a receiver's own store.
    pub source: Option<u16>,
    /// Its delivery to each `--forward-to` target, when it was forwarded.
    pub delivery: Vec<TargetDelivery>,
}

/// Where one request's delivery to one target stands (the request log's delivery column and
/// the detail view).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDelivery {
    /// Index into [`Store::forward_targets`].
    pub target: u16,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The newest attempts (at most [`ATTEMPTS_KEPT`]; the journal has all).
    pub recent: Vec<Attempt>,
}

/// The newest attempts kept per request and target in the request log.
pub const ATTEMPTS_KEPT: usize = 8;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Owed, not tried yet.
    Pending,
    /// Tried and failed; another attempt follows.
    Retrying,
    /// The backend answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
        /// How long the delivering attempt took.
        ms: u64,
    },
    /// Given up (or, in sync mode, the one attempt failed).
    Failed {
        /// The backend's status, when it answered.
        status: Option<u16>,
    },
}

/// One delivery attempt, for the detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// When its result was known.
    pub at: DateTime<Utc>,
    /// 1, 2, ...
    pub attempt: u32,
    /// delivered, retry or failed.
    pub result: DeliveryResult,
    /// The backend's status.
    pub status: Option<u16>,
    /// Milliseconds.
    pub ms: u64,
    /// Why it failed (untrusted text: sanitize before showing).
    pub error: Option<String>,
    /// The start of the backend's answer (untrusted text: sanitize before showing).
    pub reply: Option<String>,
}

/// The forwarding state of one `--forward-to` target, from the journal's lines.
#[derive(Debug, Clone, Default)]
pub struct ForwardTarget {
    /// Its name: the URL without user:password.
    pub name: String,
    /// async or sync.
    pub mode: ForwardMode,
    /// Requests delivered (2xx).
    pub delivered: u64,
    /// Requests given up on.
    pub failed: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Owed and not delivered or given up: seq → arrival.
    pending: BTreeMap<u64, DateTime<Utc>>,
    /// The newest failed seqs (at most [`FAILED_KEPT`]), oldest first.
    pub failed_seqs: VecDeque<u64>,
    /// Whether the newest attempt failed.
    pub failing: bool,
    /// The newest failure: when, and why (untrusted text).
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// Failed seqs listed per target.
pub const FAILED_KEPT: usize = 1000;

impl ForwardTarget {
    /// Requests owed and not yet delivered or given up.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When the oldest pending request arrived.
    pub fn oldest_pending(&self) -> Option<DateTime<Utc>> {
        self.pending.values().next().copied()
    }

    /// Whether a request is still owed to this target.
    pub fn is_pending(&self, seq: u64) -> bool {
        self.pending.contains_key(&seq)
    }
}

/// A forwarding event worth a line of its own (headless prints them): a target starts
/// failing, recovers, or a request is given up on.
#[derive(Debug, Clone)]
pub struct ForwardNote {
    /// The seq of the delivery line that caused it.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened, in words (holds untrusted text: sanitize before showing).
    pub text: String,
    /// A failure (true) or a recovery (false).
    pub bad: bool,
}

/// Forwarding notes kept for the views.
const NOTES_KEPT: usize = 256;

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

    /// Lists a `--forward-to` target before any callback is forwarded to it (the service
    /// does, so that the views show it from the start). Returns its index.
    pub fn forward_target(&mut self, name: &str, mode: ForwardMode) -> u16 {
        if let Some(i) = self.forward.iter().position(|t| t.name == name) {
            return i as u16;
        }
        self.forward.push(ForwardTarget {
            name: name.to_string(),
            mode,
            ..ForwardTarget::default()
        });
        (self.forward.len() - 1).min(u16::MAX as usize) as u16
    }

    /// Applies one committed delivery line: the target's counters, and the request's row in
    /// the log when it is still there.
    pub fn apply_delivery(&mut self, line: &DeliveryLine, text: Arc<str>) {
        let t = self.apply_delivery_state(line);
        self.log_delivery(line, t);
        if self.delivery_log.len() == self.log_capacity {
            self.delivery_log.pop_front();
        }
        self.delivery_log.push_back((line.seq, text));
    }

    /// The newest delivery lines as journaled (seq, text), oldest first (bounded).
    pub fn delivery_log(&self) -> &VecDeque<(u64, Arc<str>)> {
        &self.delivery_log
    }

    /// The state half of [`Store::apply_delivery`] (a rebuild applies every line this way).
    /// Returns the target's index.
    pub fn apply_delivery_state(&mut self, line: &DeliveryLine) -> u16 {
        let d = &line.delivery;
        self.last_seq = self.last_seq.max(line.seq);
        let ti = self.forward_target(&d.target, d.mode);
        let t = &mut self.forward[ti as usize];
        t.mode = d.mode;
        let was_failing = t.failing;
        let owed = t.pending.contains_key(&d.of);
        let mut note = None;
        match d.result {
            DeliveryResult::Delivered => {
                t.pending.remove(&d.of);
                t.delivered += 1;
                t.failing = false;
                if was_failing {
                    note = Some((
                        format!(
                            "forward to {} recovered: #{} delivered ({}) on attempt {}; {} pending",
                            t.name,
                            d.of,
                            d.status.unwrap_or(0),
                            d.attempt,
                            t.pending.len()
                        ),
                        false,
                    ));
                }
            }
            DeliveryResult::Retry => {
                t.retries += 1;
                t.failing = true;
                let why = d.error.clone().unwrap_or_default();
                if !was_failing {
                    note = Some((
                        format!(
                            "forward to {} failing: #{} attempt {}: {}{}",
                            t.name,
                            d.of,
                            d.attempt,
                            why,
                            d.retry_in_s
                                .map(|s| format!("; retrying in {s} s"))
                                .unwrap_or_default()
                        ),
                        true,
                    ));
                }
                t.last_error = Some((line.received_at, why));
            }
            DeliveryResult::Failed => {
                if owed || d.mode == ForwardMode::Sync {
                    t.pending.remove(&d.of);
                    t.failed += 1;
                    if t.failed_seqs.len() == FAILED_KEPT {
                        t.failed_seqs.pop_front();
                    }
                    t.failed_seqs.push_back(d.of);
                }
                t.failing = true;
                let why = d.error.clone().unwrap_or_default();
                note = Some((
                    match d.mode {
                        ForwardMode::Async => format!(
                            "forward to {} GAVE UP on #{} after {} attempts: {}; resend it with recmon replay --seq {}",
                            t.name, d.of, d.attempt, why, d.of
                        ),
                        ForwardMode::Sync => format!(
                            "forward to {} failed for #{}: {}; answered {}",
                            t.name,
                            d.of,
                            why,
                            match d.answered.unwrap_or(502) {
                                // nginx-rtmp and SRS (which never retry) get a success.
                                a @ 200..=299 => format!("{a} so that the stream goes on"),
                                a => format!("{a} so the provider retries"),
                            }
                        ),
                    },
                    true,
                ));
                t.last_error = Some((line.received_at, why));
            }
        }
        if let Some((text, bad)) = note {
            if self.forward_notes.len() == NOTES_KEPT {
                self.forward_notes.pop_front();
            }
            self.forward_notes.push_back(ForwardNote {
                seq: line.seq,
                at: line.received_at,
                text,
                bad,
            });
        }
        ti
    }

    /// The log half of [`Store::apply_delivery`]: the request's row, if the log still holds it.
    pub fn log_delivery(&mut self, line: &DeliveryLine, target: u16) {
        let d = &line.delivery;
        let i = self.log.partition_point(|e| e.seq < d.of);
        let Some(entry) = self.log.get_mut(i).filter(|e| e.seq == d.of) else {
            return;
        };
        if let Some(answered) = d.answered {
            entry.status = answered;
        }
        let td = match entry.delivery.iter_mut().position(|t| t.target == target) {
            Some(k) => &mut entry.delivery[k],
            None => {
                entry.delivery.push(TargetDelivery {
                    target,
                    state: DeliveryState::Pending,
                    attempts: 0,
                    recent: Vec::new(),
                });
                entry.delivery.last_mut().expect("just pushed")
            }
        };
        td.attempts = td.attempts.max(d.attempt);
        td.state = match d.result {
            DeliveryResult::Delivered => DeliveryState::Delivered {
                status: d.status.unwrap_or(0),
                ms: d.ms,
            },
            DeliveryResult::Retry => DeliveryState::Retrying,
            DeliveryResult::Failed => DeliveryState::Failed { status: d.status },
        };
        if td.recent.len() == ATTEMPTS_KEPT {
            td.recent.remove(0);
        }
        td.recent.push(Attempt {
            at: line.received_at,
            attempt: d.attempt,
            result: d.result,
            status: d.status,
            ms: d.ms,
            error: d.error.clone(),
            reply: d.reply.clone(),
        });
    }

    /// Forgets the forwarding targets not in `names` (a journal resumed without them: what it
    /// owed them is reported at start, and is not pending for this run).
    pub fn retain_forward_targets(&mut self, names: &[String]) {
        let keep: Vec<bool> = self
            .forward
            .iter()
            .map(|t| names.contains(&t.name))
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        let mut index = Vec::with_capacity(keep.len());
        let mut next = 0u16;
        for k in &keep {
            index.push(k.then(|| {
                next += 1;
                next - 1
            }));
        }
        let mut i = 0;
        self.forward.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        for e in self.log.iter_mut() {
            e.delivery.retain_mut(|d| match index[d.target as usize] {
                Some(n) => {
                    d.target = n;
                    true
                }
                None => false,
            });
        }
    }

    /// The `--forward-to` targets, in the order they were first seen.
    pub fn forward_targets(&self) -> &[ForwardTarget] {
        &self.forward
    }

    /// Forwarding events (failing, recovered, given up), oldest first.
    pub fn forward_notes(&self) -> &VecDeque<ForwardNote> {
        &self.forward_notes
    }

    /// The log half of [`Store::apply`], for a request already applied with
    /// [`Store::apply_state`] (which returned `stream`).
    pub fn push_log(
        &mut self,
        req: &Request,
        callback: Option<&Callback>,
        stream: Option<u32>,
        line: Arc<str>,
    ) {
        let summary = callback.map_or(String::new(), |c| c.summary().to_string());
        let mut detail = callback.map(detail_of).unwrap_or_default();
        // A recording whose times the store derived shows them (the callback had none).
        if let (Some(Callback::Recording(_)), Some(i)) = (callback, stream) {
            let rec = self.streams[i as usize]
                .last_recording
                .and_then(|k| self.recordings.get(k))
                .filter(|r| r.seq == req.seq && r.derived);
            if let Some(r) = rec {
                detail = match r.duration {
                    Some(d) => format!(
                        "duration~{} (derived from arrival times)",
                        crate::util::human::seconds(d)
                    ),
                    None => "duration=- (no publish or earlier file to start from)".to_string(),
                };
            }
        }
        let mut delivery = Vec::new();
        for name in req.forward.names() {
            if let Some(i) = self.forward.iter().position(|t| t.name == name) {
                delivery.push(TargetDelivery {
                    target: i as u16,
                    state: DeliveryState::Pending,
                    attempts: 0,
                    recent: Vec::new(),
                });
            }
        }
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            seq: req.seq,
            received_at: req.received_at,
            remote: req.remote.to_string(),
            method: req.method.to_string(),
            path: req.path.to_string(),
            outcome: req.outcome,
            status: req.status,
            kind: req.kind.map(str::to_string),
            stream,
            summary,
            detail,
            error: req.error.map(str::to_string),
            provider: req.provider,
            auth_failed: req.auth == Some(AuthCheck::Failed),
            line,
            source: req.source,
            delivery,
        });
    }

    /// How many requests the log keeps.
    pub fn log_capacity(&self) -> usize {
        self.log_capacity
    }

    fn apply_accepted(&mut self, idx: u32, cb: &Callback, seq: u64, at: DateTime<Utc>) {
        let next_recording = self.recordings.len();
        let previous_at = self.streams[idx as usize]
            .last_recording
            .and_then(|i| self.recordings.get(i))
            .map(|r| r.received_at);
        let s = &mut self.streams[idx as usize];
        match cb {
            Callback::Status(ev) => {
                if !self.status_domains.contains(&s.id.domain) {
                    self.status_domains.insert(s.id.domain.clone());
                }
                if let Some(state) = ev.target_state() {
                    if state == RecordState::Paused {
                        s.pauses += 1;
                    }
                    if state == RecordState::Error {
                        s.errors += 1;
                        let what = match &ev.detail {
                            Some(d) => format!("{}: {d}", ev.event),
                            None => ev.event.clone(),
                        };
                        s.last_error = Some((what, at));
                    }
                    if s.state != state || s.state_since.is_none() {
                        s.state = state;
                        s.state_since = Some(at);
                    }
                }
                s.last_event = Some(ev.event.clone());
            }
            Callback::Recording(r) => {
                let derived =
                    r.duration.is_none() && r.start_time.is_none() && r.stop_time.is_none();
                let (duration, start_time, stop_time) = if derived {
                    // No duration or times (nginx-rtmp, SRS): the file began when the
                    // stream's previous file was reported or its publish arrived, whichever
                    // is later, and ended when this callback arrived.
                    // Compared in whole milliseconds, as the journal keeps times, so that a
                    // rebuilt store picks the same start.
                    let ms = at.timestamp_millis();
                    let from = [previous_at, s.published_at]
                        .into_iter()
                        .flatten()
                        .filter(|f| f.timestamp_millis() <= ms)
                        .max();
                    match from {
                        Some(f) => (
                            // In whole milliseconds of each time, as the journal keeps
                            // them: a rebuilt store derives the same duration.
                            Some((at.timestamp_millis() - f.timestamp_millis()) as f64 / 1000.0),
                            Some(f.timestamp()),
                            Some(at.timestamp()),
                        ),
                        None => (None, None, Some(at.timestamp())),
                    }
                } else {
                    (r.duration, r.start_time, r.stop_time)
                };
                let rec = Recording {
                    seq,
                    stream: idx,
                    received_at: at,
                    uri: r.uri.as_str().into(),
                    duration,
                    start_time,
                    stop_time,
                    push_args: r
                        .push_args
                        .iter()
                        .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                        .collect(),
                    mismatch: !derived && r.duration_mismatch(),
                    file_size: r
                        .file_size
                        .and_then(|n| std::num::NonZeroU64::new(n.saturating_add(1))),
                    derived,
                    previous_in_stream: s.last_recording.and_then(NonMaxIndex::new),
                };
                // A file was written: the recording works again after an error.
                if s.state == RecordState::Error {
                    s.state = RecordState::None;
                    s.state_since = Some(at);
                }
                s.recordings += 1;
                s.broadcast_files += 1;
                s.file_s += rec.effective_duration().unwrap_or(0.0);
                s.total_duration_s = s.recorded_s();
                s.last_recording = Some(next_recording);
                s.last_event = Some("recording".to_string());
                self.recordings.push(rec);
            }
            Callback::Ingest(i) => {
                let ingest = match i.action {
                    IngestAction::Publish => Ingest::Live,
                    IngestAction::PublishDone => Ingest::Offline,
                };
                // The sender's time where it gives one that is a date, else the arrival.
                let when = i.sent_at().unwrap_or_else(|| at.timestamp());
                if s.ingest != ingest {
                    if ingest == Ingest::Live {
                        s.broadcasts += 1;
                        s.broadcast_files = 0;
                        s.broadcast_span = (Some(when), None);
                    } else {
                        s.broadcast_span.1 = Some(when);
                    }
                    s.ingest = ingest;
                    s.ingest_since = Some(at);
                }
                if ingest == Ingest::Live {
                    s.published_at = Some(at);
                }
                s.last_event = Some(i.action.as_str().to_string());
            }
            Callback::Play(p) => {
                s.viewers = match p.action {
                    PlayAction::Play => s.viewers.saturating_add(1),
                    PlayAction::Stop => s.viewers.saturating_sub(1),
                };
                s.last_event = Some(cb.summary().to_string());
            }
            Callback::Segment(seg) => {
                s.segments += 1;
                s.broadcast_files += 1;
                s.segment_s += seg.duration.unwrap_or(0.0);
                s.total_duration_s = s.recorded_s();
                s.last_event = Some("hls_segment".to_string());
            }
            Callback::Notice(n) => {
                // An update_publish every few seconds says the stream is alive: it counts
                // as the stream's newest event.
                s.last_event = Some(n.name.clone());
            }
        }
        s.last_event_at = Some(at);
    }

    fn intern(&mut self, id: &StreamId, provider: Provider) -> u32 {
        if let Some(i) = self.stream_index(provider, id) {
            return i;
        }
        let i = self.streams.len() as u32;
        self.streams.push(Stream {
            id: id.clone(),
            state: RecordState::None,
            state_since: None,
            ingest: Ingest::Unknown,
            ingest_since: None,
            last_event: None,
            last_event_at: None,
            recordings: 0,
            pauses: 0,
            total_duration_s: 0.0,
            last_recording: None,
            provider,
            viewers: 0,
            segments: 0,
            segment_s: 0.0,
            file_s: 0.0,
            published_at: None,
            broadcasts: 0,
            broadcast_span: (None, None),
            broadcast_files: 0,
            errors: 0,
            last_error: None,
        });
        self.by_provider[provider.index()] += 1;
        match self.index.get_mut(id) {
            Some(by_provider) => by_provider[provider.index()] = Some(i),
            None => {
                let mut by_provider = [None; Provider::ALL.len()];
                by_provider[provider.index()] = Some(i);
                self.index.insert(id.clone(), by_provider);
            }
        }
        i
    }

    /// The index of a known stream of `provider`.
    pub fn stream_index(&self, provider: Provider, id: &StreamId) -> Option<u32> {
        self.index.get(id).and_then(|by| by[provider.index()])
    }

    /// Records a failed journal write (its requests were answered 503 and not applied).
    pub fn note_journal_failure(&mut self, error: String) {
        self.journal_failures += 1;
        self.last_journal_error = Some(error);
        self.last_journal_failure_at = Some(Utc::now());
    }

    /// Streams in first-seen order.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// Accepted recordings in arrival order.
    pub fn recordings(&self) -> &[Recording] {
        &self.recordings
    }

    /// The newest requests, oldest first (bounded).
    pub fn log(&self) -> &VecDeque<LogEntry> {
        &self.log
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

fn detail_of(cb: &Callback) -> String {
    match cb {
        Callback::Status(s) if s.target_state().is_none() => {
            "unknown event, state unchanged".to_string()
        }
        Callback::Status(s) => s.detail.clone().unwrap_or_default(),
        Callback::Recording(r) => {
            let mut d = match r.duration {
                Some(x) => format!("duration={}", crate::util::human::seconds(x)),
                None => "duration=-".to_string(),
            };
            if let (Some(a), Some(b)) = (r.start_time, r.stop_time) {
                let span = span_s(Some(a), Some(b)).map_or("?".into(), |s| s.to_string());
                d.push_str(&format!(" start={a} stop={b} span={span}s"));
            }
            if let Some(size) = r.file_size {
                d.push_str(&format!(" size={}", crate::util::human::bytes(size)));
            }
            if r.duration_mismatch() {
                d.push_str(" MISMATCH");
            }
            d
        }
        Callback::Ingest(i) => {
            let mut d = String::new();
            if let Some(ip) = &i.ip {
                d.push_str(&format!("ip={ip}"));
            }
            if let Some(n) = &i.node {
                d.push_str(&format!(" node={n}"));
            }
            d
        }
        Callback::Play(p) => p.ip.as_ref().map_or(String::new(), |ip| format!("ip={ip}")),
        Callback::Segment(s) => match s.duration {
            Some(x) => format!("hls segment duration={}", crate::util::human::seconds(x)),
            None => "hls segment duration=-".to_string(),
        },
        Callback::Notice(n) => n.detail.clone(),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::dedup::Deduper;

    #[test]
    fn spans_of_extreme_provider_times_do_not_overflow() {
        assert_eq!(span_s(Some(i64::MIN), Some(i64::MAX)), None);
        assert_eq!(span_s(Some(i64::MAX), Some(i64::MIN)), None);
        assert_eq!(span_s(Some(10), Some(70)), Some(60));
        assert_eq!(span_s(None, Some(70)), None);
    }
    use crate::event::Method;
    use crate::providers::aliyun::classify;
    use std::collections::BTreeMap;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    /// A journal entry of a POST at `t` with this outcome (the tests' own requests).
    pub(crate) fn entry(seq: u64, t: DateTime<Utc>, outcome: Outcome) -> JournalEntry {
        JournalEntry {
            seq,
            received_at: t,
            remote: "127.0.0.1:1".into(),
            method: "POST".into(),
            path: "/".into(),
            headers: BTreeMap::new(),
            outcome,
            status: 200,
            provider: Default::default(),
            kind: None,
            forward: Vec::new(),
            error: None,
            body_bytes: 0,
            body: None,
            body_text: None,
            body_base64: None,
            body_truncated: None,
            auth: None,
        }
    }

    pub(crate) fn status(stream: &str, event: &str) -> Callback {
        classify(
            Method::Post,
            None,
            format!(r#"{{"domain":"d","app":"a","stream":"{stream}","event":"{event}"}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    pub(crate) fn recording(stream: &str, uri: &str, dur: f64) -> Callback {
        classify(
            Method::Post,
            None,
            format!(
                r#"{{"domain":"d","app":"a","stream":"{stream}","uri":"{uri}","duration":{dur},"start_time":100,"stop_time":110}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    /// Runs callbacks through a deduper and a store like the sequencer does.
    pub(crate) fn run(cbs: &[(i64, Callback)]) -> (Store, Vec<Outcome>) {
        let mut store = Store::default();
        let mut dedup = Deduper::default();
        let mut outcomes = vec![];
        for (i, (t, cb)) in cbs.iter().enumerate() {
            let (o, _) = dedup.decide(cb, at(*t));
            store.apply(&entry(i as u64 + 1, at(*t), o), Some(cb), Arc::from(""));
            outcomes.push(o);
        }
        (store, outcomes)
    }

    #[test]
    fn states_follow_status_events_and_unknown_events_keep_state() {
        let (store, _) = run(&[
            (0, status("s", "record_started")),
            (5, status("s", "record_paused")),
            (9, status("s", "record_stopped")),
        ]);
        let s = &store.streams()[0];
        assert_eq!(s.state, RecordState::Paused);
        assert_eq!(s.state_since, Some(at(5)));
        assert_eq!(s.last_event.as_deref(), Some("record_stopped"));
        assert_eq!(s.last_event_at, Some(at(9)));
        assert_eq!(s.pauses, 1);
    }

    #[test]
    fn resumed_without_start_is_resumed() {
        let (store, _) = run(&[(0, status("s", "record_resumed"))]);
        assert_eq!(store.streams()[0].state, RecordState::Resumed);
    }

    #[test]
    fn recording_for_unseen_stream_creates_it_with_state_none() {
        let (store, _) = run(&[(0, recording("x", "u1", 10.0))]);
        let s = &store.streams()[0];
        assert_eq!(s.state, RecordState::None);
        assert_eq!(s.recordings, 1);
        assert_eq!(s.total_duration_s, 10.0);
        assert_eq!(s.last_recording, Some(0));
    }

    #[test]
    fn duplicate_recordings_count_once() {
        let (store, outcomes) = run(&[
            (0, recording("s", "u1", 10.0)),
            (1, recording("s", "u1", 10.0)),
            (500, recording("s", "u1", 10.0)),
            (2, recording("t", "u1", 10.0)),
        ]);
        assert_eq!(
            outcomes,
            vec![
                Outcome::Accepted,
                Outcome::Duplicate,
                Outcome::Duplicate,
                Outcome::Accepted
            ]
        );
        assert_eq!(store.recordings().len(), 2);
        assert_eq!(
            store.counters(),
            Counters {
                accepted: 2,
                duplicate: 2,
                rejected: 0
            }
        );
    }

    #[test]
    fn repeated_status_within_window_is_duplicate_after_it_is_not() {
        let (_, outcomes) = run(&[
            (0, status("s", "record_paused")),
            (1, status("s", "record_paused")),
            (29, status("s", "record_paused")),
            (31, status("s", "record_paused")),
            (32, status("s", "record_resumed")),
            (33, status("s", "record_paused")),
        ]);
        use Outcome::*;
        assert_eq!(
            outcomes,
            vec![Accepted, Duplicate, Duplicate, Accepted, Accepted, Accepted]
        );
    }

    /// Ingest callbacks as (stream, action, milliseconds from a fixed start).
    type IngestEvents<'a> = &'a [(&'a str, &'a str, i64)];

    fn ingest(stream: &str, action: &str) -> Callback {
        let query = format!("action={action}&app=d&appname=a&id={stream}");
        classify(Method::Get, Some(&query), b"").unwrap()
    }

    /// The ingest rule, written out independently: a callback is a retry when the stream's
    /// last *accepted* ingest callback had the same action and arrived less than 30 000 ms
    /// before or after it. Exactly 30 s apart is a new event.
    fn ingest_oracle(events: &[(&str, &str, i64)]) -> Vec<Outcome> {
        let mut last: Vec<(&str, &str, i64)> = Vec::new();
        events
            .iter()
            .map(|&(stream, action, ms)| {
                let prev = last.iter().position(|(s, _, _)| *s == stream);
                let retry =
                    prev.is_some_and(|i| last[i].1 == action && (ms - last[i].2).abs() < 30_000);
                if retry {
                    return Outcome::Duplicate;
                }
                match prev {
                    Some(i) => last[i] = (stream, action, ms),
                    None => last.push((stream, action, ms)),
                }
                Outcome::Accepted
            })
            .collect()
    }

    fn decide_ingest(events: &[(&str, &str, i64)]) -> Vec<Outcome> {
        let mut d = Deduper::default();
        let t0 = at(0);
        events
            .iter()
            .map(|&(stream, action, ms)| {
                d.decide(
                    &ingest(stream, action),
                    t0 + chrono::Duration::milliseconds(ms),
                )
                .0
            })
            .collect()
    }

    #[test]
    fn ingest_retries_within_30_s_are_duplicates_and_30_s_is_not() {
        use Outcome::{Accepted as A, Duplicate as D};
        // The boundary, by hand: 29.999 s is a retry, 30.000 s is not, either way in time.
        let cases: &[(IngestEvents, &[Outcome])] = &[
            (&[("s", "publish", 0), ("s", "publish", 29_999)], &[A, D]),
            (&[("s", "publish", 0), ("s", "publish", 30_000)], &[A, A]),
            (&[("s", "publish", 0), ("s", "publish", 30_001)], &[A, A]),
            (&[("s", "publish", 30_000), ("s", "publish", 1)], &[A, D]),
            (&[("s", "publish", 30_000), ("s", "publish", 0)], &[A, A]),
            // Another action is news, and it resets the window.
            (
                &[
                    ("s", "publish", 0),
                    ("s", "publish_done", 1_000),
                    ("s", "publish", 2_000),
                ],
                &[A, A, A],
            ),
            // Another stream is news.
            (&[("s", "publish", 0), ("t", "publish", 1)], &[A, A]),
            // A duplicate does not move the window: measured from the last accepted one.
            (
                &[
                    ("s", "publish", 0),
                    ("s", "publish", 20_000),
                    ("s", "publish", 35_000),
                ],
                &[A, D, A],
            ),
        ];
        for (events, want) in cases {
            assert_eq!(&ingest_oracle(events), want, "the oracle, on {events:?}");
            assert_eq!(&decide_ingest(events), want, "{events:?}");
        }
        // And on many sequences around the boundary, the deduper agrees with the oracle.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let offsets = [
            0, 1, 999, 1_000, 29_000, 29_999, 30_000, 30_001, 31_000, 59_999, 60_000,
        ];
        for _ in 0..500 {
            let mut ms = 0i64;
            let events: Vec<(&str, &str, i64)> = (0..8)
                .map(|_| {
                    ms += offsets[next(offsets.len() as u64) as usize];
                    let stream = ["s", "t"][next(2) as usize];
                    let action = ["publish", "publish_done"][next(2) as usize];
                    (stream, action, ms)
                })
                .collect();
            assert_eq!(decide_ingest(&events), ingest_oracle(&events), "{events:?}");
        }
    }

    #[test]
    fn undo_takes_decisions_back() {
        let mut d = Deduper::default();
        let cb = recording("s", "u", 1.0);
        let (o, u) = d.decide(&cb, at(0));
        assert_eq!(o, Outcome::Accepted);
        d.undo(u.unwrap());
        assert_eq!(d.decide(&cb, at(1)).0, Outcome::Accepted);
        let st = status("s", "record_started");
        let (_, u) = d.decide(&st, at(0));
        d.undo(u.unwrap());
        assert_eq!(d.decide(&st, at(1)).0, Outcome::Accepted);
    }

    #[test]
    fn each_stream_lists_its_own_recordings_newest_first() {
        let (store, _) = run(&[
            (0, recording("a", "a1", 1.0)),
            (1, recording("b", "b1", 1.0)),
            (2, recording("a", "a2", 1.0)),
            (3, recording("b", "b1", 1.0)), // duplicate: not a recording
            (4, recording("b", "b2", 1.0)),
            (5, recording("a", "a3", 1.0)),
        ]);
        let uris = |s: &Stream, recs: &[Recording]| -> Vec<String> {
            s.recordings_newest_first(recs)
                .map(|(_, r)| r.uri.to_string())
                .collect()
        };
        let recs = store.recordings();
        assert_eq!(uris(&store.streams()[0], recs), ["a3", "a2", "a1"]);
        assert_eq!(uris(&store.streams()[1], recs), ["b2", "b1"]);
        // A prefix of the recordings (a frozen view) with the stream as it was then.
        let mut frozen_a = store.streams()[0].clone();
        frozen_a.last_recording = Some(2);
        assert_eq!(uris(&frozen_a, &recs[..3]), ["a2", "a1"]);
        // The link costs no memory: it fits in the padding.
        assert_eq!(std::mem::size_of::<Option<NonMaxIndex>>(), 4);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            std::mem::size_of::<Recording>(),
            120,
            "as before the link, plus the file size"
        );
        assert_eq!(NonMaxIndex::new(0).map(NonMaxIndex::get), Some(0));
        assert_eq!(NonMaxIndex::new(u32::MAX as usize), None);
    }

    #[test]
    fn log_is_bounded_counters_are_not() {
        let mut store = Store::new(3);
        for i in 0..10 {
            store.apply(&entry(i + 1, at(0), Outcome::Rejected), None, Arc::from(""));
        }
        assert_eq!(store.log().len(), 3);
        assert_eq!(store.log().front().unwrap().seq, 8);
        assert_eq!(store.counters().rejected, 10);
    }
}
