//! Reading a journal back: [`for_each_entry`] visits every well-formed entry with the one
//! [`JournalReader`] (resume, export, replay and the feed's catch-up all read through it), and
//! [`rebuild`] turns a journal into the store and deduper that the live session had.

use std::collections::VecDeque;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use crate::core::alerts::line::AlertLine;
use crate::core::checks::VerdictLine;
use crate::core::dedup::Deduper;
use crate::core::journal::{
    parse_line, EntryRef, ItemRef, JournalEntry, JournalReader, Line, ReadItem,
};
use crate::core::outbox::DeliveryLine;
use crate::core::reconciled::{ReconcileRunLine, ReconciledLine};
use crate::core::store::{Request, Store};
use crate::event::{Callback, Method, Outcome, Provider};

/// Re-classifies a journaled request: the journal keeps raw requests, and the classifier is
/// the one definition of what they mean. Returns `None` for rejected entries.
pub fn callback_of(entry: &JournalEntry) -> Option<Callback> {
    reclassify(
        entry.provider,
        entry.outcome,
        &entry.method,
        entry.query(),
        &entry.body_raw(),
    )
}

/// [`callback_of`] for an entry parsed in place (the body is not copied).
pub fn callback_of_ref(entry: &EntryRef) -> Option<Callback> {
    reclassify(
        entry.provider,
        entry.outcome,
        &entry.method,
        entry.query(),
        &entry.body_raw(),
    )
}

fn reclassify(
    provider: Provider,
    outcome: Outcome,
    method: &str,
    query: Option<&str>,
    body: &[u8],
) -> Option<Callback> {
    if outcome == Outcome::Rejected {
        return None;
    }
    crate::providers::classify(provider, Method::from_name(method), query, body)
        .0
        .ok()
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Entries read (well-formed lines; pending lines are counted apart, in `pending`).
    pub entries: u64,
    /// Pending lines (see [`Outcome::Pending`]) passed over: each is read again, decided, in
    /// the line that settles it.
    pub pending: u64,
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
        ReadItem::Entry(_)
        | ReadItem::Delivery(_)
        | ReadItem::Verdict(_)
        | ReadItem::Reconciled(_)
        | ReadItem::ReconcileRun(_)
        | ReadItem::Alert(_) => None,
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
    progress: impl FnMut(u64),
) -> io::Result<Rebuilt> {
    for_each_line(
        path,
        |line| match line {
            LineRef::Request(e) => visit(e),
            LineRef::Delivery(..)
            | LineRef::Verdict(..)
            | LineRef::Reconciled(..)
            | LineRef::ReconcileRun(..)
            | LineRef::Alert(..) => ControlFlow::Continue(()),
        },
        progress,
    )
}

/// One well-formed journal line as [`for_each_line`] visits it.
#[derive(Debug, Clone, Copy)]
pub enum LineRef<'l, 'a> {
    /// A request, parsed in place.
    Request(&'l EntryRef<'a>),
    /// A delivery attempt's result, and the line's text.
    Delivery(&'l DeliveryLine, &'l str),
    /// A recording file's verdict, and the line's text.
    Verdict(&'l VerdictLine, &'l str),
    /// A callback filled in from the provider's records, and the line's text.
    Reconciled(&'l ReconciledLine, &'l str),
    /// A reconcile run's summary, and the line's text.
    ReconcileRun(&'l ReconcileRunLine, &'l str),
    /// An alert's transition or a page's outcome, and the line's text.
    Alert(&'l AlertLine, &'l str),
}

/// [`for_each_entry`] for readers that also read the delivery lines of forwarding (resume,
/// export): every well-formed line, in file order. [`Rebuilt::entries`] counts both kinds.
///
/// Pending lines (callbacks journaled during a background rebuild, see [`Outcome::Pending`])
/// are passed over: each is in the journal again, decided, as the line that settles it.
pub fn for_each_line(
    path: &Path,
    visit: impl FnMut(LineRef) -> ControlFlow<()>,
    progress: impl FnMut(u64),
) -> io::Result<Rebuilt> {
    read_lines(&mut JournalReader::open(path)?, false, visit, progress)
}

