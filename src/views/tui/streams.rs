//! The streams panel: one row per stream, its recording state (colour + symbol + word), how
//! long it has been in it, ingest, recordings and their total duration, and the last event;
//! when there is something to show, its provider, its viewers and its HLS segments. A stream
//! whose ingest went offline shows `■ ended` since its publish_done (see
//! [`shown_state`](super::source::shown_state)), not the recording event before it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::header::Context;
use super::source::{shown_state, Source};
use super::state::{Panel, ViewState};
use super::text::{clean, hms, thousands};
use super::theme::{ingest_label, state_label};
use super::widgets::{
    draw_table, fitted_table, panel_block, right, stream_min, table_rows, Column,
};
use crate::core::alerts::Severity;

/// Longest event name shown.
const EVENT_MAX: usize = 24;

/// Draws the streams panel.
pub fn render(frame: &mut Frame, area: Rect, src: &Source, view: &ViewState, ctx: Context) {
    let t = view.theme;
    let focused = view.focus == Panel::Streams;
    let total = src.streams.len();
    let shown = view.stream_order().len();
    let count = if shown == total {
        thousands(total as u64)
    } else {
        format!("{} of {}", thousands(shown as u64), thousands(total as u64))
    };
    let block = panel_block(
        format!(" Streams {count} · sort: {} ", view.sort.label()),
        area.width,
        focused,
        t,
    );
    if total == 0 {
        let Context::Local(ctx) = ctx else {
            let hint = Line::styled(
                "No callbacks yet on the attached receivers (this view is read-only: it shows what they journal).",
                t.dim(),
            );
            frame.render_widget(
                Paragraph::new(hint).block(block).wrap(Wrap { trim: false }),
                area,
            );
            return;
        };
        let hint = vec![
            Line::styled("No callbacks yet.", t.dim()),
            Line::styled(
                {
                    // 0.0.0.0 is where recmon listens, not an address anyone can call.
                    let (public, local) = if ctx.listen.ip().is_unspecified() {
                        (
                            format!("<this host>:{}", ctx.listen.port()),
                            format!("127.0.0.1:{}", ctx.listen.port()),
                        )
                    } else {
                        (ctx.listen.to_string(), ctx.listen.to_string())
                    };
                    format!(
                        "Point NotifyUrl at http://{public}/<any path>, or try: curl -X POST http://{local}/recmon -d '{{\"domain\":\"d\",\"app\":\"a\",\"stream\":\"s\",\"event\":\"record_started\"}}'"
                    )
                },
                t.dim(),
            ),
        ];
        frame.render_widget(
            Paragraph::new(hint).block(block).wrap(Wrap { trim: false }),
            area,
        );
        return;
    }
    let height = table_rows(area);
    let window = view.streams.visible(shown, height);
    let now = src.now;
    // A column of alert marks while any alert is firing: the worst alert about each stream.
    let alerting = !src.alerts.firing().is_empty();
    // Columns only some providers fill: whose stream it is (once there are two providers),
    // viewers (nginx-rtmp, SRS) and HLS segments (SRS), while any stream has some.
    let several = view.several_providers();
    let viewers = src.streams.iter().any(|s| s.viewers > 0);
    let segments = src.streams.iter().any(|s| s.segments > 0);
    let count_or_dash = |n: u64| right(if n > 0 { thousands(n) } else { "-".into() });
    let rows: Vec<Vec<Line<'static>>> = view.stream_order()[window.clone()]
        .iter()
        .map(|&i| {
            let s = &src.streams[i as usize];
            let (state, since) = shown_state(s);
            let in_state = since
                .map(|at| hms((now - at).num_seconds()))
                .unwrap_or_else(|| "-".into());
            let (last, last_ago) = match (&s.last_event, s.last_event_at) {
                (Some(ev), Some(at)) => (clean(ev, EVENT_MAX), hms((now - at).num_seconds())),
                _ => ("-".into(), "-".into()),
            };
            let mut row = vec![
                Line::from(view.stream_label(i as usize).to_owned()),
                Line::from(Span::styled(state_label(state), t.state(state))),
                right(in_state),
                Line::from(Span::styled(ingest_label(s.ingest), t.ingest(s.ingest))),
                right(thousands(s.recordings)),
                right(crate::util::human::hms_signed(s.total_duration_s)),
                Line::from(last),
                right(last_ago),
            ];
            if segments {
                row.insert(6, count_or_dash(s.segments));
            }
            if viewers {
                row.insert(4, count_or_dash(s.viewers as u64));
            }
            if several {
                row.insert(0, Line::from(s.provider.tag()));
            }
            if alerting {
                let mark = match src.alerts.stream_firing(i) {
                    Some(sev) => Span::styled(
                        super::detail::severity_symbol(sev),
                        match sev {
                            Severity::Critical => t.alarm(),
                            Severity::Warning => t.warn(),
                            Severity::Info => t.dim(),
                        },
                    ),
                    None => Span::raw(" "),
                };
                row.insert(0, Line::from(mark));
            }
            row
        })
        .collect();
    let name_min = stream_min(
        view.stream_order()[window.clone()]
            .iter()
            .map(|&i| view.stream_label(i as usize)),
    );
    let mut columns = vec![
        Column::new(Line::from("domain/app/stream"), 0, name_min, 80).tail(),
        Column::new(Line::from("state"), 0, 9, 9).whole(),
        Column::new(right("for"), 0, 7, 12).whole(),
        Column::new(Line::from("ingest"), 2, 9, 9).whole(),
        Column::new(right("recs"), 3, 4, 10).whole(),
        Column::new(right("total"), 1, 7, 12).whole(),
        Column::new(Line::from("last event"), 4, 10, EVENT_MAX as u16),
        Column::new(right("ago"), 4, 7, 12).whole(),
    ];
    if segments {
        columns.insert(6, Column::new(right("hls"), 5, 3, 10).whole());
    }
    if viewers {
        columns.insert(4, Column::new(right("viewers"), 5, 7, 10).whole());
    }
    if several {
        columns.insert(0, Column::new(Line::from("prov"), 0, 4, 4).whole());
    }
    if alerting {
        columns.insert(0, Column::new(Line::from("!"), 0, 1, 1).whole());
    }
    let inner = area.width.saturating_sub(2);
    let table = fitted_table(&columns, rows, inner, t.header()).block(block);
    draw_table(
        frame,
        area,
        table,
        view.streams.selected,
        window.start,
        shown,
        height,
        focused,
        t,
    );
}
