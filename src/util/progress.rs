//! Progress bars for the long reads (export, resume, replay): drawn on stderr only when stderr
//! is a terminal, so pipes, logs and tests never see control sequences.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// Set while the terminal UI owns the screen: stderr is then the screen, and a progress bar
/// or a stray line would tear it (the UI's `e` export runs while it is up).
static SCREEN_OWNED: AtomicBool = AtomicBool::new(false);

/// Tells the progress output that the terminal UI owns (or gave back) the screen.
pub fn set_screen_owned(owned: bool) {
    SCREEN_OWNED.store(owned, Ordering::SeqCst);
}

fn quiet() -> bool {
    SCREEN_OWNED.load(Ordering::SeqCst) || !std::io::stderr().is_terminal()
}

/// A byte-based progress bar over a journal of `total_bytes`, labelled `what`. Hidden when
/// stderr is not a terminal, or while the terminal UI owns the screen. Messages printed while it is visible must go through
/// [`ProgressBar::suspend`] so they do not tear the bar.
pub fn journal_bar(total_bytes: u64, what: &str) -> ProgressBar {
    if quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    // The template is a constant; a typo would show up the first time any bar is drawn.
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg} (eta {eta})",
    )
    .expect("valid progress template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar
}

/// A progress bar over `total` items, labelled `what`; hidden as [`journal_bar`] is.
pub fn count_bar(total: u64, what: &str) -> ProgressBar {
    if quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} (eta {eta})")
            .expect("valid progress template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar
}

/// Prints one line on stderr without tearing `bar` (works whether it is visible or hidden).
/// Dropped while the terminal UI owns the screen; the caller returns what it would have said.
/// A closed stderr is not an error here (see [`crate::util::output`]): false tells the caller.
pub fn eprint_line(bar: &ProgressBar, line: &str) -> bool {
    if SCREEN_OWNED.load(Ordering::SeqCst) {
        return true;
    }
    bar.suspend(|| crate::util::output::eline(line))
}
