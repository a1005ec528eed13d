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

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::callback::{classify, Callback, Method, Rejection};
use crate::journal::{
    encode_body, write_line, AuthCheck, EncodedBody, EntryRef, FsyncPolicy, ItemRef, JournalEntry,
    JournalFile, JournalReader, Outcome, ReadItem, Truncation,
};
use crate::store::{Deduper, Request, SharedStore, Store};

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
}

struct Submission {
    req: Incoming,
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
    pub fn start(
        journal: Option<JournalFile>,
        shared: Arc<SharedStore>,
        deduper: Deduper,
        next_seq: u64,
    ) -> (Sequencer, JoinHandle<SequencerSummary>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let handle = std::thread::Builder::new()
            .name("recmon-sequencer".into())
            .spawn(move || run(rx, journal, shared, deduper, next_seq))
            .expect("spawn sequencer thread");
        (Sequencer { tx }, handle)
    }

    /// Hands a request to the sequencer and waits until it is journaled.
    pub async fn submit(&self, req: Incoming) -> Result<Ack, JournalFailed> {
        let (ack, rx) = oneshot::channel();
        if self.tx.send(Some(Submission { req, ack })).await.is_err() {
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
    shared: Arc<SharedStore>,
    mut deduper: Deduper,
    mut next_seq: u64,
) -> SequencerSummary {
    let mut summary = SequencerSummary::default();
    let mut batch: Vec<Submission> = Vec::with_capacity(MAX_BATCH);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut staged: Vec<(JournalEntry, std::ops::Range<usize>, Ack)> = Vec::new();
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
            let (shared, poisoned, path) =
                (shared.clone(), poisoned.clone(), j.path().to_path_buf());
            let handle = std::thread::Builder::new()
                .name("recmon-fsync".into())
                .spawn(move || sync_loop(rx, file, &shared, &poisoned, &path))
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
        for Submission { req: sub, .. } in batch.iter_mut() {
            let seq = next_seq;
            next_seq += 1;
            let (outcome, status, error) = match &sub.verdict {
                Ok(cb) => {
                    let (o, undo) = deduper.decide(cb, sub.received_at);
                    undos.extend(undo);
                    (o, 200, None)
                }
                Err(r) => (Outcome::Rejected, r.status, Some(r.error.clone())),
            };
            // The body stays with the request (a cheap Bytes handle) while the entry borrows
            // its encoding.
            let body = sub.body.clone();
            let enc = encode_body(&body, sub.body_is_json);
            let entry = build_entry(sub, seq, outcome, status, error, &enc);
            let start = buf.len();
            write_line(&mut buf, &entry, enc.inline);
            let end = buf.len() - 1;
            staged.push((
                entry,
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
                    None => commit(&shared, done),
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
                    crate::human::count(batch.len() as u64, "request", "requests")
                );
                while let Some(u) = undos.pop() {
                    deduper.undo(u);
                }
                shared.lock().note_journal_failure(msg.clone());
                shared.notify();
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
    staged: Vec<(JournalEntry, std::ops::Range<usize>, Ack)>,
    buf: Vec<u8>,
}

/// Applies a batch that is safely in the journal to the store, in seq order, and answers it.
fn commit(shared: &SharedStore, b: WrittenBatch) {
    {
        let mut store = shared.lock();
        for (sub, (entry, range, _)) in b.subs.iter().zip(&b.staged) {
            let line: Arc<str> = Arc::from(
                std::str::from_utf8(&b.buf[range.clone()]).expect("serde_json writes UTF-8"),
            );
            store.apply(entry, sub.req.verdict.as_ref().ok(), line);
        }
    }
    shared.notify();
    for (sub, (_, _, ack)) in b.subs.into_iter().zip(b.staged) {
        let _ = sub.ack.send(Ok(ack));
    }
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
    shared: &SharedStore,
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
                    commit(shared, b);
                }
            }
            Err(e) => {
                poisoned.store(true, Ordering::SeqCst);
                let msg = format!(
                    "journal fsync failed ({}): {e}; every request is answered 503 until recmon is restarted",
                    path.display()
                );
                tracing::error!("{msg}");
                shared.lock().note_journal_failure(msg.clone());
                shared.notify();
                for b in group {
                    fail_batch(b.subs, &msg);
                }
            }
        }
    }
}

