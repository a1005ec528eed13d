//! Popups over the panels: the help (generated from the key table), the detail of one row,
//! and the notice shown instead of everything when the terminal is too small.

use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::keys::{BINDINGS, FILTER_HELP, MOUSE_HELP};
use super::screen::{MIN_HEIGHT, MIN_WIDTH};
use super::state::{Popup, ViewState};
use super::theme::Theme;

/// Draws the open popup, if any.
pub fn render(frame: &mut Frame, area: Rect, view: &mut ViewState) {
    let t = view.theme;
    let Some(popup) = &mut view.popup else {
        view.areas.popup = Rect::default();
        return;
    };
    match popup {
        Popup::Help { scroll } => {
            let lines = help_lines(t);
            let width = lines.iter().map(Line::width).max().unwrap_or(20) as u16 + 4;
            let height = lines.len() as u16 + 2;
            let rect = centered(area, width, height);
            *scroll =
                (*scroll).min((lines.len() as u16).saturating_sub(rect.height.saturating_sub(2)));
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(lines)
                    .scroll((*scroll, 0))
                    .block(popup_block(" Keys ", " any key closes ", t)),
                rect,
            );
            view.areas.popup = rect;
        }
        Popup::Detail(d) => {
            let rect = centered(
                area,
                area.width.saturating_sub(8).max(20),
                area.height.saturating_sub(4).max(5),
            );
            let inner_width = rect.width.saturating_sub(2) as usize;
            let inner_height = rect.height.saturating_sub(2) as usize;
            let lines = wrap_lines(&d.lines, inner_width);
            let total = lines.len();
            let max_scroll = total.saturating_sub(inner_height) as u16;
            d.scroll = d.scroll.min(max_scroll);
            let paragraph = Paragraph::new(lines);
            let hint = if max_scroll > 0 {
                format!(
                    " ↑↓ PgUp PgDn scroll · line {}/{} · Esc closes ",
                    d.scroll as usize + 1,
                    total
                )
            } else {
                " Esc closes ".to_string()
            };
            frame.render_widget(Clear, rect);
            frame.render_widget(
                paragraph.scroll((d.scroll, 0)).block(popup_block(
                    &format!(" {} ", d.title),
                    &hint,
                    t,
                )),
                rect,
            );
            view.areas.popup = rect;
        }
    }
}

fn popup_block<'a>(title: &str, bottom: &str, t: Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(t.border(true))
        .title(Span::styled(title.to_string(), t.border(true)))
        .title_bottom(Line::styled(bottom.to_string(), t.dim()).right_aligned())
}

/// The help text, generated from the key table.
fn help_lines(t: Theme) -> Vec<Line<'static>> {
    let key_width = BINDINGS
        .iter()
        .map(|b| b.label.chars().count())
        .chain([MOUSE_HELP.0.len()])
        .max()
        .unwrap_or(8)
        + 2;
    let key = Style::new().add_modifier(Modifier::BOLD);
    let row = |k: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!(" {k:<key_width$}"), key),
            Span::raw(what.to_string()),
        ])
    };
    let mut lines: Vec<Line<'static>> = BINDINGS.iter().map(|b| row(b.label, b.help)).collect();
    lines.push(row(MOUSE_HELP.0, MOUSE_HELP.1));
    lines.push(Line::raw(""));
    lines.push(Line::styled(" While typing a filter:", t.header()));
    for (k, what) in FILTER_HELP {
        lines.push(row(k, what));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " In a popup: ↑↓ PgUp PgDn scroll, Esc closes.",
        t.dim(),
    ));
    lines
}

/// A rectangle of at most `width` × `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// Shown instead of the panels when they cannot fit.
pub fn too_small(frame: &mut Frame, area: Rect, t: Theme) {
    let text = vec![
        Line::styled("terminal too small", t.warn()),
        Line::raw(format!("{}×{}", area.width, area.height)),
        Line::raw(format!("need {MIN_WIDTH}×{MIN_HEIGHT}")),
        Line::raw("q quits"),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// Cuts lines into rows of at most `width` columns (by character, keeping styles), so that
/// the popup knows exactly how many rows it has to scroll through.
pub fn wrap_lines(lines: &[Line<'static>], width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.width() <= width {
            out.push(line.clone());
            continue;
        }
        let mut row: Vec<Span<'static>> = Vec::new();
        let mut row_width = 0;
        for span in &line.spans {
            let mut piece = String::new();
            for (i, c) in span.content.char_indices() {
                let w = Span::raw(&span.content[i..i + c.len_utf8()]).width();
                if row_width + w > width && row_width > 0 {
                    if !piece.is_empty() {
                        row.push(Span::styled(std::mem::take(&mut piece), span.style));
                    }
                    out.push(Line::from(std::mem::take(&mut row)).style(line.style));
                    row_width = 0;
                }
                piece.push(c);
                row_width += w;
            }
            if !piece.is_empty() {
                row.push(Span::styled(piece, span.style));
            }
        }
        if !row.is_empty() {
            out.push(Line::from(row).style(line.style));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_cuts_at_width_and_keeps_styles() {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let lines = vec![
            Line::from(vec![Span::styled("abcd", bold), Span::raw("efghij")]),
            Line::raw("abc"),
            Line::raw(""),
        ];
        let out = wrap_lines(&lines, 4);
        let text: Vec<String> = out.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["abcd", "efgh", "ij", "abc", ""]);
        assert_eq!(out[0].spans[0].style, bold);
        // Wide characters are never split across the edge.
        let out = wrap_lines(&[Line::raw("中文中文中")], 5);
        let text: Vec<String> = out.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["中文", "中文", "中"]);
    }
}
