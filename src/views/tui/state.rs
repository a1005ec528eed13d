//! View state: what the terminal UI remembers that is not session data — focus, selections,
//! scroll offsets, the filter, follow and freeze, sort order, time zone, popups — plus small
//! caches derived from the store so that a frame costs the same with ten recordings or a
//! million. The store itself is never changed from here.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::text::{clean, contains_ci, FIELD_MAX};
use super::theme::Theme;
use crate::core::store::{Counters, ForwardTarget, Ingest, LogEntry, Recording, Store, Stream};
use crate::event::Outcome;
use crate::event::{Provider, RecordState};

/// Recordings the filter examines per frame: about 1 ms in a release build. A new filter
/// over a million rows is spread over about 500 frames, drawn back to back while it is
/// pending (under a second in all), so the store lock, which the sequencer needs to
/// apply callbacks, is never held for more than one chunk.
pub const FILTER_BUDGET: usize = 2_048;

/// Most recordings listed in a stream's detail popup (newest first): the popup is built
/// when it opens, and a stream may have a million; the journal and the export have all.
pub const STREAM_RECORDINGS_MAX: usize = 500;

/// Seconds of history in the request-rate sparkline.
pub const RATE_SECONDS: usize = 60;

/// How long a status message (export result) stays in the footer.
pub const TOAST_SECS: i64 = 8;

/// The three panels, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// One row per stream.
    Streams,
    /// One row per recording file.
    Recordings,
    /// One row per request, rejected ones included.
    Requests,
}

impl Panel {
    /// The panel after this one (Tab).
    pub fn next(self) -> Panel {
        match self {
            Panel::Streams => Panel::Recordings,
            Panel::Recordings => Panel::Requests,
            Panel::Requests => Panel::Streams,
        }
    }

    /// The panel before this one (Shift-Tab).
    pub fn prev(self) -> Panel {
        match self {
            Panel::Streams => Panel::Requests,
            Panel::Recordings => Panel::Streams,
            Panel::Requests => Panel::Recordings,
        }
    }

    /// Whether new rows arrive at the bottom of this panel, so that following makes sense.
    pub fn follows(self) -> bool {
        !matches!(self, Panel::Streams)
    }
}

/// The order of the streams panel (`s` cycles it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSort {
    /// Recording first (started, resumed), then paused, then none; by name within a state.
    State,
    /// domain/app/stream.
    Name,
    /// Most recent event first.
    LastEvent,
}

impl StreamSort {
    /// The next order in the cycle.
    pub fn next(self) -> StreamSort {
        match self {
            StreamSort::State => StreamSort::Name,
            StreamSort::Name => StreamSort::LastEvent,
            StreamSort::LastEvent => StreamSort::State,
        }
    }

    /// Shown in the streams panel title.
    pub fn label(self) -> &'static str {
        match self {
            StreamSort::State => "state",
            StreamSort::Name => "name",
            StreamSort::LastEvent => "last event",
        }
    }
}

/// Selection and scroll position in one table. `selected` is a row position in the panel's
/// (filtered, sorted) row list, `offset` the first row drawn.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The selected row.
    pub selected: usize,
    /// The first visible row.
    pub offset: usize,
}

impl Cursor {
    /// Moves the selection by `delta` rows, staying within `rows`.
    pub fn move_by(&mut self, delta: isize, rows: usize) {
        if rows == 0 {
            self.selected = 0;
            return;
        }
        let target = self.selected as isize + delta;
        self.selected = target.clamp(0, rows as isize - 1) as usize;
    }

    /// Keeps the selection inside the rows and scrolls so that it is visible; returns the
    /// range of rows to draw in `height` lines. Only these rows are ever built.
    pub fn window(&mut self, rows: usize, height: usize) -> Range<usize> {
        if rows == 0 || height == 0 {
            self.selected = self.selected.min(rows.saturating_sub(1));
            self.offset = 0;
            return 0..0;
        }
        self.selected = self.selected.min(rows - 1);
        if self.selected < self.offset {
            self.offset = self.selected;
        }
        if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        // No empty space under the last row while there are rows above the window.
        self.offset = self.offset.min(rows.saturating_sub(height));
        self.offset..(self.offset + height).min(rows)
    }
}

/// The data as it was when the view was frozen (space). Streams and the request log are
/// copied (a few streams, a bounded log); recordings only append, so a length is enough.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// When the view was frozen; the panels' clocks stop here.
    pub at: DateTime<Utc>,
    streams: Vec<Stream>,
    recordings: usize,
    log: VecDeque<LogEntry>,
    counters: Counters,
    journal_failures: u64,
    last_journal_error: Option<String>,
    auth_failures: u64,
    last_callback_at: Option<DateTime<Utc>>,
    forward: Vec<ForwardTarget>,
    /// The store's `last_seq` at the time: requests after it arrived while frozen.
    pub last_seq: u64,
}

impl Frozen {
    /// Copies what the panels show.
    pub fn capture(store: &Store, at: DateTime<Utc>) -> Frozen {
        let (failures, last_error) = store.journal_failures();
        Frozen {
            at,
            streams: store.streams().to_vec(),
            recordings: store.recordings().len(),
            log: store.log().clone(),
            counters: store.counters(),
            last_callback_at: store.last_callback_at(),
            journal_failures: failures,
            last_journal_error: last_error.map(str::to_owned),
            auth_failures: store.auth_failures(),
            forward: store.forward_targets().to_vec(),
            last_seq: store.last_seq(),
        }
    }
}

