//! The recordings table: one row per recording file. Only the visible rows are built, so a
//! million recordings cost the same per frame as ten.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::screen::{draw_table, panel_block};
use super::state::{Panel, Source, ViewState};
use super::text::{clean, clock, hms_ms, thousands, unix_date_time, unix_stop_time, FIELD_MAX};

/// Width of the stream column.
const STREAM_COLUMN: usize = 28;
use crate::store::Recording;

/// Draws the recordings table.
pub fn render(frame: &mut Frame, area: Rect, src: &Source, view: &mut ViewState) {
    let t = view.theme;
    let focused = view.focus == Panel::Recordings;
    let total = src.recordings.len();
    let shown = view.recording_rows(src);
    let mut title = if view.filter.is_empty() {
        format!(" Recordings {} ", thousands(total as u64))
    } else {
        format!(
            " Recordings {} of {} ",
            thousands(shown as u64),
            thousands(total as u64)
        )
    };
    title.push_str(if view.follow {
        "· following "
    } else {
        "· follow off (f) "
    });
    title.push_str("· ≠ duration disagrees with stop − start ");
    let block = panel_block(title, focused, t);
    let height = (area.height as usize).saturating_sub(3);
    let window = view.recordings.window(shown, height);
    let rows: Vec<Row> = window
        .clone()
        .filter_map(|row| view.recording_at(row))
        .filter_map(|i| src.recordings.get(i))
        .map(|r| recording_row(r, view))
        .collect();
    let header = Row::new(vec![
        Cell::from("received"),
        Cell::from("start"),
        Cell::from("stop"),
        Cell::from("stream"),
        Cell::from(Line::from("duration").right_aligned()),
        Cell::from("uri"),
        Cell::from("push_args"),
    ])
    .style(t.header());
    let widths = [
        Constraint::Length(8),
        Constraint::Length(19),
        Constraint::Length(12),
        Constraint::Length(STREAM_COLUMN as u16),
        Constraint::Length(13),
        Constraint::Fill(2),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths).header(header).block(block);
    draw_table(
        frame,
        area,
        table,
        view.recordings.selected,
        window.start,
        shown,
        height,
        focused,
        t,
    );
}

fn recording_row<'a>(r: &Recording, view: &ViewState) -> Row<'a> {
    let t = view.theme;
    let utc = view.utc;
    let duration = match r.duration {
        Some(d) => hms_ms(d),
        None => "-".into(),
    };
    let duration = if r.mismatch {
        Line::from(vec![Span::raw(duration), Span::styled(" ≠", t.warn())])
    } else {
        Line::from(format!("{duration}  "))
    }
    .right_aligned();
    let push_args = r
        .push_args
        .iter()
        .map(|(k, v)| format!("{}={}", clean(k, 60), clean(v, 120)))
        .collect::<Vec<_>>()
        .join(" ");
    Row::new(vec![
        Cell::from(clock(r.received_at, utc)),
        Cell::from(unix_date_time(r.start_time, utc)),
        Cell::from(unix_stop_time(r.start_time, r.stop_time, utc)),
        Cell::from(view.stream_label_within(r.stream as usize, STREAM_COLUMN)),
        Cell::from(duration),
        Cell::from(clean(&r.uri, FIELD_MAX)),
        Cell::from(clean(&push_args, FIELD_MAX)),
    ])
}
