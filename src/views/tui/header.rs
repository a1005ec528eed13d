//! The header: where recmon listens and whether the provider can reach it, signature
//! checking, the journal, uptime, the request counters with a rate sparkline, the filter, the
//! frozen state, and journal failures (loudly).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::state::{Source, ViewState, RATE_SECONDS};
use super::text::{arrange_bar, clean, clock, fit, hms, thousands, BarItem, Cut};
use super::theme::Theme;
use crate::attach::status::{Link, SourceStatus};
use crate::util::human::count;

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

/// What the header describes besides the store: this process's receiver, or the receivers an
/// attached view follows (their statuses as they were when the frame started).
#[derive(Debug, Clone, Copy)]
pub enum Context<'a> {
    /// This process's own receiver.
    Local(&'a HeaderInfo),
    /// `recmon attach`: the sources, and the copy of what they sent.
    Attached {
        /// Each source's status, in command-line order.
        sources: &'a [SourceStatus],
        /// The copy of every entry received (what `e` exports).
        copy_path: &'a std::path::Path,
    },
}

/// Lines the header needs: identity, journal (or sources) and status, requests; and one
/// more, loud, when journal writes fail.
pub fn height(src: &Source) -> u16 {
    if src.journal_failures > 0 {
        4
    } else {
        3
    }
}

/// A callback silence longer than this turns "last callback" warning-coloured: in a
/// broadcast the provider calls at least at every file boundary.
pub const SILENCE_WARN_SECS: i64 = 300;

/// Gap between header items.
const GAP: usize = 2;

/// Draws the header. Each line is a list of items with a priority; on a narrow terminal the
/// least important items shorten, then go (see [`arrange_bar`]), so nothing is drawn over
/// anything else.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    src: &Source,
    view: &ViewState,
    now: DateTime<Utc>,
    ctx: Context,
) {
    let t = view.theme;
    let rows = Layout::vertical(vec![Constraint::Length(1); area.height as usize]).split(area);
    if rows.len() < 3 {
        return;
    }
    match ctx {
        Context::Local(ctx) => {
            bar(frame, rows[0], &identity_items(view, now, ctx));
            bar(frame, rows[1], &journal_items(src, view, Some(ctx)));
        }
        Context::Attached { sources, copy_path } => {
            bar(frame, rows[0], &attached_identity_items(view, now, sources));
            let mut items = source_items(view, now, sources);
            items.extend(journal_items(src, view, None));
            items.push(
                BarItem::new(
                    4,
                    vec![vec![
                        Span::styled("copy: ", t.dim()),
                        Span::raw(clean(&copy_path.display().to_string(), 4096)),
                    ]],
                )
                .right()
                .shrink(Cut::Start),
            );
            bar(frame, rows[1], &items);
        }
    }
    bar(frame, rows[2], &request_items(src, view));
    if src.journal_failures > 0 && rows.len() >= 4 {
        let line = journal_banner(
            src.journal_failures,
            src.last_journal_error.unwrap_or("unknown"),
            area.width as usize,
        );
        frame.render_widget(Paragraph::new(Line::styled(line, t.alarm())), rows[3]);
    }
}

/// The journal-failure line in `width` cells: what happens, what fixes it, then the last
/// error, cut with `…` where it does not fit. On a narrow screen the shortest form that
/// still holds the fix.
pub fn journal_banner(failures: u64, error: &str, width: usize) -> String {
    let error = clean(error, 300);
    // After a failed fsync every request is refused until a restart.
    let fix = if error.contains("fsync") {
        "fix the disk, then restart recmon"
    } else {
        "free space or permissions"
    };
    let n = count(failures, "time", "times");
    banner(
        &[
            (
                format!(" JOURNAL WRITE FAILED {n}: callbacks are not recorded (answered 503 so the provider retries; nginx-rtmp/SRS 200) · fix: {fix}"),
                format!(" · last error: {error} "),
            ),
            (
                format!(" JOURNAL WRITE FAILED {n} · fix: {fix}"),
                format!(" · {error} "),
            ),
            (format!(" JOURNAL FAILED · fix: {fix}"), format!(" · {error} ")),
        ],
        width,
    )
}

