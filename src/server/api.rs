//! recmon's own API documents, beside the listener that serves them: the `/api/state`
//! document and the `/api/events` Server-Sent Events stream.
//!
//! `/api/events` frames (one blank line ends each):
//! - first `event: hello` with `data:` one JSON object of [`SessionFacts`];
//! - then every journal entry with seq > the client's position as `id: <seq>`,
//!   `event: entry`, `data: <the journal line exactly as written>` — the whole journal first
//!   (catch-up), then live entries as they are committed;
//! - `: keep-alive` comments when idle, at least every [`KEEP_ALIVE`] (`--keep-alive-secs`);
//! - `event: lagged` (data `{"last_seq": N}`) just before the stream is closed, when the
//!   subscriber fell behind and the missed entries cannot be read back (no journal). The client
//!   reconnects with `Last-Event-ID`.
//!
//! At shutdown the stream simply ends (the client reconnects with `Last-Event-ID` to the next
//! run). A client that does not read costs a bounded buffer and never slows the sequencer:
//! see `BUFFERED_FRAMES`.

use std::convert::Infallible;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::core::feed::{Feed, FeedItem, SessionFacts, Shared};
use crate::core::journal::format_time;
use crate::core::store::Store;
use crate::server::conn_guard::Activity;

/// Longest quiet time on an `/api/events` stream before a `: keep-alive` comment (the
/// default of [`crate::server::ServerConfig::keep_alive`]).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Sends buffered per subscriber between the feed and its socket. A subscriber that stops
/// reading holds at most this many (each at most one chunk of entries: about 1,024 entries or
/// 256 KiB, and one batch more), plus what hyper (`HYPER_BUF_CAP`) and the kernel's socket
/// buffers hold; after that its position in the feed simply stops advancing, and it is fed
/// from the journal when it reads again. What a send holds from the ring is the batches'
/// shared frames: subscribers stalled at the same place hold the same bytes.
const BUFFERED_FRAMES: usize = 2;

/// The `/api/state` document: every stream with its state, the request counters, and the
/// last seq.
pub fn state_document(store: &Store) -> serde_json::Value {
    let recordings = store.recordings();
    let streams: Vec<serde_json::Value> = store
        .streams()
        .iter()
        .map(|s| {
            let last = s.last_recording.map(|i| {
                let r = &recordings[i];
                serde_json::json!({
                    "seq": r.seq,
                    "uri": &*r.uri,
                    "duration": r.duration,
                    "start_time": r.start_time,
                    "stop_time": r.stop_time,
                    "duration_mismatch": r.mismatch,
                    "times_derived": r.derived,
                    "file_size": r.file_size(),
                })
            });
            serde_json::json!({
                "provider": s.provider.as_str(),
                "domain": s.id.domain,
                "app": s.id.app,
                "stream": s.id.stream,
                "state": s.state.as_str(),
                "ingest": s.ingest.as_str(),
                "state_since": s.state_since.map(format_time),
                "recordings": s.recordings,
                "total_duration_s": round_ms(s.total_duration_s),
                "pauses": s.pauses,
                "last_event": s.last_event,
                "last_event_at": s.last_event_at.map(format_time),
                "last_recording": last,
                "viewers": s.viewers,
                "hls_segments": s.segments,
                "errors": s.errors,
                "last_error": s.last_error.as_ref().map(|(what, at)| serde_json::json!({
                    "at": format_time(*at),
                    "error": what,
                })),
            })
        })
        .collect();
    let mut doc = serde_json::json!({
        "streams": streams,
        "recordings_total": recordings.len(),
        "requests": store.counters(),
        "journal_failures": store.journal_failures().0,
        "auth_failures": store.auth_failures(),
        "last_seq": store.last_seq(),
        "forward": forward_document(store, chrono::Utc::now()),
    });
    // With --verify, or once a journal holds verdicts: recordings by verdict.
    let checks = store.checks();
    if checks.on() || !checks.by_verdict().is_empty() {
        doc["verify"] = serde_json::json!({
            "on": checks.on(),
            "by_verdict": checks.by_verdict(),
            "failed": checks.failed(),
        });
    }
    // Only while `--resume` rebuilds the state in the background: until then the rest of
    // this document is the stand-in (empty, but for the targets), not the journal's state.
    if let Some(p) = store.rebuilding() {
        doc["rebuilding"] = serde_json::json!({
            "percent": p.percent(),
            "read_bytes": p.read,
            "total_bytes": p.total,
        });
    }
    doc
}

/// `/api/state`'s `forward`: one object per `--forward-to` target. `oldest_pending_s` is the
/// age of the oldest callback not yet delivered (null when none is pending); `failed_seqs`
/// the newest given-up seqs, to resend with `recmon replay --seq`. The error text is the
/// backend's or the network's (capped when journaled; JSON-escaped here).
pub fn forward_document(store: &Store, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    store
        .forward_targets()
        .iter()
        .map(|t| {
            serde_json::json!({
                "url": t.name,
                "mode": t.mode.as_str(),
                "delivered": t.delivered,
                "pending": t.pending(),
                "failed": t.failed,
                "oldest_pending_s": t
                    .oldest_pending()
                    .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0),
                "retries": t.retries,
                "failing": t.failing,
                "last_error": t.last_error.as_ref().map(|(at, e)| serde_json::json!({
                    "at": format_time(*at),
                    "error": e,
                })),
                "failed_seqs": sorted(&t.failed_seqs),
            })
        })
        .collect()
}

