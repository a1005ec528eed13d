//! The footer: the keys that matter in the current focus (from the key table), the filter
//! being typed, or a short message such as where an export was written.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::keys::{Action, BINDINGS, FILTER_HELP};
use super::state::ViewState;
use super::text::clean;

/// Draws the footer.
pub fn render(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    let key_style = Style::new().add_modifier(Modifier::BOLD);
    let mut spans: Vec<Span> = Vec::new();
    if view.filter_editing {
        spans.push(Span::styled(" filter: ", t.warn()));
        spans.push(Span::raw(clean(&view.filter, 80)));
        spans.push(Span::styled("▏", t.warn()));
        for (k, what) in FILTER_HELP {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(*k, key_style));
            spans.push(Span::styled(format!(" {what}"), t.dim()));
        }
    } else {
        for b in BINDINGS.iter().filter(|b| b.scope.applies(view.focus)) {
            let Some((key, what)) = b.footer else {
                continue;
            };
            let state = match b.action {
                Action::ToggleFollow => if view.follow { ":on" } else { ":off" }.to_string(),
                Action::ToggleTime => if view.utc { ":UTC" } else { ":local" }.to_string(),
                Action::ToggleFreeze if view.frozen.is_some() => ":ON".to_string(),
                Action::CycleSort => format!(":{}", view.sort.label()),
                _ => String::new(),
            };
            spans.push(Span::raw(" "));
            spans.push(Span::styled(key, key_style));
            spans.push(Span::styled(format!(" {what}{state} "), t.dim()));
        }
    }
    match &view.toast {
        Some(toast) => {
            let style = if toast.error { t.alarm() } else { t.warn() };
            let msg = Span::styled(format!(" {} ", toast.text), style);
            let width = (msg.width() as u16).min(area.width * 2 / 3);
            let [keys_area, toast_area] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(width)]).areas(area);
            frame.render_widget(Paragraph::new(Line::from(spans)), keys_area);
            frame.render_widget(Paragraph::new(msg).right_aligned(), toast_area);
        }
        None => frame.render_widget(Paragraph::new(Line::from(spans)), area),
    }
}
