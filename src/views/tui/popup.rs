//! Popups over the panels: the help (generated from the key table), the detail of one row,
//! and the notice shown instead of everything when the terminal is too small.

use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::keys::{BINDINGS, EXPORT_HELP, FILTER_HELP, FILTER_SYNTAX, MOUSE_HELP};
use super::state::{Popup, ViewState};
use super::text::{fit, width, Cut};
use super::theme::{Theme, LEGEND};
use super::widgets::{border_scrollbar, MIN_HEIGHT, MIN_WIDTH};

/// Where the open popup goes on a screen of `area` and what it shows.
struct Laid {
    /// The popup with its border.
    rect: Rect,
    /// Its lines, wrapped to its width.
    lines: Vec<Line<'static>>,
    /// Lines that fit inside the border.
    inner_height: usize,
}

impl Laid {
    /// The first line shown when scrolled to the end.
    fn max_scroll(&self) -> u16 {
        self.lines.len().saturating_sub(self.inner_height) as u16
    }
}

fn lay_out(area: Rect, popup: &Popup, t: Theme) -> Laid {
    let (rect, lines) = match popup {
        Popup::Help { .. } => {
            // As wide as the key table needs (longer texts wrap), within the terminal with a
            // column of margin, so that it fits 80×24; taller than the terminal, it scrolls.
            let width = (help_natural_width() as u16 + 2).min(area.width.saturating_sub(2));
            let inner_width = width.saturating_sub(2) as usize;
            let lines = help_lines(t, inner_width);
            let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
            (centered(area, width, height), lines)
        }
        Popup::Detail(d) => {
            let rect = centered(
                area,
                area.width.saturating_sub(8).max(20),
                area.height.saturating_sub(4).max(5),
            );
            let inner_width = rect.width.saturating_sub(2) as usize;
            (rect, wrap_lines(&d.lines, inner_width))
        }
    };
    Laid {
        rect,
        lines,
        inner_height: rect.height.saturating_sub(2) as usize,
    }
}

/// Before a frame is drawn: keeps the open popup's scroll position within its lines at this
/// screen size, and records where it goes (for page sizes and the mouse).
pub fn prepare(view: &mut ViewState, area: Rect) {
    let t = view.theme;
    let Some(popup) = &mut view.popup else {
        view.areas.popup = Rect::default();
        return;
    };
    let laid = lay_out(area, popup, t);
    let scroll = match popup {
        Popup::Help { scroll } => scroll,
        Popup::Detail(d) => &mut d.scroll,
    };
    *scroll = (*scroll).min(laid.max_scroll());
    view.areas.popup = laid.rect;
}