/// [`for_each_line`] on any reader; with `pending`, pending lines are visited too (as
/// requests whose outcome is [`Outcome::Pending`]): only a rebuild wants them.
fn read_lines<R: io::BufRead>(
    reader: &mut JournalReader<R>,
    pending: bool,
    mut visit: impl FnMut(LineRef) -> ControlFlow<()>,
    mut progress: impl FnMut(u64),
) -> io::Result<Rebuilt> {
    let mut out = Rebuilt::default();
    let mut lines: u64 = 0;
    while let Some(item) = reader.next_ref() {
        let flow = match item? {
            ItemRef::Entry(entry) if entry.outcome == Outcome::Pending => {
                out.pending += 1;
                out.last_seq = out.last_seq.max(entry.seq);
                if pending {
                    visit(LineRef::Request(&entry))
                } else {
                    ControlFlow::Continue(())
                }
            }
            ItemRef::Entry(entry) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(entry.seq);
                visit(LineRef::Request(&entry))
            }
            ItemRef::Delivery(d) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(d.seq);
                // The reader's buffer still holds the line's text.
                visit(LineRef::Delivery(&d, reader.last_line()))
            }
            ItemRef::Verdict(v) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(v.seq);
                visit(LineRef::Verdict(&v, reader.last_line()))
            }
            ItemRef::Reconciled(r) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(r.seq);
                visit(LineRef::Reconciled(&r, reader.last_line()))
            }
            ItemRef::ReconcileRun(r) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(r.seq);
                visit(LineRef::ReconcileRun(&r, reader.last_line()))
            }
            ItemRef::Alert(a) => {
                out.entries += 1;
                out.last_seq = out.last_seq.max(a.seq);
                visit(LineRef::Alert(&a, reader.last_line()))
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
    /// Requests among `kept` (delivery lines ride along, and do not count).
    requests: usize,
    capacity: usize,
}

enum Kept {
    Line(String),
    /// An entry whose line is not UTF-8 (possible only in a field no reader looks at, and
    /// never written by recmon): kept parsed, since its line cannot be parsed again as text.
    Entry(Box<JournalEntry>),
    /// A delivery line, for its request's row in the log.
    Delivery(DeliveryLine),
}

impl Tail {
    fn new(capacity: usize) -> Self {
        Tail {
            kept: VecDeque::with_capacity(capacity.min(1 << 16)),
            requests: 0,
            capacity,
        }
    }

    /// Drops the oldest lines while more than `capacity` requests are kept, and delivery
    /// lines left at the front (their requests are gone), returning one buffer to reuse.
    fn make_room(&mut self) -> Option<String> {
        let mut reuse = None;
        while self.requests >= self.capacity || matches!(self.kept.front(), Some(Kept::Delivery(_)))
        {
            match self.kept.pop_front() {
                Some(Kept::Line(buf)) => {
                    self.requests -= 1;
                    reuse = Some(buf);
                }
                Some(Kept::Entry(_)) => self.requests -= 1,
                Some(Kept::Delivery(_)) => {}
                None => break,
            }
        }
        reuse
    }

    fn push(&mut self, entry: &EntryRef) {
        let reuse = self.make_room();
        self.requests += 1;
        if entry.line.is_empty() {
            self.kept.push_back(Kept::Entry(Box::new(entry.to_entry())));
            return;
        }
        let mut buf = reuse.unwrap_or_default();
        buf.clear();
        buf.push_str(entry.line);
        self.kept.push_back(Kept::Line(buf));
    }