/// Moves the request's strings into its journal entry (the request is done with them).
fn build_entry(
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
        kind: sub.verdict.as_ref().ok().map(|c| c.kind().to_string()),
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

/// Re-classifies a journaled request: the journal keeps raw requests, and the classifier is
/// the one definition of what they mean. Returns `None` for rejected entries.
pub fn callback_of(entry: &JournalEntry) -> Option<Callback> {
    reclassify(
        entry.outcome,
        &entry.method,
        entry.query(),
        &entry.body_raw(),
    )
}

/// [`callback_of`] for an entry parsed in place (the body is not copied).
pub fn callback_of_ref(entry: &EntryRef) -> Option<Callback> {
    reclassify(
        entry.outcome,
        &entry.method,
        entry.query(),
        &entry.body_raw(),
    )
}

fn reclassify(
    outcome: Outcome,
    method: &str,
    query: Option<&str>,
    body: &[u8],
) -> Option<Callback> {
    if outcome == Outcome::Rejected {
        return None;
    }
    classify(Method::from_name(method), query, body).ok()
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Entries read (well-formed lines).
    pub entries: u64,
    /// The highest seq seen (new writes continue after it).
    pub last_seq: u64,
    /// Garbled or partial lines, described for the operator.
    pub problems: Vec<String>,
}

/// How often (in lines) the progress callback is told the byte offset: often enough for a
/// smooth bar, rare enough to cost nothing.
const PROGRESS_EVERY: u64 = 4096;

/// Describes a line the reader could not use, for the operator: where it is (line number and
/// byte offset) and that it was skipped. `None` for a well-formed entry.
pub fn problem_text(item: &ReadItem) -> Option<String> {
    match item {
        ReadItem::Entry(_) => None,
        ReadItem::Garbled {
            line,
            offset,
            error,
        } => Some(format!(
            "line {line} (byte {offset}) is not a journal entry and was skipped: {error}"
        )),
        ReadItem::PartialTail {
            line,
            offset,
            bytes,
        } => Some(format!(
            "line {line} at byte offset {offset} was cut off mid-line ({bytes} bytes, probably a crash) and was skipped"
        )),
    }
}

/// Reads a journal with the one [`JournalReader`], calling `visit` with each well-formed entry,
/// parsed in place ([`EntryRef::line`] is the line exactly as in the file, without the
/// newline). Garbled and partial lines are skipped and described in [`Rebuilt::problems`].
/// `visit` may stop the read early with `ControlFlow::Break`. `progress` is called with the
/// byte offset now and then, and at the end. Resume, export and replay all read journals
/// through this.
pub fn for_each_entry(
    path: &Path,
    mut visit: impl FnMut(&EntryRef) -> ControlFlow<()>,
    mut progress: impl FnMut(u64),
) -> io::Result<Rebuilt> {
    let mut out = Rebuilt::default();
    let mut reader = JournalReader::open(path)?;
    let mut lines: u64 = 0;
    while let Some(item) = reader.next_ref() {
        let flow = match item? {
            ItemRef::Entry(entry) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(entry.seq);
                visit(&entry)
            }
            ItemRef::Damaged(damaged) => {
                out.problems.extend(problem_text(&damaged));
                ControlFlow::Continue(())
            }
        };
        if flow.is_break() {
            break;
        }
        lines += 1;
        if lines.is_multiple_of(PROGRESS_EVERY) {
            progress(reader.offset());
        }
    }
    progress(reader.offset());
    Ok(out)
}

/// The last `capacity` entries seen, as their lines in reusable buffers: a rebuild logs only
/// the entries that the store's bounded request log will keep, and finds them here once the
/// journal is read.
struct Tail {
    kept: VecDeque<Kept>,
    capacity: usize,
}

enum Kept {
    Line(String),
    /// An entry whose line is not UTF-8 (possible only in a field no reader looks at, and
    /// never written by recmon): kept parsed, since its line cannot be parsed again as text.
    Entry(Box<JournalEntry>),
}