/// Draws the open popup, if any (as [`prepare`] left it).
pub fn render(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    let Some(popup) = &view.popup else {
        return;
    };
    let laid = lay_out(area, popup, t);
    let max_scroll = laid.max_scroll();
    let Laid {
        rect,
        lines,
        inner_height,
    } = laid;
    let total = lines.len();
    match popup {
        Popup::Help { scroll } => {
            let scroll = *scroll;
            let hint = if max_scroll > 0 {
                let first = scroll as usize + 1;
                let last = (scroll as usize + inner_height).min(total);
                format!(
                    " ↑↓ PgUp PgDn scroll · lines {first}–{last} of {total} · other keys close "
                )
            } else {
                " any key closes ".to_string()
            };
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(lines)
                    .scroll((scroll, 0))
                    .block(popup_block(" Keys ", &hint, t)),
                rect,
            );
            if max_scroll > 0 {
                popup_scrollbar(frame, rect, total, inner_height, scroll as usize, t);
            }
        }
        Popup::Detail(d) => {
            let inner_width = rect.width.saturating_sub(2) as usize;
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
            // A stream's name keeps its end when the title is too long (`stream …/live/cam2`).
            let title = match &d.name {
                Some(name) => {
                    let room = inner_width.saturating_sub(width(&d.title) + 3);
                    format!(" {} {} ", d.title, fit(name, room, Cut::Start))
                }
                None => format!(
                    " {} ",
                    fit(&d.title, inner_width.saturating_sub(2), Cut::End)
                ),
            };
            frame.render_widget(Clear, rect);
            frame.render_widget(
                paragraph
                    .scroll((d.scroll, 0))
                    .block(popup_block(&title, &hint, t)),
                rect,
            );
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

/// Width of the key column of the help (one space, the longest key label, two spaces).
fn help_key_width() -> usize {
    BINDINGS
        .iter()
        .map(|b| b.label)
        .chain([MOUSE_HELP.0])
        .chain(FILTER_HELP.iter().map(|(k, _)| *k))
        .chain(FILTER_SYNTAX.iter().map(|(k, _)| *k))
        .chain(LEGEND.iter().map(|(k, _)| *k))
        .map(|k| Line::raw(k).width())
        .max()
        .unwrap_or(8)
        + 3
}

/// The widest line of the key table unwrapped: the help popup is no wider than that (the
/// filter syntax, which is longer, wraps within it).
fn help_natural_width() -> usize {
    let key_width = help_key_width();
    BINDINGS
        .iter()
        .map(|b| b.help)
        .chain([MOUSE_HELP.1])
        .chain(FILTER_HELP.iter().map(|(_, h)| *h))
        .map(|h| key_width + Line::raw(h).width() + 1)
        .max()
        .unwrap_or(40)
}

/// The help text, generated from the key table, wrapped at word boundaries to `width`
/// columns with the descriptions kept in their column.
fn help_lines(t: Theme, width: usize) -> Vec<Line<'static>> {
    let key_width = help_key_width();
    let key = Style::new().add_modifier(Modifier::BOLD);
    let text_width = width.saturating_sub(key_width + 1).max(10);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let row = |lines: &mut Vec<Line<'static>>, k: &str, what: &str| {
        for (i, part) in wrap_words(what, text_width).into_iter().enumerate() {
            let k = if i == 0 { k } else { "" };
            let pad = key_width.saturating_sub(1 + Line::raw(k).width());
            lines.push(Line::from(vec![
                Span::styled(format!(" {k}{}", " ".repeat(pad)), key),
                Span::raw(part),
            ]));
        }
    };
    for b in BINDINGS {
        row(&mut lines, b.label, b.help);
    }
    row(&mut lines, MOUSE_HELP.0, MOUSE_HELP.1);
    lines.push(Line::raw(""));
    lines.push(Line::styled(" While typing a filter:", t.header()));
    for (k, what) in FILTER_HELP {
        row(&mut lines, k, what);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " While typing the export folder (e):",
        t.header(),
    ));
    for (k, what) in EXPORT_HELP {
        row(&mut lines, k, what);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" What the filter matches:", t.header()));
    for (k, what) in FILTER_SYNTAX {
        row(&mut lines, k, what);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" What the symbols mean:", t.header()));
    for (k, what) in LEGEND {
        row(&mut lines, k, what);
    }
    lines.push(Line::raw(""));
    for part in wrap_words(
        "In a popup: ↑↓ PgUp PgDn Home End scroll, Esc closes.",
        width.saturating_sub(1).max(10),
    ) {
        lines.push(Line::styled(format!(" {part}"), t.dim()));
    }
    lines
}