/// A one-line banner in `width` cells from forms (longest first) of what it says up to
/// its fix, and what may be cut after it: the first form whose part up to the fix fits,
/// cut with `…` when the rest does not.
pub fn banner(forms: &[(String, String)], width: usize) -> String {
    let Some((keep, more)) = forms
        .iter()
        .find(|(keep, _)| super::text::width(keep) <= width)
        .or(forms.last())
    else {
        return String::new();
    };
    fit(&format!("{keep}{more}"), width, Cut::End)
}

/// Draws one header line from its items.
fn bar(frame: &mut Frame, area: Rect, items: &[BarItem]) {
    let (left, right) = arrange_bar(items, area.width as usize, GAP);
    frame.render_widget(Paragraph::new(left), area);
    frame.render_widget(Paragraph::new(right.right_aligned()), area);
}

fn identity_items(view: &ViewState, now: DateTime<Utc>, ctx: &HeaderInfo) -> Vec<BarItem> {
    let t = view.theme;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut items = vec![BarItem::new(
        0,
        vec![vec![
            Span::styled(" recmon ", title_style(t)),
            Span::raw(" "),
            Span::styled(format!("http://{}", ctx.listen), bold),
        ]],
    )];
    let port = ctx.listen.port();
    if ctx.loopback_only {
        items.push(BarItem::new(
            0,
            [
                format!("⚠ loopback only: the provider cannot reach it (--listen 0.0.0.0:{port})"),
                format!("⚠ loopback only (--listen 0.0.0.0:{port})"),
                "⚠ loopback only".to_string(),
            ]
            .into_iter()
            .map(|s| vec![Span::styled(s, t.warn())])
            .collect(),
        ));
    } else if !ctx.signature_checking {
        items.push(BarItem::new(
            0,
            [
                "⚠ public and unsigned: anyone can forge callbacks (set RECMON_AUTH_KEY)",
                "⚠ unsigned: set RECMON_AUTH_KEY",
                "⚠ unsigned",
            ]
            .into_iter()
            .map(|s| vec![Span::styled(s, t.alarm())])
            .collect(),
        ));
    }
    let zone = if view.utc { "UTC" } else { "local" };
    items.push(
        BarItem::new(
            2,
            vec![vec![
                Span::styled("sig: ", t.dim()),
                if ctx.signature_checking {
                    Span::styled("on", t.fg(Color::Green))
                } else {
                    Span::raw("off")
                },
            ]],
        )
        .right(),
    );
    items.push(
        BarItem::new(
            3,
            vec![vec![
                Span::styled("up ", t.dim()),
                Span::raw(hms((now - ctx.started_at).num_seconds())),
            ]],
        )
        .right(),
    );
    items.push(
        BarItem::new(
            1,
            vec![vec![Span::styled(
                format!("{} {zone} ", clock(now, view.utc)),
                t.dim(),
            )]],
        )
        .right(),
    );
    items
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

/// The first line of an attached view: what it is attached to, and the clock.
fn attached_identity_items(
    view: &ViewState,
    now: DateTime<Utc>,
    sources: &[SourceStatus],
) -> Vec<BarItem> {
    let t = view.theme;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let title = || vec![Span::styled(" recmon ", title_style(t)), Span::raw(" ")];
    let mut forms = Vec::new();
    match sources {
        [one] => {
            let mut f = title();
            f.push(Span::styled("attached to ", t.dim()));
            f.push(Span::styled(clean(&one.url, 200), bold));
            forms.push(f);
            let mut f = title();
            f.push(Span::styled(clean(&one.url, 200), bold));
            forms.push(f);
        }
        _ => {
            // Which label is which receiver; the source line then names them by label.
            let mut f = title();
            f.push(Span::styled("attached to ", t.dim()));
            for (i, s) in sources.iter().enumerate() {
                if i > 0 {
                    f.push(Span::raw(", "));
                }
                f.push(Span::styled(format!("{} ", s.label), bold));
                f.push(Span::raw(clean(&s.url, 200)));
            }
            forms.push(f);
            let mut f = title();
            f.push(Span::styled(
                format!("attached to {} receivers, merged", sources.len()),
                bold,
            ));
            forms.push(f);
        }
    }
    let mut items = vec![
        BarItem::new(0, forms).shrink(Cut::End),
        BarItem::new(3, vec![vec![Span::styled("read-only", t.dim())]]),
    ];
    let sig: Vec<Option<bool>> = sources.iter().map(|s| s.signature_checking).collect();
    let (sig_text, sig_style) = if sig.iter().all(|s| *s == Some(true)) {
        ("on", t.fg(Color::Green))
    } else if sig.iter().all(|s| *s == Some(false)) {
        ("off", Style::new())
    } else if sig.iter().any(Option::is_none) {
        ("?", t.dim())
    } else {
        ("mixed", t.warn())
    };
    items.push(
        BarItem::new(
            2,
            vec![vec![
                Span::styled("sig: ", t.dim()),
                Span::styled(sig_text, sig_style),
            ]],
        )
        .right(),
    );
    let zone = if view.utc { "UTC" } else { "local" };
    items.push(
        BarItem::new(
            1,
            vec![vec![Span::styled(
                format!("{} {zone} ", clock(now, view.utc)),
                t.dim(),
            )]],
        )
        .right(),
    );
    items
}

/// One item per source: connected and live, catching up (how far behind), connecting, or
/// reconnecting (for how long, why, and the last entry it has).
fn source_items(view: &ViewState, now: DateTime<Utc>, sources: &[SourceStatus]) -> Vec<BarItem> {
    let t = view.theme;
    let several = sources.len() > 1;
    sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            // The first item starts one cell in, like the other header lines.
            let lead = if i == 0 { " " } else { "" };
            let name = if several {
                format!("{lead}{} ", s.label)
            } else {
                lead.to_string()
            };
            let last = format!("#{}", thousands(s.last_seq));
            let (style, forms): (Style, Vec<String>) = match &s.link {
                Link::Connecting { since } => (
                    t.dim(),
                    vec![
                        format!("… connecting {}", hms((now - *since).num_seconds())),
                        "… connecting".into(),
                        "…".into(),
                    ],
                ),
                Link::Connected { .. } if s.lag() > 0 => (
                    t.warn(),
                    vec![
                        format!("◐ catching up {last}, lag {}", thousands(s.lag())),
                        format!("◐ lag {}", thousands(s.lag())),
                        "◐".into(),
                    ],
                ),
                Link::Connected { .. } => (
                    t.fg(Color::Green),
                    vec![format!("● live {last}"), format!("● {last}"), "●".into()],
                ),
                Link::Reconnecting { since, reason } => {
                    let down = hms((now - *since).num_seconds());
                    (
                        t.fg(Color::Red).add_modifier(Modifier::BOLD),
                        vec![
                            format!("○ reconnecting {down}: {} · last {last}", clean(reason, 60)),
                            format!("○ reconnecting {down}: {}", clean(reason, 30)),
                            format!("○ down {down}"),
                            "○".into(),
                        ],
                    )
                }
            };
            let all: Vec<Vec<Span<'static>>> = forms
                .iter()
                .map(|f| {
                    vec![
                        Span::styled(name.clone(), Style::new().add_modifier(Modifier::BOLD)),
                        Span::styled(f.clone(), style),
                    ]
                })
                .collect();
            BarItem::new(0, all)
        })
        .collect()
}

