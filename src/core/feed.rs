//! The feed: every committed journal entry, in seq order, for any number of subscribers
//! (`/api/events`, and through it `recmon attach`; next the forwarder and the alert engine).
//!
//! The sequencer publishes each batch after it is on disk and applied to the store. The feed
//! keeps only the newest [`RING_CAPACITY`] entries in memory (their lines are the same shared
//! text the store's request log holds). A subscriber is a cursor (the last seq it was given):
//! it copies entries out of the ring under a short lock, so publishing never waits for a
//! subscriber and a stalled one costs nothing but its cursor. A subscriber whose cursor falls
//! out of the ring (it connected late, or stalled) is fed from the journal file instead, by a
//! reader thread that hands over bounded chunks, and then rejoins the ring. Without a journal
//! (`--no-journal`) the past cannot be read back: such a subscriber is told it lagged
//! ([`Next::Lagged`]) and may reconnect for the live entries.
//!
//! Ordering: entries come out in seq order, each once. A subscriber registers for wake-ups
//! before it reads how far the feed has got, and the ring is filled before that is raised, so
//! nothing committed between the two is missed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

/// Entries kept in memory for subscribers that are a little behind. Older ones are read from
/// the journal.
pub const RING_CAPACITY: usize = 16_384;

/// Entries handed over at once (from the ring or the file).
const CHUNK: usize = 1024;

/// One committed journal entry.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// Its journal sequence number.
    pub seq: u64,
    /// The journal line exactly as written, without the newline.
    pub line: Arc<str>,
}

/// Facts about a running receiver: what `/api/events` sends first (`event: hello`) and what an
/// attached view shows in its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFacts {
    /// recmon's version.
    pub version: String,
    /// The address the listener is bound to.
    pub listen: String,
    /// The journal path, or `None` with `--no-journal`.
    pub journal: Option<String>,
    /// When the service started (RFC 3339).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Whether `ALI-LIVE-SIGNATURE` is checked.
    pub signature_checking: bool,
    /// The highest seq committed so far.
    pub last_seq: u64,
}

/// The publishing side, shared by the sequencer and every subscriber.
pub struct Feed {
    ring: Mutex<VecDeque<FeedItem>>,
    /// The highest seq published; raised after the ring holds it.
    last: watch::Sender<u64>,
    journal: Option<PathBuf>,
    closed: AtomicBool,
}

/// What a subscriber gets next.
#[derive(Debug)]
pub enum Next {
    /// Entries in seq order, each newer than everything given before.
    Items(Vec<FeedItem>),
    /// The subscriber fell out of the in-memory ring and there is no journal to read the
    /// missed entries from (or it could not be read): the subscription is over.
    Lagged,
    /// The feed was shut down.
    Closed,
}

impl Feed {
    /// A feed whose past is in `journal` (if any) up to `last_seq`, the journal's last seq when
    /// resuming (0 for a new journal).
    pub fn new(journal: Option<PathBuf>, last_seq: u64) -> Arc<Feed> {
        let (last, _) = watch::channel(last_seq);
        Arc::new(Feed {
            ring: Mutex::new(VecDeque::with_capacity(RING_CAPACITY)),
            last,
            journal,
            closed: AtomicBool::new(false),
        })
    }

    /// Publishes committed entries, in seq order. Called by the sequencer only; never blocks
    /// on a subscriber.
    pub fn publish(&self, items: impl IntoIterator<Item = FeedItem>) {
        let mut top = None;
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            for item in items {
                top = Some(item.seq);
                if ring.len() == RING_CAPACITY {
                    ring.pop_front();
                }
                ring.push_back(item);
            }
        }
        if let Some(top) = top {
            self.last.send_replace(top);
        }
    }

    /// The highest seq published.
    pub fn last_seq(&self) -> u64 {
        *self.last.borrow()
    }

    /// Ends every subscription: each gets [`Next::Closed`] once it has what was published.
    /// Called at shutdown, so that long-lived `/api/events` responses end and the listener
    /// can drain.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.last.send_modify(|_| {});
    }

    /// A subscription to every entry with seq > `after`: first the past (from the ring or
    /// the journal), then live entries as they are committed.
    pub fn subscribe(self: &Arc<Self>, after: u64) -> Subscription {
        let wake = self.last.subscribe();
        Subscription {
            feed: self.clone(),
            wake,
            after,
            catchup: None,
        }
    }

    /// Copies up to [`CHUNK`] entries with `after < seq <= upto` out of the ring, or `None`
    /// when the ring does not reach back to `after + 1`: then they are read from the journal.
    /// (Seq numbers can skip where a batch's write failed; such a gap also sends the
    /// subscriber to the journal once, which is correct, only slower.)
    fn ring_after(&self, after: u64, upto: u64) -> Option<Vec<FeedItem>> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        match ring.front() {
            Some(front) if front.seq <= after + 1 => {}
            _ => return None,
        }
        let start = ring.partition_point(|i| i.seq <= after);
        Some(
            ring.range(start..)
                .take_while(|i| i.seq <= upto)
                .take(CHUNK)
                .cloned()
                .collect(),
        )
    }
}

