//! Key bindings as data, and what each action does to the view state.
//!
//! [`BINDINGS`] is the one list of keys: input is matched against it, and both the help popup
//! and the footer are generated from it, so they cannot drift from what the keys do.

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::detail;
use super::filter::with_provider_term;
use super::source::{Frozen, Source};
use super::state::{Panel, Popup, ViewState};
use crate::core::store::Store;
use crate::event::Provider;

/// Something the user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Focus the next panel.
    FocusNext,
    /// Focus the previous panel.
    FocusPrev,
    /// Select the previous row.
    Up,
    /// Select the next row.
    Down,
    /// Move a page up.
    PageUp,
    /// Move a page down.
    PageDown,
    /// Select the first row.
    First,
    /// Select the last row.
    Last,
    /// Open the detail popup for the selected row.
    Open,
    /// Start typing a filter.
    Filter,
    /// Clear the filter.
    ClearFilter,
    /// Cycle the streams' sort order.
    CycleSort,
    /// Filter on the next provider seen (then on none).
    CycleProvider,
    /// Follow new rows on or off.
    ToggleFollow,
    /// Freeze or unfreeze the view.
    ToggleFreeze,
    /// Local time or UTC.
    ToggleTime,
    /// Write the session-log export.
    Export,
    /// Show every key.
    Help,
    /// Show the alerts firing and the ones resolved lately.
    Alerts,
    /// Quit, gracefully.
    Quit,
}

/// One key as written in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character, without Ctrl or Alt.
    Char(char),
    /// Ctrl + a character.
    Ctrl(char),
    /// A named key.
    Code(KeyCode),
}

impl Key {
    fn matches(self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        match self {
            Key::Char(c) => ev.code == KeyCode::Char(c) && !ctrl && !alt,
            Key::Ctrl(c) => ev.code == KeyCode::Char(c) && ctrl,
            Key::Code(code) => ev.code == code && !ctrl && !alt,
        }
    }
}

/// Which focus a binding matters in (for the footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every panel.
    Everywhere,
    /// The streams panel.
    Streams,
    /// The recordings and the request log (where rows arrive).
    Rows,
}

impl Scope {
    /// Whether a binding with this scope matters when `panel` is focused.
    pub fn applies(self, panel: Panel) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Streams => panel == Panel::Streams,
            Scope::Rows => panel.follows(),
        }
    }
}

/// One line of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys that trigger it.
    pub keys: &'static [Key],
    /// How the keys are written in the help popup.
    pub label: &'static str,
    /// What it does.
    pub action: Action,
    /// The help popup's description.
    pub help: &'static str,
    /// The footer's short form, if it has a place in the footer.
    pub footer: Option<(&'static str, &'static str)>,
    /// Where it matters.
    pub scope: Scope,
}

