//! The footer: the keys that matter in the current focus (from the key table), the filter
//! or the export folder being typed, and above them, wrapped over as many lines as it needs,
//! a message such as where an export was written (Esc closes it). On a narrow terminal key
//! labels shorten, then the least used keys go; `? help` and `q quit` always stay.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::keys::{Action, BINDINGS, EXPORT_HELP, FILTER_HELP};
use super::state::ViewState;
use super::text::{arrange_bar, clean, width, BarItem, Cut};

/// Most lines a footer message takes; a longer one is cut (with `…`).
pub const MESSAGE_MAX_LINES: u16 = 4;

/// Lines the footer needs on a `columns`×`rows` screen: the keys, and the message wrapped
/// above them (at most [`MESSAGE_MAX_LINES`], fewer on a low screen so the panels keep
/// some rows).
pub fn height(view: &ViewState, columns: u16, rows: u16) -> u16 {
    let most = if rows < 24 { 2 } else { MESSAGE_MAX_LINES };
    let message = view
        .toast
        .as_ref()
        .map_or(0, |t| message_lines(&t.text, columns).min(most));
    1 + message
}

/// Lines a message takes when wrapped (see [`chunk`]).
fn message_lines(text: &str, columns: u16) -> u16 {
    let room = (columns as usize).saturating_sub(2).max(1);
    chunk(text, room).len().min(u16::MAX as usize) as u16
}

