//! The journal's side of reconciling: what it received (and what was already filled in), and
//! filling in what it missed (`--backfill`).

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::findings::{stream_of, Received, Sent};
use crate::core::dedup::Deduper;
use crate::core::feed::Feed;
use crate::core::journal::{FsyncPolicy, JournalFile, LockedJournal, OpenError};
use crate::core::rebuild::{callback_of_ref, for_each_line, rebuild, LineRef};
use crate::core::reconciled::Reconciled;
use crate::core::sequencer::Sequencer;
use crate::core::store::{SharedStore, Store};
use crate::event::{Callback, Outcome};

/// The first and last arrival of a journal's requests.
pub type Span = Option<(DateTime<Utc>, DateTime<Utc>)>;

/// What the journal received between `from` and `to` (accepted and duplicate callbacks, by
/// arrival; reconciled ones by the provider's send time), and its whole span.
pub fn received(
    journal: &Path,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> std::io::Result<(Vec<Received>, Span)> {
    let mut out = Vec::new();
    let mut span: Span = None;
    let inside = |at: DateTime<Utc>| from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t);
    for_each_line(
        journal,
        |line| {
            let item = match line {
                LineRef::Request(e) => {
                    span = Some(match span {
                        None => (e.received_at, e.received_at),
                        Some((a, b)) => (a.min(e.received_at), b.max(e.received_at)),
                    });
                    if e.outcome == Outcome::Rejected || e.outcome == Outcome::Pending {
                        return ControlFlow::Continue(());
                    }
                    let cb = callback_of_ref(e);
                    let body = serde_json::from_slice(&e.body_raw()).ok();
                    (e.seq, e.provider, e.received_at, body, cb, false)
                }
                LineRef::Reconciled(r, _) => {
                    let x = &r.reconciled;
                    let body = serde_json::from_str(x.body.get()).ok();
                    (r.seq, x.provider, x.sent_at, body, x.callback(), true)
                }
                LineRef::Delivery(..)
                | LineRef::Verdict(..)
                | LineRef::ReconcileRun(..)
                | LineRef::Alert(..) => return ControlFlow::Continue(()),
            };
            let (seq, provider, at, body, cb, reconciled): (
                _,
                _,
                _,
                Option<serde_json::Value>,
                _,
                _,
            ) = item;
            if !inside(at) {
                return ControlFlow::Continue(());
            }
            let file = match &cb {
                Some(Callback::Recording(r)) => Some((
                    format!("{}/{}/{}", r.id.domain, r.id.app, r.id.stream),
                    r.uri.clone(),
                )),
                _ => None,
            };
            out.push(Received {
                seq,
                provider,
                at,
                body,
                file,
                reconciled,
            });
            ControlFlow::Continue(())
        },
        |_| {},
    )?;
    Ok((out, span))
}

/// What backfilling did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backfilled {
    /// Lines written.
    pub written: usize,
    /// Callbacks the journal already knew (a real retry came, or an earlier backfill).
    pub known: usize,
    /// Bodies that are not a callback recmon reads.
    pub unreadable: usize,
}

/// Why backfilling could not start.
#[derive(Debug)]
pub enum BackfillError {
    /// A running receiver holds the journal.
    Held(Option<u32>),
    /// The journal ends in a partial line (a crash): `recmon --resume` repairs it first.
    PartialTail,
    /// Anything else.
    Io(String),
}

/// Appends one reconciled line per missed callback of `outcome` to `journal`, through a
/// sequencer of its own (the deduper rebuilt from the journal decides: a callback it already
/// knows is not written), then the run's summary (`reconcile_run`, `"by":"command"`; `at` is
/// when the run started). The journal must not be held by a receiver.
pub async fn backfill(
    journal: &Path,
    outcome: &super::Outcome,
    at: DateTime<Utc>,
) -> Result<Backfilled, BackfillError> {
    let missed = &outcome.missed;
    let locked = match LockedJournal::open(journal, false) {
        Ok(l) => l,
        Err(OpenError::Locked { pid }) => return Err(BackfillError::Held(pid)),
        Err(OpenError::Io(e)) => return Err(BackfillError::Io(e.to_string())),
    };
    let bytes = std::fs::read(journal).map_err(|e| BackfillError::Io(e.to_string()))?;
    if bytes.last().is_some_and(|b| *b != b'\n') {
        return Err(BackfillError::PartialTail);
    }
    let path = journal.to_path_buf();
    let (store, deduper, last_seq) = tokio::task::spawn_blocking(move || {
        let mut store = Store::new(1);
        let mut deduper = Deduper::default();
        let r = rebuild(&path, &mut store, &mut deduper, |_| {})?;
        Ok::<_, std::io::Error>((store, deduper, r.last_seq))
    })
    .await
    .map_err(|e| BackfillError::Io(e.to_string()))?
    .map_err(|e| BackfillError::Io(e.to_string()))?;
    let file = JournalFile::from_locked(locked, FsyncPolicy::Batch)
        .map_err(|e| BackfillError::Io(e.to_string()))?;
    let shared = SharedStore::new(store);
    let feed = Feed::new(None, last_seq);
    let (sequencer, thread) = Sequencer::start(
        Some(file),
        shared,
        Arc::clone(&feed),
        Some(deduper),
        last_seq + 1,
        None,
    );
    let mut filled = fill_in(&sequencer, missed).await;
    if let Ok(b) = &filled {
        let run = super::summary(
            outcome,
            at,
            crate::core::reconciled::RunTrigger::Command,
            b.written as u64,
        );
        if let Err(e) = sequencer.record_reconcile_run(run).await {
            filled = Err(e.0);
        }
    }
    sequencer.stop().await;
    drop(sequencer);
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    filled.map_err(BackfillError::Io)
}

/// Commits one reconciled line per missed callback through `sequencer` (the receiver's own,
/// or a backfill's): the sequencer's deduper decides, so a callback already known is not
/// written. Stops at the first line that cannot be journaled.
pub async fn fill_in(sequencer: &Sequencer, missed: &[Sent]) -> Result<Backfilled, String> {
    let mut done = Backfilled::default();
    for s in missed {
        let Ok(body) = RawValue::from_string(s.content.clone()) else {
            done.unreadable += 1;
            continue;
        };
        let r = Reconciled {
            provider: s.provider,
            sent_at: s.at,
            notify_url: crate::util::sanitize::terminal(&s.url, 2048).into_owned(),
            notify_result: crate::util::sanitize::terminal(&s.result, 256).into_owned(),
            notify_type: s
                .kind
                .as_deref()
                .map(|k| crate::util::sanitize::terminal(k, 64).into_owned()),
            body,
        };
        match sequencer.record_reconciled(r).await {
            Ok(ack) if ack.outcome == Outcome::Accepted => done.written += 1,
            Ok(ack) if ack.outcome == Outcome::Duplicate => done.known += 1,
            Ok(_) => done.unreadable += 1,
            Err(e) => return Err(e.0),
        }
    }
    Ok(done)
}

/// The stream a sent record is about, for grouping (`domain/app/stream`).
pub fn stream_of_sent(s: &Sent) -> Option<String> {
    s.stream.clone().or_else(|| {
        serde_json::from_str::<serde_json::Value>(&s.content)
            .ok()
            .as_ref()
            .and_then(stream_of)
    })
}