/// The journal (a receiver's own), then what changes how the panels read: the filter and the
/// frozen state.
fn journal_items(src: &Source, view: &ViewState, ctx: Option<&HeaderInfo>) -> Vec<BarItem> {
    let mut items = Vec::new();
    if let Some(ctx) = ctx {
        items.extend(rebuilding_item(src, view));
        items.push(journal_item(view, ctx));
    }
    items.extend(alert_items(src, view));
    items.extend(reconciled_item(src, view));
    items.extend(forward_items(src, view));
    items.extend(view_items(src, view));
    items
}

/// While `--resume` rebuilds the state in the background: how far, and that the panels are
/// not the journal's state yet (callbacks are answered meanwhile, and applied once it is
/// done). First on the line, so that it is the last item a narrow screen gives up.
fn rebuilding_item(src: &Source, view: &ViewState) -> Option<BarItem> {
    let p = src.rebuilding?.percent();
    Some(BarItem::new(
        0,
        [
            format!(" ◐ rebuilding {p}%: the panels fill in when it is done; callbacks are answered meanwhile"),
            format!(" ◐ rebuilding {p}%: panels fill in when done"),
            format!(" ◐ rebuilding {p}%"),
            format!(" ◐ {p}%"),
        ]
        .into_iter()
        .map(|f| vec![Span::styled(f, view.theme.warn())])
        .collect(),
    ))
}

