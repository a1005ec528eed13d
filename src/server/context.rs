//! What every request's handler shares: the settings, the sequencer, the store, the feed and
//! the listener's own counters.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::core::feed::{Feed, SessionFacts};
use crate::core::sequencer::Sequencer;
use crate::core::store::SharedStore;
use crate::server::config::ServerConfig;

/// What the listener counts itself (the rest of `/metrics` is read from the store).
#[derive(Debug, Default)]
pub struct ListenerCounters {
    /// Connections refused for `--max-conns-per-ip`.
    pub refused_per_ip: std::sync::atomic::AtomicU64,
}

/// What the listener publishes to API clients: the feed of committed entries, and the facts
/// `/api/events` starts with.
pub struct Published {
    /// Every committed journal entry, in order.
    pub feed: Arc<Feed>,
    /// This receiver's facts (the hello event; `last_seq` is filled in per client).
    pub facts: SessionFacts,
}

pub(super) struct Ctx {
    pub(super) cfg: ServerConfig,
    pub(super) seq: Sequencer,
    pub(super) shared: Arc<SharedStore>,
    pub(super) published: Published,
    pub(super) counters: ListenerCounters,
    /// Per-address refusals waiting to be journaled (see `listener::refuse_per_ip`).
    pub(super) refusals: std::sync::Mutex<Refusals>,
    /// Refused connections being closed politely (their 429 sent, their request read and
    /// dropped): at most the listener's `REFUSAL_DRAINS` at a time; beyond that a refused
    /// connection is just closed.
    pub(super) drains: Arc<Semaphore>,
}

/// Refused connections journaled so far in one line a second at most, so that one address
/// reconnecting in a loop costs a counter, not a journal line and a task per connect.
#[derive(Default)]
pub(super) struct Refusals {
    /// When the newest refusal line was journaled.
    pub(super) last: Option<std::time::Instant>,
    /// Refusals since then, not journaled yet.
    pub(super) folded: u64,
    /// A line for them is scheduled.
    pub(super) flush_due: bool,
}