/// One subscriber's cursor. Dropping it ends the subscription.
pub struct Subscription {
    feed: Arc<Feed>,
    wake: watch::Receiver<u64>,
    /// The last seq given out.
    after: u64,
    /// A journal reader thread's chunks while catching up from the file, and the seq it
    /// reads up to.
    catchup: Option<(mpsc::Receiver<io::Result<Vec<FeedItem>>>, u64)>,
}

impl Subscription {
    /// The last seq given out (what a client resumes after).
    pub fn position(&self) -> u64 {
        self.after
    }

    /// The next entries, waiting until there are some.
    pub async fn next(&mut self) -> Next {
        loop {
            if let Some((rx, upto)) = self.catchup.as_mut() {
                match rx.recv().await {
                    Some(Ok(items)) => {
                        let after = self.after;
                        let items: Vec<FeedItem> =
                            items.into_iter().filter(|i| i.seq > after).collect();
                        if let Some(last) = items.last() {
                            self.after = last.seq;
                            return Next::Items(items);
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!("feed: reading the journal for a subscriber failed: {e}");
                        self.catchup = None;
                        return Next::Lagged;
                    }
                    None => {
                        // Everything committed up to `upto` is in the journal and was read:
                        // seqs not found there were never committed (failed writes).
                        self.after = self.after.max(*upto);
                        self.catchup = None;
                    }
                }
                continue;
            }
            // Mark the current value seen before reading the ring: a publish after this
            // wakes the `changed()` below.
            let upto = *self.wake.borrow_and_update();
            if upto > self.after {
                match self.feed.ring_after(self.after, upto) {
                    Some(items) => {
                        if let Some(last) = items.last() {
                            self.after = last.seq;
                            return Next::Items(items);
                        }
                    }
                    None => match &self.feed.journal {
                        Some(path) => {
                            self.catchup =
                                Some((read_journal(path.clone(), self.after, upto), upto));
                            continue;
                        }
                        None => return Next::Lagged,
                    },
                }
            }
            if self.feed.closed.load(Ordering::SeqCst) {
                return Next::Closed;
            }
            if self.wake.changed().await.is_err() {
                return Next::Closed;
            }
        }
    }
}

/// Reads the entries with `after < seq <= upto` from a journal on a blocking thread, in
/// chunks of [`CHUNK`], at most two chunks ahead of the subscriber.
fn read_journal(path: PathBuf, after: u64, upto: u64) -> mpsc::Receiver<io::Result<Vec<FeedItem>>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let result = (|| -> io::Result<()> {
            let mut reader = BufReader::with_capacity(1 << 20, File::open(&path)?);
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = Vec::with_capacity(CHUNK);
            loop {
                buf.clear();
                if reader.read_until(b'\n', &mut buf)? == 0 || buf.last() != Some(&b'\n') {
                    // End of file, or a line still being written (it is newer than `upto`).
                    break;
                }
                let line = &buf[..buf.len() - 1];
                let Some(seq) = line_seq(line) else {
                    continue;
                };
                if seq <= after {
                    continue;
                }
                if seq > upto {
                    break;
                }
                let Ok(text) = std::str::from_utf8(line) else {
                    continue;
                };
                chunk.push(FeedItem {
                    seq,
                    line: Arc::from(text),
                });
                if chunk.len() == CHUNK
                    && tx
                        .blocking_send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))))
                        .is_err()
                {
                    return Ok(());
                }
            }
            if !chunk.is_empty() {
                let _ = tx.blocking_send(Ok(chunk));
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// The seq of a journal line: read straight from the `{"seq":N,` every line recmon writes
/// starts with, or by parsing the line when it is laid out otherwise. `None` for a line that is
/// not a journal entry (the readers skip those too).
pub fn line_seq(line: &[u8]) -> Option<u64> {
    const PREFIX: &[u8] = b"{\"seq\":";
    if let Some(rest) = line.strip_prefix(PREFIX) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && digits < 20 && rest.get(digits) == Some(&b',') {
            let text = std::str::from_utf8(&rest[..digits]).ok()?;
            // A well-formed start is not proof of a well-formed line; the line's end is.
            if line.last() == Some(&b'}') {
                return text.parse().ok();
            }
        }
    }
    #[derive(Deserialize)]
    struct SeqOnly {
        seq: u64,
    }
    serde_json::from_slice::<SeqOnly>(line).ok().map(|s| s.seq)
}