/// Every key binding.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Code(KeyCode::Tab)],
        label: "Tab",
        action: Action::FocusNext,
        help: "focus the next panel",
        footer: Some(("Tab", "panel")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::BackTab)],
        label: "Shift-Tab",
        action: Action::FocusPrev,
        help: "focus the previous panel",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Up), Key::Char('k')],
        label: "↑ / k",
        action: Action::Up,
        help: "select the previous row",
        footer: Some(("↑↓", "select")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Down), Key::Char('j')],
        label: "↓ / j",
        action: Action::Down,
        help: "select the next row",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        help: "move a page up",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        help: "move a page down",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Home), Key::Char('g')],
        label: "Home / g",
        action: Action::First,
        help: "go to the first row",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::End), Key::Char('G')],
        label: "End / G",
        action: Action::Last,
        help: "go to the last row",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Enter)],
        label: "Enter",
        action: Action::Open,
        help: "detail: raw body pretty-printed, headers, outcome, journal seq",
        footer: Some(("Enter", "detail")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('/')],
        label: "/",
        action: Action::Filter,
        help: "filter every panel (what it matches: below)",
        footer: Some(("/", "filter")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Code(KeyCode::Esc)],
        label: "Esc",
        action: Action::ClearFilter,
        help: "close the message, else clear the filter (and close a popup)",
        footer: None,
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('s')],
        label: "s",
        action: Action::CycleSort,
        help: "sort streams by state, name, or last event",
        footer: Some(("s", "sort")),
        scope: Scope::Streams,
    },
    Binding {
        keys: &[Key::Char('p')],
        label: "p",
        action: Action::CycleProvider,
        help: "one provider's rows: the next provider seen, then all again",
        footer: Some(("p", "provider")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('f')],
        label: "f",
        action: Action::ToggleFollow,
        help: "follow new rows on or off (recordings and requests)",
        footer: Some(("f", "follow")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char(' ')],
        label: "space",
        action: Action::ToggleFreeze,
        help: "freeze the view while ingest goes on; arrivals are counted",
        footer: Some(("space", "freeze")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('t')],
        label: "t",
        action: Action::ToggleTime,
        help: "show times in local time or UTC",
        footer: Some(("t", "time")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('e')],
        label: "e",
        action: Action::Export,
        help: "export the session log to a folder you pick (last one offered)",
        footer: Some(("e", "export")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('a')],
        label: "a",
        action: Action::Alerts,
        help: "the alerts: firing now, and resolved lately (updated live)",
        footer: Some(("a", "alerts")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('?')],
        label: "?",
        action: Action::Help,
        help: "this help",
        footer: Some(("?", "help")),
        scope: Scope::Everywhere,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Ctrl('c')],
        label: "q / Ctrl-C",
        action: Action::Quit,
        help: "quit: finish requests in flight, sync the journal, print a summary",
        footer: Some(("q", "quit")),
        scope: Scope::Everywhere,
    },
];

/// The mouse, for the help popup (it is not a key, so it is not in the table).
pub const MOUSE_HELP: (&str, &str) = (
    "mouse wheel",
    "scroll the panel under the pointer; click focuses a panel",
);

/// Keys while typing a filter, for the help popup and the footer.
pub const FILTER_HELP: &[(&str, &str)] = &[
    ("Enter", "keep the filter"),
    ("Esc", "clear it"),
    ("Backspace", "delete a character"),
    ("Ctrl-U", "delete all"),
];

/// Keys while typing the export folder (after `e`), for the help popup and the footer.
pub const EXPORT_HELP: &[(&str, &str)] =
    &[("Enter", "export"), ("Esc", "cancel"), ("Ctrl-U", "clear")];

/// Longest export folder typed, in characters.
const FOLDER_MAX: usize = 4096;

/// What the filter text matches, for the help popup (and docs/tui.md, through
/// [`key_table_markdown`]).
pub const FILTER_SYNTAX: &[(&str, &str)] = &[
    (
        "text",
        "rows with a field containing it, in any case: domain, app, stream, uri, push_args, \
         event, a stream's state as shown (started, paused, ended, ...), its ingest (live, \
         offline, unknown), kind (status, recording, ingest, play, segment, notice), outcome \
         (accepted, duplicate, rejected), the reason a request was rejected",
    ),
    (
        "#120",
        "exactly the request with journal seq 120, the recording it reported, its stream",
    ),
    (
        "provider:srs",
        "only that provider's streams, their recordings and its requests (aliyun, \
         nginx-rtmp, srs, tencent, their tags ali, ngx, srs, tc, or the start of a name); \
         text or #120 beside it must match too",
    ),
];

