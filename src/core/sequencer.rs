//! The sequencer: the single thread that turns classified requests into journal lines and
//! store changes, in one order.
//!
//! For each batch it drains from the listener (group commit) it:
//! 1. assigns `seq` and decides accepted / duplicate ([`Deduper`]);
//! 2. serializes each journal line once;
//! 3. writes the batch with one `write` (and one fsync with `--fsync batch`);
//! 4. only then applies the batch to the store, notifies the views, and releases the
//!    responses.
//!
//! If the write fails, the batch's requests are answered 503 (the provider retries), the
//! deduper's decisions are undone, and the store is left untouched: nothing is acknowledged
//! that is not on disk.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::core::alerts::line::{AlertLine, AlertNote};
use crate::core::checks::{FileVerdict, VerdictLine};
use crate::core::dedup::{Decision, Deduper};
use crate::core::feed::{Feed, FeedItem};
use crate::core::journal::{
    encode_body, write_line, write_settled_line, EncodedBody, FsyncPolicy, JournalEntry,
    JournalFile, Truncation,
};
use crate::core::outbox::{Delivery, DeliveryLine, ForwardPlan};
use crate::core::rebuild::Unsettled;
use crate::core::reconciled::{ReconcileRun, ReconcileRunLine, Reconciled, ReconciledLine};
use crate::core::store::{SharedStore, Store};
use crate::event::Provider;
use crate::event::{AuthCheck, Outcome};
use crate::event::{Callback, Rejection};

/// Largest batch written at once.
const MAX_BATCH: usize = 4096;

/// One request on its way to the journal.
pub struct Incoming {
    /// Arrival time.
    pub received_at: DateTime<Utc>,
    /// Peer address.
    pub remote: String,
    /// HTTP method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// The headers that matter.
    pub headers: BTreeMap<String, String>,
    /// The body bytes (possibly cut, see `truncated`).
    pub body: bytes::Bytes,
    /// Set when the body was over the limit.
    pub truncated: Option<Truncation>,
    /// What the classifier (or the listener's checks) made of it.
    pub verdict: Result<Callback, Rejection>,
    /// The classifier parsed the body as JSON (see [`encode_body`]).
    pub body_is_json: bool,
    /// Signature check result: `Some(true)` verified, `Some(false)` failed, `None` not checked.
    pub auth: Option<bool>,
    /// Whose format the request was read as (journaled as `provider`).
    pub provider: Provider,
}

/// What is journaled: a request, or the result of one delivery attempt (forwarding).
// Not boxed: a request is the common case.
#[allow(clippy::large_enum_variant)]
enum Item {
    Request(Incoming),
    Delivery(Delivery, DateTime<Utc>),
    Verdict(FileVerdict, DateTime<Utc>),
    Reconciled(Box<Reconciled>, DateTime<Utc>),
    ReconcileRun(Box<ReconcileRun>, DateTime<Utc>),
    Alert(AlertNote, DateTime<Utc>),
    /// The background rebuild is done (see [`Sequencer::rebuilt`]).
    Rebuilt(Box<RebuiltState>),
}

struct Submission {
    item: Item,
    ack: oneshot::Sender<Result<Ack, JournalFailed>>,
}

/// A request that is safely in the journal.
#[derive(Debug, Clone, Copy)]
pub struct Ack {
    /// Its journal sequence number.
    pub seq: u64,
    /// What became of it.
    pub outcome: Outcome,
    /// The status to answer.
    pub status: u16,
}

/// The journal could not be written; the request must be answered 503.
#[derive(Debug, Clone)]
pub struct JournalFailed(pub String);

/// The sending side of the sequencer, cloned into every connection.
#[derive(Clone)]
pub struct Sequencer {
    // `None` asks the thread to finish: write what it has, sync, and stop.
    tx: mpsc::Sender<Option<Submission>>,
}

/// What the sequencer thread reports when it ends.
#[derive(Debug, Default, Clone, Copy)]
pub struct SequencerSummary {
    /// Journal lines written by this run.
    pub lines_written: u64,
    /// Batches written.
    pub batches: u64,
}

impl Sequencer {
    /// Starts the sequencer thread. `next_seq` is 1 for a new journal, or the journal's last
    /// seq + 1 when resuming. Dropping every [`Sequencer`] clone stops the thread after it has
    /// written and synced everything it was given.
    ///
    /// `deduper` is `None` while `--resume` rebuilds the state in the background: until the
    /// rebuild is handed over with [`Sequencer::rebuilt`], requests are journaled and answered
    /// at once, callbacks as `"outcome":"pending"`, and nothing is applied to `shared` (the
    /// views' stand-in) or published on the feed; then all of it is, in seq order.
    pub fn start(
        journal: Option<JournalFile>,
        shared: Arc<SharedStore>,
        feed: Arc<Feed>,
        deduper: Option<Deduper>,
        next_seq: u64,
        forwarding: Option<ForwardPlan>,
    ) -> (Sequencer, JoinHandle<SequencerSummary>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let held = Arc::new(std::sync::Mutex::new(deduper.is_none().then(Vec::new)));
        let handle = std::thread::Builder::new()
            .name("recmon-sequencer".into())
            .spawn(move || {
                let committer = Committer {
                    shared,
                    feed,
                    forwarding,
                    held,
                };
                run(rx, journal, committer, deduper, next_seq)
            })
            .expect("spawn sequencer thread");
        (Sequencer { tx }, handle)
    }