/// The last reconcile run (its journaled summary), even one that found nothing: when, how
/// many it found missed, and how many callbacks were filled in from the providers' records in
/// all; yellow when the last run found anything. Without a run's summary in the journal (one
/// written before they were journaled), the callbacks filled in and when the last was.
fn reconciled_item(src: &Source, view: &ViewState) -> Option<BarItem> {
    let n = src.reconciled.len() as u64;
    if let Some(run) = src.reconciled.last_run() {
        let when = clock(run.at, view.utc);
        let missed = run.count("missed");
        let found: u64 = run.findings.values().sum();
        let style = if found > 0 {
            view.theme.warn()
        } else {
            ratatui::style::Style::new()
        };
        return Some(BarItem::new(
            1,
            [
                format!(
                    " ⟲ last reconcile {when}, missed {}; {} filled in from the providers' records",
                    thousands(missed),
                    count(n, "callback", "callbacks")
                ),
                format!(
                    " ⟲ last reconcile {when}, missed {}, {} filled in",
                    thousands(missed),
                    thousands(n)
                ),
                format!(" ⟲ {when} missed {}", thousands(missed)),
                format!(" ⟲ {}", thousands(missed)),
            ]
            .into_iter()
            .map(|f| vec![Span::styled(f, style)])
            .collect(),
        ));
    }
    let last = src.reconciled.last_at()?;
    let when = clock(last, view.utc);
    Some(BarItem::new(
        1,
        [
            format!(
                " ⟲ {} filled in from the provider's records (last reconcile {when})",
                count(n, "missed callback", "missed callbacks")
            ),
            format!(" ⟲ {} reconciled, last {when}", thousands(n)),
            format!(" ⟲ {}", thousands(n)),
        ]
        .into_iter()
        .map(|f| vec![Span::styled(f, view.theme.warn())])
        .collect(),
    ))
}

/// The alerts firing, counted (`a` lists them): alarm-coloured when one is critical.
fn alert_items(src: &Source, view: &ViewState) -> Vec<BarItem> {
    let t = view.theme;
    let firing = src.alerts.firing();
    if firing.is_empty() {
        return Vec::new();
    }
    let critical = firing
        .iter()
        .filter(|a| a.severity == crate::core::alerts::Severity::Critical)
        .count();
    let style = if critical > 0 { t.alarm() } else { t.warn() };
    let n = firing.len() as u64;
    let mut forms = Vec::new();
    if critical > 0 {
        forms.push(format!(
            "⚠ {} ({critical} critical, a lists them)",
            count(n, "alert", "alerts")
        ));
    }
    forms.push(format!("⚠ {} (a)", count(n, "alert", "alerts")));
    forms.push(format!("⚠ {n}"));
    vec![BarItem::new(
        0,
        forms
            .into_iter()
            .map(|f| vec![Span::styled(f, style)])
            .collect(),
    )]
}

/// One item per `--forward-to` target: its name, what is pending (and for how long the oldest
/// has waited), what failed; warning-coloured while its deliveries fail, alarm-coloured once
/// one was given up.
fn forward_items(src: &Source, view: &ViewState) -> Vec<BarItem> {
    let t = view.theme;
    let several = src.forward.len() > 1;
    src.forward
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let label = if several {
                format!("{}:", (b'A' + (i % 26) as u8) as char)
            } else {
                String::new()
            };
            let name = clean(&f.name, 200);
            let oldest = f
                .oldest_pending()
                .map(|at| format!(" (oldest {})", hms((src.now - at).num_seconds())))
                .unwrap_or_default();
            let pending = format!("{} pending{oldest}", thousands(f.pending() as u64));
            let failed = if f.failed > 0 {
                format!(" · {} failed", thousands(f.failed))
            } else {
                String::new()
            };
            let state = if f.failing { " · failing" } else { "" };
            let style = if f.failed > 0 {
                t.alarm()
            } else if f.failing {
                t.warn()
            } else {
                Style::new()
            };
            let forms = [
                format!(
                    "→ {label}{name} ({}): ✓ {} · {pending}{failed}{state}",
                    f.mode.as_str(),
                    thousands(f.delivered)
                ),
                format!("→ {label}{name}: {pending}{failed}{state}"),
                format!("→{label} {} pending{failed}", thousands(f.pending() as u64)),
            ];
            BarItem::new(
                1,
                forms
                    .into_iter()
                    .map(|s| vec![Span::styled(s, style)])
                    .collect(),
            )
        })
        .collect()
}