/// The key table of `docs/tui.md` (between its `<!-- keys:begin -->` and `<!-- keys:end -->`
/// markers), generated from [`BINDINGS`], [`MOUSE_HELP`], [`FILTER_HELP`], [`EXPORT_HELP`]
/// and [`FILTER_SYNTAX`], the same lists the help popup and the footer are drawn from;
/// `tests/docs.rs` fails when the page and this differ.
pub fn key_table_markdown() -> String {
    fn cell(text: &str) -> String {
        text.replace('|', "\\|")
    }
    // "q / Ctrl-C" is two keys: each is code.
    fn keys(label: &str) -> String {
        let keys: Vec<String> = label
            .split(" / ")
            .map(|k| format!("`{}`", cell(k)))
            .collect();
        keys.join(" / ")
    }
    fn table(
        out: &mut String,
        head: (&str, &str),
        rows: impl IntoIterator<Item = (String, &'static str)>,
    ) {
        out.push_str(&format!("| {} | {} |\n|---|---|\n", head.0, head.1));
        for (k, what) in rows {
            out.push_str(&format!("| {k} | {} |\n", cell(what)));
        }
    }
    let mut out = String::new();
    let bindings = BINDINGS.iter().map(|b| (keys(b.label), b.help));
    let mouse = (MOUSE_HELP.0.to_string(), MOUSE_HELP.1);
    table(&mut out, ("key", "what it does"), bindings.chain([mouse]));
    out.push_str("\nWhile typing a filter (after `/`):\n\n");
    table(
        &mut out,
        ("key", "what it does"),
        FILTER_HELP.iter().map(|(k, h)| (keys(k), *h)),
    );
    out.push_str("\nWhile typing the export folder (after `e`):\n\n");
    table(
        &mut out,
        ("key", "what it does"),
        EXPORT_HELP.iter().map(|(k, h)| (keys(k), *h)),
    );
    out.push_str("\nWhat the filter matches:\n\n");
    let syntax = FILTER_SYNTAX
        .iter()
        .map(|(k, h)| (format!("`{}`", cell(k)), *h));
    table(&mut out, ("filter", "what it keeps"), syntax);
    out
}

/// Rows moved by one mouse wheel notch.
const WHEEL_ROWS: isize = 3;

/// The action bound to a key event, if any.
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// What the run loop must do after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing beyond redrawing.
    Redraw,
    /// Leave the UI and shut down.
    Quit,
    /// Run the exporter.
    Export,
}