/// What the panels draw: the live store, or the frozen copy of it.
pub struct Source<'a> {
    /// Streams in first-seen order.
    pub streams: &'a [Stream],
    /// Recordings in arrival order.
    pub recordings: &'a [Recording],
    /// The request log, oldest first.
    pub log: &'a VecDeque<LogEntry>,
    /// Request counters.
    pub counters: Counters,
    /// Failed journal writes.
    pub journal_failures: u64,
    /// The last journal error.
    pub last_journal_error: Option<&'a str>,
    /// Requests refused for a missing, wrong or stale signature.
    pub auth_failures: u64,
    /// When the newest accepted or duplicate callback arrived.
    pub last_callback_at: Option<DateTime<Utc>>,
    /// The time the panels' clocks use (ages, time in state).
    pub now: DateTime<Utc>,
    /// Requests that arrived since the view was frozen (0 when live).
    pub arrived_while_frozen: u64,
    /// Recordings among them.
    pub recordings_while_frozen: usize,
    /// Rejected requests among them.
    pub rejected_while_frozen: u64,
    /// The `--forward-to` targets' delivery state.
    pub forward: &'a [ForwardTarget],
    /// The alerts (always the live ones, also in a frozen view: an alert is not history).
    pub alerts: &'a crate::core::alerts::AlertBook,
    /// While `--resume` rebuilds the state in the background, how far it has got (always the
    /// live value: the panels hold the stand-in until it is done).
    pub rebuilding: Option<crate::core::rebuild::RebuildProgress>,
}

impl<'a> Source<'a> {
    /// The live store, or the frozen view of it.
    pub fn new(store: &'a Store, frozen: Option<&'a Frozen>, now: DateTime<Utc>) -> Source<'a> {
        match frozen {
            None => {
                let (failures, last_error) = store.journal_failures();
                Source {
                    streams: store.streams(),
                    recordings: store.recordings(),
                    log: store.log(),
                    counters: store.counters(),
                    journal_failures: failures,
                    last_journal_error: last_error,
                    auth_failures: store.auth_failures(),
                    last_callback_at: store.last_callback_at(),
                    now,
                    arrived_while_frozen: 0,
                    recordings_while_frozen: 0,
                    rejected_while_frozen: 0,
                    forward: store.forward_targets(),
                    alerts: store.alerts(),
                    rebuilding: store.rebuilding(),
                }
            }
            Some(f) => {
                let recordings = &store.recordings()[..f.recordings.min(store.recordings().len())];
                Source {
                    streams: &f.streams,
                    recordings,
                    log: &f.log,
                    counters: f.counters,
                    journal_failures: f.journal_failures,
                    last_journal_error: f.last_journal_error.as_deref(),
                    auth_failures: f.auth_failures,
                    last_callback_at: f.last_callback_at,
                    now: f.at,
                    // Counted in requests: delivery lines take seq numbers too.
                    arrived_while_frozen: total(store.counters()).saturating_sub(total(f.counters)),
                    recordings_while_frozen: store.recordings().len() - recordings.len(),
                    rejected_while_frozen: store
                        .counters()
                        .rejected
                        .saturating_sub(f.counters.rejected),
                    forward: &f.forward,
                    alerts: store.alerts(),
                    rebuilding: store.rebuilding(),
                }
            }
        }
    }
}

fn total(c: Counters) -> u64 {
    c.accepted + c.duplicate + c.rejected
}

/// What the `/` filter text asks for, parsed once when the text changes: a `provider:NAME`
/// term, when the text has one, and what the rest of the text asks for. A row is kept when it
/// meets both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterQuery {
    /// `provider:NAME`: only that provider's streams, their recordings, and the requests
    /// read as that provider's.
    pub provider: Option<Provider>,
    /// What the rest of the text asks for.
    pub terms: FilterTerms,
}

/// The recording state a stream's row shows, and since when. A stream whose ingest went
/// offline (publish_done) shows `Ended` since then: its last recording event (`▶ resumed`)
/// would read as still recording. A failed recording (`Error`) stays in sight, offline or
/// not. The store's own state is unchanged (the detail popup shows it).
pub fn shown_state(s: &Stream) -> (RecordState, Option<DateTime<Utc>>) {
    if s.ingest == Ingest::Offline && s.state != RecordState::Error {
        (RecordState::Ended, s.ingest_since)
    } else {
        (s.state, s.state_since)
    }
}

/// What the filter text asks for besides a provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FilterTerms {
    /// No text: every row.
    #[default]
    All,
    /// Rows with a field that contains this text, ignoring ASCII case: a stream's domain,
    /// app, stream, state (as shown: see [`shown_state`]), ingest (`live`, `offline`,
    /// `unknown`) or last event; a recording's stream, uri, push_args, kind
    /// (`recording`) or outcome (`accepted`); a request's stream, event or uri, path, kind,
    /// outcome, detail or reason.
    Text(String),
    /// `#N` (digits only): exactly the request with journal seq N, the recording it
    /// reported, and its stream. A seq is exact because `#12` inside `#120` is never meant.
    Seq(u64),
}

/// How a filter term names a provider: `provider:` then the provider's name or its tag, in
/// any case, or the start of its name (`provider:nginx`, `provider:ngx`, `provider:t`).
const PROVIDER_TERM: &str = "provider:";

/// The provider a `provider:NAME` word names, if it is one.
fn provider_term(word: &str) -> Option<Provider> {
    let prefix = word.get(..PROVIDER_TERM.len())?;
    if !prefix.eq_ignore_ascii_case(PROVIDER_TERM) {
        return None;
    }
    let name = word[PROVIDER_TERM.len()..].to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    Provider::ALL
        .into_iter()
        .find(|p| p.tag() == name || p.as_str().starts_with(&name))
}

/// Splits the first `provider:NAME` word naming a provider off a filter text: the provider,
/// and the text without that word (the words either side joined by one space).
pub fn split_provider_term(text: &str) -> Option<(Provider, String)> {
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if !c.is_whitespace() {
            start.get_or_insert(i);
            continue;
        }
        let Some(s) = start.take() else {
            continue;
        };
        if let Some(p) = provider_term(&text[s..i]) {
            let (left, right) = (text[..s].trim_end(), text[i..].trim_start());
            let rest = match (left.is_empty(), right.is_empty()) {
                (true, _) => right.to_string(),
                (_, true) => left.to_string(),
                _ => format!("{left} {right}"),
            };
            return Some((p, rest));
        }
    }
    None
}