impl Tail {
    fn new(capacity: usize) -> Self {
        Tail {
            kept: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    fn push(&mut self, entry: &EntryRef) {
        let reuse = if self.kept.len() == self.capacity {
            self.kept.pop_front()
        } else {
            None
        };
        if entry.line.is_empty() {
            self.kept.push_back(Kept::Entry(Box::new(entry.to_entry())));
            return;
        }
        let mut buf = match reuse {
            Some(Kept::Line(buf)) => buf,
            _ => String::new(),
        };
        buf.clear();
        buf.push_str(entry.line);
        self.kept.push_back(Kept::Line(buf));
    }
}

/// Rebuilds a store and deduper from a journal, trusting each entry's recorded outcome.
/// `progress` is called with the byte offset now and then.
///
/// Every entry is applied to the state ([`Store::apply_state`]); only the last
/// [`Store::log_capacity`] entries, which are all the request log keeps, are then logged
/// ([`Store::push_log`]), from their lines parsed again. The result is the store that
/// [`Store::apply`] on every entry gives.
pub fn rebuild(
    path: &Path,
    store: &mut Store,
    deduper: &mut Deduper,
    progress: impl FnMut(u64),
) -> io::Result<Rebuilt> {
    let mut tail = Tail::new(store.log_capacity());
    let rebuilt = for_each_entry(
        path,
        |entry| {
            let cb = callback_of_ref(entry);
            if entry.outcome == Outcome::Accepted {
                if let Some(cb) = &cb {
                    deduper.observe_accepted(cb, entry.received_at);
                }
            }
            store.apply_state(&Request::from(entry), cb.as_ref());
            tail.push(entry);
            ControlFlow::Continue(())
        },
        progress,
    )?;
    for kept in &tail.kept {
        let (req, cb, line): (Request, _, Arc<str>) = match kept {
            Kept::Line(line) => {
                let entry: EntryRef =
                    serde_json::from_str(line).expect("a line the reader parsed parses again");
                let cb = callback_of_ref(&entry);
                let stream = cb.as_ref().and_then(|c| store.stream_index(c.stream_id()));
                store.push_log(
                    &Request::from(&entry),
                    cb.as_ref(),
                    stream,
                    Arc::from(line.as_str()),
                );
                continue;
            }
            Kept::Entry(e) => (Request::from(&**e), callback_of(e), Arc::from("")),
        };
        let stream = cb.as_ref().and_then(|c| store.stream_index(c.stream_id()));
        store.push_log(&req, cb.as_ref(), stream, line);
    }
    Ok(rebuilt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::classify_request;
    use crate::journal::write_line;

    /// A journal written the way the sequencer writes it, from (method, path, body) requests.
    fn journal(requests: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let mut dedup = Deduper::default();
        let mut out = Vec::new();
        let t0 = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        for (i, (method, path, body)) in requests.iter().enumerate() {
            let at = t0 + chrono::Duration::milliseconds(700 * i as i64);
            let query = path.split_once('?').map(|(_, q)| q);
            let (verdict, is_json) = classify_request(Method::from_name(method), query, body);
            let (outcome, status, error) = match &verdict {
                Ok(cb) => (dedup.decide(cb, at).0, 200, None),
                Err(r) => (Outcome::Rejected, r.status, Some(r.error.clone())),
            };
            let mut sub = Incoming {
                received_at: at,
                remote: "127.0.0.1:9".into(),
                method: method.to_string(),
                path: path.to_string(),
                headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
                body: bytes::Bytes::copy_from_slice(body),
                truncated: None,
                verdict,
                body_is_json: is_json,
                auth: (i % 7 == 3).then_some(i % 2 == 0),
            };
            let enc = encode_body(body, is_json);
            let entry = build_entry(&mut sub, i as u64 + 1, outcome, status, error, &enc);
            write_line(&mut out, &entry, enc.inline);
            if i == 5 {
                out.extend_from_slice(b"{\"seq\":\"garbled\n\n");
            }
        }
        out
    }

    /// The store that applying every entry with [`Store::apply`] gives, for comparison.
    fn apply_all(path: &Path, capacity: usize) -> Store {
        let mut store = Store::new(capacity);
        for item in JournalReader::open(path).unwrap() {
            if let ReadItem::Entry(e) = item.unwrap() {
                let line = serde_json::to_string(&*e).unwrap();
                store.apply(&e, callback_of(&e).as_ref(), Arc::from(line.as_str()));
            }
        }
        store
    }

    #[test]
    fn rebuild_logs_only_the_tail_and_gives_the_store_apply_gives() {
        let mut requests: Vec<(&str, &str, &[u8])> = Vec::new();
        for _ in 0..6 {
            requests.extend_from_slice(&[
                ("POST", "/cb", br#"{"domain":"d","app":"a","stream":"s","event":"record_started"}"#),
                ("POST", "/cb", b"{\n \"domain\":\"d\",\"app\":\"a\",\"stream\":\"t\",\"event\":\"x\"\n}"),
                ("POST", "/cb", br#"{"domain":"d","app":"a","stream":"s","uri":"u.flv","duration":3,"start_time":1,"stop_time":9,"push_args":{"callback_b":"2","callback_a":[1]}}"#),
                ("POST", "/cb", b"\xff not json"),
                ("GET", "/cb?action=publish&app=d&appname=a&id=s&ip=1.2.3.4&node=n", b""),
                ("GET", "/cb?action=publish_done&app=d&appname=a&id=s%E2%80%AE", b""),
                ("PUT", "/cb", b""),
            ]);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, journal(&requests)).unwrap();
        for capacity in [1, 5, requests.len() - 1, requests.len(), 1000] {
            let mut store = Store::new(capacity);
            let mut dedup = Deduper::default();
            let rebuilt = rebuild(&path, &mut store, &mut dedup, |_| {}).unwrap();
            assert_eq!(rebuilt.entries, requests.len() as u64);
            assert_eq!(rebuilt.problems.len(), 1, "{:?}", rebuilt.problems);
            let expected = apply_all(&path, capacity);
            assert_eq!(store.state_json(), expected.state_json());
            assert_eq!(store.log().len(), capacity.min(requests.len()));
            // Log lines are the file's lines, and every other field is what apply gives.
            for (got, want) in store.log().iter().zip(expected.log()) {
                let mut want = want.clone();
                assert_eq!(
                    serde_json::from_str::<serde_json::Value>(&got.line).unwrap(),
                    serde_json::from_str::<serde_json::Value>(&want.line).unwrap()
                );
                want.line = got.line.clone();
                assert_eq!(format!("{got:?}"), format!("{want:?}"));
            }
        }
    }
}