fn sorted(seqs: &std::collections::VecDeque<u64>) -> Vec<u64> {
    let mut v: Vec<u64> = seqs.iter().copied().collect();
    v.sort_unstable();
    v
}

fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `GET /api/alerts`: `{"firing": [...], "recent": [...]}`, each alert with `rule`, `state`,
/// `severity`, `stream` (`domain/app/stream` or null), `fired_at`, `resolved_at` and
/// `message`; firing most severe first, recent (resolved) newest first.
pub fn alerts_document(store: &Store) -> serde_json::Value {
    let book = store.alerts();
    serde_json::json!({
        "firing": book.firing(),
        "recent": book.recent().iter().rev().collect::<Vec<_>>(),
    })
}

/// Where an `/api/events` client starts: `Last-Event-ID` wins over `?after=`; neither means
/// the whole journal. An empty `Last-Event-ID` counts as none (an SSE client sends it empty
/// when it has no id yet). `Err` names the bad value.
pub fn start_position(last_event_id: Option<&str>, query: Option<&str>) -> Result<u64, String> {
    if let Some(id) = last_event_id.filter(|id| !id.trim().is_empty()) {
        return id.trim().parse().map_err(|_| {
            format!(
                "Last-Event-ID must be the seq of the last entry received (a whole number), got {id:?}; leave it out to start from the beginning"
            )
        });
    }
    let after = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("after="));
    match after {
        Some(v) => v.parse().map_err(|_| {
            format!(
                "after must be a journal seq (a whole number), got {v:?}; e.g. /api/events?after=0 for the whole journal"
            )
        }),
        None => Ok(0),
    }
}

/// How long a live subscriber waits after a write before it takes the next entries (see
/// the loop in [`EventStream::start`]): at most this much is added to the delivery of an
/// entry that follows another within it.
pub const LINGER: Duration = Duration::from_millis(10);

/// The body of an `/api/events` response: frames from a task that follows the feed. While it
/// lives, the connection counts as busy (the idle watchdog leaves it alone) and as streaming
/// (cut at shutdown if it does not end by itself).
pub struct EventStream {
    rx: mpsc::Receiver<Frames>,
    /// Frames received and not yet handed to hyper.
    pending: std::collections::VecDeque<Bytes>,
    busy: Option<Arc<Activity>>,
    streaming: Option<Arc<AtomicBool>>,
}

impl EventStream {
    /// Starts following `feed` after `after` for one client, with a `: keep-alive` comment
    /// after each `keep_alive` without a frame.
    pub fn start(
        feed: &Arc<Feed>,
        mut facts: SessionFacts,
        after: u64,
        keep_alive: Duration,
    ) -> EventStream {
        let (tx, rx) = mpsc::channel(BUFFERED_FRAMES);
        let mut sub = feed.subscribe(after);
        facts.last_seq = feed.last_seq();
        let feed = feed.clone();
        tokio::spawn(async move {
            let hello = serde_json::to_string(&facts).expect("facts serialize");
            if tx
                .send(one(format!("event: hello\ndata: {hello}\n\n")))
                .await
                .is_err()
            {
                return;
            }
            loop {
                let next = tokio::select! {
                    biased;
                    // The client went away: stop following the feed now, not at the next
                    // entry.
                    _ = tx.closed() => return,
                    // Cancel-safe: a keep-alive in the middle of a journal read loses nothing.
                    n = sub.next_shared() => n,
                    _ = tokio::time::sleep(keep_alive) => {
                        if tx.send(vec![Bytes::from_static(b": keep-alive\n\n")]).await.is_err() {
                            return;
                        }
                        continue;
                    }
                };
                let frame = match next {
                    // At the head, whole batches: each one's frame is made once for every
                    // subscriber and shared (a reference count), not copied per subscriber.
                    Shared::Batches(batches) => {
                        batches.iter().map(|b| b.encoded(entry_frames)).collect()
                    }
                    // Catching up (from the journal), or the tail of a batch: this
                    // subscriber's own frame.
                    Shared::Items(items) => vec![entry_frames(&items)],
                    Shared::Lagged => {
                        let _ = tx
                            .send(one(format!(
                                "event: lagged\ndata: {{\"last_seq\":{}}}\n\n",
                                sub.position()
                            )))
                            .await;
                        return;
                    }
                    Shared::Closed => return,
                };
                // Waits while the client does not read: its position in the feed stops
                // advancing, and nothing more is buffered for it.
                if tx.send(frame).await.is_err() {
                    return;
                }
                // At the feed's head (live, not catching up)?
                if sub.position() >= feed.last_seq() {
                    // Let entries gather for a moment: under load one wake-up and one write
                    // per subscriber then carry many entries, instead of one per commit
                    // batch, which with 50 subscribers is what took CPU from ingest. A
                    // callback after a quiet spell is still sent at once.
                    tokio::time::sleep(LINGER).await;
                }
            }
        });
        EventStream {
            rx,
            pending: std::collections::VecDeque::new(),
            busy: None,
            streaming: None,
        }
    }