    /// Hands over the store and deduper rebuilt in the background, and waits until every
    /// pending callback is decided, journaled again settled, and applied, and the rebuilt
    /// store has replaced the stand-in (see [`Sequencer::start`]).
    pub async fn rebuilt(&self, state: RebuiltState) -> Result<(), JournalFailed> {
        self.submit_item(Item::Rebuilt(Box::new(state)))
            .await
            .map(|_| ())
    }

    /// Hands a request to the sequencer and waits until it is journaled.
    pub async fn submit(&self, req: Incoming) -> Result<Ack, JournalFailed> {
        self.submit_item(Item::Request(req)).await
    }

    /// Journals one delivery attempt's result (a line of its own, with its own seq) and
    /// waits until it is on disk; returns its seq.
    pub async fn record_delivery(&self, delivery: Delivery) -> Result<u64, JournalFailed> {
        self.submit_item(Item::Delivery(delivery, Utc::now()))
            .await
            .map(|ack| ack.seq)
    }

    /// Journals a recording file's verdict (a line of its own, with its own seq; see
    /// [`crate::core::checks`]) and waits until it is on disk; returns its seq.
    pub async fn record_verdict(&self, verdict: FileVerdict) -> Result<u64, JournalFailed> {
        self.submit_item(Item::Verdict(verdict, Utc::now()))
            .await
            .map(|ack| ack.seq)
    }

    /// Journals a callback filled in from the provider's records (see
    /// [`crate::core::reconciled`]) unless the deduper already knows it (then nothing is
    /// written and the ack says `duplicate`; a callback that does not read says `rejected`),
    /// and waits until it is on disk and applied. Refused while a `--resume` rebuild is
    /// still running (the deduper is not whole yet).
    pub async fn record_reconciled(&self, r: Reconciled) -> Result<Ack, JournalFailed> {
        self.submit_item(Item::Reconciled(Box::new(r), Utc::now()))
            .await
    }

    /// Journals a reconcile run's summary (a line of its own, see
    /// [`crate::core::reconciled::ReconcileRunLine`]) and waits until it is on disk and
    /// applied; returns its seq.
    pub async fn record_reconcile_run(&self, run: ReconcileRun) -> Result<u64, JournalFailed> {
        self.submit_item(Item::ReconcileRun(Box::new(run), Utc::now()))
            .await
            .map(|ack| ack.seq)
    }

    /// Journals an alert's transition or a page's outcome at a sink (a line of its own, see
    /// [`crate::core::alerts::line`]) and waits until it is on disk and applied; returns its
    /// seq.
    pub async fn record_alert(&self, note: AlertNote) -> Result<u64, JournalFailed> {
        self.submit_item(Item::Alert(note, Utc::now()))
            .await
            .map(|ack| ack.seq)
    }

    /// [`Sequencer::record_alert`] for one evaluation's transitions: all handed over first, in
    /// order (so they share the journal's writes), then waited for. One result each.
    pub async fn record_alerts(&self, notes: Vec<AlertNote>) -> Vec<Result<u64, JournalFailed>> {
        let at = Utc::now();
        let mut waits = Vec::with_capacity(notes.len());
        for note in notes {
            let (ack, rx) = oneshot::channel();
            let item = Item::Alert(note, at);
            let sent = self.tx.send(Some(Submission { item, ack })).await.is_ok();
            waits.push(sent.then_some(rx));
        }
        let mut out = Vec::with_capacity(waits.len());
        for wait in waits {
            out.push(match wait {
                None => Err(JournalFailed("recmon is shutting down".into())),
                Some(rx) => match rx.await {
                    Ok(r) => r.map(|ack| ack.seq),
                    Err(_) => Err(JournalFailed("the journal writer stopped".into())),
                },
            });
        }
        out
    }

    /// Hands a delivery attempt's result to the journal without waiting for it to be on disk
    /// (the async outbox: nobody is answered on it, and a line lost to a crash only means the
    /// callback is delivered again). Waits only for room in the sequencer's queue.
    pub async fn note_delivery(&self, delivery: Delivery) -> Result<(), JournalFailed> {
        let (ack, _) = oneshot::channel();
        let item = Item::Delivery(delivery, Utc::now());
        self.tx
            .send(Some(Submission { item, ack }))
            .await
            .map_err(|_| JournalFailed("recmon is shutting down".into()))
    }