/// The filter text with its provider term replaced by `provider` (put first), or removed
/// when `provider` is `None`; the rest of the text is kept (what `p` does).
pub fn with_provider_term(text: &str, provider: Option<Provider>) -> String {
    let rest = match split_provider_term(text) {
        Some((_, rest)) => rest,
        None => text.to_string(),
    };
    match provider {
        None => rest,
        Some(p) if rest.is_empty() => format!("{PROVIDER_TERM}{}", p.as_str()),
        Some(p) => format!("{PROVIDER_TERM}{} {rest}", p.as_str()),
    }
}

impl FilterQuery {
    /// Reads the filter text: a `provider:NAME` word naming a provider, if there is one; of
    /// the rest, `#` then digits is a seq, anything else a substring.
    pub fn parse(text: &str) -> FilterQuery {
        match split_provider_term(text) {
            Some((provider, rest)) => FilterQuery {
                provider: Some(provider),
                terms: FilterTerms::parse(&rest),
            },
            None => FilterQuery {
                provider: None,
                terms: FilterTerms::parse(text),
            },
        }
    }

    /// Whether the filter keeps every row.
    pub fn is_all(&self) -> bool {
        self.provider.is_none() && self.terms == FilterTerms::All
    }

    /// Whether rows of this provider can match.
    pub fn provider_matches(&self, p: Provider) -> bool {
        self.provider.is_none_or(|q| q == p)
    }

    /// How a stream's recordings meet the filter: `None` when the provider term leaves them
    /// out, else whether the stream's identity matches the text (what each recording of it
    /// then matches through).
    pub fn recordings_of(&self, s: &Stream) -> Option<bool> {
        self.provider_matches(s.provider)
            .then(|| self.terms.matches_stream_id(s))
    }

    /// Whether a row of the streams panel matches. A seq filter shows the stream of that
    /// request, which only the log and the recordings know: see [`seq_stream`].
    pub fn matches_stream(&self, s: &Stream) -> bool {
        self.provider_matches(s.provider) && self.terms.matches_stream(s)
    }

    /// Whether a request of the log matches; `provider` is the one it was read as.
    pub fn matches_request(&self, e: &LogEntry, streams: &[Stream], provider: Provider) -> bool {
        self.provider_matches(provider) && self.terms.matches_request(e, streams)
    }
}

impl FilterTerms {
    /// `#` then digits is a seq, anything else a substring, nothing every row.
    pub fn parse(text: &str) -> FilterTerms {
        if text.is_empty() {
            return FilterTerms::All;
        }
        let seq = text
            .trim()
            .strip_prefix('#')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        match seq.and_then(|d| d.parse().ok()) {
            Some(n) => FilterTerms::Seq(n),
            None => FilterTerms::Text(text.to_owned()),
        }
    }

    /// Whether a stream's identity matches (what a recording of it matches through).
    pub fn matches_stream_id(&self, s: &Stream) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => stream_id_contains(s, t),
            FilterTerms::Seq(_) => false,
        }
    }

    /// Whether a row of the streams panel matches (a seq: see [`seq_stream`]).
    pub fn matches_stream(&self, s: &Stream) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                stream_id_contains(s, t)
                    || contains_ci(shown_state(s).0.as_str(), t)
                    || contains_ci(s.ingest.as_str(), t)
                    || s.last_event.as_deref().is_some_and(|e| contains_ci(e, t))
            }
            FilterTerms::Seq(_) => false,
        }
    }

    /// Whether a recording matches; `stream_hit` is [`Self::matches_stream_id`] of its stream
    /// and `constant_hit` is [`Self::matches_every_recording`] (both worked out once, not per
    /// recording).
    pub fn matches_recording(&self, r: &Recording, stream_hit: bool, constant_hit: bool) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                stream_hit
                    || constant_hit
                    || contains_ci(&r.uri, t)
                    || r.push_args
                        .iter()
                        .any(|(k, v)| contains_ci(k, t) || contains_ci(v, t))
            }
            FilterTerms::Seq(n) => r.seq == *n,
        }
    }

    /// Whether the text matches what every recording is: kind `recording`, outcome
    /// `accepted` (only accepted recordings are kept).
    pub fn matches_every_recording(&self) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                contains_ci("recording", t) || contains_ci(Outcome::Accepted.as_str(), t)
            }
            FilterTerms::Seq(_) => false,
        }
    }

    /// Whether a request of the log matches.
    pub fn matches_request(&self, e: &LogEntry, streams: &[Stream]) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                e.stream
                    .and_then(|i| streams.get(i as usize))
                    .is_some_and(|s| stream_id_contains(s, t))
                    || contains_ci(&e.summary, t)
                    || contains_ci(&e.path, t)
                    || contains_ci(e.outcome.as_str(), t)
                    || e.kind.as_deref().is_some_and(|k| contains_ci(k, t))
                    || contains_ci(&e.detail, t)
                    || e.error.as_deref().is_some_and(|r| contains_ci(r, t))
            }
            FilterTerms::Seq(n) => e.seq == *n,
        }
    }
}

/// The stream that request `seq` concerns, from the request log or else from the recording
/// it reported: both are in seq order (the store is fed in seq order), so two binary
/// searches, whatever their size.
pub fn seq_stream(seq: u64, log: &VecDeque<LogEntry>, recordings: &[Recording]) -> Option<u32> {
    let i = log.partition_point(|e| e.seq < seq);
    if let Some(e) = log.get(i).filter(|e| e.seq == seq) {
        return e.stream;
    }
    let i = recordings.partition_point(|r| r.seq < seq);
    recordings.get(i).filter(|r| r.seq == seq).map(|r| r.stream)
}

