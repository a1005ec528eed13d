//! The render entry point: lays out the header, the three panels and the footer, draws the
//! popups over them, and a notice instead of all that when the terminal is too small.
//!
//! A frame is made in two steps: [`prepare`] brings the view state up to date for the screen
//! size, the store and the time (row lists, selections kept in range, scroll offsets, where
//! each part goes), then the draw functions read the view state (`&ViewState`) and change
//! nothing. Both are pure with respect to the outside world: they read a [`Store`], a time
//! and the session facts, so tests render them into a `TestBackend` with a fixed clock.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use super::header::{self, Context, HeaderInfo};
use super::source::Source;
use super::state::{Popup, ViewState};
use super::widgets::{table_rows, MIN_HEIGHT, MIN_WIDTH};
use super::{footer, popup, recordings, requests, streams};
use crate::core::store::Store;
use crate::views::Origin;

/// Stream rows the streams panel grows to, when the recordings and the request log keep
/// [`TABLE_MIN`] lines each: six at 80×24.
const STREAM_ROWS: u16 = 6;

/// Lines the recordings and the request log keep while the streams panel grows to
/// [`STREAM_ROWS`]: borders, column header and two rows.
const TABLE_MIN: u16 = 5;

/// Prepares and draws one frame of the whole screen of this process's receiver.
pub fn render(
    frame: &mut Frame,
    store: &Store,
    view: &mut ViewState,
    now: DateTime<Utc>,
    ctx: &HeaderInfo,
) {
    prepare(view, store, frame.area(), now);
    draw(frame, store, view, now, Context::Local(ctx));
}

/// Prepares and draws one frame of the whole screen of a view fed from `origin` (see
/// [`prepare`] and [`draw_origin`]).
pub fn render_origin(
    frame: &mut Frame,
    store: &Store,
    view: &mut ViewState,
    now: DateTime<Utc>,
    origin: &Origin,
) {
    prepare(view, store, frame.area(), now);
    draw_origin(frame, store, view, now, origin);
}

/// Draws one frame of the whole screen of a view fed from `origin`: a receiver's own, or
/// attached receivers' (their statuses are read now). The view must have been prepared
/// ([`prepare`]) for this screen size, store and time.
pub fn draw_origin(
    frame: &mut Frame,
    store: &Store,
    view: &ViewState,
    now: DateTime<Utc>,
    origin: &Origin,
) {
    match origin {
        Origin::Local(ctx) => draw(frame, store, view, now, Context::Local(ctx)),
        Origin::Attached(info) => {
            let sources = info
                .sources
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let ctx = Context::Attached {
                sources: &sources,
                copy_path: &info.copy_path,
            };
            draw(frame, store, view, now, ctx);
        }
    }
}

/// Everything a frame changes in the view state, done before it is drawn so that drawing
/// only reads: the request rate, an expired toast, the row lists (new rows, the filter's
/// next chunk), where each part of the screen goes, each panel's selection kept within its
/// rows and scrolled into sight, the live alerts list, and the popup's scroll position.
pub fn prepare(view: &mut ViewState, store: &Store, area: Rect, now: DateTime<Utc>) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        view.areas = Default::default();
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
        Constraint::Length(footer::height(view, area.width, area.height)),
    ])
    .areas(area);
    // The streams panel takes what its rows need, up to a third of the body, or up to
    // STREAM_ROWS rows where that leaves the two growing tables two rows each (80×24 shows
    // six streams); the two tables share the rest.
    let stream_rows = view.stream_order().len().max(2) as u16;
    let most = (body.height / 3)
        .max((STREAM_ROWS + 3).min(body.height.saturating_sub(2 * TABLE_MIN)))
        .max(5);
    let streams_h = (stream_rows + 3).clamp(5, most);
    let rest = body.height.saturating_sub(streams_h);
    let recordings_h = rest * 11 / 20;
    let [streams_area, recordings_area, requests_area] = Layout::vertical([
        Constraint::Length(streams_h),
        Constraint::Length(recordings_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    view.areas.header = header_area;
    view.areas.streams = streams_area;
    view.areas.recordings = recordings_area;
    view.areas.requests = requests_area;
    view.areas.footer = footer_area;

    // Without any stream the panel shows a hint instead of rows and keeps its cursor.
    if !src.streams.is_empty() {
        let shown = view.stream_order().len();
        view.streams.window(shown, table_rows(streams_area));
    }
    let shown = view.recording_rows(&src);
    view.recordings.window(shown, table_rows(recordings_area));
    let shown = view.log_rows().len();
    view.requests.window(shown, table_rows(requests_area));

    // The alerts list follows the store while it is open (keeping its scroll position).
    if let Some(Popup::Detail(d)) = &view.popup {
        if d.live_alerts {
            let scroll = d.scroll;
            let mut fresh = super::detail::alerts(store, now, view.utc, view.theme);
            fresh.scroll = scroll;
            view.popup = Some(Popup::Detail(fresh));
        }
    }
    popup::prepare(view, area);
}

/// Draws a prepared frame ([`prepare`]); reads the view state, never changes it.
fn draw(frame: &mut Frame, store: &Store, view: &ViewState, now: DateTime<Utc>, ctx: Context) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        popup::too_small(frame, area, view.theme);
        return;
    }
    let src = Source::new(store, view.frozen.as_deref(), now);
    let areas = view.areas;
    header::render(frame, areas.header, &src, view, now, ctx);
    streams::render(frame, areas.streams, &src, view, ctx);
    recordings::render(frame, areas.recordings, &src, view);
    requests::render(frame, areas.requests, &src, view, ctx);
    footer::render(frame, areas.footer, view);
    popup::render(frame, area, view);
}

/// Whether another frame is needed soon even if nothing changes: a new filter is still
/// being applied to a large table.
pub fn busy(store: &Store, view: &ViewState) -> bool {
    let src = Source::new(store, view.frozen.as_deref(), Utc::now());
    view.filter_pending(&src) > 0
}
