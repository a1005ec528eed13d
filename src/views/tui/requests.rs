//! The request log: every request, rejected ones included with the reason. The store keeps
//! the newest requests (bounded); the journal keeps all of them.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::header::Context;
use super::source::Source;
use super::state::{Panel, ViewState};
use super::text::{clean, clock_ms, thousands, FIELD_MAX};
use super::widgets::{
    draw_table, fitted_table, panel_block, right, stream_min, table_rows, Column, STREAM_MAX,
};

use super::theme::{outcome_label, Theme};
use crate::core::store::{DeliveryState, LogEntry};
use crate::describe::request_detail;
use crate::event::Outcome;
use ratatui::style::Color;

/// Draws the request log.
pub fn render(frame: &mut Frame, area: Rect, src: &Source, view: &ViewState, ctx: Context) {
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
    let block = panel_block(title, area.width, focused, t);
    let height = table_rows(area);
    let window = view.requests.visible(shown, height);
    let visible: Vec<&LogEntry> = view.log_rows()[window.clone()]
        .iter()
        .filter_map(|&pos| src.log.get(pos))
        .collect();
    let name_min = stream_min(
        visible
            .iter()
            .filter_map(|e| e.stream)
            .filter(|&i| (i as usize) < src.streams.len())
            .map(|i| view.stream_label(i as usize)),
    );
    // A view merged from several receivers says which one each request reached: its label
    // and the seq that receiver gave it.
    let labels: Option<Vec<&str>> = match ctx {
        Context::Attached { sources, .. } if sources.len() > 1 => {
            Some(sources.iter().map(|s| s.label.as_str()).collect())
        }
        _ => None,
    };
    let forwarding = !src.forward.is_empty();
    let rows: Vec<Vec<Line<'static>>> = visible
        .iter()
        .map(|e| {
            let mut row = request_row(e, src, view);
            if forwarding {
                row.insert(4, delivery_cell(e, view.theme));
            }
            if let Some(labels) = &labels {
                let label = e
                    .source
                    .and_then(|i| labels.get(i as usize))
                    .copied()
                    .unwrap_or("-");
                row.insert(2, Line::from(label.to_string()));
            }
            row
        })
        .collect();
    let zone = if view.utc { "UTC" } else { "local" };
    let mut columns = vec![
        Column::new(Line::from(format!("time ({zone})")), 2, 12, 12).whole(),
        Column::new(right("seq"), 0, 3, 12).whole(),
        Column::new(Line::from("outcome"), 0, 11, 11).whole(),
        Column::new(Line::from("http"), 3, 4, 4).whole(),
        Column::new(Line::from("method"), 4, 6, 6),
        Column::new(Line::from("kind"), 3, 9, 9),
        Column::new(Line::from("stream"), 1, name_min, STREAM_MAX).tail(),
        Column::new(Line::from("what / why rejected"), 1, 16, 400),
    ];
    if forwarding {
        columns.insert(4, Column::new(Line::from("delivery"), 1, 13, 18));
    }
    if let Some(labels) = &labels {
        let widest = labels.iter().map(|l| l.len()).max().unwrap_or(1).max(3) as u16;
        columns.insert(2, Column::new(Line::from("src"), 0, widest, widest).whole());
    }
    let inner = area.width.saturating_sub(2);
    let table = fitted_table(&columns, rows, inner, t.header()).block(block);
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

/// The delivery column: where the request's forwarding stands, per target (`✓ 200 3ms`,
/// `↻ retrying 4`, `✗ failed 503`, `… pending`), `-` when it is not forwarded.
pub fn delivery_cell(e: &LogEntry, t: Theme) -> Line<'static> {
    if e.delivery.is_empty() {
        return Line::styled("-", t.dim());
    }
    let mut spans = Vec::new();
    for (i, d) in e.delivery.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        let prefix = if e.delivery.len() > 1 {
            format!("{}:", (b'A' + (d.target % 26) as u8) as char)
        } else {
            String::new()
        };
        let (text, style) = match d.state {
            DeliveryState::Pending => (format!("{prefix}… pending"), t.dim()),
            DeliveryState::Retrying => (format!("{prefix}↻ retrying {}", d.attempts), t.warn()),
            DeliveryState::Delivered { status, ms } => {
                (format!("{prefix}✓ {status} {ms}ms"), t.fg(Color::Green))
            }
            DeliveryState::Failed { status } => (
                format!(
                    "{prefix}✗ failed{}",
                    status.map(|s| format!(" {s}")).unwrap_or_default()
                ),
                t.outcome(Outcome::Rejected),
            ),
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

fn request_row(e: &LogEntry, src: &Source, view: &ViewState) -> Vec<Line<'static>> {
    let t = view.theme;
    let stream = match e.stream {
        Some(i) if (i as usize) < src.streams.len() => view.stream_label(i as usize).to_owned(),
        // A refused callback whose stream could still be read names it (only rejected rows
        // are read again, and only those drawn).
        _ if e.outcome == Outcome::Rejected => crate::views::named_in_line(&e.line)
            .map(|id| {
                clean(
                    &format!("{}/{}/{}", id.domain, id.app, id.stream),
                    FIELD_MAX,
                )
            })
            .unwrap_or_else(|| "-".into()),
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
        (None, _) => Span::raw(if e.facts.is_empty() {
            clean(&e.summary, FIELD_MAX)
        } else {
            format!(
                "{}  {}",
                clean(&e.summary, FIELD_MAX),
                clean(&request_detail(&e.facts), FIELD_MAX)
            )
        }),
    };
    vec![
        Line::from(clock_ms(e.received_at, view.utc)),
        right(format!("#{}", e.seq)),
        Line::from(Span::styled(outcome_label(e.outcome), t.outcome(e.outcome))),
        Line::from(Span::styled(
            e.status.to_string(),
            if e.status >= 400 {
                t.outcome(Outcome::Rejected)
            } else {
                Style::new()
            },
        )),
        Line::from(clean(&e.method, 6)),
        Line::from(
            e.kind
                .as_deref()
                .map_or_else(|| "-".to_string(), |k| clean(k, 9)),
        ),
        Line::from(stream),
        Line::from(what),
    ]
}
