//! View state: what the terminal UI remembers that is not session data — focus, selections,
//! scroll offsets, the filter, follow and freeze, sort order, time zone, popups — plus small
//! caches derived from the store so that a frame costs the same with ten recordings or a
//! million. The store itself is never changed from here.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::text::{clean, clean_tail, contains_ci, FIELD_MAX};
use super::theme::Theme;
use crate::callback::RecordState;
use crate::store::{Counters, LogEntry, Recording, Store, Stream};

/// Recordings the filter examines per frame. A new filter over a million rows is spread over
/// a few frames, so the store lock (which the sequencer needs to apply callbacks) is never
/// held for long.
pub const FILTER_BUDGET: usize = 100_000;

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
            journal_failures: failures,
            last_journal_error: last_error.map(str::to_owned),
            auth_failures: store.auth_failures(),
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
    /// The time the panels' clocks use (ages, time in state).
    pub now: DateTime<Utc>,
    /// Requests that arrived since the view was frozen (0 when live).
    pub arrived_while_frozen: u64,
    /// Recordings among them.
    pub recordings_while_frozen: usize,
    /// Rejected requests among them.
    pub rejected_while_frozen: u64,
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
                    now,
                    arrived_while_frozen: 0,
                    recordings_while_frozen: 0,
                    rejected_while_frozen: 0,
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
                    now: f.at,
                    arrived_while_frozen: store.last_seq().saturating_sub(f.last_seq),
                    recordings_while_frozen: store.recordings().len() - recordings.len(),
                    rejected_while_frozen: store
                        .counters()
                        .rejected
                        .saturating_sub(f.counters.rejected),
                }
            }
        }
    }
}

/// The recordings that match the filter, as indices into the recordings, kept up to date
/// incrementally: new recordings are examined once when they arrive, and the whole list is
/// rebuilt (a budget per frame) only when the filter text changes.
#[derive(Debug, Default)]
pub struct RecordingIndex {
    needle: String,
    matches: Vec<u32>,
    scanned: usize,
    stream_match: Vec<bool>,
}

impl RecordingIndex {
    /// Starts over with a new filter text.
    fn reset(&mut self, needle: &str) {
        self.needle = needle.to_owned();
        self.matches.clear();
        self.scanned = 0;
        self.stream_match.clear();
    }

    /// Examines up to `budget` recordings not examined yet.
    fn advance(&mut self, streams: &[Stream], recordings: &[Recording], budget: usize) {
        if self.needle.is_empty() {
            self.scanned = recordings.len();
            return;
        }
        if self.scanned > recordings.len() {
            // Only possible if the source shrank (a new store): start over.
            let needle = std::mem::take(&mut self.needle);
            self.reset(&needle);
        }
        for s in &streams[self.stream_match.len()..] {
            self.stream_match.push(stream_matches(s, &self.needle));
        }
        let end = recordings.len().min(self.scanned.saturating_add(budget));
        for (i, r) in recordings[self.scanned..end].iter().enumerate() {
            let hit = self
                .stream_match
                .get(r.stream as usize)
                .copied()
                .unwrap_or(false)
                || contains_ci(&r.uri, &self.needle)
                || r.push_args
                    .iter()
                    .any(|(k, v)| contains_ci(k, &self.needle) || contains_ci(v, &self.needle));
            if hit {
                self.matches.push((self.scanned + i) as u32);
            }
        }
        self.scanned = end;
    }

    /// Number of rows the recordings panel has, given how many recordings the source holds.
    /// While a new filter is still being applied this counts the matches found so far.
    pub fn rows(&self, total: usize) -> usize {
        if self.needle.is_empty() {
            total
        } else {
            self.matches.len()
        }
    }