fn journal_item(view: &ViewState, ctx: &HeaderInfo) -> BarItem {
    let t = view.theme;
    match &ctx.journal_path {
        Some(p) => {
            let path = clean(&p.display().to_string(), 4096);
            BarItem::new(
                2,
                vec![
                    vec![Span::styled(" journal: ", t.dim()), Span::raw(path.clone())],
                    vec![Span::raw(format!(" {path}"))],
                ],
            )
            .shrink(Cut::Start)
        }
        None => BarItem::new(
            2,
            vec![
                vec![Span::styled(
                    " journal: off (--no-journal): nothing is kept on disk",
                    t.warn(),
                )],
                vec![Span::styled(" journal off", t.warn())],
            ],
        ),
    }
}

/// The filter and the frozen state.
fn view_items(src: &Source, view: &ViewState) -> Vec<BarItem> {
    let t = view.theme;
    let mut items = Vec::new();
    if !view.filter.is_empty() || view.filter_editing {
        let text = vec![
            Span::styled("filter: ", t.dim()),
            Span::styled(format!("\"{}\"", clean(&view.filter, 60)), t.warn()),
        ];
        let mut long = text.clone();
        let pending = view.filter_pending(src);
        if pending > 0 {
            long.push(Span::styled(
                format!(" (searching, {} to go)", thousands(pending as u64)),
                t.dim(),
            ));
        }
        items.push(BarItem::new(1, vec![long, text]).shrink(Cut::End));
    }
    if view.frozen.is_some() {
        let n = src.arrived_while_frozen;
        let rejected = thousands(src.rejected_while_frozen);
        items.push(BarItem::new(
            0,
            [
                format!(
                    " FROZEN · {} arrived meanwhile ({rejected} rejected, {}) · space resumes ",
                    count(n, "request", "requests"),
                    count(
                        src.recordings_while_frozen as u64,
                        "recording",
                        "recordings"
                    )
                ),
                format!(
                    " FROZEN · {} new ({rejected} rejected) · space resumes ",
                    thousands(n)
                ),
                format!(" FROZEN · {} new ({rejected} rejected) ", thousands(n)),
            ]
            .into_iter()
            .map(|s| vec![Span::styled(s, t.alarm())])
            .collect(),
        ));
    }
    items
}

fn request_items(src: &Source, view: &ViewState) -> Vec<BarItem> {
    let t = view.theme;
    let c = src.counters;
    let accepted = t.fg(Color::Green);
    let duplicate = t.fg(Color::Magenta);
    let rejected = if c.rejected > 0 {
        t.fg(Color::Red)
    } else {
        Style::new()
    };
    let mut items = vec![BarItem::new(
        0,
        vec![
            vec![
                Span::styled(" requests ", t.dim()),
                Span::styled(format!("✓ {} accepted", thousands(c.accepted)), accepted),
                Span::raw("  "),
                Span::styled(format!("↻ {} duplicate", thousands(c.duplicate)), duplicate),
                Span::raw("  "),
                Span::styled(format!("✗ {} rejected", thousands(c.rejected)), rejected),
            ],
            vec![
                Span::styled(format!(" ✓ {}", thousands(c.accepted)), accepted),
                Span::raw("  "),
                Span::styled(format!("↻ {}", thousands(c.duplicate)), duplicate),
                Span::raw("  "),
                Span::styled(format!("✗ {} rejected", thousands(c.rejected)), rejected),
            ],
        ],
    )];
    if src.auth_failures > 0 {
        items.push(BarItem::new(
            0,
            vec![vec![Span::styled(
                format!(
                    "({})",
                    count(src.auth_failures, "bad signature", "bad signatures")
                ),
                t.fg(Color::Red).add_modifier(Modifier::BOLD),
            )]],
        ));
    }
    let (last, style) = match src.last_callback_at {
        Some(at) => {
            let silent = (src.now - at).num_seconds().max(0);
            let style = if silent > SILENCE_WARN_SECS {
                t.warn()
            } else {
                Style::new()
            };
            (hms(silent), style)
        }
        None => (String::new(), t.dim()),
    };
    items.push(BarItem::new(
        1,
        if last.is_empty() {
            vec![
                vec![Span::styled("no callback yet", t.dim())],
                vec![Span::styled("none yet", t.dim())],
            ]
        } else {
            vec![
                vec![
                    Span::styled("last callback ", t.dim()),
                    Span::styled(format!("{last} ago"), style),
                ],
                vec![
                    Span::styled("last ", t.dim()),
                    Span::styled(format!("{last} ago"), style),
                ],
            ]
        },
    ));
    let rate = Span::styled(
        format!(" {}/s", thousands(view.rate.last_second())),
        t.dim(),
    );
    let forms = [RATE_SECONDS, RATE_SECONDS / 2, RATE_SECONDS / 4]
        .into_iter()
        .map(|secs| {
            vec![
                Span::styled("rate ", t.dim()),
                Span::styled(rate_bars(&view.rate.per_second, secs), t.fg(Color::Cyan)),
                rate.clone(),
            ]
        })
        .chain([vec![Span::styled("rate", t.dim()), rate.clone()]])
        .collect();
    items.push(BarItem::new(2, forms));
    items
}

