//! The render entry point: lays out the header, the three panels and the footer, draws the
//! popups over them, and a notice instead of all that when the terminal is too small.
//!
//! It is pure with respect to the outside world: it reads a [`Store`], a time and the
//! session facts, and only changes view state (scroll positions, caches), so tests render it
//! into a `TestBackend` with a fixed clock.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, Scrollbar, ScrollbarOrientation, ScrollbarState, Table, TableState,
};
use ratatui::Frame;

use super::header::{self, HeaderInfo};
use super::state::{Source, ViewState};
use super::theme::Theme;
use super::{footer, popup, recordings, requests, streams};
use crate::store::Store;

/// Narrowest terminal the panels are drawn in.
pub const MIN_WIDTH: u16 = 60;
/// Lowest terminal the panels are drawn in.
pub const MIN_HEIGHT: u16 = 15;

/// Draws one frame of the whole screen.
pub fn render(
    frame: &mut Frame,
    store: &Store,
    view: &mut ViewState,
    now: DateTime<Utc>,
    ctx: &HeaderInfo,
) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        view.areas = Default::default();
        popup::too_small(frame, area, view.theme);
        return;
    }
    let frozen = view.frozen.clone();
    let src = Source::new(store, frozen.as_deref(), now);
    if frozen.is_none() {
        let c = src.counters;
        view.rate
            .observe(now, c.accepted + c.duplicate + c.rejected);
    }
    if view.toast.as_ref().is_some_and(|t| t.until <= now) {
        view.toast = None;
    }
    view.sync(&src);

    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(header::height(&src)),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // The streams panel takes what its rows need, up to a third of the body; the two
    // growing tables share the rest.
    let stream_rows = view.stream_order().len().max(2) as u16;
    let streams_h = (stream_rows + 3).clamp(5, (body.height / 3).max(5));
    let rest = body.height.saturating_sub(streams_h);
    let recordings_h = rest * 11 / 20;
    let [streams_area, recordings_area, requests_area] = Layout::vertical([
        Constraint::Length(streams_h),
        Constraint::Length(recordings_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    view.areas.streams = streams_area;
    view.areas.recordings = recordings_area;
    view.areas.requests = requests_area;

    header::render(frame, header_area, &src, view, now, ctx);
    streams::render(frame, streams_area, &src, view, ctx);
    recordings::render(frame, recordings_area, &src, view);
    requests::render(frame, requests_area, &src, view);
    footer::render(frame, footer_area, view);
    popup::render(frame, area, view);
}

/// Whether another frame is needed soon even if nothing changes: a new filter is still
/// being applied to a large table.
pub fn busy(store: &Store, view: &ViewState) -> bool {
    let frozen = view.frozen.clone();
    let src = Source::new(store, frozen.as_deref(), Utc::now());
    view.filter_pending(&src) > 0
}

/// A panel's frame: rounded borders, bright when focused.
pub(super) fn panel_block<'a>(title: String, focused: bool, t: Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border(focused))
        .title(Span::styled(title, t.border(focused)))
}

/// Right-aligned cell text.
pub(super) fn right<'a>(s: impl Into<String>) -> Line<'a> {
    Line::from(s.into()).right_aligned()
}

/// Draws a panel's table of visible rows: the selection (when it is inside the window) is
/// highlighted, and a scrollbar shows where the window is among `shown` rows.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_table<'a>(
    frame: &mut Frame,
    area: Rect,
    table: Table<'a>,
    selected: usize,
    window_start: usize,
    shown: usize,
    height: usize,
    focused: bool,
    t: Theme,
) {
    let selected = selected.checked_sub(window_start);
    let mut state = TableState::default().with_selected(selected.filter(|_| shown > 0));
    frame.render_stateful_widget(
        table.row_highlight_style(t.selected(focused)),
        area,
        &mut state,
    );
    scrollbar(frame, area, shown, height, window_start, t);
}

/// A vertical scrollbar on a panel's right border, when its rows do not fit.
pub(super) fn scrollbar(
    frame: &mut Frame,
    area: Rect,
    rows: usize,
    height: usize,
    offset: usize,
    t: Theme,
) {
    if rows <= height || height == 0 {
        return;
    }
    let mut state = ScrollbarState::new(rows - height + 1)
        .position(offset)
        .viewport_content_length(height);
    frame.render_stateful_widget(
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .track_symbol(Some("│"))
            .style(t.border(false)),
        // The rows only: below the top border and the column header, above the bottom border.
        Rect {
            y: area.y + 2,
            height: area.height.saturating_sub(3),
            ..area
        },
        &mut state,
    );
}
