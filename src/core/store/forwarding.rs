//! The forwarding state: each `--forward-to` target's counters and pending requests, each
//! request's deliveries in the log, and the notes (failing, recovered, given up).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Store;
use crate::core::outbox::{DeliveryLine, DeliveryResult, ForwardMode};
use crate::describe::{forward_event, ForwardEvent};

/// Where one request's delivery to one target stands (the request log's delivery column and
/// the detail view).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDelivery {
    /// Index into [`Store::forward_targets`].
    pub target: u16,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The newest attempts (at most [`ATTEMPTS_KEPT`]; the journal has all).
    pub recent: Vec<Attempt>,
}

/// The newest attempts kept per request and target in the request log.
pub const ATTEMPTS_KEPT: usize = 8;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Owed, not tried yet.
    Pending,
    /// Tried and failed; another attempt follows.
    Retrying,
    /// The backend answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
        /// How long the delivering attempt took.
        ms: u64,
    },
    /// Given up (or, in sync mode, the one attempt failed).
    Failed {
        /// The backend's status, when it answered.
        status: Option<u16>,
    },
}

/// One delivery attempt, for the detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// When its result was known.
    pub at: DateTime<Utc>,
    /// 1, 2, ...
    pub attempt: u32,
    /// delivered, retry or failed.
    pub result: DeliveryResult,
    /// The backend's status.
    pub status: Option<u16>,
    /// Milliseconds.
    pub ms: u64,
    /// Why it failed (untrusted text: sanitize before showing).
    pub error: Option<String>,
    /// The start of the backend's answer (untrusted text: sanitize before showing).
    pub reply: Option<String>,
}

/// The forwarding state of one `--forward-to` target, from the journal's lines.
#[derive(Debug, Clone, Default)]
pub struct ForwardTarget {
    /// Its name: the URL without user:password.
    pub name: String,
    /// async or sync.
    pub mode: ForwardMode,
    /// Requests delivered (2xx).
    pub delivered: u64,
    /// Requests given up on.
    pub failed: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Owed and not delivered or given up: seq → arrival.
    pub(super) pending: BTreeMap<u64, DateTime<Utc>>,
    /// The newest failed seqs (at most [`FAILED_KEPT`]), oldest first.
    pub failed_seqs: VecDeque<u64>,
    /// Whether the newest attempt failed.
    pub failing: bool,
    /// The newest failure: when, and why (untrusted text).
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// Failed seqs listed per target.
pub const FAILED_KEPT: usize = 1000;

impl ForwardTarget {
    /// Requests owed and not yet delivered or given up.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When the oldest pending request arrived.
    pub fn oldest_pending(&self) -> Option<DateTime<Utc>> {
        self.pending.values().next().copied()
    }

    /// Whether a request is still owed to this target.
    pub fn is_pending(&self, seq: u64) -> bool {
        self.pending.contains_key(&seq)
    }
}

/// A forwarding event worth a line of its own (headless prints them): a target starts
/// failing, recovers, or a request is given up on. The words for it are
/// [`crate::describe::forward_event`]'s.
#[derive(Debug, Clone)]
pub struct ForwardNote {
    /// The seq of the delivery line that caused it.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The target's name.
    pub target: String,
    /// What happened.
    pub event: ForwardEvent,
    /// Compatibility: [`forward_event`]'s words for it, which `views::headless` still reads
    /// (holds untrusted text: sanitize before showing). To go once it renders `event`.
    pub text: String,
}

impl ForwardNote {
    /// A failure (true) or a recovery (false).
    pub fn bad(&self) -> bool {
        self.event.is_failure()
    }
}

/// Forwarding notes kept for the views.
const NOTES_KEPT: usize = 256;

impl Store {
    /// Lists a `--forward-to` target before any callback is forwarded to it (the service
    /// does, so that the views show it from the start). Returns its index.
    pub fn forward_target(&mut self, name: &str, mode: ForwardMode) -> u16 {
        if let Some(i) = self.forward.iter().position(|t| t.name == name) {
            return i as u16;
        }
        self.forward.push(ForwardTarget {
            name: name.to_string(),
            mode,
            ..ForwardTarget::default()
        });
        (self.forward.len() - 1).min(u16::MAX as usize) as u16
    }

    /// Applies one committed delivery line: the target's counters, and the request's row in
    /// the log when it is still there.
    pub fn apply_delivery(&mut self, line: &DeliveryLine, text: Arc<str>) {
        let t = self.apply_delivery_state(line);
        self.log_delivery(line, t);
        if self.delivery_log.len() == self.log_capacity {
            self.delivery_log.pop_front();
        }
        self.delivery_log.push_back((line.seq, text));
    }

    /// The newest delivery lines as journaled (seq, text), oldest first (bounded).
    pub fn delivery_log(&self) -> &VecDeque<(u64, Arc<str>)> {
        &self.delivery_log
    }

