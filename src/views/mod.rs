//! Views: subscribers that show what a receiver holds. They never start a receiver and never
//! change the store; `main` wires each to a [`ViewSource`]: this process's own service, or
//! (`recmon attach`) a store fed by remote receivers' feeds.

use std::path::PathBuf;
use std::sync::Arc;

use crate::attach::status::SourceStatuses;
use crate::core::feed::Feed;
use crate::core::store::SharedStore;

pub mod headless;
pub mod tui;

/// What a view is given to show.
pub struct ViewSource {
    /// The store to show; its watch channel says when it changed.
    pub shared: Arc<SharedStore>,
    /// The committed entries the store is folded from, in seq order: the receiver's own feed,
    /// or (`recmon attach`) the attachment's, backed by its copy. `--json` prints it; a view
    /// may wake on it (the store is applied before an entry is published).
    pub feed: Arc<Feed>,
    /// Where the data comes from, for the header.
    pub origin: Origin,
    /// The journal behind the store, for `e` (export), when there is one (attached: the copy
    /// of every entry received).
    pub journal_path: Option<PathBuf>,
    /// Something to tell the operator when the view opens (e.g. what `--resume` found).
    pub notice: Option<Notice>,
    /// Ring the terminal bell on each new critical alert (`--bell`).
    pub bell: bool,
}

/// Where a view's store is fed from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// This process's own receiver.
    Local(tui::HeaderInfo),
    /// Receivers followed over their feeds (`recmon attach`).
    Attached(AttachedInfo),
}

/// What the header of an attached view shows besides the store.
#[derive(Debug, Clone)]
pub struct AttachedInfo {
    /// Each source's connection state, read at render time.
    pub sources: SourceStatuses,
    /// The copy of every entry received, which `e` exports.
    pub copy_path: std::path::PathBuf,
}

/// A message shown when a view opens.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The text (sanitized by the view).
    pub text: String,
    /// Shown as an error (something was wrong) rather than information.
    pub error: bool,
}

/// The stream a refused request's journal line names, read leniently (see
/// [`crate::providers::readable_stream`]): a 422 for one wrong field still says whose it was.
/// Views show it on the request's row (nothing is applied: the store holds no stream for it).
pub fn named_in_line(line: &str) -> Option<crate::event::StreamId> {
    let crate::core::journal::Line::Request(entry) = crate::core::journal::parse_line(line).ok()?
    else {
        return None;
    };
    crate::providers::readable_stream(
        entry.provider,
        crate::event::Method::from_name(&entry.method),
        entry.query(),
        &entry.body_raw(),
    )
}
