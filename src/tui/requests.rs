//! The request log: every request, rejected ones included with the reason. The store keeps
//! the newest requests (bounded); the journal keeps all of them.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::screen::{draw_table, panel_block, right};
use super::state::{Panel, Source, ViewState};
use super::text::{clean, clock_ms, thousands, FIELD_MAX};

/// Width of the stream column.
const STREAM_COLUMN: usize = 28;
use super::theme::outcome_label;
use crate::journal::Outcome;
use crate::store::LogEntry;

/// Draws the request log.
pub fn render(frame: &mut Frame, area: Rect, src: &Source, view: &mut ViewState) {
    let t = view.theme;
    let focused = view.focus == Panel::Requests;
    let shown = view.log_rows().len();
    let mut title = format!(
        " Requests {} (newest {} kept in memory) ",
        thousands(src.counters.accepted + src.counters.duplicate + src.counters.rejected),
        thousands(src.log.len() as u64)
    );
    if !view.filter.is_empty() {
        title = format!(" Requests · {} match the filter ", thousands(shown as u64));
    }
    let block = panel_block(title, focused, t);
    let height = (area.height as usize).saturating_sub(3);
    let window = view.requests.window(shown, height);
    let rows: Vec<Row> = view.log_rows()[window.clone()]
        .iter()
        .filter_map(|&pos| src.log.get(pos))
        .map(|e| request_row(e, src, view))
        .collect();
    let header = Row::new(vec![
        Cell::from("time"),
        Cell::from(right("seq")),
        Cell::from("outcome"),
        Cell::from("http"),
        Cell::from("method"),
        Cell::from("kind"),
        Cell::from("stream"),
        Cell::from("what / why rejected"),
    ])
    .style(t.header());
    let widths = [
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(STREAM_COLUMN as u16),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths).header(header).block(block);
    draw_table(
        frame,
        area,
        table,
        view.requests.selected,
        window.start,
        shown,
        height,
        focused,
        t,
    );
}

fn request_row<'a>(e: &LogEntry, src: &Source, view: &ViewState) -> Row<'a> {
    let t = view.theme;
    let stream = match e.stream {
        Some(i) if (i as usize) < src.streams.len() => {
            view.stream_label_within(i as usize, STREAM_COLUMN)
        }
        _ => "-".into(),
    };
    let what = match (&e.error, e.outcome) {
        (Some(err), _) => Span::styled(
            format!("{}  {}", clean(err, FIELD_MAX), clean(&e.path, 80)),
            t.outcome(Outcome::Rejected),
        ),
        (None, Outcome::Duplicate) => Span::styled(
            format!(
                "{}  (provider retry, not counted again)",
                clean(&e.summary, FIELD_MAX)
            ),
            t.dim(),
        ),
        (None, _) => Span::raw(if e.detail.is_empty() {
            clean(&e.summary, FIELD_MAX)
        } else {
            format!(
                "{}  {}",
                clean(&e.summary, FIELD_MAX),
                clean(&e.detail, FIELD_MAX)
            )
        }),
    };
    Row::new(vec![
        Cell::from(clock_ms(e.received_at, view.utc)),
        Cell::from(right(format!("#{}", e.seq))),
        Cell::from(Span::styled(outcome_label(e.outcome), t.outcome(e.outcome))),
        Cell::from(Span::styled(
            e.status.to_string(),
            if e.status >= 400 {
                t.outcome(Outcome::Rejected)
            } else {
                Style::new()
            },
        )),
        Cell::from(clean(&e.method, 6)),
        Cell::from(
            e.kind
                .as_deref()
                .map_or_else(|| "-".to_string(), |k| clean(k, 9)),
        ),
        Cell::from(stream),
        Cell::from(what),
    ])
}