/// The recordings that match the filter, as indices into the recordings, kept up to date
/// incrementally: new recordings are examined once when they arrive, and the whole list is
/// rebuilt (a budget per frame) only when the filter text changes.
#[derive(Debug, Default)]
pub struct RecordingIndex {
    query: FilterQuery,
    matches: Vec<u32>,
    scanned: usize,
    /// Per stream, [`FilterQuery::recordings_of`].
    stream_match: Vec<Option<bool>>,
    every_recording: bool,
}

impl RecordingIndex {
    /// Starts over with a new filter.
    fn reset(&mut self, query: &FilterQuery) {
        self.query = query.clone();
        self.matches.clear();
        self.scanned = 0;
        self.stream_match.clear();
        self.every_recording = query.terms.matches_every_recording();
    }

    /// Examines up to `budget` recordings not examined yet; returns how many it examined.
    fn advance(&mut self, streams: &[Stream], recordings: &[Recording], budget: usize) -> usize {
        if self.query.is_all() {
            self.scanned = recordings.len();
            return 0;
        }
        if self.scanned > recordings.len() {
            // Only possible if the source shrank (a new store): start over.
            let query = std::mem::take(&mut self.query);
            self.reset(&query);
        }
        if let FilterTerms::Seq(n) = self.query.terms {
            // Recordings are in seq order: one binary search instead of a scan.
            let new = &recordings[self.scanned..];
            let i = new.partition_point(|r| r.seq < n);
            let of_provider = |r: &Recording| {
                streams
                    .get(r.stream as usize)
                    .is_some_and(|s| self.query.provider_matches(s.provider))
            };
            if new.get(i).is_some_and(|r| r.seq == n && of_provider(r)) {
                self.matches.push((self.scanned + i) as u32);
            }
            self.scanned = recordings.len();
            return 0;
        }
        for s in &streams[self.stream_match.len().min(streams.len())..] {
            self.stream_match.push(self.query.recordings_of(s));
        }
        let end = recordings.len().min(self.scanned.saturating_add(budget));
        let start = self.scanned;
        for (i, r) in recordings[start..end].iter().enumerate() {
            let stream = self.stream_match.get(r.stream as usize).copied();
            let Some(stream_hit) = stream.unwrap_or(Some(false)) else {
                continue;
            };
            if self
                .query
                .terms
                .matches_recording(r, stream_hit, self.every_recording)
            {
                self.matches.push((start + i) as u32);
            }
        }
        self.scanned = end;
        end - start
    }

    /// Number of rows the recordings panel has, given how many recordings the source holds.
    /// While a new filter is still being applied this counts the matches found so far.
    pub fn rows(&self, total: usize) -> usize {
        if self.query.is_all() {
            total
        } else {
            self.matches.len()
        }
    }

    /// The recording shown at row `row`.
    pub fn recording_at(&self, row: usize) -> Option<usize> {
        if self.query.is_all() {
            Some(row)
        } else {
            self.matches.get(row).map(|&i| i as usize)
        }
    }

    /// How many recordings remain to be examined for the current filter.
    pub fn pending(&self, total: usize) -> usize {
        total.saturating_sub(self.scanned)
    }
}

/// Whether a stream's domain, app or stream contains `text`.
fn stream_id_contains(s: &Stream, text: &str) -> bool {
    contains_ci(&s.id.domain, text)
        || contains_ci(&s.id.app, text)
        || contains_ci(&s.id.stream, text)
}

/// Work one frame did, counted so that tests can show that a frame costs the same with a
/// thousand recordings or a million without timing anything.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameWork {
    /// Recordings the filter examined.
    pub recordings_examined: usize,
    /// Rows of the recordings panel looked up (one per row drawn).
    pub recording_rows_resolved: usize,
}

/// Requests per second over the last minute, for the header sparkline. Computed from the
/// exact counters at each frame, so it stays right when the bounded request log overflows.
#[derive(Debug, Default, Clone)]
pub struct RateHistory {
    last: Option<(i64, u64)>,
    /// Requests per second, oldest first.
    pub per_second: VecDeque<u64>,
}

impl RateHistory {
    /// Records the request total seen at `now`.
    pub fn observe(&mut self, now: DateTime<Utc>, total: u64) {
        let sec = now.timestamp();
        match self.last {
            None => self.last = Some((sec, total)),
            Some((last_sec, last_total)) if sec > last_sec => {
                let gap = ((sec - last_sec) as usize).min(RATE_SECONDS);
                for _ in 1..gap {
                    self.per_second.push_back(0);
                }
                self.per_second.push_back(total.saturating_sub(last_total));
                while self.per_second.len() > RATE_SECONDS {
                    self.per_second.pop_front();
                }
                self.last = Some((sec, total));
            }
            Some(_) => {}
        }
    }

    /// Requests in the last complete second.
    pub fn last_second(&self) -> u64 {
        self.per_second.back().copied().unwrap_or(0)
    }
}

/// A popup over the panels.
#[derive(Debug, Clone)]
pub enum Popup {
    /// Every key, from the key table.
    Help {
        /// First line shown.
        scroll: u16,
    },
    /// One request or recording in full.
    Detail(Detail),
}

/// The content of a detail popup, built (and sanitized) once when it opens.
#[derive(Debug, Clone)]
pub struct Detail {
    /// The popup title.
    pub title: String,
    /// A stream's name after the title: when the title does not fit, the name is cut at its
    /// start, so that it keeps its most specific part (`stream …/live/cam2`).
    pub name: Option<String>,
    /// Sanitized, styled lines.
    pub lines: Vec<Line<'static>>,
    /// First line shown.
    pub scroll: u16,
    /// The alerts list (`a`): rebuilt from the store at every frame, so it stays live.
    pub live_alerts: bool,
}

/// A short message in the footer (e.g. where the export was written).
#[derive(Debug, Clone)]
pub struct Toast {
    /// The message (already safe for the terminal).
    pub text: String,
    /// When it disappears.
    pub until: DateTime<Utc>,
    /// Shown as an alarm rather than a note.
    pub error: bool,
}

