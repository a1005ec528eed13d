//! View state: what the terminal UI remembers that is not session data — focus, selections,
//! scroll offsets, the filter, follow and freeze, sort order, time zone, popups, toasts —
//! and the row index derived from the store ([`RowIndex`]). The store itself is never
//! changed from here. Drawing reads this state and never changes it: what a frame needs to
//! settle first (selections kept in range, scroll offsets, where the panels go) is done by
//! the screen's `prepare` step before it is drawn.
//!
//! The filter language is in [`super::filter`], the row index in [`super::index`], what a
//! frame reads from the store in [`super::source`].

use std::cell::Cell;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::filter::FilterQuery;
use super::index::RowIndex;
use super::source::Frozen;
use super::theme::Theme;
use crate::event::Provider;

pub use super::index::StreamSort;
// Also reachable here, where they were before the split (the benchmark suite uses them).
pub use super::index::FILTER_BUDGET;
pub use super::source::Source;

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

    /// The rows drawn in `height` lines from the first visible row: what [`Cursor::window`]
    /// returned when the frame was prepared. Only these rows are ever built.
    pub fn visible(&self, rows: usize, height: usize) -> Range<usize> {
        if rows == 0 || height == 0 {
            return 0..0;
        }
        self.offset..(self.offset + height).min(rows)
    }

    /// Keeps the selection inside the rows and scrolls so that it is visible; returns the
    /// range of rows to draw in `height` lines (see [`Cursor::visible`]).
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

/// Where each part of the screen goes this frame (set when the frame is prepared, before it
/// is drawn): for drawing, mouse hit-testing and page sizes. All empty while the terminal
/// is too small.
#[derive(Debug, Default, Clone, Copy)]
pub struct PanelAreas {
    /// The header.
    pub header: Rect,
    /// The footer.
    pub footer: Rect,
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
    /// The row lists of the panels, derived from the store and the filter.
    index: RowIndex,
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
            index: RowIndex::default(),
            work: Cell::new(FrameWork::default()),
        }
    }

    /// Sets the filter text; the derived row lists are rebuilt on the next frame.
    pub fn set_filter(&mut self, text: String) {
        if text != self.filter {
            // Clearing the filter keeps the selected rows selected (without a filter a row
            // is its recording / log position); a new filter starts at the top of its
            // matches, which are still being found.
            let keep_recording = self.index.recording_at(self.recordings.selected);
            let keep_request = self.index.log_rows().get(self.requests.selected).copied();
            self.filter = text;
            self.index.set_filter(&self.filter);
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

    /// Brings the derived row lists up to date with the source (see [`RowIndex::sync`]);
    /// while following, selects the last recording and request.
    pub fn sync(&mut self, src: &Source) {
        self.work.set(FrameWork::default());
        let examined = self.index.sync(src, self.sort);
        self.count_work(|w| w.recordings_examined += examined);
        if self.follow {
            let recs = self.recording_rows(src);
            self.recordings.selected = recs.saturating_sub(1);
            self.requests.selected = self.index.log_rows().len().saturating_sub(1);
        }
    }

    /// The providers of the streams seen, in [`Provider::ALL`] order.
    pub fn providers_seen(&self) -> impl Iterator<Item = Provider> + '_ {
        self.index.providers_seen()
    }

    /// Whether streams of more than one provider were seen: rows then say whose they are,
    /// and `p` is offered in the footer. With one provider the screen is as it always was.
    pub fn several_providers(&self) -> bool {
        self.index.several_providers()
    }

    /// Sanitized `domain/app/stream` of stream `i`.
    pub fn stream_label(&self, i: usize) -> &str {
        self.index.stream_label(i)
    }

    /// Stream indices in display order (filtered, sorted).
    pub fn stream_order(&self) -> &[u32] {
        self.index.stream_order()
    }

    /// Rows in the recordings panel.
    pub fn recording_rows(&self, src: &Source) -> usize {
        self.index.recording_rows(src.recordings.len())
    }

    /// The recording (index into the source's recordings) at a row.
    pub fn recording_at(&self, row: usize) -> Option<usize> {
        self.count_work(|w| w.recording_rows_resolved += 1);
        self.index.recording_at(row)
    }

    /// The parsed filter.
    pub fn query(&self) -> &FilterQuery {
        self.index.query()
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
        self.index.log_rows()
    }

    /// Recordings the filter has still to examine (shown as progress; keeps frames coming).
    pub fn filter_pending(&self, src: &Source) -> usize {
        self.index.pending(src.recordings.len())
    }

    /// Rows in a panel.
    pub fn rows(&self, panel: Panel, src: &Source) -> usize {
        match panel {
            Panel::Streams => self.stream_order().len(),
            Panel::Recordings => self.recording_rows(src),
            Panel::Requests => self.log_rows().len(),
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
    fn visible_is_what_window_returned() {
        let mut c = Cursor::default();
        for (selected, rows, height) in [(0, 0, 10), (3, 5, 0), (50, 100, 10), (500, 100, 10)] {
            c.selected = selected;
            let window = c.window(rows, height);
            assert_eq!(
                c.visible(rows, height),
                window,
                "{selected} {rows} {height}"
            );
        }
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