/// Draws the footer.
pub fn render(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    let key_style = Style::new().add_modifier(Modifier::BOLD);
    let mut items: Vec<BarItem> = Vec::new();
    if let Some(folder) = &view.export_prompt {
        // The folder keeps its end in sight (where the cursor is).
        items.push(
            BarItem::new(
                0,
                vec![vec![
                    Span::styled(" export to folder: ", t.warn()),
                    Span::raw(clean(folder, 4096)),
                    Span::styled("▏", t.warn()),
                ]],
            )
            .shrink(Cut::Start),
        );
        for (i, (k, what)) in EXPORT_HELP.iter().enumerate() {
            // Enter and Esc before Ctrl-U.
            items.push(BarItem::new(
                1 + (i >= 2) as u8,
                vec![
                    vec![
                        Span::styled(*k, key_style),
                        Span::styled(format!(" {what}"), t.dim()),
                    ],
                    vec![Span::styled(*k, key_style)],
                ],
            ));
        }
    } else if view.filter_editing {
        items.push(
            BarItem::new(
                0,
                vec![vec![
                    Span::styled(" filter: ", t.warn()),
                    Span::raw(clean(&view.filter, 80)),
                    Span::styled("▏", t.warn()),
                ]],
            )
            .shrink(Cut::Start),
        );
        for (k, what) in FILTER_HELP {
            items.push(BarItem::new(
                1,
                vec![
                    vec![
                        Span::styled(*k, key_style),
                        Span::styled(format!(" {what}"), t.dim()),
                    ],
                    vec![Span::styled(*k, key_style)],
                ],
            ));
        }
    } else {
        if view.toast.is_some() {
            // The message covers panel rows: how to close it stays in sight.
            items.push(BarItem::new(
                1,
                vec![
                    vec![
                        Span::styled("Esc", key_style),
                        Span::styled(" close message", t.dim()),
                    ],
                    vec![
                        Span::styled("Esc", key_style),
                        Span::styled(" close", t.dim()),
                    ],
                ],
            ));
        }
        for b in BINDINGS.iter().filter(|b| b.scope.applies(view.focus)) {
            let Some((key, what)) = b.footer else {
                continue;
            };
            // Picking a provider only means something once there are two to pick from.
            if b.action == Action::CycleProvider && !view.several_providers() {
                continue;
            }
            let state = match b.action {
                Action::ToggleFollow => if view.follow { ":on" } else { ":off" }.to_string(),
                Action::ToggleTime => if view.utc { ":UTC" } else { ":local" }.to_string(),
                Action::ToggleFreeze if view.frozen.is_some() => ":ON".to_string(),
                Action::CycleSort => format!(":{}", view.sort.label()),
                Action::CycleProvider => {
                    format!(":{}", view.query().provider.map_or("all", |p| p.as_str()))
                }
                _ => String::new(),
            };
            // Help and quit are how a new user finds everything else and gets out: kept.
            let priority = match b.action {
                Action::Help | Action::Quit => 0,
                Action::FocusNext | Action::Open | Action::Filter => 1,
                Action::ToggleFreeze | Action::Up | Action::Down => 2,
                Action::ToggleFollow | Action::ToggleTime => 3,
                // While one provider is picked, the way back to all stays in sight longer.
                Action::CycleProvider if view.query().provider.is_some() => 3,
                _ => 4,
            };
            // The short form of a provider is its tag: `p:ngx`.
            let short_state = match b.action {
                Action::CycleProvider => {
                    format!(":{}", view.query().provider.map_or("all", |p| p.tag()))
                }
                _ => state.clone(),
            };
            let full = vec![
                Span::styled(key, key_style),
                Span::styled(format!(" {what}{state}"), t.dim()),
            ];
            let mut forms = vec![full];
            if !state.is_empty() {
                // `f:on`: the key and its state still say what is going on.
                forms.push(vec![
                    Span::styled(key, key_style),
                    Span::styled(short_state, t.dim()),
                ]);
            }
            items.push(BarItem::new(priority, forms));
        }
    }
    // One column of margin on the left, like the header.
    let keys_area = Rect {
        x: area.x + 1.min(area.width),
        y: area.y + area.height.saturating_sub(1),
        width: area.width.saturating_sub(1),
        height: 1.min(area.height),
    };
    let (left, _) = arrange_bar(&items, keys_area.width as usize, 2);
    frame.render_widget(Paragraph::new(left), keys_area);
    if let Some(toast) = &view.toast {
        let style = if toast.error { t.alarm() } else { t.warn() };
        let lines = area.height.saturating_sub(1);
        if lines > 0 {
            let room = (area.width as usize).saturating_sub(2).max(1);
            let mut pieces = chunk(&toast.text, room);
            if pieces.len() > lines as usize {
                // Too low a screen for the whole message: its last shown line ends in `…`.
                pieces.truncate(lines as usize);
                let last = pieces.last_mut().expect("lines > 0");
                while !last.is_empty() && width(last) + 1 > room {
                    last.pop();
                }
                last.push('…');
            }
            let wrapped: Vec<Line> = pieces
                .into_iter()
                .map(|l| Line::styled(format!(" {l} "), style))
                .collect();
            let message_area = Rect {
                height: lines,
                ..area
            };
            frame.render_widget(
                Paragraph::new(wrapped).wrap(Wrap { trim: false }),
                message_area,
            );
        }
    }
}

/// A text in lines of at most `room` cells, broken after a space where there is one, so
/// that a path or a file name stays whole and can be copied; a word wider than a line (a
/// long path) is broken by character rather than lost.
fn chunk(text: &str, room: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_inclusive(' ') {
        let visible = width(word.trim_end());
        if visible <= room {
            if used > 0 && used + visible > room {
                out.push(line.trim_end().to_string());
                line.clear();
                used = 0;
            }
            line.push_str(word);
            used += width(word);
            continue;
        }
        // Wider than any line: it starts where the line is and continues below.
        for c in word.chars() {
            let w = width(c.encode_utf8(&mut [0; 4]));
            if used + w > room && used > 0 {
                out.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += w;
        }
    }
    out.push(line.trim_end().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::chunk;

    #[test]
    fn messages_break_after_spaces_and_keep_names_whole() {
        assert_eq!(
            chunk("exported to ./a/recordings.csv, ./a/journal.jsonl", 24),
            ["exported to", "./a/recordings.csv,", "./a/journal.jsonl"]
        );
        // A word longer than a line is broken by character, never dropped.
        assert_eq!(
            chunk("at /very/long/path", 8),
            ["at /very", "/long/pa", "th"]
        );
        assert_eq!(chunk("", 8), [""]);
    }
}
