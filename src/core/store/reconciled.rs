//! Callbacks filled in from a provider's own records (`recmon reconcile --backfill`, see
//! [`crate::core::reconciled`]): applied like the callback each carries, not counted as a
//! request, and remembered so that the views can mark them. And the reconcile runs' summaries:
//! the last one (the header, `/metrics`) and how many.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::core::reconciled::{ReconcileRun, ReconcileRunLine, ReconciledLine};
use crate::event::Callback;

use super::Store;

/// The seqs of the reconciled lines applied.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    seqs: HashSet<u64>,
    /// When the newest was filled in.
    last_at: Option<DateTime<Utc>>,
    /// Reconcile runs journaled.
    runs: u64,
    /// The newest run (by when it ran).
    last_run: Option<ReconcileRun>,
}

impl Reconciled {
    /// Whether the entry (a recording's seq) was filled in from the provider's records.
    pub fn contains(&self, seq: u64) -> bool {
        self.seqs.contains(&seq)
    }

    /// How many were.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// When the newest was filled in (the backfill's time).
    pub fn last_at(&self) -> Option<DateTime<Utc>> {
        self.last_at
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// How many reconcile runs the journal holds.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The newest reconcile run, whatever it found.
    pub fn last_run(&self) -> Option<&ReconcileRun> {
        self.last_run.as_ref()
    }
}

impl Store {
    /// Applies a reconciled line: its callback changes the stream's state and adds its
    /// recording as an accepted one would, dated by the provider's send time, but no request
    /// counter moves and the request log does not list it. A status older than the stream's
    /// current state changes nothing (it is appended after what came later).
    pub fn apply_reconciled(&mut self, line: &ReconciledLine, cb: &Callback) {
        self.last_seq = self.last_seq.max(line.seq);
        let r = &line.reconciled;
        if let Some(id) = cb.stream_id() {
            let idx = self.intern(id, r.provider);
            // A status the provider sent before the stream's newest state change is history:
            // it is filled in, but it does not set the state back (a pause missed during an
            // outage does not undo the resume received after it).
            let stale = matches!(cb, Callback::Status(_))
                && self.streams[idx as usize]
                    .state_since
                    .is_some_and(|since| since > r.sent_at);
            if !stale {
                self.apply_accepted(idx, cb, line.seq, r.sent_at);
            }
        }
        self.reconciled.seqs.insert(line.seq);
        self.reconciled.last_at = self.reconciled.last_at.max(Some(line.received_at));
    }

    /// Applies a reconcile run's summary: counted, and kept when it is the newest. Not a
    /// request: no request counter moves.
    pub fn apply_reconcile_run(&mut self, line: &ReconcileRunLine) {
        self.last_seq = self.last_seq.max(line.seq);
        let r = &mut self.reconciled;
        r.runs += 1;
        if r.last_run
            .as_ref()
            .is_none_or(|l| l.at <= line.reconcile_run.at)
        {
            r.last_run = Some(line.reconcile_run.clone());
        }
    }

    /// The entries filled in from the providers' records.
    pub fn reconciled(&self) -> &Reconciled {
        &self.reconciled
    }
}