    /// The state half of [`Store::apply_delivery`] (a rebuild applies every line this way).
    /// Returns the target's index.
    pub fn apply_delivery_state(&mut self, line: &DeliveryLine) -> u16 {
        let d = &line.delivery;
        self.last_seq = self.last_seq.max(line.seq);
        let ti = self.forward_target(&d.target, d.mode);
        let t = &mut self.forward[ti as usize];
        t.mode = d.mode;
        let was_failing = t.failing;
        let owed = t.pending.contains_key(&d.of);
        let mut note = None;
        match d.result {
            DeliveryResult::Delivered => {
                t.pending.remove(&d.of);
                t.delivered += 1;
                t.failing = false;
                if was_failing {
                    note = Some(ForwardEvent::Recovered {
                        of: d.of,
                        status: d.status.unwrap_or(0),
                        attempt: d.attempt,
                        pending: t.pending.len(),
                    });
                }
            }
            DeliveryResult::Retry => {
                t.retries += 1;
                t.failing = true;
                let why = d.error.clone().unwrap_or_default();
                if !was_failing {
                    note = Some(ForwardEvent::Failing {
                        of: d.of,
                        attempt: d.attempt,
                        error: why.clone(),
                        retry_in_s: d.retry_in_s,
                    });
                }
                t.last_error = Some((line.received_at, why));
            }
            DeliveryResult::Failed => {
                if owed || d.mode == ForwardMode::Sync {
                    t.pending.remove(&d.of);
                    t.failed += 1;
                    if t.failed_seqs.len() == FAILED_KEPT {
                        t.failed_seqs.pop_front();
                    }
                    t.failed_seqs.push_back(d.of);
                }
                t.failing = true;
                let why = d.error.clone().unwrap_or_default();
                note = Some(match d.mode {
                    ForwardMode::Async => ForwardEvent::GaveUp {
                        of: d.of,
                        attempts: d.attempt,
                        error: why.clone(),
                    },
                    ForwardMode::Sync => ForwardEvent::SyncFailed {
                        of: d.of,
                        error: why.clone(),
                        answered: d.answered.unwrap_or(502),
                    },
                });
                t.last_error = Some((line.received_at, why));
            }
        }
        if let Some(event) = note {
            let target = t.name.clone();
            if self.forward_notes.len() == NOTES_KEPT {
                self.forward_notes.pop_front();
            }
            self.forward_notes.push_back(ForwardNote {
                seq: line.seq,
                at: line.received_at,
                text: forward_event(&target, &event),
                target,
                event,
            });
        }
        ti
    }

    /// The log half of [`Store::apply_delivery`]: the request's row, if the log still holds it.
    pub fn log_delivery(&mut self, line: &DeliveryLine, target: u16) {
        let d = &line.delivery;
        let i = self.log.partition_point(|e| e.seq < d.of);
        let Some(entry) = self.log.get_mut(i).filter(|e| e.seq == d.of) else {
            return;
        };
        if let Some(answered) = d.answered {
            entry.status = answered;
        }
        let td = match entry.delivery.iter_mut().position(|t| t.target == target) {
            Some(k) => &mut entry.delivery[k],
            None => {
                entry.delivery.push(TargetDelivery {
                    target,
                    state: DeliveryState::Pending,
                    attempts: 0,
                    recent: Vec::new(),
                });
                entry.delivery.last_mut().expect("just pushed")
            }
        };
        td.attempts = td.attempts.max(d.attempt);
        td.state = match d.result {
            DeliveryResult::Delivered => DeliveryState::Delivered {
                status: d.status.unwrap_or(0),
                ms: d.ms,
            },
            DeliveryResult::Retry => DeliveryState::Retrying,
            DeliveryResult::Failed => DeliveryState::Failed { status: d.status },
        };
        if td.recent.len() == ATTEMPTS_KEPT {
            td.recent.remove(0);
        }
        td.recent.push(Attempt {
            at: line.received_at,
            attempt: d.attempt,
            result: d.result,
            status: d.status,
            ms: d.ms,
            error: d.error.clone(),
            reply: d.reply.clone(),
        });
    }

    /// Forgets the forwarding targets not in `names` (a journal resumed without them: what it
    /// owed them is reported at start, and is not pending for this run).
    pub fn retain_forward_targets(&mut self, names: &[String]) {
        let keep: Vec<bool> = self
            .forward
            .iter()
            .map(|t| names.contains(&t.name))
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        let mut index = Vec::with_capacity(keep.len());
        let mut next = 0u16;
        for k in &keep {
            index.push(k.then(|| {
                next += 1;
                next - 1
            }));
        }
        let mut i = 0;
        self.forward.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        for e in self.log.iter_mut() {
            e.delivery.retain_mut(|d| match index[d.target as usize] {
                Some(n) => {
                    d.target = n;
                    true
                }
                None => false,
            });
        }
    }

    /// The `--forward-to` targets, in the order they were first seen.
    pub fn forward_targets(&self) -> &[ForwardTarget] {
        &self.forward
    }

    /// Forwarding events (failing, recovered, given up), oldest first.
    pub fn forward_notes(&self) -> &VecDeque<ForwardNote> {
        &self.forward_notes
    }
}