/// Greedy word wrap to `width` columns; a word longer than a line is cut.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;
    for word in text.split_whitespace() {
        let w = Line::raw(word).width();
        if line_width > 0 && line_width + 1 + w > width {
            out.push(std::mem::take(&mut line));
            line_width = 0;
        }
        if line_width > 0 {
            line.push(' ');
            line_width += 1;
        }
        line.push_str(word);
        line_width += w;
        while line_width > width {
            // One word wider than the line: cut it where the line ends.
            let cut = line
                .char_indices()
                .scan(0, |acc, (i, c)| {
                    *acc += Line::raw(c.to_string()).width();
                    Some((i, *acc))
                })
                .find(|&(_, acc)| acc > width)
                .map_or(line.len(), |(i, _)| i)
                // A symbol wider than the whole line still takes a line of its own, so the
                // loop always makes progress.
                .max(line.chars().next().map_or(0, char::len_utf8));
            let rest = line.split_off(cut);
            out.push(std::mem::replace(&mut line, rest));
            line_width = Line::raw(line.as_str()).width();
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// A scrollbar on a popup's right border, beside its text rows.
fn popup_scrollbar(
    frame: &mut Frame,
    rect: Rect,
    total: usize,
    height: usize,
    offset: usize,
    t: Theme,
) {
    let track = Rect {
        y: rect.y + 1,
        height: rect.height.saturating_sub(2),
        ..rect
    };
    border_scrollbar(frame, track, total, height, offset, "║", t.border(true));
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

/// Cuts lines into rows of at most `width` columns, keeping styles, so that the popup knows
/// exactly how many rows it has to scroll through. Rows break at spaces, so words stay
/// whole; a row that continues a line is indented like the line's text (a field's value,
/// a JSON line's nesting). A word wider than a row is broken where the row ends, and the
/// break is marked with `…` at the end of the row (nothing of it is lost: it goes on below).
pub fn wrap_lines(lines: &[Line<'static>], width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.width() <= width {
            out.push(line.clone());
            continue;
        }
        for row in wrap_cells(&cells(line), hanging_indent(line, width), width) {
            let mut l = Line::from(spans_of(&row)).style(line.style);
            l.alignment = line.alignment;
            out.push(l);
        }
    }
    out
}

/// Fewest cells left on a row for a word wider than a row to start on it.
const BROKEN_WORD_MIN: usize = 8;

/// One character of a line, its style and its width in cells.
type Cell = (char, Style, usize);

fn cells(line: &Line<'static>) -> Vec<Cell> {
    line.spans
        .iter()
        .flat_map(|span| {
            span.content
                .chars()
                .map(move |c| (c, span.style, width(c.encode_utf8(&mut [0; 4]))))
        })
        .collect()
}

/// Where the rows that continue a line start: under a field's value (the line's first span
/// is its label, padded with spaces), else under the line's own indentation; never more
/// than half the row.
fn hanging_indent(line: &Line<'static>, width: usize) -> usize {
    let label = match line.spans.as_slice() {
        [first, _, ..] if first.content.ends_with(' ') => first.width(),
        _ => 0,
    };
    let leading = line
        .spans
        .iter()
        .flat_map(|s| s.content.chars())
        .take_while(|c| *c == ' ')
        .count();
    let indent = label.max(leading);
    if indent * 2 > width {
        0
    } else {
        indent
    }
}

/// Greedy word wrap of `cells` into rows of `width` cells, rows after the first starting
/// with `indent` spaces.
fn wrap_cells(cells: &[Cell], indent: usize, width: usize) -> Vec<Vec<Cell>> {
    let pad = || -> Vec<Cell> { vec![(' ', Style::new(), 1); indent] };
    let used = |row: &[Cell]| row.iter().map(|c| c.2).sum::<usize>();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut row: Vec<Cell> = Vec::new();
    // Whether `row` holds anything past its indentation.
    let mut filled = false;
    let mut i = 0;
    while i < cells.len() {
        let space = cells[i].0 == ' ';
        let end = cells[i..]
            .iter()
            .position(|c| (c.0 == ' ') != space)
            .map_or(cells.len(), |n| i + n);
        let token = &cells[i..end];
        i = end;
        let w: usize = token.iter().map(|c| c.2).sum();
        if used(&row) + w <= width {
            row.extend_from_slice(token);
            filled |= !space || rows.is_empty();
            continue;
        }
        if space {
            // The break: spaces at the end of a row are not drawn.
            if filled {
                trim_end(&mut row);
                rows.push(std::mem::replace(&mut row, pad()));
                filled = false;
            }
            continue;
        }
        if filled && w <= width - indent {
            // The word fits on a row of its own: it starts the next one.
            trim_end(&mut row);
            rows.push(std::mem::replace(&mut row, pad()));
            row.extend_from_slice(token);
            filled = true;
            continue;
        }
        // Wider than a row: broken where rows end, each break marked with `…`. It starts
        // where the row is (a field's value beside its label) unless little room is left.
        if filled && width - used(&row) < BROKEN_WORD_MIN {
            trim_end(&mut row);
            rows.push(std::mem::replace(&mut row, pad()));
        }
        let mut rest = token;
        // The rest's width, kept as it shrinks: summing it again for each row would make a
        // long word cost its length squared.
        let mut rest_w = w;
        while used(&row) + rest_w > width {
            let room = width.saturating_sub(used(&row) + 1);
            let mut taken = 0;
            let mut n = 0;
            while n < rest.len() && taken + rest[n].2 <= room {
                taken += rest[n].2;
                n += 1;
            }
            // A symbol wider than the room still takes a row of its own: always progress.
            let n = n.max(1).min(rest.len());
            let style = rest[n - 1].1;
            row.extend_from_slice(&rest[..n]);
            rest_w -= rest[..n].iter().map(|c| c.2).sum::<usize>();
            rest = &rest[n..];
            if rest.is_empty() {
                break;
            }
            row.push(('…', style, 1));
            rows.push(std::mem::replace(&mut row, pad()));
        }
        row.extend_from_slice(rest);
        filled = true;
    }
    trim_end(&mut row);
    if filled || rows.is_empty() {
        rows.push(row);
    }
    rows
}

fn trim_end(row: &mut Vec<Cell>) {
    while row.last().is_some_and(|c| c.0 == ' ') {
        row.pop();
    }
}

/// Cells back into spans, one per run of a style.
fn spans_of(row: &[Cell]) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for &(c, s, _) in row {
        if style.is_some_and(|st| st != s) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        text.push(c);
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style.unwrap_or_default()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_spaces_and_long_words_are_cut() {
        assert_eq!(wrap_words("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap_words("aa bb cc", 8), ["aa bb cc"]);
        assert_eq!(wrap_words("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap_words("", 3), [""]);
        assert_eq!(wrap_words("中文中文 x", 5), ["中文", "中文", "x"]);
        // Narrower than one symbol: one symbol a line, never an endless loop.
        assert_eq!(wrap_words("中文", 1), ["中", "文"]);
    }

    #[test]
    fn help_lines_fit_the_width_they_are_given() {
        for width in [40, 60, 76, 90] {
            let lines = help_lines(Theme { color: false }, width);
            for l in &lines {
                assert!(l.width() <= width, "{width}: {l:?} is {} wide", l.width());
            }
        }
    }

    #[test]
    fn popups_wrap_at_spaces_and_mark_a_broken_word() {
        let text = |out: &[Line]| out.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert_eq!(
            text(&wrap_lines(&[Line::raw("aa bb cc")], 5)),
            ["aa bb", "cc"]
        );
        assert_eq!(text(&wrap_lines(&[Line::raw("")], 5)), [""]);
        // A field's value goes on under itself; a JSON line under its indentation.
        let field = Line::from(vec![Span::raw("label  "), Span::raw("one two three four")]);
        assert_eq!(
            text(&wrap_lines(&[field], 14)),
            ["label  one two", "       three", "       four"]
        );
        assert_eq!(
            text(&wrap_lines(&[Line::raw("    \"k\": \"a b c d\"")], 12)),
            ["    \"k\": \"a", "    b c d\""]
        );
        // A word wider than a row: broken at the row's end, marked, nothing lost.
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let out = wrap_lines(
            &[Line::from(vec![
                Span::styled("abcd", bold),
                Span::raw("efghij"),
            ])],
            4,
        );
        assert_eq!(text(&out), ["abc…", "def…", "ghij"]);
        assert_eq!(out[0].spans[0].style, bold);
        assert_eq!(
            text(&wrap_lines(&[Line::raw("x abcdefgh")], 4)),
            ["x", "abc…", "def…", "gh"]
        );
        // Wide characters are never split across the edge.
        assert_eq!(
            text(&wrap_lines(&[Line::raw("中文中文中")], 5)),
            ["中文…", "中文…", "中"]
        );
        for width in 3..12 {
            for l in wrap_lines(&[Line::raw("a 中文中文中 bb   c")], width) {
                assert!(l.width() <= width, "{width}: {l:?}");
            }
        }
    }
}