    async fn submit_item(&self, item: Item) -> Result<Ack, JournalFailed> {
        let (ack, rx) = oneshot::channel();
        if self.tx.send(Some(Submission { item, ack })).await.is_err() {
            return Err(JournalFailed("recmon is shutting down".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(JournalFailed("the journal writer stopped".into())))
    }

    /// Asks the thread to stop after what it already has. Requests submitted afterwards are
    /// answered 503. Used at shutdown once the listener has drained.
    pub async fn stop(&self) {
        let _ = self.tx.send(None).await;
    }
}

fn run(
    mut rx: mpsc::Receiver<Option<Submission>>,
    mut journal: Option<JournalFile>,
    committer: Committer,
    deduper: Option<Deduper>,
    mut next_seq: u64,
) -> SequencerSummary {
    let mut summary = SequencerSummary::default();
    let mut batch: Vec<Submission> = Vec::with_capacity(MAX_BATCH);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut staged: Vec<Written> = Vec::new();
    let mut undos = Vec::new();
    let mut state = Deciding {
        deduper,
        pending: Vec::new(),
        retry: None,
    };
    // Set when an fsync failed: the file can no longer be trusted to hold what was written,
    // so every later request is answered 503 until recmon is restarted.
    let poisoned = Arc::new(AtomicBool::new(false));
    let syncer = journal
        .as_ref()
        .filter(|j| j.fsync_policy() == FsyncPolicy::Batch)
        .map(|j| {
            let file = j
                .sync_handle()
                .expect("duplicate the journal's file handle");
            let (tx, rx) = std::sync::mpsc::channel::<WrittenBatch>();
            let (committer, poisoned, path) =
                (committer.clone(), poisoned.clone(), j.path().to_path_buf());
            let handle = std::thread::Builder::new()
                .name("recmon-fsync".into())
                .spawn(move || sync_loop(rx, file, &committer, &poisoned, &path))
                .expect("spawn the journal syncer thread");
            (tx, handle)
        });

    let mut stopping = false;
    while !stopping {
        // A settlement whose write failed goes first in the next batch (see `Deciding`).
        if let Some(again) = state.retry.take() {
            batch.push(again);
        } else {
            match rx.blocking_recv() {
                Some(Some(first)) => batch.push(first),
                Some(None) | None => break,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Some(s)) => batch.push(s),
                Ok(None) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }

        buf.clear();
        staged.clear();
        staged.reserve(batch.len());
        undos.clear();
        let pending_before = state.pending.len();
        for Submission { item, ack } in batch.drain(..) {
            stage(
                item,
                ack,
                &mut state,
                &committer,
                &mut next_seq,
                &mut buf,
                &mut staged,
                &mut undos,
            );
        }

        let written = if poisoned.load(Ordering::SeqCst) {
            Err(io::Error::other(
                "an earlier fsync of the journal failed; restart recmon with a healthy --journal",
            ))
        } else {
            match journal.as_mut() {
                Some(j) => j.write_batch(&buf),
                None => Ok(()),
            }
        };
        match written {
            Ok(()) => {
                summary.lines_written += staged
                    .iter()
                    .filter(|w| !matches!(w.staged, Staged::Settle(_)))
                    .count() as u64;
                summary.batches += 1;
                let done = WrittenBatch {
                    written: std::mem::take(&mut staged),
                    buf: std::mem::replace(&mut buf, Vec::with_capacity(1 << 16)),
                };
                match &syncer {
                    // The syncer fsyncs, then applies and answers; meanwhile this thread
                    // goes on writing the next batches.
                    Some((tx, _)) => {
                        if let Err(failed) = tx.send(done) {
                            fail_batch(failed.0.written, "the journal syncer stopped");
                        }
                    }
                    None => committer.commit(done),
                }
            }
            Err(e) => {
                let msg = format!(
                    "journal write failed ({}): {e}",
                    journal
                        .as_ref()
                        .map(|j| j.path().display().to_string())
                        .unwrap_or_default()
                );
                tracing::error!(
                    "{msg}; {} answered 503",
                    crate::util::human::count(
                        staged.iter().filter(|w| w.reply.is_some()).count() as u64,
                        "request",
                        "requests"
                    )
                );
                while let Some(u) = undos.pop() {
                    if let Some(d) = state.deduper.as_mut() {
                        d.undo(u);
                    }
                }
                state.pending.truncate(pending_before);
                state.take_back_settlement(&mut staged, pending_before);
                committer.shared.lock().note_journal_failure(msg.clone());
                committer.shared.notify();
                fail_batch(std::mem::take(&mut staged), &msg);
            }
        }
    }
    // Let the syncer fsync and answer what it still has before the final sync.
    if let Some((tx, handle)) = syncer {
        drop(tx);
        let _ = handle.join();
    }
    rx.close();
    while let Ok(Some(late)) = rx.try_recv() {
        let _ = late
            .ack
            .send(Err(JournalFailed("recmon is shutting down".into())));
    }
    if let Some(j) = journal.as_mut() {
        if let Err(e) = j.sync() {
            tracing::error!("final journal sync failed: {e}");
        }
    }
    summary
}

/// What decides outcomes on the sequencer thread.
///
/// While `--resume` rebuilds the state in the background there is no deduper yet (it is
/// rebuilt with the store): a callback is journaled as `"outcome":"pending"`, answered 200 at
/// once, and kept in `pending`. When the rebuild is handed over ([`Sequencer::rebuilt`]), the
/// rebuilt deduper decides, in seq order, first the journal's own pending lines that nothing
/// settled (an earlier run stopped mid-rebuild), then this run's; each is journaled again,
/// decided, with `"settles"` naming its pending line, in the same batch as the hand-over,
/// before any later request is decided. So every callback is decided in arrival order by the
/// same rules as on a receiver that never stopped, and a later rebuild of the journal decides
/// the same.
struct Deciding {
    deduper: Option<Deduper>,
    /// This run's pending callbacks, in seq order.
    pending: Vec<PendingReq>,
    /// A hand-over whose batch could not be written: tried again first in the next batch
    /// (meanwhile callbacks stay pending).
    retry: Option<Submission>,
}

impl Deciding {
    /// After a failed write (its decisions already undone): a hand-over in the batch is
    /// taken back, to be tried again first in the next batch. The deduper goes back with it;
    /// the pending callbacks it decided go back too, but for those of this very batch, which
    /// are not in the journal (they were answered 503). `kept` is how many of this run's
    /// pending callbacks came before the batch.
    fn take_back_settlement(&mut self, staged: &mut Vec<Written>, kept: usize) {
        let Some(at) = staged
            .iter()
            .position(|w| matches!(w.staged, Staged::Settle(_)))
        else {
            return;
        };
        let w = staged.remove(at);
        let (Staged::Settle(mut handed), Some(reply)) = (w.staged, w.reply) else {
            unreachable!("a hand-over is staged with its reply");
        };
        handed.deduper = self.deduper.take().unwrap_or_default();
        handed.todo.truncate(handed.given + kept);
        self.pending.clear();
        // The settled copies were staged after the hand-over: they are nobody's to answer.
        staged.retain(|w| w.reply.is_some());
        self.retry = Some(Submission {
            item: Item::Rebuilt(handed),
            ack: reply,
        });
    }
}

/// A callback journaled as pending, kept whole until it is decided.
struct PendingReq {
    /// The pending line's entry (its seq is the pending line's).
    entry: JournalEntry,
    body: bytes::Bytes,
    verdict: Result<Callback, Rejection>,
    body_is_json: bool,
}

impl From<Unsettled> for PendingReq {
    fn from(u: Unsettled) -> Self {
        let mut entry = u.entry;
        let body_is_json = entry.body.is_some();
        let body = bytes::Bytes::from(entry.body_raw());
        entry.body = None;
        PendingReq {
            entry,
            body,
            verdict: u.verdict,
            body_is_json,
        }
    }
}

/// Stages a line that writes state back (a delivery's result, a verdict, a reconciled
/// callback): the next seq, the line made with it, written once into `buf`.
fn stage_written_back<L: serde::Serialize>(
    line: impl FnOnce(u64) -> L,
    staged_as: impl FnOnce(L) -> Staged,
    ack: oneshot::Sender<Result<Ack, JournalFailed>>,
    next_seq: &mut u64,
    buf: &mut Vec<u8>,
    staged: &mut Vec<Written>,
) {
    let seq = *next_seq;
    *next_seq += 1;
    let line = line(seq);
    let start = buf.len();
    serde_json::to_writer(&mut *buf, &line).expect("a journal line serializes");
    let end = buf.len();
    buf.push(b'\n');
    staged.push(Written {
        item: None,
        staged: staged_as(line),
        range: start..end,
        ack: Ack {
            seq,
            outcome: Outcome::Accepted,
            status: 200,
        },
        reply: Some(ack),
    });
}

/// Stages one submission: its seq, its outcome, its line in `buf`.
#[allow(clippy::too_many_arguments)]
fn stage(
    item: Item,
    ack: oneshot::Sender<Result<Ack, JournalFailed>>,
    state: &mut Deciding,
    committer: &Committer,
    next_seq: &mut u64,
    buf: &mut Vec<u8>,
    staged: &mut Vec<Written>,
    undos: &mut Vec<crate::core::dedup::Undo>,
) {
    let mut sub = match item {
        Item::Request(sub) => sub,
        Item::Delivery(delivery, at) => {
            let line = |seq| DeliveryLine {
                seq,
                received_at: at,
                delivery,
            };
            return stage_written_back(line, Staged::Delivery, ack, next_seq, buf, staged);
        }
        Item::Verdict(verdict, at) => {
            let line = |seq| VerdictLine {
                seq,
                received_at: at,
                verdict,
            };
            return stage_written_back(line, Staged::Verdict, ack, next_seq, buf, staged);
        }
        Item::Reconciled(rec, at) => {
            let not_written = |outcome| Ack {
                seq: 0,
                outcome,
                status: 200,
            };
            let Some(cb) = rec.callback() else {
                let _ = ack.send(Ok(not_written(Outcome::Rejected)));
                return;
            };
            let Some(deduper) = state.deduper.as_mut() else {
                let _ = ack.send(Err(JournalFailed(
                    "the receiver is still rebuilding its state from the journal; reconcile once it is done".into(),
                )));
                return;
            };
            let (outcome, undo) = deduper.decide_from(rec.provider, &cb, rec.sent_at);
            if outcome != Outcome::Accepted {
                let _ = ack.send(Ok(not_written(outcome)));
                return;
            }
            undos.extend(undo);
            // Owed to the async targets only with `--forward-reconciled`.
            let forward = committer
                .forwarding
                .as_ref()
                .filter(|p| p.reconciled)
                .map(|p| p.targets.clone())
                .unwrap_or_default();
            let line = |seq| ReconciledLine {
                seq,
                received_at: at,
                forward,
                reconciled: *rec,
            };
            let staged_as = |line| Staged::Reconciled(Box::new((line, cb)));
            return stage_written_back(line, staged_as, ack, next_seq, buf, staged);
        }
        Item::Alert(note, at) => {
            let line = |seq| AlertLine {
                seq,
                received_at: at,
                note,
            };
            return stage_written_back(line, Staged::Alert, ack, next_seq, buf, staged);
        }
        Item::ReconcileRun(run, at) => {
            let line = |seq| ReconcileRunLine {
                seq,
                received_at: at,
                reconcile_run: *run,
            };
            let staged_as = |line| Staged::ReconcileRun(Box::new(line));
            return stage_written_back(line, staged_as, ack, next_seq, buf, staged);
        }
        Item::Rebuilt(handed) => {
            return settle(handed, ack, state, committer, next_seq, buf, staged, undos)
        }
    };
    let seq = *next_seq;
    *next_seq += 1;
    let Decision {
        outcome,
        status,
        error,
        undo,
    } = match (&mut state.deduper, &sub.verdict) {
        (Some(d), verdict) => d.sequence_from(sub.provider, verdict, sub.received_at),
        // Rebuilding: a callback waits for the deduper; a rejection needs none.
        (None, Ok(_)) => Decision {
            outcome: Outcome::Pending,
            status: 200,
            error: None,
            undo: None,
        },
        (None, verdict) => Deduper::default().sequence_from(sub.provider, verdict, sub.received_at),
    };
    undos.extend(undo);
    // The body stays with the request (a cheap Bytes handle) while the entry borrows
    // its encoding.
    let body = sub.body.clone();
    let enc = encode_body(&body, sub.body_is_json);
    let mut entry = build_entry(&mut sub, seq, outcome, status, error, &enc);
    if let Some(plan) = &committer.forwarding {
        if plan.owes(outcome) {
            entry.forward = plan.targets.clone();
        }
    }
    if outcome == Outcome::Pending {
        state.pending.push(PendingReq {
            entry: entry.clone(),
            body: body.clone(),
            verdict: sub.verdict.clone(),
            body_is_json: sub.body_is_json,
        });
    }
    let start = buf.len();
    write_line(buf, &entry, enc.inline);
    let end = buf.len() - 1;
    staged.push(Written {
        item: Some(sub),
        staged: Staged::Request(entry),
        range: start..end,
        ack: Ack {
            seq,
            outcome,
            status,
        },
        reply: Some(ack),
    });
}

/// The hand-over of a background rebuild: the deduper is installed, and every pending
/// callback is decided and staged again, settled (see [`Deciding`]), after the marker that
/// swaps the rebuilt store in when the batch is committed.
#[allow(clippy::too_many_arguments)]
fn settle(
    mut handed: Box<RebuiltState>,
    ack: oneshot::Sender<Result<Ack, JournalFailed>>,
    state: &mut Deciding,
    committer: &Committer,
    next_seq: &mut u64,
    buf: &mut Vec<u8>,
    staged: &mut Vec<Written>,
    undos: &mut Vec<crate::core::dedup::Undo>,
) {
    let mut deduper = std::mem::take(&mut handed.deduper);
    handed.given = handed.todo.len();
    handed.todo.append(&mut state.pending);
    let mut copies = Vec::with_capacity(handed.todo.len());
    for p in &handed.todo {
        let seq = *next_seq;
        *next_seq += 1;
        let decision = deduper.sequence_from(p.entry.provider, &p.verdict, p.entry.received_at);
        undos.extend(decision.undo);
        let mut entry = p.entry.clone();
        entry.seq = seq;
        entry.outcome = decision.outcome;
        entry.error = decision.error;
        entry.forward.clear();
        if let Some(plan) = &committer.forwarding {
            if plan.owes(decision.outcome) {
                entry.forward = plan.targets.clone();
            }
        }
        let enc = encode_body(&p.body, p.body_is_json);
        entry.body = None;
        entry.body_text = enc.body_text.clone();
        entry.body_base64 = enc.body_base64.clone();
        let start = buf.len();
        write_settled_line(buf, &entry, enc.inline, p.entry.seq);
        let end = buf.len() - 1;
        copies.push(Written {
            item: Some(Incoming {
                provider: p.entry.provider,
                received_at: p.entry.received_at,
                remote: String::new(),
                method: String::new(),
                path: String::new(),
                headers: BTreeMap::new(),
                body: p.body.clone(),
                truncated: None,
                verdict: p.verdict.clone(),
                body_is_json: p.body_is_json,
                auth: None,
            }),
            ack: Ack {
                seq,
                outcome: entry.outcome,
                status: entry.status,
            },
            staged: Staged::Request(entry),
            range: start..end,
            reply: None,
        });
    }
    staged.push(Written {
        item: None,
        staged: Staged::Settle(handed),
        range: buf.len()..buf.len(),
        ack: Ack {
            seq: *next_seq - 1,
            outcome: Outcome::Accepted,
            status: 200,
        },
        reply: Some(ack),
    });
    staged.extend(copies);
    state.deduper = Some(deduper);
}

/// A batch written to the journal, on its way to being applied and answered.
struct WrittenBatch {
    written: Vec<Written>,
    buf: Vec<u8>,
}

/// One line of a batch (or the hand-over marker), with what it came from and who waits.
struct Written {
    /// The request (for its callback and body), when it is one.
    item: Option<Incoming>,
    staged: Staged,
    /// The line's text in the batch.
    range: std::ops::Range<usize>,
    ack: Ack,
    /// Who waits for it (none for a settled copy: its pending line was answered).
    reply: Option<oneshot::Sender<Result<Ack, JournalFailed>>>,
}

/// A line staged for the store, beside its text in the batch.
enum Staged {
    Request(JournalEntry),
    Delivery(DeliveryLine),
    Verdict(VerdictLine),
    Reconciled(Box<(ReconciledLine, Callback)>),
    ReconcileRun(Box<ReconcileRunLine>),
    Alert(AlertLine),
    /// The rebuilt store, swapped in at this point of the batch.
    Settle(Box<RebuiltState>),
    /// Taken (held, or swapped in).
    Done,
}

/// What a background rebuild hands the sequencer (see [`Sequencer::rebuilt`]).
pub struct RebuiltState {
    /// The store, rebuilt from the journal as it was at start.
    store: Store,
    /// The deduper rebuilt with it.
    deduper: Deduper,
    /// The pending callbacks to decide: the journal's own that no line settles, in seq
    /// order (then, at the hand-over, this run's).
    todo: Vec<PendingReq>,
    /// How many of `todo` the hand-over was given (the rest it took from this run).
    given: usize,
}

impl RebuiltState {
    /// What the rebuild hands over: the store, the deduper, and the journal's pending lines
    /// that no line settles.
    pub fn new(store: Store, deduper: Deduper, unsettled: Vec<Unsettled>) -> Self {
        RebuiltState {
            store,
            deduper,
            todo: unsettled.into_iter().map(PendingReq::from).collect(),
            given: 0,
        }
    }
}

/// Lines committed while the store is being rebuilt: applied (and published) in order once
/// the rebuilt store is swapped in. `None` once it is.
type Held = Arc<std::sync::Mutex<Option<Vec<(Staged, Option<Arc<Callback>>, Arc<str>, u64)>>>>;

/// Where a batch goes once it is safely in the journal: the store, then the feed. Every other
/// consumer (views, `/api/events`, the forwarder, alerts) follows the feed; the sequencer
/// knows none of them.
#[derive(Clone)]
struct Committer {
    shared: Arc<SharedStore>,
    feed: Arc<Feed>,
    /// Which committed requests are owed to the async forwarding targets (marked in their
    /// lines, which the forwarder follows on the feed).
    forwarding: Option<ForwardPlan>,
    held: Held,
}

impl Committer {
    /// Applies a batch that is safely in the journal to the store, in seq order, publishes it
    /// on the feed, and answers it. Each line is one shared text for the store's request log
    /// and the feed. While the store is being rebuilt, lines are answered at once and held;
    /// at the hand-over the rebuilt store is swapped in and the held lines are applied and
    /// published, in order, before the rest of the batch.
    fn commit(&self, b: WrittenBatch) {
        let WrittenBatch { mut written, buf } = b;
        let mut published = Vec::with_capacity(written.len());
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let mut store = self.shared.lock();
            for w in written.iter_mut() {
                if let Staged::Settle(_) = w.staged {
                    let Staged::Settle(handed) = std::mem::replace(&mut w.staged, Staged::Done)
                    else {
                        unreachable!("matched above");
                    };
                    let stand_in = std::mem::replace(&mut *store, handed.store);
                    store.carry_journal_failures(&stand_in);
                    store.set_rebuilding(None);
                    for (staged, cb, line, seq) in held.take().unwrap_or_default() {
                        match &staged {
                            Staged::Request(entry) => {
                                store.apply(entry, cb.as_deref(), line.clone())
                            }
                            Staged::Delivery(d) => store.apply_delivery(d, line.clone()),
                            Staged::Verdict(v) => store.apply_verdict(v),
                            Staged::Reconciled(r) => store.apply_reconciled(&r.0, &r.1),
                            Staged::ReconcileRun(r) => store.apply_reconcile_run(r),
                            Staged::Alert(a) => {
                                store.apply_alert_line(a);
                            }
                            Staged::Settle(_) | Staged::Done => {}
                        }
                        published.push(FeedItem {
                            seq,
                            line,
                            callback: cb,
                        });
                    }
                    continue;
                }
                let line: Arc<str> = Arc::from(
                    std::str::from_utf8(&buf[w.range.clone()]).expect("serde_json writes UTF-8"),
                );
                let cb = w
                    .item
                    .as_ref()
                    .and_then(|i| i.verdict.as_ref().ok())
                    .map(|c| Arc::new(c.clone()));
                if let Some(h) = held.as_mut() {
                    let staged = std::mem::replace(&mut w.staged, Staged::Done);
                    h.push((staged, cb, line, w.ack.seq));
                    continue;
                }
                match &w.staged {
                    Staged::Request(entry) => store.apply(entry, cb.as_deref(), line.clone()),
                    Staged::Delivery(d) => store.apply_delivery(d, line.clone()),
                    Staged::Verdict(v) => store.apply_verdict(v),
                    Staged::Reconciled(r) => store.apply_reconciled(&r.0, &r.1),
                    Staged::ReconcileRun(r) => store.apply_reconcile_run(r),
                    Staged::Alert(a) => {
                        store.apply_alert_line(a);
                    }
                    Staged::Settle(_) | Staged::Done => continue,
                }
                published.push(FeedItem {
                    seq: w.ack.seq,
                    line,
                    callback: cb,
                });
            }
        }
        if !published.is_empty() {
            self.feed.publish(published);
        }
        self.shared.notify();
        for w in written {
            if let Some(reply) = w.reply {
                let _ = reply.send(Ok(w.ack));
            }
        }
    }
}

fn fail_batch(written: Vec<Written>, why: &str) {
    for reply in written.into_iter().filter_map(|w| w.reply) {
        let _ = reply.send(Err(JournalFailed(why.to_string())));
    }
}

/// Group commit for `--fsync batch`: one fdatasync covers every batch written before it
/// started, so while it runs the sequencer keeps writing, and the next fsync takes all of
/// that at once. Only then are the batches applied and answered.
fn sync_loop(
    rx: std::sync::mpsc::Receiver<WrittenBatch>,
    file: std::fs::File,
    committer: &Committer,
    poisoned: &AtomicBool,
    path: &Path,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while let Ok(more) = rx.try_recv() {
            group.push(more);
        }
        let synced = if poisoned.load(Ordering::SeqCst) {
            Err(io::Error::other("an earlier fsync of the journal failed"))
        } else {
            file.sync_data()
        };
        match synced {
            Ok(()) => {
                for b in group {
                    committer.commit(b);
                }
            }
            Err(e) => {
                poisoned.store(true, Ordering::SeqCst);
                let msg = format!(
                    "journal fsync failed ({}): {e}; every request is answered 503 until recmon is restarted",
                    path.display()
                );
                tracing::error!("{msg}");
                committer.shared.lock().note_journal_failure(msg.clone());
                committer.shared.notify();
                for b in group {
                    fail_batch(b.written, &msg);
                }
            }
        }
    }
}