    /// The recording shown at row `row`.
    pub fn recording_at(&self, row: usize) -> Option<usize> {
        if self.needle.is_empty() {
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

/// Whether a stream's identity matches the filter.
pub fn stream_matches(s: &Stream, needle: &str) -> bool {
    contains_ci(&s.id.domain, needle)
        || contains_ci(&s.id.app, needle)
        || contains_ci(&s.id.stream, needle)
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
    /// Sanitized, styled lines.
    pub lines: Vec<Line<'static>>,
    /// First line shown.
    pub scroll: u16,
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
    /// A footer message.
    pub toast: Option<Toast>,
    /// Colours on or off.
    pub theme: Theme,
    /// Where panels were drawn.
    pub areas: PanelAreas,
    /// Requests per second.
    pub rate: RateHistory,
    /// Sanitized (`domain/app/stream`, `app/stream`) per stream, made once per stream.
    stream_labels: Vec<(String, String)>,
    stream_order: Vec<u32>,
    recording_index: RecordingIndex,
    log_rows: Vec<usize>,
    log_key: Option<(u64, u64, usize, u64)>,
    filter_generation: u64,
}

impl ViewState {
    /// The view at start: streams focused, following, no filter.
    pub fn new(theme: Theme, utc: bool) -> Self {
        ViewState {
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
            theme,
            areas: PanelAreas::default(),
            rate: RateHistory::default(),
            stream_labels: Vec::new(),
            stream_order: Vec::new(),
            recording_index: RecordingIndex::default(),
            log_rows: Vec::new(),
            log_key: None,
            filter_generation: 0,
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
            self.filter_generation += 1;
            self.recording_index.reset(&self.filter);
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
        for s in &src.streams[self.stream_labels.len().min(src.streams.len())..] {
            let label = format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream);
            let short = format!("{}/{}", s.id.app, s.id.stream);
            self.stream_labels
                .push((clean(&label, FIELD_MAX), clean(&short, FIELD_MAX)));
        }

        self.stream_order = (0..src.streams.len() as u32)
            .filter(|&i| {
                self.filter.is_empty() || stream_matches(&src.streams[i as usize], &self.filter)
            })
            .collect();
        let streams = src.streams;
        let labels = &self.stream_labels;
        match self.sort {
            StreamSort::Name => self
                .stream_order
                .sort_by(|&a, &b| labels[a as usize].0.cmp(&labels[b as usize].0)),
            StreamSort::State => self.stream_order.sort_by(|&a, &b| {
                let rank = |i: u32| state_rank(streams[i as usize].state);
                rank(a)
                    .cmp(&rank(b))
                    .then_with(|| labels[a as usize].0.cmp(&labels[b as usize].0))
            }),
            StreamSort::LastEvent => self.stream_order.sort_by(|&a, &b| {
                streams[b as usize]
                    .last_event_at
                    .cmp(&streams[a as usize].last_event_at)
                    .then_with(|| labels[a as usize].0.cmp(&labels[b as usize].0))
            }),
        }

        self.recording_index
            .advance(src.streams, src.recordings, FILTER_BUDGET);

        let key = (
            src.log.front().map_or(0, |e| e.seq),
            src.log.back().map_or(0, |e| e.seq),
            src.log.len(),
            self.filter_generation,
        );
        if self.log_key != Some(key) {
            self.log_key = Some(key);
            self.log_rows = if self.filter.is_empty() {
                (0..src.log.len()).collect()
            } else {
                src.log
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| log_matches(e, src.streams, &self.filter))
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

    /// Sanitized `domain/app/stream` of stream `i`.
    pub fn stream_label(&self, i: usize) -> &str {
        self.stream_labels.get(i).map_or("?", |l| l.0.as_str())
    }

    /// Stream `i` in at most `width` characters for a narrow column: `domain/app/stream` if
    /// it fits, else `app/stream` (the domain is usually the same for every stream), else the
    /// end of it, which is what tells streams apart.
    pub fn stream_label_within(&self, i: usize, width: usize) -> String {
        let Some((full, short)) = self.stream_labels.get(i) else {
            return "?".into();
        };
        if full.chars().count() <= width {
            full.clone()
        } else {
            clean_tail(short, width)
        }
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
        self.recording_index.recording_at(row)
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

/// Streams that are recording sort first.
fn state_rank(s: RecordState) -> u8 {
    match s {
        RecordState::Started => 0,
        RecordState::Resumed => 1,
        RecordState::Paused => 2,
        RecordState::None => 3,
    }
}

/// Whether a request matches the filter: its stream, its uri / event, or its path.
fn log_matches(e: &LogEntry, streams: &[Stream], needle: &str) -> bool {
    e.stream
        .and_then(|i| streams.get(i as usize))
        .is_some_and(|s| stream_matches(s, needle))
        || contains_ci(&e.summary, needle)
        || contains_ci(&e.path, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

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