/// Where each panel was drawn last frame: for mouse hit-testing and page sizes.
#[derive(Debug, Default, Clone, Copy)]
pub struct PanelAreas {
    /// The streams panel (with its border).
    pub streams: Rect,
    /// The recordings panel.
    pub recordings: Rect,
    /// The request log panel.
    pub requests: Rect,
    /// The open popup, if any.
    pub popup: Rect,
}

impl PanelAreas {
    /// The panel at a screen position.
    pub fn panel_at(&self, column: u16, row: u16) -> Option<Panel> {
        let p = ratatui::layout::Position::new(column, row);
        [
            (self.streams, Panel::Streams),
            (self.recordings, Panel::Recordings),
            (self.requests, Panel::Requests),
        ]
        .into_iter()
        .find(|(r, _)| r.contains(p))
        .map(|(_, panel)| panel)
    }

    /// Rows of data a panel shows (its height minus borders and the column header).
    pub fn page(&self, panel: Panel) -> usize {
        let r = match panel {
            Panel::Streams => self.streams,
            Panel::Recordings => self.recordings,
            Panel::Requests => self.requests,
        };
        (r.height as usize).saturating_sub(3).max(1)
    }
}

/// All view state.
#[derive(Debug)]
pub struct ViewState {
    /// Ring the terminal bell on each new critical alert (`--bell`).
    pub bell: bool,
    /// The focused panel.
    pub focus: Panel,
    /// Streams panel selection.
    pub streams: Cursor,
    /// Recordings panel selection.
    pub recordings: Cursor,
    /// Request log selection.
    pub requests: Cursor,
    /// The filter text (raw; shown sanitized).
    pub filter: String,
    /// The filter is being typed.
    pub filter_editing: bool,
    /// The recordings and request log keep their last row selected as rows arrive.
    pub follow: bool,
    /// The frozen copy, while frozen. Shared so that a frame can borrow it while it updates
    /// the rest of the view state.
    pub frozen: Option<Arc<Frozen>>,
    /// Streams panel order.
    pub sort: StreamSort,
    /// Times in UTC (else local time).
    pub utc: bool,
    /// The open popup.
    pub popup: Option<Popup>,
    /// A footer message (Esc dismisses it).
    pub toast: Option<Toast>,
    /// The folder `e` offers to write the export to (the last one used; at first the
    /// journal's folder). `None` when there is nothing to export to a folder: `e` then runs
    /// the exporter at once, which says why.
    pub export_folder: Option<String>,
    /// The export folder being typed (`e` opens it pre-filled with [`Self::export_folder`];
    /// Enter writes there, Esc cancels).
    pub export_prompt: Option<String>,
    /// Colours on or off.
    pub theme: Theme,
    /// Where panels were drawn.
    pub areas: PanelAreas,
    /// Requests per second.
    pub rate: RateHistory,
    /// Sanitized (`domain/app/stream`, `app/stream`) per stream, made once per stream.
    stream_labels: Vec<String>,
    /// The providers of the streams labelled so far, in [`Provider::ALL`] order.
    providers_seen: [bool; Provider::ALL.len()],
    stream_order: Vec<u32>,
    query: FilterQuery,
    recording_index: RecordingIndex,
    log_rows: Vec<usize>,
    log_key: Option<(u64, u64, usize, u64)>,
    filter_generation: u64,
    work: Cell<FrameWork>,
}

impl ViewState {
    /// The view at start: streams focused, following, no filter.
    pub fn new(theme: Theme, utc: bool) -> Self {
        ViewState {
            bell: false,
            focus: Panel::Streams,
            streams: Cursor::default(),
            recordings: Cursor::default(),
            requests: Cursor::default(),
            filter: String::new(),
            filter_editing: false,
            follow: true,
            frozen: None,
            sort: StreamSort::State,
            utc,
            popup: None,
            toast: None,
            export_folder: None,
            export_prompt: None,
            theme,
            areas: PanelAreas::default(),
            rate: RateHistory::default(),
            stream_labels: Vec::new(),
            providers_seen: [false; Provider::ALL.len()],
            stream_order: Vec::new(),
            query: FilterQuery::default(),
            recording_index: RecordingIndex::default(),
            log_rows: Vec::new(),
            log_key: None,
            filter_generation: 0,
            work: Cell::new(FrameWork::default()),
        }
    }

    /// Sets the filter text; the derived row lists are rebuilt on the next frame.
    pub fn set_filter(&mut self, text: String) {
        if text != self.filter {
            // Clearing the filter keeps the selected rows selected (without a filter a row
            // is its recording / log position); a new filter starts at the top of its
            // matches, which are still being found.
            let keep_recording = self.recording_index.recording_at(self.recordings.selected);
            let keep_request = self.log_rows.get(self.requests.selected).copied();
            self.filter = text;
            self.query = FilterQuery::parse(&self.filter);
            self.filter_generation += 1;
            self.recording_index.reset(&self.query);
            self.log_key = None;
            self.streams = Cursor::default();
            if !self.follow {
                if self.filter.is_empty() {
                    self.recordings.selected = keep_recording.unwrap_or(0);
                    self.requests.selected = keep_request.unwrap_or(0);
                } else {
                    self.recordings = Cursor::default();
                    self.requests = Cursor::default();
                }
            }
        }
    }

    /// Brings the derived row lists up to date with the source. Cheap per frame: new
    /// streams are labelled once, new recordings examined once, the log (bounded) re-filtered
    /// only when it changed.
    pub fn sync(&mut self, src: &Source) {
        self.work.set(FrameWork::default());
        for s in &src.streams[self.stream_labels.len().min(src.streams.len())..] {
            let label = format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream);
            self.stream_labels.push(clean(&label, FIELD_MAX));
            self.providers_seen[s.provider.index()] = true;
        }