/// Moves the request's strings into its journal entry (the request is done with them).
pub(crate) fn build_entry(
    sub: &mut Incoming,
    seq: u64,
    outcome: Outcome,
    status: u16,
    error: Option<String>,
    body: &EncodedBody,
) -> JournalEntry {
    JournalEntry {
        seq,
        received_at: sub.received_at,
        remote: std::mem::take(&mut sub.remote),
        method: std::mem::take(&mut sub.method),
        path: std::mem::take(&mut sub.path),
        headers: std::mem::take(&mut sub.headers),
        outcome,
        status,
        provider: sub.provider,
        kind: sub.verdict.as_ref().ok().map(|c| c.kind().to_string()),
        forward: Vec::new(),
        error,
        body_bytes: sub.body.len() as u64,
        body: None,
        body_text: body.body_text.clone(),
        body_base64: body.body_base64.clone(),
        body_truncated: sub.truncated.take(),
        auth: sub
            .auth
            .map(|ok| if ok { AuthCheck::Ok } else { AuthCheck::Failed }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::{JournalReader, ReadItem};
    use crate::event::Method;
    use std::sync::atomic::AtomicBool;

    fn incoming(body: &str, at_s: i64) -> Incoming {
        let (verdict, body_is_json) =
            crate::providers::aliyun::classify_request(Method::Post, None, body.as_bytes());
        Incoming {
            provider: Default::default(),
            received_at: DateTime::from_timestamp(1_800_000_000 + at_s, 0).unwrap(),
            remote: "127.0.0.1:9".into(),
            method: "POST".into(),
            path: "/cb".into(),
            headers: BTreeMap::new(),
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
            truncated: None,
            verdict,
            body_is_json,
            auth: None,
        }
    }

    fn recording(uri: &str) -> String {
        format!(
            r#"{{"domain":"d","app":"a","stream":"s","uri":"{uri}","duration":10,"start_time":1,"stop_time":11}}"#
        )
    }

    fn status(event: &str) -> String {
        format!(r#"{{"domain":"d","app":"a","stream":"s","event":"{event}"}}"#)
    }

    fn start(
        path: &Path,
        deduper: Option<Deduper>,
        next_seq: u64,
    ) -> (Sequencer, Arc<SharedStore>) {
        let journal = JournalFile::open(path, FsyncPolicy::Never).unwrap();
        let shared = SharedStore::new(Store::new(100));
        let feed = Feed::new(Some(path.to_path_buf()), next_seq - 1);
        let (seq, _thread) =
            Sequencer::start(Some(journal), shared.clone(), feed, deduper, next_seq, None);
        (seq, shared)
    }

    fn outcomes(path: &Path) -> Vec<(u64, Outcome, Option<u64>)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["seq"].as_u64().unwrap(),
                    serde_json::from_value(v["outcome"].clone()).unwrap(),
                    v["settles"].as_u64(),
                )
            })
            .collect()
    }

    /// Callbacks sent while the store is rebuilt (new ones, a retry of a journaled one, a
    /// retry of one answered during the rebuild, a rejection) are answered at once, journaled
    /// pending; after the hand-over the state is the one a receiver that never stopped has,
    /// and so is a rebuild of the journal.
    #[tokio::test]
    async fn requests_during_a_rebuild_are_answered_at_once_and_decided_after_it_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let before = [recording("u1"), status("record_started"), recording("u0")];
        let during = [
            recording("u1"),
            recording("u2"),
            recording("u2"),
            "{not json".to_string(),
            status("record_started"),
            status("record_paused"),
            recording("u0"),
        ];
        let all: Vec<(usize, &String)> = before.iter().chain(&during).enumerate().collect();

        // A receiver that never stopped.
        let a = dir.path().join("a.jsonl");
        let (seq, shared_a) = start(&a, Some(Deduper::default()), 1);
        let mut want = Vec::new();
        for (i, body) in &all {
            want.push(seq.submit(incoming(body, *i as i64)).await.unwrap().outcome);
        }

        // One that stopped after `before`, and restarted on its journal.
        let b = dir.path().join("b.jsonl");
        let (seq, _) = start(&b, Some(Deduper::default()), 1);
        for (i, body) in all.iter().take(before.len()) {
            seq.submit(incoming(body, *i as i64)).await.unwrap();
        }
        seq.stop().await;
        drop(seq);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let len = std::fs::metadata(&b).unwrap().len();
        let last = crate::core::journal::tail_seq(&b, len).unwrap();
        assert_eq!(last, before.len() as u64);
        let (seq, shared_b) = start(&b, None, last + 1);
        let mut answered = Vec::new();
        for (i, body) in all.iter().skip(before.len()) {
            answered.push(seq.submit(incoming(body, *i as i64)).await.unwrap());
        }
        // Answered before the rebuild: pending, or rejected; nothing applied yet.
        assert!(answered
            .iter()
            .all(|a| a.status != 200 || a.outcome == Outcome::Pending));
        assert_eq!(answered[3].outcome, Outcome::Rejected);
        assert_eq!(shared_b.lock().counters(), Default::default());

        let mut store = Store::new(100);
        let mut deduper = Deduper::default();
        let (_, unsettled) = crate::core::rebuild::rebuild_prefix(
            &b,
            len,
            &mut store,
            &mut deduper,
            |_| {},
            |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!(unsettled.is_empty());
        seq.rebuilt(RebuiltState::new(store, deduper, unsettled))
            .await
            .unwrap();
        let (sa, sb) = (shared_a.lock(), shared_b.lock());
        assert_eq!(sb.counters(), sa.counters());
        assert_eq!(sb.recordings().len(), sa.recordings().len());
        assert_eq!(sb.rebuilding(), None);
        drop((sa, sb));

        // The journal: each pending line settled once, in order, with the outcome the
        // receiver that never stopped decided.
        let lines = outcomes(&b);
        let settled: Vec<(u64, Outcome)> = lines
            .iter()
            .filter_map(|(_, o, s)| s.map(|s| (s, *o)))
            .collect();
        let pending: Vec<u64> = lines
            .iter()
            .filter(|(_, o, _)| *o == Outcome::Pending)
            .map(|(s, _, _)| *s)
            .collect();
        assert_eq!(settled.iter().map(|s| s.0).collect::<Vec<_>>(), pending);
        let want_during: Vec<Outcome> = want[before.len()..]
            .iter()
            .copied()
            .filter(|o| *o != Outcome::Rejected)
            .collect();
        assert_eq!(settled.iter().map(|s| s.1).collect::<Vec<_>>(), want_during);
        assert!(want_during.contains(&Outcome::Duplicate));

        // A later rebuild reads the same state, and every reader skips the pending lines.
        let mut again = Store::new(100);
        crate::core::rebuild::rebuild(&b, &mut again, &mut Deduper::default(), |_| {}).unwrap();
        assert_eq!(again.counters(), shared_a.lock().counters());
        let mut requests = 0;
        crate::core::rebuild::for_each_entry(
            &b,
            |e| {
                assert_ne!(e.outcome, Outcome::Pending);
                requests += 1;
                std::ops::ControlFlow::Continue(())
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(requests, all.len());
        let read: Vec<ReadItem> = JournalReader::open(&b)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read.len(), all.len() + pending.len());
    }

    /// Pending lines that nothing settles (recmon stopped mid-rebuild) are decided by the
    /// next hand-over, before the new ones, as a rebuild alone decides them.
    #[tokio::test]
    async fn pending_lines_left_by_a_stop_mid_rebuild_are_settled_by_the_next_resume() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("b.jsonl");
        let (seq, _) = start(&b, Some(Deduper::default()), 1);
        seq.submit(incoming(&recording("u1"), 0)).await.unwrap();
        seq.stop().await;
        drop(seq);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Restarted, answered two callbacks pending, stopped before the hand-over.
        let (seq, _) = start(&b, None, 2);
        for (i, uri) in ["u1", "u2"].iter().enumerate() {
            let a = seq
                .submit(incoming(&recording(uri), 10 + i as i64))
                .await
                .unwrap();
            assert_eq!(a.outcome, Outcome::Pending);
        }
        seq.stop().await;
        drop(seq);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // A rebuild alone decides them at the end.
        let mut alone = Store::new(100);
        crate::core::rebuild::rebuild(&b, &mut alone, &mut Deduper::default(), |_| {}).unwrap();
        assert_eq!(
            (alone.counters().accepted, alone.counters().duplicate),
            (2, 1)
        );
        // The next resume: one more pending (a retry of u2), then the hand-over.
        let len = std::fs::metadata(&b).unwrap().len();
        let (seq, shared) = start(&b, None, 4);
        let a = seq.submit(incoming(&recording("u2"), 20)).await.unwrap();
        assert_eq!((a.seq, a.outcome), (4, Outcome::Pending));
        let (mut store, mut deduper) = (Store::new(100), Deduper::default());
        let (_, unsettled) = crate::core::rebuild::rebuild_prefix(
            &b,
            len,
            &mut store,
            &mut deduper,
            |_| {},
            |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(
            unsettled.iter().map(|u| u.entry.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        seq.rebuilt(RebuiltState::new(store, deduper, unsettled))
            .await
            .unwrap();
        let c = shared.lock().counters();
        assert_eq!((c.accepted, c.duplicate), (2, 2));
        let settled: Vec<(u64, Outcome, Option<u64>)> =
            outcomes(&b).into_iter().filter(|l| l.2.is_some()).collect();
        assert_eq!(
            settled,
            [
                (5, Outcome::Duplicate, Some(2)),
                (6, Outcome::Accepted, Some(3)),
                (7, Outcome::Duplicate, Some(4)),
            ]
        );
    }
}
