//! Colours and symbols. Every state is shown as symbol + word, so the screen reads the same
//! with `NO_COLOR` set (then no colour at all is emitted; bold and reverse still are).

use ratatui::style::{Color, Modifier, Style};

use crate::core::store::Ingest;
use crate::event::Outcome;
use crate::event::RecordState;

/// Whether colours are used. Decided once at start from `NO_COLOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False when `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub color: bool,
}

impl Theme {
    /// Reads `NO_COLOR` from the environment.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    /// A foreground colour, or the plain style without colours.
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// De-emphasised text (labels, units).
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    /// Column headers.
    pub fn header(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// The selected row. Reverse video reads with and without colour.
    pub fn selected(&self, focused: bool) -> Style {
        if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// A panel border: bright when focused.
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => self.dim(),
        }
    }

    /// Something the operator must see now (journal failures, frozen view).
    pub fn alarm(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// A warning that does not need action this second (loopback only, mismatch).
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Style of a recording state.
    pub fn state(&self, s: RecordState) -> Style {
        match s {
            RecordState::Started => self.fg(Color::Green).add_modifier(Modifier::BOLD),
            RecordState::Resumed => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            RecordState::Paused => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            RecordState::Error => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            RecordState::Ended | RecordState::None => self.dim(),
        }
    }

    /// Style of an ingest state.
    pub fn ingest(&self, i: Ingest) -> Style {
        match i {
            Ingest::Live => self.fg(Color::Green),
            Ingest::Offline => self.fg(Color::Red),
            Ingest::Unknown => self.dim(),
        }
    }

    /// Style of a request outcome.
    pub fn outcome(&self, o: Outcome) -> Style {
        match o {
            Outcome::Accepted => self.fg(Color::Green),
            Outcome::Duplicate => self.fg(Color::Magenta),
            Outcome::Rejected => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Outcome::Pending => self.dim(),
        }
    }
}

/// Symbol + word for a recording state; readable without colour.
pub fn state_label(s: RecordState) -> &'static str {
    match s {
        RecordState::Started => "● started",
        RecordState::Paused => "‖ paused",
        RecordState::Resumed => "▶ resumed",
        RecordState::Ended => "■ ended",
        RecordState::Error => "✗ error",
        RecordState::None => "○ none",
    }
}

/// Symbol + word for an ingest state.
pub fn ingest_label(i: Ingest) -> &'static str {
    match i {
        Ingest::Live => "▲ live",
        Ingest::Offline => "▼ offline",
        Ingest::Unknown => "? unknown",
    }
}

/// Symbol + word for a request outcome.
pub fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "✓ accepted",
        Outcome::Duplicate => "↻ duplicate",
        Outcome::Rejected => "✗ rejected",
        Outcome::Pending => "… pending",
    }
}

/// What each symbol on the screen means, for the help popup (`?`): every glyph the panels,
/// the header and the footer draw (a test reads the drawing code to keep it so).
pub const LEGEND: &[(&str, &str)] = &[
    (
        "● ▶ ‖ ■ ✗ ○",
        "state: started, resumed, paused, ended, error, none yet. A stream that went offline \
         shows ■ ended, its \"for\" counted from publish_done (Enter shows the state before)",
    ),
    (
        "▲ ▼ ?",
        "ingest: live (publishing), offline (publish_done), unknown (no ingest callback seen)",
    ),
    (
        "● ▲ ·",
        "in the ! column, a stream's worst alert firing: critical, warning, info",
    ),
    (
        "✓ ↻ ✗",
        "a request: accepted, duplicate (a provider retry), rejected; forwarded: delivered, \
         retrying, failed",
    ),
    (
        "~",
        "a duration recmon estimated from arrival times (the provider sent none)",
    ),
    ("≠", "a duration that disagrees with stop − start"),
    (
        "✓ ✗ ? …",
        "a recording's file (--verify): ok; short, missing, broken…; recmon could not look \
         (unchecked); being checked",
    ),
    (
        "⟲",
        "filled in from the provider's records: sent while this receiver missed it (recmon \
         reconcile)",
    ),
    (
        "⚠",
        "something to look at: an impossible duration, a negative gap, a header warning, the \
         alerts firing (a lists them)",
    ),
    (
        "…",
        "text cut to fit (a name keeps its end: …/live/cam2); pending, connecting",
    ),
    ("→", "a --forward-to target in the header"),
    (
        "· ▁▂▃▄▅▆▇█",
        "requests a second over the last minute: · none, ▁ a few, █ the busiest second",
    ),
    (
        "● ◐ ○",
        "attached to a receiver: live, catching up, reconnecting",
    ),
    ("+1d", "a stop time one day after the start"),
    ("-", "no value (yet)"),
    (
        "█ │",
        "a scrollbar: where the rows shown are among all of them",
    ),
    ("▏", "the cursor of a filter or a folder being typed"),
];