        let seq_stream = match self.query.terms {
            FilterTerms::Seq(n) => seq_stream(n, src.log, src.recordings),
            _ => None,
        };
        let query = &self.query;
        self.stream_order = (0..src.streams.len() as u32)
            .filter(|&i| {
                let s = &src.streams[i as usize];
                query.provider_matches(s.provider)
                    && (seq_stream == Some(i) || query.terms.matches_stream(s))
            })
            .collect();
        let streams = src.streams;
        let labels = &self.stream_labels;
        match self.sort {
            StreamSort::Name => self
                .stream_order
                .sort_by(|&a, &b| labels[a as usize].cmp(&labels[b as usize])),
            StreamSort::State => self.stream_order.sort_by(|&a, &b| {
                let rank = |i: u32| state_rank(shown_state(&streams[i as usize]).0);
                rank(a)
                    .cmp(&rank(b))
                    .then_with(|| labels[a as usize].cmp(&labels[b as usize]))
            }),
            StreamSort::LastEvent => self.stream_order.sort_by(|&a, &b| {
                streams[b as usize]
                    .last_event_at
                    .cmp(&streams[a as usize].last_event_at)
                    .then_with(|| labels[a as usize].cmp(&labels[b as usize]))
            }),
        }

        let examined = self
            .recording_index
            .advance(src.streams, src.recordings, FILTER_BUDGET);
        self.count_work(|w| w.recordings_examined += examined);

        let key = (
            src.log.front().map_or(0, |e| e.seq),
            src.log.back().map_or(0, |e| e.seq),
            src.log.len(),
            self.filter_generation,
        );
        if self.log_key != Some(key) {
            self.log_key = Some(key);
            self.log_rows = if self.query.is_all() {
                (0..src.log.len()).collect()
            } else {
                src.log
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| self.query.matches_request(e, src.streams, e.provider))
                    .map(|(i, _)| i)
                    .collect()
            };
        }

        if self.follow {
            let recs = self.recording_rows(src);
            self.recordings.selected = recs.saturating_sub(1);
            self.requests.selected = self.log_rows.len().saturating_sub(1);
        }
    }

    /// The providers of the streams seen, in [`Provider::ALL`] order.
    pub fn providers_seen(&self) -> impl Iterator<Item = Provider> + '_ {
        Provider::ALL
            .into_iter()
            .zip(self.providers_seen)
            .filter_map(|(p, seen)| seen.then_some(p))
    }

    /// Whether streams of more than one provider were seen: rows then say whose they are,
    /// and `p` is offered in the footer. With one provider the screen is as it always was.
    pub fn several_providers(&self) -> bool {
        self.providers_seen.iter().filter(|&&s| s).count() > 1
    }

    /// Sanitized `domain/app/stream` of stream `i`.
    pub fn stream_label(&self, i: usize) -> &str {
        self.stream_labels.get(i).map_or("?", String::as_str)
    }

    /// Stream indices in display order (filtered, sorted).
    pub fn stream_order(&self) -> &[u32] {
        &self.stream_order
    }

    /// Rows in the recordings panel.
    pub fn recording_rows(&self, src: &Source) -> usize {
        self.recording_index.rows(src.recordings.len())
    }

    /// The recording (index into the source's recordings) at a row.
    pub fn recording_at(&self, row: usize) -> Option<usize> {
        self.count_work(|w| w.recording_rows_resolved += 1);
        self.recording_index.recording_at(row)
    }

    /// The parsed filter.
    pub fn query(&self) -> &FilterQuery {
        &self.query
    }

    /// What the last frame (since the last [`ViewState::sync`]) did.
    pub fn work(&self) -> FrameWork {
        self.work.get()
    }

    fn count_work(&self, f: impl FnOnce(&mut FrameWork)) {
        let mut w = self.work.get();
        f(&mut w);
        self.work.set(w);
    }

    /// Positions in the source's log, in display order.
    pub fn log_rows(&self) -> &[usize] {
        &self.log_rows
    }

    /// Recordings the filter has still to examine (shown as progress; keeps frames coming).
    pub fn filter_pending(&self, src: &Source) -> usize {
        self.recording_index.pending(src.recordings.len())
    }

    /// Rows in a panel.
    pub fn rows(&self, panel: Panel, src: &Source) -> usize {
        match panel {
            Panel::Streams => self.stream_order.len(),
            Panel::Recordings => self.recording_rows(src),
            Panel::Requests => self.log_rows.len(),
        }
    }

    /// The cursor of a panel.
    pub fn cursor_mut(&mut self, panel: Panel) -> &mut Cursor {
        match panel {
            Panel::Streams => &mut self.streams,
            Panel::Recordings => &mut self.recordings,
            Panel::Requests => &mut self.requests,
        }
    }
}