/// Bar heights from the lowest non-zero step up: a second with any traffic draws at least
/// `▁`, an idle one `·`, so a quiet second is never mistaken for an idle one.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The newest `width` seconds (newest at the right, idle padding at the left) on one scale:
/// 0 is `·`, any non-zero second at least `▁`, and the busiest second shown `█` (once it
/// had two requests or more); the rest in proportion.
pub fn rate_bars(per_second: &VecDeque<u64>, width: usize) -> String {
    let shown: Vec<u64> = per_second
        .iter()
        .skip(per_second.len().saturating_sub(width))
        .copied()
        .collect();
    let max = shown.iter().copied().max().unwrap_or(0);
    let mut out = "·".repeat(width - shown.len());
    for n in shown {
        out.push(if n == 0 {
            '·'
        } else {
            // 1..=max onto the steps 0..=7: only the busiest second reaches the top.
            let step = ((n - 1) as u128 * 7 / (max.max(2) - 1) as u128) as usize;
            BARS[step.min(7)]
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While `--resume` rebuilds in the background the header says how far, first on the
    /// journal line, in its longest form when there is room and its shortest on a phone.
    #[test]
    fn the_header_says_rebuilding_until_the_state_is_whole() {
        let mut store = crate::core::store::Store::new(10);
        let info = HeaderInfo {
            listen: "127.0.0.1:8080".parse().unwrap(),
            loopback_only: false,
            signature_checking: true,
            journal_path: Some(PathBuf::from("/var/lib/recmon/recmon.jsonl")),
            started_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let now = info.started_at;
        let view = ViewState::new(Theme { color: false }, true);
        let draw = |store: &crate::core::store::Store, width: u16| {
            let src = Source::new(store, None, now);
            let mut term =
                ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, 3)).unwrap();
            term.draw(|f| render(f, f.area(), &src, &view, now, Context::Local(&info)))
                .unwrap();
            let buf = term.backend().buffer().clone();
            (0..3)
                .map(|y| {
                    (0..width)
                        .map(|x| buf[(x, y)].symbol().to_string())
                        .collect()
                })
                .collect::<Vec<String>>()
                .join("\n")
        };
        store.set_rebuilding(Some(crate::core::rebuild::RebuildProgress {
            read: 41,
            total: 100,
        }));
        let wide = draw(&store, 160);
        assert!(
            wide.contains("◐ rebuilding 41%: the panels fill in"),
            "{wide}"
        );
        let narrow = draw(&store, 40);
        assert!(narrow.contains("◐ "), "{narrow}");
        store.set_rebuilding(None);
        let done = draw(&store, 160);
        assert!(!done.contains("rebuilding"), "{done}");
    }

    #[test]
    fn any_traffic_draws_above_idle_on_one_scale() {
        let secs: VecDeque<u64> = [0, 1, 2, 500, 1000, 0].into_iter().collect();
        let bars = rate_bars(&secs, 8);
        assert_eq!(bars, "···▁▁▄█·");
        // A lone request in a quiet minute is visible.
        let quiet: VecDeque<u64> = [0, 0, 1].into_iter().collect();
        assert_eq!(rate_bars(&quiet, 5), "····▁");
        let quiet_after_peak: VecDeque<u64> = [10_000, 1].into_iter().collect();
        assert_eq!(rate_bars(&quiet_after_peak, 2), "█▁");
        // Only the newest seconds are kept when the space is short.
        assert_eq!(rate_bars(&secs, 3), "▄█·");
    }
}