    fn push_delivery(&mut self, d: &DeliveryLine) {
        if self.requests > 0 {
            self.kept.push_back(Kept::Delivery(d.clone()));
        }
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
    rebuild_observing(path, store, deduper, progress, |_, _| {})
}

/// [`rebuild`], also showing every line and its classified callback to `observe` (the
/// forwarder rebuilds its outbox from the same single read). Pending lines that no line
/// settles (recmon stopped before its rebuild was done) are decided at the end, as the next
/// `--resume` decides them, and applied.
pub fn rebuild_observing(
    path: &Path,
    store: &mut Store,
    deduper: &mut Deduper,
    progress: impl FnMut(u64),
    observe: impl FnMut(LineRef, Option<&Callback>),
) -> io::Result<Rebuilt> {
    let mut reader = JournalReader::open(path)?;
    let (rebuilt, unsettled) = rebuild_from(&mut reader, store, deduper, progress, observe, None)?;
    for mut p in unsettled {
        let cb = p.verdict.as_ref().ok();
        p.entry.outcome = deduper
            .sequence_from(p.entry.provider, &p.verdict, p.entry.received_at)
            .outcome;
        store.apply(&p.entry, cb, Arc::from(""));
    }
    Ok(rebuilt)
}

/// A callback journaled as pending that no line of the journal settles: recmon stopped before
/// its background rebuild was done. The next `--resume` decides it after everything else in
/// the journal, in seq order, and journals it again decided.
#[derive(Debug)]
pub struct Unsettled {
    /// The pending line (its outcome [`Outcome::Pending`]), body and all.
    pub entry: JournalEntry,
    /// What the classifier makes of it now.
    pub verdict: Result<Callback, crate::event::Rejection>,
}

pub use crate::core::store::RebuildProgress;

/// What `--resume` rebuilds in the background: the store and deduper from the first `len`
/// bytes of the journal (what it held at start; this receiver appends after them), stopping
/// early when `cancel` is set (shutdown). Pending lines are not applied: those no line
/// settles are returned, in seq order, for the sequencer to decide and journal again.
pub fn rebuild_prefix(
    path: &Path,
    len: u64,
    store: &mut Store,
    deduper: &mut Deduper,
    progress: impl FnMut(u64),
    observe: impl FnMut(LineRef, Option<&Callback>),
    cancel: &std::sync::atomic::AtomicBool,
) -> io::Result<(Rebuilt, Vec<Unsettled>)> {
    let mut reader = JournalReader::open_prefix(path, len)?;
    rebuild_from(&mut reader, store, deduper, progress, observe, Some(cancel))
}

fn rebuild_from<R: io::BufRead>(
    reader: &mut JournalReader<R>,
    store: &mut Store,
    deduper: &mut Deduper,
    progress: impl FnMut(u64),
    mut observe: impl FnMut(LineRef, Option<&Callback>),
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> io::Result<(Rebuilt, Vec<Unsettled>)> {
    let mut tail = Tail::new(store.log_capacity());
    // Pending lines by seq, until the line that settles each is read.
    let mut pending: std::collections::BTreeMap<u64, JournalEntry> = Default::default();
    let mut lines: u32 = 0;
    let rebuilt = read_lines(
        reader,
        true,
        |line| {
            lines = lines.wrapping_add(1);
            if lines.is_multiple_of(4096)
                && cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            {
                return ControlFlow::Break(());
            }
            let entry = match line {
                LineRef::Request(e) => e,
                LineRef::Delivery(d, _) => {
                    store.apply_delivery_state(d);
                    tail.push_delivery(d);
                    observe(line, None);
                    return ControlFlow::Continue(());
                }
                LineRef::Verdict(v, _) => {
                    store.apply_verdict(v);
                    return ControlFlow::Continue(());
                }
                LineRef::Reconciled(r, _) => {
                    if let Some(cb) = r.reconciled.callback() {
                        deduper.observe_accepted_from(
                            r.reconciled.provider,
                            &cb,
                            r.reconciled.sent_at,
                        );
                        store.apply_reconciled(r, &cb);
                    }
                    return ControlFlow::Continue(());
                }
                LineRef::ReconcileRun(r, _) => {
                    store.apply_reconcile_run(r);
                    return ControlFlow::Continue(());
                }
                LineRef::Alert(a, _) => {
                    store.apply_alert_line(a);
                    return ControlFlow::Continue(());
                }
            };
            if entry.outcome == Outcome::Pending {
                pending.insert(entry.seq, entry.to_entry());
                return ControlFlow::Continue(());
            }
            if let Some(of) = entry.settles {
                pending.remove(&of);
            }
            let cb = callback_of_ref(entry);
            observe(line, cb.as_ref());
            if entry.outcome == Outcome::Accepted {
                if let Some(cb) = &cb {
                    deduper.observe_accepted_from(entry.provider, cb, entry.received_at);
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
            Kept::Delivery(d) => {
                let t = store.forward_target(&d.delivery.target, d.delivery.mode);
                store.log_delivery(d, t);
                continue;
            }
            Kept::Line(line) => {
                let Ok(Line::Request(entry)) = parse_line(line) else {
                    unreachable!("a line the reader parsed as a request parses again");
                };
                let cb = callback_of_ref(&entry);
                let stream = cb.as_ref().and_then(|c| {
                    c.stream_id()
                        .and_then(|id| store.stream_index(entry.provider, id))
                });
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
        let stream = cb.as_ref().and_then(|c| {
            c.stream_id()
                .and_then(|id| store.stream_index(req.provider, id))
        });
        store.push_log(&req, cb.as_ref(), stream, line);
    }
    let unsettled = pending
        .into_values()
        .map(|entry| {
            let verdict = crate::providers::classify(
                entry.provider,
                Method::from_name(&entry.method),
                entry.query(),
                &entry.body_raw(),
            )
            .0;
            Unsettled { entry, verdict }
        })
        .collect();
    Ok((rebuilt, unsettled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::{encode_body, write_line};
    use crate::core::sequencer::{build_entry, Incoming};
    use crate::providers::aliyun::classify_request;
    use chrono::{DateTime, Utc};
    use std::collections::BTreeMap;

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
                provider: Default::default(),
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
            match item.unwrap() {
                ReadItem::Entry(e) => {
                    let line = serde_json::to_string(&*e).unwrap();
                    store.apply(&e, callback_of(&e).as_ref(), Arc::from(line.as_str()));
                }
                ReadItem::Delivery(d) => {
                    let line = serde_json::to_string(&*d).unwrap();
                    store.apply_delivery(&d, Arc::from(line.as_str()));
                }
                _ => {}
            }
        }
        store
    }

    #[test]
    fn delivery_lines_rebuild_the_forwarding_state_and_the_logs_deliveries() {
        use crate::core::outbox::{Delivery, DeliveryLine, DeliveryResult, ForwardMode};
        let target = "http://backend/cb";
        let mut text = String::new();
        let t0 = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut seq = 0;
        let mut request = |text: &mut String, stream: &str| {
            seq += 1;
            text.push_str(&format!(
                r#"{{"seq":{seq},"received_at":"2026-01-02T03:04:05.678Z","remote":"r","method":"POST","path":"/cb","outcome":"accepted","status":200,"kind":"status","forward":["{target}"],"body":{{"domain":"d","app":"a","stream":"{stream}","event":"record_paused"}}}}"#
            ));
            text.push('\n');
            seq
        };
        let mut lines = Vec::new();
        for i in 0..6 {
            let of = request(&mut text, &format!("s{i}"));
            lines.push(of);
        }
        let mut next = lines.len() as u64;
        for (i, &of) in lines.iter().enumerate() {
            let results: &[DeliveryResult] = match i % 3 {
                0 => &[DeliveryResult::Delivered],
                1 => &[DeliveryResult::Retry, DeliveryResult::Retry],
                _ => &[DeliveryResult::Retry, DeliveryResult::Failed],
            };
            for (k, &result) in results.iter().enumerate() {
                next += 1;
                let line = DeliveryLine {
                    seq: next,
                    received_at: t0,
                    delivery: Delivery {
                        of,
                        target: target.into(),
                        mode: ForwardMode::Async,
                        attempt: k as u32 + 1,
                        result,
                        status: Some(500),
                        ms: 3,
                        error: Some("500".into()),
                        reply: None,
                        retry_in_s: None,
                        answered: None,
                    },
                };
                text.push_str(&serde_json::to_string(&line).unwrap());
                text.push('\n');
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, &text).unwrap();
        for capacity in [1, 2, 4, 6, 100] {
            let mut store = Store::new(capacity);
            let rebuilt = rebuild(&path, &mut store, &mut Deduper::default(), |_| {}).unwrap();
            assert!(rebuilt.problems.is_empty(), "{:?}", rebuilt.problems);
            let want = apply_all(&path, capacity);
            let (got_t, want_t) = (&store.forward_targets()[0], &want.forward_targets()[0]);
            assert_eq!(
                (
                    got_t.delivered,
                    got_t.failed,
                    got_t.pending(),
                    got_t.retries
                ),
                (2, 2, 2, 6)
            );
            assert_eq!(
                (
                    want_t.delivered,
                    want_t.failed,
                    want_t.pending(),
                    want_t.retries
                ),
                (2, 2, 2, 6)
            );
            assert_eq!(got_t.failed_seqs, want_t.failed_seqs);
            assert_eq!(
                store.log().len(),
                capacity.min(6),
                "delivery lines take no log rows"
            );
            for (g, w) in store.log().iter().zip(want.log()) {
                assert_eq!(g.seq, w.seq);
                assert_eq!(g.delivery, w.delivery, "seq {}", g.seq);
            }
            assert_eq!(store.last_seq(), next);
        }
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
            // The whole state, field by field (streams, recordings, counters, failures).
            assert_eq!(
                format!("{:?}", store.streams()),
                format!("{:?}", expected.streams())
            );
            assert_eq!(
                format!("{:?}", store.recordings()),
                format!("{:?}", expected.recordings())
            );
            assert_eq!(store.counters(), expected.counters());
            assert_eq!(store.last_seq(), expected.last_seq());
            assert_eq!(store.auth_failures(), expected.auth_failures());
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
