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

use crate::core::dedup::{Decision, Deduper};
use crate::core::feed::{Feed, FeedItem};
use crate::core::journal::{
    encode_body, write_line, EncodedBody, FsyncPolicy, JournalEntry, JournalFile, Truncation,
};
use crate::core::outbox::{Delivery, DeliveryLine, ForwardPlan, ForwardedRequest, Owed};
use crate::core::store::SharedStore;
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
}

struct Submission {
    item: Item,
    ack: oneshot::Sender<Result<Ack, JournalFailed>>,
}

/// Forwarding, as the sequencer sees it: which committed requests are owed to the async
/// targets (marked in their lines), and where they go once they are on disk.
#[derive(Clone)]
pub struct Forwarding {
    /// The async targets and the duplicate rule.
    pub plan: ForwardPlan,
    /// The forwarder's inbox.
    pub owed: mpsc::UnboundedSender<Owed>,
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
    pub fn start(
        journal: Option<JournalFile>,
        shared: Arc<SharedStore>,
        feed: Arc<Feed>,
        deduper: Deduper,
        next_seq: u64,
        forwarding: Option<Forwarding>,
    ) -> (Sequencer, JoinHandle<SequencerSummary>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let handle = std::thread::Builder::new()
            .name("recmon-sequencer".into())
            .spawn(move || {
                let committer = Committer {
                    shared,
                    feed,
                    forwarding,
                };
                run(rx, journal, committer, deduper, next_seq)
            })
            .expect("spawn sequencer thread");
        (Sequencer { tx }, handle)
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
    mut deduper: Deduper,
    mut next_seq: u64,
) -> SequencerSummary {
    let mut summary = SequencerSummary::default();
    let mut batch: Vec<Submission> = Vec::with_capacity(MAX_BATCH);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut staged: Vec<(Staged, std::ops::Range<usize>, Ack)> = Vec::new();
    let mut undos = Vec::new();
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
        match rx.blocking_recv() {
            Some(Some(first)) => batch.push(first),
            Some(None) | None => break,
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
        undos.clear();
        for Submission { item, .. } in batch.iter_mut() {
            let seq = next_seq;
            next_seq += 1;
            let sub = match item {
                Item::Request(sub) => sub,
                Item::Delivery(delivery, at) => {
                    let line = DeliveryLine {
                        seq,
                        received_at: *at,
                        delivery: delivery.clone(),
                    };
                    let start = buf.len();
                    serde_json::to_writer(&mut buf, &line).expect("a delivery line serializes");
                    let end = buf.len();
                    buf.push(b'\n');
                    staged.push((
                        Staged::Delivery(line),
                        start..end,
                        Ack {
                            seq,
                            outcome: Outcome::Accepted,
                            status: 200,
                        },
                    ));
                    continue;
                }
            };
            let Decision {
                outcome,
                status,
                error,
                undo,
            } = deduper.sequence_from(sub.provider, &sub.verdict, sub.received_at);
            undos.extend(undo);
            // The body stays with the request (a cheap Bytes handle) while the entry borrows
            // its encoding.
            let body = sub.body.clone();
            let enc = encode_body(&body, sub.body_is_json);
            let mut entry = build_entry(sub, seq, outcome, status, error, &enc);
            if let Some(f) = &committer.forwarding {
                if f.plan.owes(outcome) {
                    entry.forward = f.plan.targets.clone();
                }
            }
            let start = buf.len();
            write_line(&mut buf, &entry, enc.inline);
            let end = buf.len() - 1;
            staged.push((
                Staged::Request(entry),
                start..end,
                Ack {
                    seq,
                    outcome,
                    status,
                },
            ));
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
                summary.lines_written += batch.len() as u64;
                summary.batches += 1;
                let done = WrittenBatch {
                    subs: std::mem::take(&mut batch),
                    staged: std::mem::take(&mut staged),
                    buf: std::mem::replace(&mut buf, Vec::with_capacity(1 << 16)),
                };
                match &syncer {
                    // The syncer fsyncs, then applies and answers; meanwhile this thread
                    // goes on writing the next batches.
                    Some((tx, _)) => {
                        if let Err(failed) = tx.send(done) {
                            fail_batch(failed.0.subs, "the journal syncer stopped");
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
                    crate::util::human::count(batch.len() as u64, "request", "requests")
                );
                while let Some(u) = undos.pop() {
                    deduper.undo(u);
                }
                committer.shared.lock().note_journal_failure(msg.clone());
                committer.shared.notify();
                fail_batch(std::mem::take(&mut batch), &msg);
                staged.clear();
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

/// A batch written to the journal, on its way to being applied and answered.
struct WrittenBatch {
    subs: Vec<Submission>,
    staged: Vec<(Staged, std::ops::Range<usize>, Ack)>,
    buf: Vec<u8>,
}

/// A line staged for the store, beside its text in the batch.
enum Staged {
    Request(JournalEntry),
    Delivery(DeliveryLine),
}

/// Where a batch goes once it is safely in the journal: the store, then the feed, then (for
/// callbacks owed to backends) the forwarder.
#[derive(Clone)]
struct Committer {
    shared: Arc<SharedStore>,
    feed: Arc<Feed>,
    forwarding: Option<Forwarding>,
}

impl Committer {
    /// Applies a batch that is safely in the journal to the store, in seq order, publishes it
    /// on the feed, and answers it. Each line is one shared text for the store's request log
    /// and the feed.
    fn commit(&self, b: WrittenBatch) {
        let WrittenBatch { subs, staged, buf } = b;
        let mut published = Vec::with_capacity(subs.len());
        let mut owes = false;
        {
            let mut store = self.shared.lock();
            for (sub, (staged, range, ack)) in subs.iter().zip(&staged) {
                let line: Arc<str> = Arc::from(
                    std::str::from_utf8(&buf[range.clone()]).expect("serde_json writes UTF-8"),
                );
                match (staged, &sub.item) {
                    (Staged::Request(entry), Item::Request(req)) => {
                        let cb = req.verdict.as_ref().ok();
                        store.apply(entry, cb, line.clone());
                        owes |= !entry.forward.is_empty();
                    }
                    (Staged::Delivery(d), _) => store.apply_delivery(d, line.clone()),
                    _ => unreachable!("a staged line matches its submission"),
                }
                published.push(FeedItem { seq: ack.seq, line });
            }
        }
        self.feed.publish(published);
        self.shared.notify();
        // Answers first: what the forwarder needs is built after, from the batch's own
        // entries (moved, not copied: they are done with).
        let mut kept = Vec::new();
        for (sub, (staged, _, ack)) in subs.into_iter().zip(staged) {
            let _ = sub.ack.send(Ok(ack));
            if owes {
                kept.push((sub.item, staged));
            }
        }
        if let Some(f) = &self.forwarding {
            for (item, staged) in kept {
                if let (Item::Request(req), Staged::Request(entry)) = (item, staged) {
                    if let Some(o) = owed_of(entry, req) {
                        // The forwarder is gone only at shutdown: what it did not take is
                        // still owed in the journal, and a --resume sends it.
                        let _ = f.owed.send(o);
                    }
                }
            }
        }
    }
}

/// A committed callback owed to the forwarding targets, as the forwarder sends it; `None`
/// when it is owed to none.
fn owed_of(entry: JournalEntry, req: Incoming) -> Option<Owed> {
    let cb = req.verdict.ok().filter(|_| !entry.forward.is_empty())?;
    // A notice that names no stream is delivered in a lane of its own.
    let stream = cb.into_stream_id().unwrap_or_default();
    Some(Owed {
        seq: entry.seq,
        received_at: entry.received_at,
        stream,
        request: ForwardedRequest {
            method: entry.method,
            path: entry.path,
            headers: entry.headers,
            remote: entry.remote,
            body: req.body,
        },
        targets: entry.forward,
    })
}

fn fail_batch(subs: Vec<Submission>, why: &str) {
    for sub in subs {
        let _ = sub.ack.send(Err(JournalFailed(why.to_string())));
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
                    fail_batch(b.subs, &msg);
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