/// Handles one key press. The store is only read (for the detail popup and freezing).
pub fn handle_key(
    view: &mut ViewState,
    ev: &KeyEvent,
    store: &Store,
    now: DateTime<Utc>,
) -> Effect {
    if ev.kind == KeyEventKind::Release {
        return Effect::Redraw;
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && ev.code == KeyCode::Char('c') {
        return Effect::Quit;
    }
    if view.filter_editing {
        edit_filter(view, ev);
        return Effect::Redraw;
    }
    if view.export_prompt.is_some() {
        return edit_export_folder(view, ev);
    }
    match &mut view.popup {
        Some(Popup::Help { scroll }) => {
            // The help may be taller than the terminal (80×24): the keys that scroll the
            // detail popup scroll it too; any other key closes it.
            let page = view.areas.popup.height.saturating_sub(4).max(1);
            match ev.code {
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                KeyCode::PageUp => *scroll = scroll.saturating_sub(page),
                KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(page),
                KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
                KeyCode::End | KeyCode::Char('G') => *scroll = u16::MAX,
                _ => view.popup = None,
            }
            return Effect::Redraw;
        }
        Some(Popup::Detail(d)) => {
            let page = view.areas.popup.height.saturating_sub(4).max(1);
            match ev.code {
                KeyCode::Up | KeyCode::Char('k') => d.scroll = d.scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => d.scroll = d.scroll.saturating_add(1),
                KeyCode::PageUp => d.scroll = d.scroll.saturating_sub(page),
                KeyCode::PageDown | KeyCode::Char(' ') => d.scroll = d.scroll.saturating_add(page),
                KeyCode::Home | KeyCode::Char('g') => d.scroll = 0,
                KeyCode::End | KeyCode::Char('G') => d.scroll = u16::MAX,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => view.popup = None,
                _ => {}
            }
            return Effect::Redraw;
        }
        None => {}
    }
    match action_for(ev) {
        Some(a) => apply(view, a, store, now),
        None => Effect::Redraw,
    }
}

fn edit_filter(view: &mut ViewState, ev: &KeyEvent) {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let mut text = view.filter.clone();
    match ev.code {
        KeyCode::Esc => {
            text.clear();
            view.filter_editing = false;
        }
        KeyCode::Enter => view.filter_editing = false,
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if ctrl => text.clear(),
        // Control characters never enter the filter: it is shown in the header.
        KeyCode::Char(c) if !ctrl && !c.is_control() && text.chars().count() < 80 => text.push(c),
        _ => {}
    }
    view.set_filter(text);
}

/// A key while the export folder is typed: Enter writes the export there (and remembers
/// the folder for the next `e`), Esc cancels.
fn edit_export_folder(view: &mut ViewState, ev: &KeyEvent) -> Effect {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let Some(text) = view.export_prompt.as_mut() else {
        return Effect::Redraw;
    };
    match ev.code {
        KeyCode::Esc => view.export_prompt = None,
        KeyCode::Enter => {
            let folder = text.trim().to_string();
            if !folder.is_empty() {
                view.export_folder = Some(folder);
                view.export_prompt = None;
                return Effect::Export;
            }
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if ctrl => text.clear(),
        // Control characters never enter it: it is shown in the footer.
        KeyCode::Char(c) if !ctrl && !c.is_control() && text.chars().count() < FOLDER_MAX => {
            text.push(c)
        }
        _ => {}
    }
    Effect::Redraw
}

/// Carries out an action.
pub fn apply(view: &mut ViewState, action: Action, store: &Store, now: DateTime<Utc>) -> Effect {
    let frozen = view.frozen.clone();
    let src = Source::new(store, frozen.as_deref(), now);
    view.sync(&src);
    let focus = view.focus;
    let rows = view.rows(focus, &src);
    let page = view.areas.page(focus) as isize;
    match action {
        Action::FocusNext => view.focus = focus.next(),
        Action::FocusPrev => view.focus = focus.prev(),
        Action::Up => move_selection(view, focus, -1, rows),
        Action::Down => move_selection(view, focus, 1, rows),
        Action::PageUp => move_selection(view, focus, -page, rows),
        Action::PageDown => move_selection(view, focus, page, rows),
        Action::First => move_selection(view, focus, -(rows as isize), rows),
        Action::Last => move_selection(view, focus, rows as isize, rows),
        Action::Open => {
            if let Some(d) = detail::open(view, &src, store) {
                view.popup = Some(Popup::Detail(d));
            }
        }
        Action::Filter => view.filter_editing = true,
        // A message first (it covers panel rows at 80×24), the filter on the next Esc.
        Action::ClearFilter if view.toast.is_some() => view.toast = None,
        Action::ClearFilter => view.set_filter(String::new()),
        Action::CycleSort => view.sort = view.sort.next(),
        Action::CycleProvider => {
            let seen: Vec<Provider> = view.providers_seen().collect();
            let next = match view.query().provider {
                None => seen.first().copied(),
                Some(p) => seen
                    .iter()
                    .position(|q| *q == p)
                    .and_then(|i| seen.get(i + 1))
                    .copied(),
            };
            if !seen.is_empty() {
                let text = with_provider_term(&view.filter, next);
                view.set_filter(text);
            }
        }
        Action::ToggleFollow => view.follow = !view.follow,
        Action::ToggleFreeze => {
            view.frozen = match view.frozen {
                Some(_) => None,
                None => Some(std::sync::Arc::new(Frozen::capture(store, now))),
            }
        }
        Action::ToggleTime => view.utc = !view.utc,
        Action::Export => match &view.export_folder {
            Some(folder) => view.export_prompt = Some(folder.clone()),
            None => return Effect::Export,
        },
        Action::Help => view.popup = Some(Popup::Help { scroll: 0 }),
        Action::Alerts => {
            view.popup = Some(Popup::Detail(detail::alerts(
                store, now, view.utc, view.theme,
            )))
        }
        Action::Quit => return Effect::Quit,
    }
    Effect::Redraw
}

/// Moves a panel's selection. Moving up in a panel that follows stops following, so what
/// the operator is reading does not scroll away; `f` turns it back on.
fn move_selection(view: &mut ViewState, panel: Panel, delta: isize, rows: usize) {
    if delta < 0 && panel.follows() {
        view.follow = false;
    }
    view.cursor_mut(panel).move_by(delta, rows);
}

/// Handles a mouse event: the wheel scrolls the panel (or popup) under the pointer, a click
/// focuses a panel.
pub fn handle_mouse(view: &mut ViewState, ev: &MouseEvent, store: &Store, now: DateTime<Utc>) {
    let delta = match ev.kind {
        MouseEventKind::ScrollUp => -WHEEL_ROWS,
        MouseEventKind::ScrollDown => WHEEL_ROWS,
        MouseEventKind::Down(MouseButton::Left) => {
            if view.popup.is_none() {
                if let Some(p) = view.areas.panel_at(ev.column, ev.row) {
                    view.focus = p;
                }
            }
            return;
        }
        _ => return,
    };
    match &mut view.popup {
        Some(Popup::Help { scroll }) => {
            *scroll = (*scroll as isize + delta).max(0) as u16;
            return;
        }
        Some(Popup::Detail(d)) => {
            d.scroll = (d.scroll as isize + delta).max(0) as u16;
            return;
        }
        None => {}
    }
    let Some(panel) = view.areas.panel_at(ev.column, ev.row) else {
        return;
    };
    let frozen = view.frozen.clone();
    let src = Source::new(store, frozen.as_deref(), now);
    view.sync(&src);
    let rows = view.rows(panel, &src);
    move_selection(view, panel, delta, rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::tui::state::StreamSort;
    use crate::views::tui::theme::Theme;
    use ratatui::crossterm::event::KeyEventState;
    use ratatui::layout::Rect;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn view() -> ViewState {
        ViewState::new(Theme { color: false }, true)
    }

    #[test]
    fn every_action_has_a_binding_and_no_key_is_bound_twice() {
        use Action::*;
        for a in [
            FocusNext,
            FocusPrev,
            Up,
            Down,
            PageUp,
            PageDown,
            First,
            Last,
            Open,
            Filter,
            ClearFilter,
            CycleSort,
            CycleProvider,
            ToggleFollow,
            ToggleFreeze,
            ToggleTime,
            Export,
            Help,
            Alerts,
            Quit,
        ] {
            assert!(BINDINGS.iter().any(|b| b.action == a), "{a:?} has no key");
        }
        let keys: Vec<Key> = BINDINGS
            .iter()
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k:?} bound twice");
        }
    }

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(action_for(&ch('q')), Some(Action::Quit));
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action_for(&ch('j')), Some(Action::Down));
        assert_eq!(action_for(&key(KeyCode::BackTab)), Some(Action::FocusPrev));
        assert_eq!(action_for(&ch('G')), Some(Action::Last));
        assert_eq!(action_for(&ch(' ')), Some(Action::ToggleFreeze));
        // Ctrl or Alt with a letter is not the letter.
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT)),
            None
        );
        assert_eq!(action_for(&ch('x')), None);
    }

    #[test]
    fn quit_and_export_are_effects() {
        let store = Store::default();
        let mut v = view();
        assert_eq!(handle_key(&mut v, &ch('q'), &store, now()), Effect::Quit);
        assert_eq!(handle_key(&mut v, &ch('e'), &store, now()), Effect::Export);
        // Ctrl-C quits even while typing a filter.
        v.filter_editing = true;
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(handle_key(&mut v, &ctrl_c, &store, now()), Effect::Quit);
    }

    #[test]
    fn e_asks_for_the_folder_pre_filled_and_enter_exports_there() {
        let store = Store::default();
        let mut v = view();
        v.export_folder = Some("/srv/rec".into());
        assert_eq!(handle_key(&mut v, &ch('e'), &store, now()), Effect::Redraw);
        assert_eq!(v.export_prompt.as_deref(), Some("/srv/rec"));
        // Keys are text while it is typed: `q` does not quit.
        for c in "/q2".chars() {
            assert_eq!(handle_key(&mut v, &ch(c), &store, now()), Effect::Redraw);
        }
        handle_key(&mut v, &key(KeyCode::Backspace), &store, now());
        assert_eq!(v.export_prompt.as_deref(), Some("/srv/rec/q"));
        assert_eq!(
            handle_key(&mut v, &key(KeyCode::Enter), &store, now()),
            Effect::Export
        );
        assert_eq!(v.export_prompt, None);
        assert_eq!(v.export_folder.as_deref(), Some("/srv/rec/q"), "remembered");
        // Esc cancels; an empty folder is not written to.
        handle_key(&mut v, &ch('e'), &store, now());
        handle_key(&mut v, &key(KeyCode::Esc), &store, now());
        assert_eq!(v.export_prompt, None);
        handle_key(&mut v, &ch('e'), &store, now());
        let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
        handle_key(&mut v, &ctrl_u, &store, now());
        assert_eq!(
            handle_key(&mut v, &key(KeyCode::Enter), &store, now()),
            Effect::Redraw
        );
        assert_eq!(v.export_prompt.as_deref(), Some(""));
    }

    #[test]
    fn esc_dismisses_the_message_before_it_clears_the_filter() {
        let store = Store::default();
        let mut v = view();
        v.set_filter("cam".into());
        v.toast = Some(crate::views::tui::state::Toast {
            text: "export written: /srv/rec/x/recordings.csv".into(),
            until: now() + chrono::Duration::seconds(16),
            error: false,
        });
        handle_key(&mut v, &key(KeyCode::Esc), &store, now());
        assert!(v.toast.is_none());
        assert_eq!(v.filter, "cam");
        handle_key(&mut v, &key(KeyCode::Esc), &store, now());
        assert_eq!(v.filter, "");
    }

    #[test]
    fn focus_cycles_both_ways() {
        let store = Store::default();
        let mut v = view();
        handle_key(&mut v, &key(KeyCode::Tab), &store, now());
        assert_eq!(v.focus, Panel::Recordings);
        handle_key(&mut v, &key(KeyCode::Tab), &store, now());
        handle_key(&mut v, &key(KeyCode::Tab), &store, now());
        assert_eq!(v.focus, Panel::Streams);
        handle_key(&mut v, &key(KeyCode::BackTab), &store, now());
        assert_eq!(v.focus, Panel::Requests);
    }

    #[test]
    fn typing_a_filter_then_esc_clears_it() {
        let store = Store::default();
        let mut v = view();
        handle_key(&mut v, &ch('/'), &store, now());
        assert!(v.filter_editing);
        for c in "abq".chars() {
            // `q` is text while typing, not quit.
            assert_eq!(handle_key(&mut v, &ch(c), &store, now()), Effect::Redraw);
        }
        handle_key(&mut v, &key(KeyCode::Backspace), &store, now());
        assert_eq!(v.filter, "ab");
        handle_key(&mut v, &key(KeyCode::Enter), &store, now());
        assert!(!v.filter_editing);
        assert_eq!(v.filter, "ab");
        handle_key(&mut v, &key(KeyCode::Esc), &store, now());
        assert_eq!(v.filter, "");
    }

    #[test]
    fn control_characters_never_enter_the_filter() {
        let store = Store::default();
        let mut v = view();
        v.filter_editing = true;
        handle_key(&mut v, &ch('\u{1b}'), &store, now());
        handle_key(&mut v, &ch('x'), &store, now());
        assert_eq!(v.filter, "x");
    }

    #[test]
    fn toggles() {
        let store = Store::default();
        let mut v = view();
        assert!(v.follow);
        handle_key(&mut v, &ch('f'), &store, now());
        assert!(!v.follow);
        handle_key(&mut v, &ch('t'), &store, now());
        assert!(!v.utc);
        assert_eq!(v.sort, StreamSort::State);
        handle_key(&mut v, &ch('s'), &store, now());
        assert_eq!(v.sort, StreamSort::Name);
        handle_key(&mut v, &ch('s'), &store, now());
        handle_key(&mut v, &ch('s'), &store, now());
        assert_eq!(v.sort, StreamSort::State);
        handle_key(&mut v, &ch(' '), &store, now());
        assert!(v.frozen.is_some());
        handle_key(&mut v, &ch(' '), &store, now());
        assert!(v.frozen.is_none());
    }

    #[test]
    fn help_opens_and_any_key_closes_it() {
        let store = Store::default();
        let mut v = view();
        handle_key(&mut v, &ch('?'), &store, now());
        assert!(matches!(v.popup, Some(Popup::Help { .. })));
        // Keys go to the popup, not to the panels.
        assert_eq!(handle_key(&mut v, &ch('q'), &store, now()), Effect::Redraw);
        assert!(v.popup.is_none());
    }

    #[test]
    fn help_scrolls_with_the_paging_keys_and_closes_on_others() {
        let store = Store::default();
        let mut v = view();
        handle_key(&mut v, &ch('?'), &store, now());
        v.areas.popup = Rect::new(0, 0, 70, 22);
        let scroll = |v: &ViewState| match v.popup {
            Some(Popup::Help { scroll }) => scroll,
            _ => panic!("the help closed"),
        };
        handle_key(&mut v, &key(KeyCode::PageDown), &store, now());
        assert_eq!(scroll(&v), 18);
        handle_key(&mut v, &ch('j'), &store, now());
        assert_eq!(scroll(&v), 19);
        handle_key(&mut v, &key(KeyCode::PageUp), &store, now());
        assert_eq!(scroll(&v), 1);
        handle_key(&mut v, &key(KeyCode::Up), &store, now());
        handle_key(&mut v, &key(KeyCode::Up), &store, now());
        assert_eq!(scroll(&v), 0);
        handle_key(&mut v, &key(KeyCode::End), &store, now());
        assert_eq!(scroll(&v), u16::MAX, "the popup clamps it when drawn");
        handle_key(&mut v, &ch('g'), &store, now());
        assert_eq!(scroll(&v), 0);
        handle_key(&mut v, &key(KeyCode::Esc), &store, now());
        assert!(v.popup.is_none());
    }

    #[test]
    fn moving_up_stops_following() {
        let store = Store::default();
        let mut v = view();
        v.focus = Panel::Recordings;
        handle_key(&mut v, &key(KeyCode::Down), &store, now());
        assert!(v.follow, "moving down keeps following");
        handle_key(&mut v, &key(KeyCode::Up), &store, now());
        assert!(!v.follow);
        // In the streams panel nothing follows.
        let mut v = view();
        handle_key(&mut v, &key(KeyCode::Up), &store, now());
        assert!(v.follow);
    }

    #[test]
    fn wheel_scrolls_the_panel_under_the_pointer() {
        let store = Store::default();
        let mut v = view();
        v.areas.streams = Rect::new(0, 2, 80, 10);
        v.areas.requests = Rect::new(0, 30, 80, 10);
        let wheel = |kind, row| MouseEvent {
            kind,
            column: 5,
            row,
            modifiers: KeyModifiers::NONE,
        };
        handle_mouse(&mut v, &wheel(MouseEventKind::ScrollUp, 35), &store, now());
        assert!(!v.follow, "wheel up over the request log stops following");
        assert_eq!(v.focus, Panel::Streams, "the wheel does not move focus");
        handle_mouse(
            &mut v,
            &wheel(MouseEventKind::Down(MouseButton::Left), 35),
            &store,
            now(),
        );
        assert_eq!(v.focus, Panel::Requests);
    }

    #[test]
    fn the_markdown_key_table_has_a_row_per_binding_and_escapes_pipes() {
        let md = key_table_markdown();
        for b in BINDINGS {
            assert!(md.contains(b.help), "{} is missing", b.label);
        }
        assert!(md.contains("| `q` / `Ctrl-C` | quit:"));
        assert!(md.contains(MOUSE_HELP.1));
        for line in md.lines().filter(|l| l.starts_with('|')) {
            let cells = line.replace("\\|", "").matches('|').count();
            assert_eq!(cells, 3, "two cells: {line}");
        }
    }

    #[test]
    fn key_release_events_are_ignored() {
        let store = Store::default();
        let mut v = view();
        let mut ev = ch('q');
        ev.kind = KeyEventKind::Release;
        ev.state = KeyEventState::NONE;
        assert_eq!(handle_key(&mut v, &ev, &store, now()), Effect::Redraw);
    }
}