/// Streams whose recording failed sort first, then those that are recording.
fn state_rank(s: RecordState) -> u8 {
    match s {
        RecordState::Error => 0,
        RecordState::Started => 1,
        RecordState::Resumed => 2,
        RecordState::Paused => 3,
        RecordState::Ended => 4,
        RecordState::None => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::JournalEntry;
    use crate::event::Method;
    use crate::providers::aliyun::classify;

    /// A store fed like the sequencer feeds it: (seq, outcome, body) per request.
    fn store(requests: &[(u64, Outcome, &str)]) -> Store {
        store_keeping(requests, 100)
    }

    /// Like [`store`], with a request log of `log_capacity`.
    fn store_keeping(requests: &[(u64, Outcome, &str)], log_capacity: usize) -> Store {
        let mut store = Store::new(log_capacity);
        for &(seq, outcome, body) in requests {
            let verdict = classify(Method::Post, None, body.as_bytes());
            let cb = verdict.as_ref().ok();
            let entry = JournalEntry {
                seq,
                received_at: DateTime::from_timestamp(1_700_000_000 + seq as i64, 0).unwrap(),
                remote: "127.0.0.1:1".into(),
                method: "POST".into(),
                path: "/recmon".into(),
                headers: Default::default(),
                outcome: if cb.is_some() {
                    outcome
                } else {
                    Outcome::Rejected
                },
                status: if cb.is_some() { 200 } else { 400 },
                provider: Default::default(),
                kind: cb.map(|c| c.kind().to_string()),
                forward: Vec::new(),
                error: verdict.as_ref().err().map(|r| r.error.clone()),
                body_bytes: body.len() as u64,
                body: None,
                body_text: None,
                body_base64: None,
                body_truncated: None,
                auth: None,
            };
            store.apply(&entry, cb, Arc::from(""));
        }
        store
    }

    const STARTED: &str =
        r#"{"domain":"d.example","app":"studio","stream":"cam-1","event":"record_started"}"#;
    const PAUSED: &str =
        r#"{"domain":"d.example","app":"studio","stream":"cam-2","event":"record_paused"}"#;
    const REC: &str = r#"{"domain":"d.example","app":"studio","stream":"cam-1","uri":"record/x/7_1.m3u8","duration":5,"start_time":1,"stop_time":6,"push_args":{"callback_show":"news"}}"#;

    fn sample() -> Store {
        store(&[
            (1, Outcome::Accepted, STARTED),
            (2, Outcome::Accepted, PAUSED),
            (3, Outcome::Rejected, "{broken"),
            (4, Outcome::Accepted, REC),
            (5, Outcome::Duplicate, PAUSED),
        ])
    }

    /// The seqs of the requests, the stream names and the recording uris a filter keeps.
    fn kept(store: &Store, filter: &str) -> (Vec<u64>, Vec<String>, Vec<String>) {
        let mut v = ViewState::new(Theme { color: false }, true);
        v.set_filter(filter.to_string());
        let src = Source::new(
            store,
            None,
            DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
        );
        v.sync(&src);
        let requests = v.log_rows().iter().map(|&i| src.log[i].seq).collect();
        let mut streams: Vec<String> = v
            .stream_order()
            .iter()
            .map(|&i| src.streams[i as usize].id.stream.clone())
            .collect();
        streams.sort();
        let recordings = (0..v.recording_rows(&src))
            .filter_map(|row| v.recording_at(row))
            .map(|i| src.recordings[i].uri.to_string())
            .collect();
        (requests, streams, recordings)
    }

    #[test]
    fn filter_text_is_a_seq_only_as_hash_and_digits() {
        assert_eq!(FilterTerms::parse(""), FilterTerms::All);
        assert_eq!(FilterTerms::parse("#120"), FilterTerms::Seq(120));
        assert_eq!(FilterTerms::parse(" #7 "), FilterTerms::Seq(7));
        for text in [
            "#",
            "#12a",
            "# 12",
            "120",
            "#-1",
            "#99999999999999999999999",
        ] {
            assert_eq!(
                FilterQuery::parse(text),
                FilterQuery {
                    provider: None,
                    terms: FilterTerms::Text(text.into())
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_provider_term_names_a_provider_by_name_tag_or_prefix_anywhere_in_the_text() {
        let q = |provider, terms| FilterQuery {
            provider: Some(provider),
            terms,
        };
        assert_eq!(
            FilterQuery::parse("provider:srs"),
            q(Provider::Srs, FilterTerms::All)
        );
        for text in [
            "provider:ngx",
            "PROVIDER:Nginx",
            "provider:nginx-rtmp",
            "provider:n",
        ] {
            assert_eq!(
                FilterQuery::parse(text),
                q(Provider::NginxRtmp, FilterTerms::All),
                "{text:?}"
            );
        }
        assert_eq!(
            FilterQuery::parse("provider:tc #12"),
            q(Provider::Tencent, FilterTerms::Seq(12))
        );
        assert_eq!(
            FilterQuery::parse("not  provider:ali valid"),
            q(Provider::Aliyun, FilterTerms::Text("not valid".into()))
        );
        // Not a provider: the whole text is text, as before.
        for text in [
            "provider:",
            "provider:xyz",
            "provider: srs",
            "myprovider:srs",
        ] {
            assert_eq!(FilterQuery::parse(text).provider, None, "{text:?}");
        }
        assert_eq!(
            with_provider_term("cam provider:srs", Some(Provider::Tencent)),
            "provider:tencent cam"
        );
        assert_eq!(
            with_provider_term("cam", Some(Provider::Srs)),
            "provider:srs cam"
        );
        assert_eq!(with_provider_term("provider:srs cam", None), "cam");
        assert_eq!(with_provider_term("", Some(Provider::Srs)), "provider:srs");
    }

    #[test]
    fn filter_matches_outcome_in_the_request_log() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "rejected");
        assert_eq!(requests, [3]);
        assert!(streams.is_empty() && recordings.is_empty());
        assert_eq!(kept(&s, "DUPLICATE").0, [5], "any case");
        // Every recording was accepted.
        let (requests, _, recordings) = kept(&s, "accepted");
        assert_eq!(requests, [1, 2, 4]);
        assert_eq!(recordings, ["record/x/7_1.m3u8"]);
    }

    #[test]
    fn filter_matches_event_state_and_kind() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "record_paused");
        assert_eq!(requests, [2, 5]);
        assert_eq!(streams, ["cam-2"], "its last event");
        assert!(recordings.is_empty());
        assert_eq!(kept(&s, "paused").1, ["cam-2"], "its state");
        let (requests, streams, recordings) = kept(&s, "recording");
        assert_eq!(requests, [4], "the kind");
        assert_eq!(streams, ["cam-1"], "its last event");
        assert_eq!(recordings.len(), 1);
        assert_eq!(kept(&s, "status").0, [1, 2, 5]);
        // The reason a request was rejected.
        assert_eq!(kept(&s, "not valid JSON").0, [3]);
    }

    #[test]
    fn filter_still_matches_identity_uri_and_push_args() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "CAM-1");
        assert_eq!(requests, [1, 4]);
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings.len(), 1);
        assert_eq!(kept(&s, "news").2.len(), 1);
        assert_eq!(kept(&s, "7_1.m3u8").0, [4]);
        let (requests, streams, recordings) = kept(&s, "nothing-like-this");
        assert!(requests.is_empty() && streams.is_empty() && recordings.is_empty());
    }

    #[test]
    fn seq_filter_is_exact_and_shows_the_request_its_recording_and_stream() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "#4");
        assert_eq!(requests, [4]);
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings, ["record/x/7_1.m3u8"]);
        // #2 is a status event: no recording; not #20-something, not seq 12.
        let (requests, streams, recordings) = kept(&s, "#2");
        assert_eq!(requests, [2]);
        assert_eq!(streams, ["cam-2"]);
        assert!(recordings.is_empty());
        // A rejected request has no stream.
        assert_eq!(kept(&s, "#3"), (vec![3], vec![], vec![]));
        assert_eq!(kept(&s, "#99"), (vec![], vec![], vec![]));
    }

    /// A store of several providers' requests, each journaled with its provider (the line
    /// written as the journal writes it): (provider, method, query, body) per request.
    fn mixed_store(requests: &[(Provider, Method, Option<&str>, &str)]) -> Store {
        let mut store = Store::new(100);
        for (i, &(provider, method, query, body)) in requests.iter().enumerate() {
            let (verdict, _) = crate::providers::classify(provider, method, query, body.as_bytes());
            let cb = verdict.as_ref().ok();
            let entry = JournalEntry {
                seq: i as u64 + 1,
                received_at: DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
                remote: "127.0.0.1:1".into(),
                method: if method == Method::Get { "GET" } else { "POST" }.into(),
                path: "/cb".into(),
                headers: Default::default(),
                outcome: if cb.is_some() {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                },
                status: 200,
                provider,
                kind: cb.map(|c| c.kind().to_string()),
                forward: Vec::new(),
                error: verdict.as_ref().err().map(|r| r.error.clone()),
                body_bytes: body.len() as u64,
                body: None,
                body_text: Some(body.to_string()),
                body_base64: None,
                body_truncated: None,
                auth: None,
            };
            let line = serde_json::to_string(&entry).unwrap();
            store.apply(&entry, cb, Arc::from(line.as_str()));
        }
        store
    }

    #[test]
    fn a_provider_filter_keeps_its_streams_their_recordings_and_its_requests_even_without_a_stream()
    {
        let s = mixed_store(&[
            (Provider::Aliyun, Method::Post, None, STARTED),
            (
                Provider::Srs,
                Method::Post,
                None,
                r#"{"action":"on_publish","vhost":"v","app":"live","stream":"hall"}"#,
            ),
            (
                Provider::Srs,
                Method::Post,
                None,
                r#"{"action":"on_dvr","vhost":"v","app":"live","stream":"hall","file":"hall.flv"}"#,
            ),
            // Recognised as SRS's and refused: no stream, but SRS's all the same.
            (Provider::Srs, Method::Post, None, r#"{"action":"on_play"}"#),
            (Provider::Aliyun, Method::Post, None, REC),
        ]);
        assert_eq!(s.log()[3].stream, None);
        let (requests, streams, recordings) = kept(&s, "provider:srs");
        assert_eq!(requests, [2, 3, 4]);
        assert_eq!(streams, ["hall"]);
        assert_eq!(recordings, ["hall.flv"]);
        let (requests, streams, recordings) = kept(&s, "provider:ali");
        assert_eq!(requests, [1, 5]);
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings, ["record/x/7_1.m3u8"]);
        // With text or a seq: both must match.
        assert_eq!(kept(&s, "provider:srs rejected").0, [4]);
        assert_eq!(kept(&s, "provider:srs #3").2, ["hall.flv"]);
        assert_eq!(kept(&s, "provider:ali #3"), (vec![], vec![], vec![]));
        assert_eq!(kept(&s, "provider:tencent"), (vec![], vec![], vec![]));
    }

    #[test]
    fn seq_filter_finds_a_recording_the_bounded_log_has_dropped() {
        let s = store_keeping(
            &[(1, Outcome::Accepted, REC), (2, Outcome::Accepted, STARTED)],
            1,
        );
        assert_eq!(s.log().len(), 1);
        let (requests, streams, recordings) = kept(&s, "#1");
        assert!(requests.is_empty(), "the log no longer has it");
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings.len(), 1);
    }

    #[test]
    fn window_keeps_selection_visible_and_never_overshoots() {
        let mut c = Cursor::default();
        assert_eq!(c.window(0, 10), 0..0);
        c.selected = 50;
        assert_eq!(c.window(100, 10), 41..51);
        c.selected = 45;
        assert_eq!(c.window(100, 10), 41..51);
        c.selected = 10;
        assert_eq!(c.window(100, 10), 10..20);
        c.selected = 500;
        assert_eq!(c.window(100, 10), 90..100);
        assert_eq!(c.selected, 99);
        // Rows shrink under the window (a filter): the window moves up.
        assert_eq!(c.window(5, 10), 0..5);
        assert_eq!(c.selected, 4);
    }

    #[test]
    fn move_by_clamps() {
        let mut c = Cursor::default();
        c.move_by(-3, 10);
        assert_eq!(c.selected, 0);
        c.move_by(25, 10);
        assert_eq!(c.selected, 9);
        c.move_by(1, 0);
        assert_eq!(c.selected, 0);
    }

    #[test]
    fn rate_history_counts_per_second_and_fills_gaps() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let mut r = RateHistory::default();
        r.observe(t(0), 10);
        r.observe(t(0), 12);
        assert!(r.per_second.is_empty());
        r.observe(t(1), 15);
        r.observe(t(4), 16);
        assert_eq!(Vec::from(r.per_second.clone()), vec![5, 0, 0, 1]);
        r.observe(t(1000), 16);
        assert_eq!(r.per_second.len(), RATE_SECONDS);
        assert_eq!(r.last_second(), 0);
    }
}