    /// Keeps the connection marked busy, and `streaming` set, until the stream ends.
    pub fn hold(&mut self, activity: Arc<Activity>, streaming: Arc<AtomicBool>) {
        streaming.store(true, Ordering::Release);
        self.busy = Some(activity);
        self.streaming = Some(streaming);
    }
}

/// What one send carries to the response body: frames, written in order.
type Frames = Vec<Bytes>;

fn one(text: String) -> Frames {
    vec![Bytes::from(text)]
}

/// One frame of `event: entry` events; an alert line (an alert fired or resolved) is
/// followed by an `event: alert` with the alert's JSON (as `--alert-webhook` gets it).
fn entry_frames(items: &[FeedItem]) -> Bytes {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.line.len() + 48).sum::<usize>());
    for item in items {
        out.extend_from_slice(b"id: ");
        let _ = write!(out, "{}", item.seq);
        out.extend_from_slice(b"\nevent: entry\ndata: ");
        out.extend_from_slice(item.line.as_bytes());
        out.extend_from_slice(b"\n\n");
        // Only lines that carry no callback can be one (a cheap look before parsing).
        if item.callback.is_none() {
            if let Some(json) = alert_event_of(&item.line) {
                out.extend_from_slice(b"event: alert\ndata: ");
                out.extend_from_slice(json.as_bytes());
                out.extend_from_slice(b"\n\n");
            }
        }
    }
    Bytes::from(out)
}

/// The `event: alert` JSON of an alert line that fired or resolved an alert.
fn alert_event_of(line: &str) -> Option<String> {
    memchr::memmem::find(line.as_bytes(), b"\"alert\":{")?;
    let Ok(crate::core::journal::Line::Alert(a)) = crate::core::journal::parse_line(line) else {
        return None;
    };
    let crate::core::alerts::AlertNote::Alert(change) = a.note else {
        return None;
    };
    let e = change.event()?;
    let mut v = serde_json::to_value(&e.alert).ok()?;
    v["text"] = serde_json::Value::String(change.text.clone());
    Some(v.to_string())
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some(s) = self.streaming.take() {
            s.store(false, Ordering::Release);
        }
        if let Some(a) = self.busy.take() {
            a.request_finished();
        }
    }
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(frames)) => self.pending.extend(frames),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::tests::{recording, run, status};

    #[test]
    fn start_position_prefers_the_header_and_names_a_bad_value() {
        assert_eq!(start_position(None, None), Ok(0));
        assert_eq!(start_position(None, Some("after=12")), Ok(12));
        assert_eq!(start_position(None, Some("x=1&after=7&y")), Ok(7));
        assert_eq!(start_position(Some("20"), Some("after=5")), Ok(20));
        assert_eq!(start_position(Some(" 20 "), Some("after=nope")), Ok(20));
        // An empty Last-Event-ID is an SSE client with no id yet.
        assert_eq!(start_position(Some(""), Some("after=5")), Ok(5));
        let e = start_position(Some("abc"), None).unwrap_err();
        assert!(e.contains("Last-Event-ID") && e.contains("\"abc\""), "{e}");
        let e = start_position(None, Some("after=-1")).unwrap_err();
        assert!(e.contains("after") && e.contains("whole number"), "{e}");
    }

    #[test]
    fn entries_are_framed_one_event_each() {
        let items = [
            FeedItem {
                seq: 7,
                line: Arc::from("{\"seq\":7}"),
                callback: None,
            },
            FeedItem {
                seq: 8,
                line: Arc::from("{\"seq\":8}"),
                callback: None,
            },
        ];
        assert_eq!(
            &entry_frames(&items)[..],
            b"id: 7\nevent: entry\ndata: {\"seq\":7}\n\nid: 8\nevent: entry\ndata: {\"seq\":8}\n\n"
        );
    }

    #[test]
    fn state_document_shape() {
        let (store, _) = run(&[
            (0, status("s", "record_started")),
            (1, recording("s", "u1", 10.5)),
        ]);
        let v = state_document(&store);
        let s = &v["streams"][0];
        for k in [
            "domain",
            "app",
            "stream",
            "state",
            "ingest",
            "state_since",
            "recordings",
            "total_duration_s",
            "pauses",
            "last_event",
        ] {
            assert!(s.get(k).is_some(), "missing {k}");
        }
        assert_eq!(s["state"], "started");
        assert_eq!(s["ingest"], "unknown");
        assert_eq!(s["recordings"], 1);
        assert_eq!(s["total_duration_s"], 10.5);
        assert_eq!(v["recordings_total"], 1);
        assert_eq!(v["requests"]["accepted"], 2);
    }
}
