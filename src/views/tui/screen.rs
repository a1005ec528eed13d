//! The render entry point: lays out the header, the three panels and the footer, draws the
//! popups over them, and a notice instead of all that when the terminal is too small.
//!
//! It is pure with respect to the outside world: it reads a [`Store`], a time and the
//! session facts, and only changes view state (scroll positions, caches), so tests render it
//! into a `TestBackend` with a fixed clock.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

use super::header::{self, Context, HeaderInfo};
use super::state::{Popup, Source, ViewState};
use super::widgets::{MIN_HEIGHT, MIN_WIDTH};
use super::{footer, popup, recordings, requests, streams};
use crate::core::store::Store;
use crate::views::Origin;

/// Stream rows the streams panel grows to, when the recordings and the request log keep
/// [`TABLE_MIN`] lines each: six at 80×24.
const STREAM_ROWS: u16 = 6;

/// Lines the recordings and the request log keep while the streams panel grows to
/// [`STREAM_ROWS`]: borders, column header and two rows.
const TABLE_MIN: u16 = 5;

/// Draws one frame of the whole screen of this process's receiver.
pub fn render(
    frame: &mut Frame,
    store: &Store,
    view: &mut ViewState,
    now: DateTime<Utc>,
    ctx: &HeaderInfo,
) {
    draw(frame, store, view, now, Context::Local(ctx));
}

/// Draws one frame of the whole screen of a view fed from `origin`: a receiver's own, or
/// attached receivers' (their statuses are read now).
pub fn render_origin(
    frame: &mut Frame,
    store: &Store,
    view: &mut ViewState,
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

fn draw(frame: &mut Frame, store: &Store, view: &mut ViewState, now: DateTime<Utc>, ctx: Context) {
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
    view.areas.streams = streams_area;
    view.areas.recordings = recordings_area;
    view.areas.requests = requests_area;

    header::render(frame, header_area, &src, view, now, ctx);
    streams::render(frame, streams_area, &src, view, ctx);
    recordings::render(frame, recordings_area, &src, view);
    requests::render(frame, requests_area, &src, view, ctx);
    footer::render(frame, footer_area, view);
    // The alerts list follows the store while it is open (keeping its scroll position).
    if let Some(Popup::Detail(d)) = &view.popup {
        if d.live_alerts {
            let scroll = d.scroll;
            let mut fresh = super::detail::alerts(store, now, view.utc, view.theme);
            fresh.scroll = scroll;
            view.popup = Some(Popup::Detail(fresh));
        }
    }
    popup::render(frame, area, view);
}

/// Whether another frame is needed soon even if nothing changes: a new filter is still
/// being applied to a large table.
pub fn busy(store: &Store, view: &ViewState) -> bool {
    let frozen = view.frozen.clone();
    let src = Source::new(store, frozen.as_deref(), Utc::now());
    view.filter_pending(&src) > 0
}
