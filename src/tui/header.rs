//! The header: where recmon listens and whether the provider can reach it, signature
//! checking, the journal, uptime, the request counters with a rate sparkline, the filter, the
//! frozen state, and journal failures (loudly).

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use super::state::{Source, ViewState, RATE_SECONDS};
use super::text::{clean, clock, hms, thousands};
use super::theme::Theme;

/// Facts about the running session that the header shows and the store does not hold.
#[derive(Debug, Clone)]
pub struct HeaderInfo {
    /// The bound listen address.
    pub listen: SocketAddr,
    /// Whether only this machine can reach the listener.
    pub loopback_only: bool,
    /// Whether callback signatures are checked (`--auth-key`).
    pub signature_checking: bool,
    /// The journal file, or `None` with `--no-journal`.
    pub journal_path: Option<PathBuf>,
    /// When the session started (for the uptime).
    pub started_at: DateTime<Utc>,
}

/// Lines the header needs: identity, journal and status, requests; and one more, loud,
/// when journal writes fail.
pub fn height(src: &Source) -> u16 {
    if src.journal_failures > 0 {
        4
    } else {
        3
    }
}

/// Draws the header.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    src: &Source,
    view: &ViewState,
    now: DateTime<Utc>,
    ctx: &HeaderInfo,
) {
    let t = view.theme;
    let rows = Layout::vertical(vec![Constraint::Length(1); area.height as usize]).split(area);
    if rows.len() < 3 {
        return;
    }
    identity_line(frame, rows[0], view, now, ctx);
    journal_line(frame, rows[1], src, view, ctx);
    requests_line(frame, rows[2], src, view);
    if src.journal_failures > 0 && rows.len() >= 4 {
        let msg = format!(
            " JOURNAL WRITE FAILED {} time(s): requests are answered 503 and not recorded (the provider retries). Last error: {} ",
            thousands(src.journal_failures),
            clean(src.last_journal_error.unwrap_or("unknown"), 300)
        );
        frame.render_widget(Paragraph::new(Line::styled(msg, t.alarm())), rows[3]);
    }
}

fn identity_line(
    frame: &mut Frame,
    area: Rect,
    view: &ViewState,
    now: DateTime<Utc>,
    ctx: &HeaderInfo,
) {
    let t = view.theme;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut spans = vec![
        Span::styled(" recmon ", title_style(t)),
        Span::raw(" "),
        Span::styled(format!("http://{}", ctx.listen), bold),
    ];
    if ctx.loopback_only {
        spans.push(Span::styled(
            format!(
                "  ⚠ loopback only: the provider cannot reach it (--listen 0.0.0.0:{})",
                ctx.listen.port()
            ),
            t.warn(),
        ));
    } else if !ctx.signature_checking {
        spans.push(Span::styled(
            "  ⚠ public and unsigned: anyone can forge callbacks (set RECMON_AUTH_KEY)",
            t.alarm(),
        ));
    }
    let zone = if view.utc { "UTC" } else { "local" };
    let right = Line::from(vec![
        Span::styled("sig: ", t.dim()),
        if ctx.signature_checking {
            Span::styled("on", t.fg(Color::Green))
        } else {
            Span::raw("off")
        },
        Span::styled("  up ", t.dim()),
        Span::raw(hms((now - ctx.started_at).num_seconds())),
        Span::styled(format!("  {} {zone} ", clock(now, view.utc)), t.dim()),
    ]);
    let [left_area, right_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right.width() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
}

fn title_style(t: Theme) -> Style {
    if t.color {
        Style::new()
            .fg(Color::Black)
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }
}

/// The journal, then what changes how the panels read: the filter and the frozen state.
fn journal_line(frame: &mut Frame, area: Rect, src: &Source, view: &ViewState, ctx: &HeaderInfo) {
    let t = view.theme;
    let mut spans = vec![Span::styled(" journal: ", t.dim())];
    spans.push(match &ctx.journal_path {
        Some(p) => Span::raw(clean(&p.display().to_string(), 60)),
        None => Span::styled("off (--no-journal): nothing is kept on disk", t.warn()),
    });
    if !view.filter.is_empty() || view.filter_editing {
        spans.push(Span::styled("   filter: ", t.dim()));
        spans.push(Span::styled(
            format!("\"{}\"", clean(&view.filter, 60)),
            t.warn(),
        ));
        let pending = view.filter_pending(src);
        if pending > 0 {
            spans.push(Span::styled(
                format!(" (searching, {} to go)", thousands(pending as u64)),
                t.dim(),
            ));
        }
    }
    if view.frozen.is_some() {
        spans.push(Span::raw("   "));
        spans.push(Span::styled(
            format!(
                " FROZEN · {} request(s) arrived meanwhile ({} recording(s)) · space resumes ",
                thousands(src.arrived_while_frozen),
                thousands(src.recordings_while_frozen as u64)
            ),
            t.alarm(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn requests_line(frame: &mut Frame, area: Rect, src: &Source, view: &ViewState) {
    let t = view.theme;
    let c = src.counters;
    let counters = Line::from(vec![
        Span::styled(" requests ", t.dim()),
        Span::styled(
            format!("✓ {} accepted", thousands(c.accepted)),
            t.fg(Color::Green),
        ),
        Span::raw("  "),
        Span::styled(
            format!("↻ {} duplicate", thousands(c.duplicate)),
            t.fg(Color::Magenta),
        ),
        Span::raw("  "),
        Span::styled(
            format!("✗ {} rejected", thousands(c.rejected)),
            if c.rejected > 0 {
                t.fg(Color::Red)
            } else {
                Style::new()
            },
        ),
    ]);
    let mut counters = counters;
    if src.auth_failures > 0 {
        counters.spans.push(Span::styled(
            format!(" ({} bad signature)", thousands(src.auth_failures)),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    counters.spans.push(Span::styled("   rate ", t.dim()));
    let rate = format!(" {}/s", thousands(view.rate.last_second()));
    let [counters_area, spark_area, rate_area] = Layout::horizontal([
        Constraint::Length(counters.width() as u16),
        Constraint::Length(RATE_SECONDS as u16),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(counters), counters_area);
    // The newest second is at the right; a minute fits.
    let data: Vec<u64> = view
        .rate
        .per_second
        .iter()
        .rev()
        .take(spark_area.width as usize)
        .rev()
        .copied()
        .collect();
    let pad = (spark_area.width as usize).saturating_sub(data.len());
    // A quiet second is drawn as a dot, so an idle minute still shows as a baseline.
    let data: Vec<Option<u64>> = std::iter::repeat_n(0, pad)
        .chain(data)
        .map(|n| (n > 0).then_some(n))
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(data)
            .style(t.fg(Color::Cyan))
            .absent_value_symbol("·")
            .absent_value_style(t.dim()),
        spark_area,
    );
    frame.render_widget(Paragraph::new(Span::styled(rate, t.dim())), rate_area);
}
