//! What the view reads from the store for one frame: [`Source`], the live store or the copy
//! [`Frozen`] when the view was frozen (space), and how a stream's state reads on screen
//! ([`shown_state`]). Nothing here changes the store.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::core::store::{Counters, ForwardTarget, Ingest, LogEntry, Recording, Store, Stream};
use crate::event::RecordState;

/// The data as it was when the view was frozen (space). Streams and the request log are
/// copied (a few streams, a bounded log); recordings only append, so a length is enough.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// When the view was frozen; the panels' clocks stop here.
    pub at: DateTime<Utc>,
    streams: Vec<Stream>,
    recordings: usize,
    log: VecDeque<LogEntry>,
    counters: Counters,
    journal_failures: u64,
    last_journal_error: Option<String>,
    auth_failures: u64,
    last_callback_at: Option<DateTime<Utc>>,
    forward: Vec<ForwardTarget>,
    /// The store's `last_seq` at the time: requests after it arrived while frozen.
    pub last_seq: u64,
}

impl Frozen {
    /// Copies what the panels show.
    pub fn capture(store: &Store, at: DateTime<Utc>) -> Frozen {
        let (failures, last_error) = store.journal_failures();
        Frozen {
            at,
            streams: store.streams().to_vec(),
            recordings: store.recordings().len(),
            log: store.log().clone(),
            counters: store.counters(),
            last_callback_at: store.last_callback_at(),
            journal_failures: failures,
            last_journal_error: last_error.map(str::to_owned),
            auth_failures: store.auth_failures(),
            forward: store.forward_targets().to_vec(),
            last_seq: store.last_seq(),
        }
    }
}

/// What the panels draw: the live store, or the frozen copy of it.
pub struct Source<'a> {
    /// Streams in first-seen order.
    pub streams: &'a [Stream],
    /// Recordings in arrival order.
    pub recordings: &'a [Recording],
    /// The request log, oldest first.
    pub log: &'a VecDeque<LogEntry>,
    /// Request counters.
    pub counters: Counters,
    /// Failed journal writes.
    pub journal_failures: u64,
    /// The last journal error.
    pub last_journal_error: Option<&'a str>,
    /// Requests refused for a missing, wrong or stale signature.
    pub auth_failures: u64,
    /// When the newest accepted or duplicate callback arrived.
    pub last_callback_at: Option<DateTime<Utc>>,
    /// The time the panels' clocks use (ages, time in state).
    pub now: DateTime<Utc>,
    /// Requests that arrived since the view was frozen (0 when live).
    pub arrived_while_frozen: u64,
    /// Recordings among them.
    pub recordings_while_frozen: usize,
    /// Rejected requests among them.
    pub rejected_while_frozen: u64,
    /// The `--forward-to` targets' delivery state.
    pub forward: &'a [ForwardTarget],
    /// The alerts (always the live ones, also in a frozen view: an alert is not history).
    pub alerts: &'a crate::core::alerts::AlertBook,
    /// While `--resume` rebuilds the state in the background, how far it has got (always the
    /// live value: the panels hold the stand-in until it is done).
    pub rebuilding: Option<crate::core::rebuild::RebuildProgress>,
    /// Recordings checked against their files (`--verify`): whether files are checked (one
    /// without a verdict yet is then being checked) and each verdict.
    pub checks: &'a crate::core::store::checks::Checks,
    /// Callbacks filled in from the providers' records (`recmon reconcile --backfill`).
    pub reconciled: &'a crate::core::store::reconciled::Reconciled,
}

impl<'a> Source<'a> {
    /// The live store, or the frozen view of it.
    pub fn new(store: &'a Store, frozen: Option<&'a Frozen>, now: DateTime<Utc>) -> Source<'a> {
        match frozen {
            None => {
                let (failures, last_error) = store.journal_failures();
                Source {
                    streams: store.streams(),
                    recordings: store.recordings(),
                    log: store.log(),
                    counters: store.counters(),
                    journal_failures: failures,
                    last_journal_error: last_error,
                    auth_failures: store.auth_failures(),
                    last_callback_at: store.last_callback_at(),
                    now,
                    arrived_while_frozen: 0,
                    recordings_while_frozen: 0,
                    rejected_while_frozen: 0,
                    forward: store.forward_targets(),
                    alerts: store.alerts(),
                    rebuilding: store.rebuilding(),
                    checks: store.checks(),
                    reconciled: store.reconciled(),
                }
            }
            Some(f) => {
                let recordings = &store.recordings()[..f.recordings.min(store.recordings().len())];
                Source {
                    streams: &f.streams,
                    recordings,
                    log: &f.log,
                    counters: f.counters,
                    journal_failures: f.journal_failures,
                    last_journal_error: f.last_journal_error.as_deref(),
                    auth_failures: f.auth_failures,
                    last_callback_at: f.last_callback_at,
                    now: f.at,
                    // Counted in requests: delivery lines take seq numbers too.
                    arrived_while_frozen: total(store.counters()).saturating_sub(total(f.counters)),
                    recordings_while_frozen: store.recordings().len() - recordings.len(),
                    rejected_while_frozen: store
                        .counters()
                        .rejected
                        .saturating_sub(f.counters.rejected),
                    forward: &f.forward,
                    alerts: store.alerts(),
                    rebuilding: store.rebuilding(),
                    checks: store.checks(),
                    reconciled: store.reconciled(),
                }
            }
        }
    }
}

fn total(c: Counters) -> u64 {
    c.accepted + c.duplicate + c.rejected
}

/// The recording state a stream's row shows, and since when. A stream whose ingest went
/// offline (publish_done) shows `Ended` since then: its last recording event (`▶ resumed`)
/// would read as still recording. A failed recording (`Error`) stays in sight, offline or
/// not. The store's own state is unchanged (the detail popup shows it).
pub fn shown_state(s: &Stream) -> (RecordState, Option<DateTime<Utc>>) {
    if s.ingest == Ingest::Offline && s.state != RecordState::Error {
        (RecordState::Ended, s.ingest_since)
    } else {
        (s.state, s.state_since)
    }
}
