//! Progress bars for the long reads (export, resume, replay): drawn on stderr only when stderr
//! is a terminal, so pipes, logs and tests never see control sequences.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-based progress bar over a journal of `total_bytes`, labelled `what`. Hidden when
/// stderr is not a terminal. Messages printed while it is visible must go through
/// [`ProgressBar::suspend`] so they do not tear the bar.
pub fn journal_bar(total_bytes: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
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

/// Prints one line on stderr without tearing `bar` (works whether it is visible or hidden).
pub fn eprint_line(bar: &ProgressBar, line: &str) {
    bar.suspend(|| eprintln!("{line}"));
}
