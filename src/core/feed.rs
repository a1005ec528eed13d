//! The feed: every committed journal entry, in seq order, for any number of subscribers
//! (`/api/events`, and through it `recmon attach`; next the forwarder and the alert engine).
//!
//! The sequencer publishes each batch after it is on disk and applied to the store. The feed
//! keeps only the newest [`RING_CAPACITY`] entries in memory (their lines are the same shared
//! text the store's request log holds). A subscriber is a cursor (the last seq it was given):
//! it copies entries out of the ring under a short lock, so publishing never waits for a
//! subscriber and a stalled one costs nothing but its cursor. A subscriber whose cursor falls
//! out of the ring (it connected late, or stalled) is fed from the journal file instead: one
//! bounded chunk at a time, read on a blocking thread only while the subscriber asks for more
//! (so a stalled subscriber holds no thread), starting from a binary search by seq (so a
//! reconnect near the end of a large journal does not read it all); then it rejoins the ring.
//! Without a journal (`--no-journal`) the past cannot be read back: a subscriber that fell out
//! of the ring is told it lagged ([`Next::Lagged`]); a new one whose start is no longer held
//! begins at the oldest entry held.
//!
//! Ordering: entries come out in seq order, each once. A subscriber registers for wake-ups
//! before it reads how far the feed has got, and the ring is filled before that is raised, so
//! nothing committed between the two is missed. The journal is read only up to the last seq
//! published: a line still being written, or written but not yet committed (`--fsync batch`
//! writes the next batch while fsyncing this one), is never handed out.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use std::time::Duration;

use bytes::Bytes;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::core::alerts::AlertConfig;
use tokio::task::JoinHandle;

/// Entries kept in memory for subscribers that are a little behind. Older ones are read from
/// the journal.
pub const RING_CAPACITY: usize = 16_384;

/// Most entries handed over at once (from the ring or the file).
const CHUNK: usize = 1024;

/// Bytes of journal lines after which a chunk is handed over, whatever its count: a chunk
/// (and so each frame a stalled `/api/events` client holds) stays this small even when every
/// line carries a large body.
const CHUNK_BYTES: usize = 256 * 1024;

/// Below this distance the search for a subscriber's place in the journal reads lines one by
/// one instead of probing.
const SEEK_SCAN: u64 = 256 * 1024;

/// The journal reader's buffer.
const READ_BUFFER: usize = 64 * 1024;

/// One committed journal entry.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// Its journal sequence number.
    pub seq: u64,
    /// The journal line exactly as written, without the newline.
    pub line: Arc<str>,
    /// The callback the line records, parsed once by the receiver, for an accepted or
    /// duplicate request committed in this run. `None` for other lines (deliveries, alerts,
    /// rejections) and for entries read back from the journal file: a subscriber that needs
    /// those parses [`FeedItem::line`] (see [`crate::core::rebuild`]).
    pub callback: Option<Arc<crate::event::Callback>>,
}

/// One committed batch as the ring holds it (at most [`CHUNK`] entries and about
/// [`CHUNK_BYTES`] of lines): its entries, and one encoded form of them, made by the first
/// subscriber that asks for it and shared by every other ([`Batch::encoded`]). The feed does
/// not know what the encoding is (`/api/events` frames it as Server-Sent Events): a batch is
/// encoded once however many subscribers send it.
#[derive(Debug)]
pub struct Batch {
    items: Box<[FeedItem]>,
    encoded: OnceLock<Bytes>,
}

impl Batch {
    /// Its entries, in seq order.
    pub fn items(&self) -> &[FeedItem] {
        &self.items
    }

    /// The encoded form, `encode`d from the entries by the first caller; every caller gets the
    /// same shared bytes (a reference-counted clone). Every caller must pass the same encoder.
    pub fn encoded(&self, encode: impl FnOnce(&[FeedItem]) -> Bytes) -> Bytes {
        self.encoded.get_or_init(|| encode(&self.items)).clone()
    }

    fn last_seq(&self) -> u64 {
        self.items[self.items.len() - 1].seq
    }
}

/// The newest entries, as the batches they were published in. The front batch may be held
/// only in part (`skip` of its entries are no longer counted as held), so that exactly the
/// newest [`RING_CAPACITY`] entries are held.
struct Ring {
    batches: VecDeque<Arc<Batch>>,
    /// Entries at the front of the first batch that are no longer held.
    skip: usize,
    /// Entries held.
    len: usize,
}

impl Ring {
    /// The seq of the oldest entry held.
    fn front_seq(&self) -> Option<u64> {
        self.batches.front().map(|b| b.items[self.skip].seq)
    }

    fn push(&mut self, batch: Batch) {
        self.len += batch.items.len();
        self.batches.push_back(Arc::new(batch));
        while self.len > RING_CAPACITY {
            let excess = self.len - RING_CAPACITY;
            let front = self.batches.front().expect("len > 0");
            let remaining = front.items.len() - self.skip;
            if remaining <= excess {
                self.batches.pop_front();
                self.skip = 0;
                self.len -= remaining;
            } else {
                self.skip += excess;
                self.len -= excess;
            }
        }
    }

    /// The index of the first batch holding an entry with seq > `after`, and where in it that
    /// entry is (past the part no longer held).
    fn find(&self, after: u64) -> Option<(usize, usize)> {
        let b = self.batches.partition_point(|b| b.last_seq() <= after);
        let batch = self.batches.get(b)?;
        let floor = if b == 0 { self.skip } else { 0 };
        let i = floor + batch.items[floor..].partition_point(|i| i.seq <= after);
        Some((b, i))
    }
}

/// What [`Subscription::next_shared`] gives: whole batches from the ring when it can (their
/// encoded form is shared), else entries (the tail of a batch, or a chunk read from the
/// journal).
#[derive(Debug)]
pub enum Shared {
    /// Whole batches, in seq order, every entry newer than everything given before.
    Batches(Vec<Arc<Batch>>),
    /// Entries in seq order, each newer than everything given before.
    Items(Vec<FeedItem>),
    /// See [`Next::Lagged`].
    Lagged,
    /// See [`Next::Closed`].
    Closed,
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
    /// Which journal this is ([`crate::core::journal::JournalId`]): the same across
    /// `--resume`, another for a new journal even at the same path. `None` with
    /// `--no-journal`, on a device, or from a receiver older than journal ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_id: Option<crate::core::journal::JournalId>,
    /// The receiver's alert thresholds, so that an attached view runs the same rules;
    /// `None` with `--no-alerts` (or from an older receiver). Where alerts are sent
    /// (`--alert-exec`, `--alert-webhook`) is never said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertSettings>,
}

/// The alert thresholds as the feed's `hello` carries them: seconds, `null` for a rule that
/// is off (the flag's `0`). A field a receiver does not send reads as off (a record cycle as
/// the default one), so a hello with thresholds older or newer than these still reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertSettings {
    /// `--alert-paused`.
    pub paused_s: Option<f64>,
    /// `--alert-not-recording`.
    pub not_recording_s: Option<f64>,
    /// `--alert-not-recorded`.
    pub not_recorded_s: Option<f64>,
    /// `--alert-file-overdue`.
    pub file_overdue_s: Option<f64>,
    /// `--record-cycle`.
    pub record_cycle_s: f64,
    /// `--alert-short-file`.
    pub short_file_s: Option<f64>,
    /// `--alert-gap`.
    pub gap_s: Option<f64>,
    /// `--alert-silence`.
    pub silence_s: Option<f64>,
}

impl From<&AlertConfig> for AlertSettings {
    fn from(c: &AlertConfig) -> Self {
        // Every field named: a new threshold does not compile until the hello carries it.
        let AlertConfig {
            paused,
            not_recording,
            not_recorded,
            file_overdue,
            record_cycle,
            short_file,
            gap,
            silence,
        } = c;
        let s = |d: &Option<Duration>| d.map(|d| d.as_secs_f64());
        AlertSettings {
            paused_s: s(paused),
            not_recording_s: s(not_recording),
            not_recorded_s: s(not_recorded),
            file_overdue_s: s(file_overdue),
            record_cycle_s: record_cycle.as_secs_f64(),
            short_file_s: s(short_file),
            gap_s: s(gap),
            silence_s: s(silence),
        }
    }
}

impl AlertSettings {
    /// The thresholds; a value that is not a duration (negative, not finite) turns its rule
    /// off, and such a record cycle is the default one.
    pub fn to_config(&self) -> AlertConfig {
        let d = |s: Option<f64>| s.and_then(|s| Duration::try_from_secs_f64(s).ok());
        AlertConfig {
            paused: d(self.paused_s),
            not_recording: d(self.not_recording_s),
            not_recorded: d(self.not_recorded_s),
            file_overdue: d(self.file_overdue_s),
            record_cycle: d(Some(self.record_cycle_s))
                .filter(|c| !c.is_zero())
                .unwrap_or_else(|| AlertConfig::default().record_cycle),
            short_file: d(self.short_file_s),
            gap: d(self.gap_s),
            silence: d(self.silence_s),
        }
    }
}

/// The publishing side, shared by the sequencer and every subscriber.
pub struct Feed {
    ring: Mutex<Ring>,
    /// The highest seq published; raised after the ring holds it.
    last: watch::Sender<u64>,
    journal: Option<PathBuf>,
    /// Set once by [`Feed::close`].
    closing: watch::Sender<bool>,
    /// Chunks read from the journal file so far, by all subscribers (a measure of how often
    /// subscribers leave the ring; tests use it to see that a gap is not read again and again).
    journal_reads: AtomicU64,
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
        let (closing, _) = watch::channel(false);
        Arc::new(Feed {
            ring: Mutex::new(Ring {
                batches: VecDeque::new(),
                skip: 0,
                len: 0,
            }),
            last,
            journal,
            closing,
            journal_reads: AtomicU64::new(0),
        })
    }

    /// Publishes committed entries, in seq order. Called by the sequencer only; never blocks
    /// on a subscriber. They are kept as batches of at most [`CHUNK`] entries and about
    /// [`CHUNK_BYTES`] of lines, each encoded at most once for all subscribers.
    pub fn publish(&self, items: impl IntoIterator<Item = FeedItem>) {
        let mut batches: Vec<Batch> = Vec::new();
        let mut current: Vec<FeedItem> = Vec::new();
        let mut bytes = 0;
        for item in items {
            if current.len() == CHUNK || bytes >= CHUNK_BYTES {
                batches.push(Batch::new(std::mem::take(&mut current)));
                bytes = 0;
            }
            bytes += item.line.len();
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(Batch::new(current));
        }
        let Some(top) = batches.last().map(Batch::last_seq) else {
            return;
        };
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            for batch in batches {
                ring.push(batch);
            }
        }
        self.last.send_replace(top);
    }

    /// The highest seq published.
    pub fn last_seq(&self) -> u64 {
        *self.last.borrow()
    }

    /// Ends every subscription: the next [`Subscription::next`] of each returns
    /// [`Next::Closed`] (a client resumes where it was with `Last-Event-ID`). Called first at
    /// shutdown, so that long-lived `/api/events` responses end and the listener can drain.
    pub fn close(&self) {
        self.closing.send_replace(true);
        // Wakes subscribers waiting for entries.
        self.last.send_modify(|_| {});
    }

    /// Whether [`Feed::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.closing.borrow()
    }

    /// Resolves once [`Feed::close`] has been called.
    pub async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Chunks read from the journal file so far, by all subscribers.
    pub fn journal_reads(&self) -> u64 {
        self.journal_reads.load(Ordering::Relaxed)
    }

    /// A subscription to every entry with seq > `after`: first the past (from the ring or
    /// the journal), then live entries as they are committed.
    pub fn subscribe(self: &Arc<Self>, after: u64) -> Subscription {
        let wake = self.last.subscribe();
        Subscription {
            feed: self.clone(),
            wake,
            after,
            fresh: true,
            file: FileState::Off,
            draining: false,
        }
    }

    /// One chunk of the entries with `after < seq <= upto` out of the ring, or `None` when
    /// the ring does not reach back to `after + 1` (then they are read from the journal),
    /// unless `from_front`: then the chunk starts at the oldest entry held. An empty chunk
    /// means no such entry was ever committed (seq numbers skip where a batch's write failed).
    /// With `whole`, a chunk that starts at a batch's start is given as whole batches (up to
    /// the first one that reaches past `upto`), sharing their encoded form; otherwise entries
    /// are copied out (cheap: each is a few reference counts).
    fn ring_after(&self, after: u64, upto: u64, from_front: bool, whole: bool) -> Option<Shared> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let front = ring.front_seq()?;
        if front.saturating_sub(1) > after && !from_front {
            return None;
        }
        let Some((b, i)) = ring.find(after) else {
            return Some(Shared::Items(Vec::new()));
        };
        if whole && i == 0 {
            let mut out = Vec::new();
            let (mut count, mut bytes) = (0, 0);
            for batch in ring.batches.range(b..) {
                if batch.last_seq() > upto || count >= CHUNK || bytes >= CHUNK_BYTES {
                    break;
                }
                count += batch.items.len();
                bytes += batch.items.iter().map(|i| i.line.len()).sum::<usize>();
                out.push(batch.clone());
            }
            if !out.is_empty() {
                return Some(Shared::Batches(out));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut first = Some(i);
        'batches: for batch in ring.batches.range(b..) {
            for item in &batch.items[first.take().unwrap_or(0)..] {
                if item.seq > upto || out.len() == CHUNK || bytes >= CHUNK_BYTES {
                    break 'batches;
                }
                bytes += item.line.len();
                out.push(item.clone());
            }
            if whole {
                // The rest comes as whole batches on the next call.
                break;
            }
        }
        Some(Shared::Items(out))
    }
}

impl Batch {
    fn new(items: Vec<FeedItem>) -> Batch {
        Batch {
            items: items.into_boxed_slice(),
            encoded: OnceLock::new(),
        }
    }
}

/// Where a subscriber is reading the journal file, if it is.
enum FileState {
    /// Not reading the file: following the ring.
    Off,
    /// Between chunks.
    Idle(JournalCursor),
    /// A chunk is being read (possibly ahead of the subscriber asking for it).
    Reading(JoinHandle<(JournalCursor, io::Result<FileChunk>)>),
}

/// One subscriber's cursor. Dropping it ends the subscription.
pub struct Subscription {
    feed: Arc<Feed>,
    wake: watch::Receiver<u64>,
    /// The last seq given out, or passed over because it was never committed.
    after: u64,
    /// Nothing given out yet.
    fresh: bool,
    file: FileState,
    /// See [`Subscription::drain`].
    draining: bool,
}

impl Subscription {
    /// The last seq given out (what a client resumes after).
    pub fn position(&self) -> u64 {
        self.after
    }

    /// From now on, give what has been published, even after [`Feed::close`], and then
    /// [`Next::Closed`] instead of waiting for more: what a view that must show every entry
    /// does once its receiver has drained (the feed is closed first at shutdown, the last
    /// batches are committed after).
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// The next entries, waiting until there are some. Cancel-safe: a call dropped while it
    /// waits loses nothing (a chunk being read from the journal is picked up by the next
    /// call).
    pub async fn next(&mut self) -> Next {
        match self.next_chunk(false).await {
            Shared::Items(items) => Next::Items(items),
            Shared::Batches(batches) => Next::Items(
                batches
                    .iter()
                    .flat_map(|b| b.items().iter().cloned())
                    .collect(),
            ),
            Shared::Lagged => Next::Lagged,
            Shared::Closed => Next::Closed,
        }
    }

    /// [`Subscription::next`], giving whole batches (with their shared encoded form) whenever
    /// the subscriber is at a batch's start in the ring: a subscriber that keeps up gets only
    /// whole batches after its first chunk. Cancel-safe.
    pub async fn next_shared(&mut self) -> Shared {
        self.next_chunk(true).await
    }

    async fn next_chunk(&mut self, whole: bool) -> Shared {
        loop {
            if self.feed.is_closed() && !self.draining {
                self.file = FileState::Off;
                return Shared::Closed;
            }
            if let FileState::Reading(reading) = &mut self.file {
                let joined = reading.await;
                self.file = FileState::Off;
                let (cursor, chunk) = match joined {
                    Ok((cursor, Ok(chunk))) => (cursor, chunk),
                    Ok((_, Err(e))) => {
                        tracing::warn!("feed: reading the journal for a subscriber failed: {e}");
                        return Shared::Lagged;
                    }
                    Err(e) => {
                        tracing::warn!("feed: the journal reader for a subscriber failed: {e}");
                        return Shared::Lagged;
                    }
                };
                let after = self.after;
                let items: Vec<FeedItem> =
                    chunk.items.into_iter().filter(|i| i.seq > after).collect();
                if let Some(last) = items.last() {
                    self.after = last.seq;
                }
                if chunk.reached_upto {
                    // Every line up to `upto` was read: seqs not found there were never
                    // committed (failed writes), so they are passed over, not looked for again.
                    self.after = self.after.max(chunk.upto);
                    self.file = FileState::Idle(cursor);
                } else {
                    // More is waiting: read the next chunk while this one is being sent.
                    let upto = *self.wake.borrow();
                    self.file =
                        FileState::Reading(spawn_read(&self.feed, cursor, self.after, upto));
                }
                if !items.is_empty() {
                    self.fresh = false;
                    return Shared::Items(items);
                }
                continue;
            }
            // Mark the current value seen before reading the ring: a publish after this
            // wakes the `changed()` below.
            let upto = *self.wake.borrow_and_update();
            if upto > self.after {
                let from_front = self.fresh && self.feed.journal.is_none();
                match self.feed.ring_after(self.after, upto, from_front, whole) {
                    Some(chunk) => {
                        self.file = FileState::Off;
                        let last = match &chunk {
                            Shared::Items(items) => items.last().map(|i| i.seq),
                            Shared::Batches(batches) => batches.last().map(|b| b.last_seq()),
                            Shared::Lagged | Shared::Closed => None,
                        };
                        match last {
                            Some(last) => {
                                self.after = last;
                                self.fresh = false;
                                return chunk;
                            }
                            None => self.after = upto,
                        }
                    }
                    None => match &self.feed.journal {
                        Some(path) => {
                            let cursor = match std::mem::replace(&mut self.file, FileState::Off) {
                                FileState::Idle(cursor) => cursor,
                                _ => JournalCursor::new(path.clone()),
                            };
                            self.file = FileState::Reading(spawn_read(
                                &self.feed, cursor, self.after, upto,
                            ));
                        }
                        None => return Shared::Lagged,
                    },
                }
                continue;
            }
            if self.draining || self.wake.changed().await.is_err() {
                return Shared::Closed;
            }
        }
    }
}

/// Reads the next chunk after `after` (up to `upto`) on a blocking thread.
fn spawn_read(
    feed: &Feed,
    mut cursor: JournalCursor,
    after: u64,
    upto: u64,
) -> JoinHandle<(JournalCursor, io::Result<FileChunk>)> {
    feed.journal_reads.fetch_add(1, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        let chunk = cursor.read(after, upto);
        (cursor, chunk)
    })
}

/// One chunk read from the journal.
#[derive(Debug)]
struct FileChunk {
    /// Entries with `after < seq <= upto`, in order.
    items: Vec<FeedItem>,
    /// Whether the read got to the end of what was committed (a line newer than `upto`, or
    /// the end of the file), rather than stopping because the chunk was full.
    reached_upto: bool,
    /// The last committed seq this read was bounded by.
    upto: u64,
}

/// A place in the journal file, kept between chunks so that the file is searched only once
/// per stay off the ring.
struct JournalCursor {
    path: PathBuf,
    reader: Option<BufReader<File>>,
    /// Where the next line starts, once found.
    offset: Option<u64>,
    /// The last entry read, handed out only once the line after it shows it was not replaced
    /// (see [`JournalCursor::read`]).
    held: Option<FeedItem>,
    buf: Vec<u8>,
}

impl JournalCursor {
    fn new(path: PathBuf) -> JournalCursor {
        JournalCursor {
            path,
            reader: None,
            offset: None,
            held: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Reads the next entries with `after < seq <= upto`: at most one chunk, stopping before
    /// the first line newer than `upto` and before a line still being written (no newline
    /// yet), without consuming either, so the next read starts there.
    ///
    /// A crash can cut a journal's last line short; `--resume` then writes a newline and
    /// continues with the same seq that cut line carried. A cut line can still look like an
    /// entry to [`line_seq`], so an entry is held back until the next line: one with the same
    /// (or a lower) seq replaces it.
    fn read(&mut self, after: u64, upto: u64) -> io::Result<FileChunk> {
        let reader = match &mut self.reader {
            Some(r) => r,
            None => self.reader.insert(BufReader::with_capacity(
                READ_BUFFER,
                File::open(&self.path)?,
            )),
        };
        let mut offset = match self.offset {
            Some(o) => o,
            None => seek_after(reader, after, &mut self.buf)?,
        };
        // Also drops what the buffer held past the last line consumed: it may have been
        // read while being written, or cut back after a failed write.
        reader.seek(SeekFrom::Start(offset))?;
        if self.held.as_ref().is_some_and(|h| h.seq <= after) {
            self.held = None;
        }
        let mut floor = after;
        let mut items = Vec::new();
        let mut bytes = 0;
        let mut reached_upto = false;
        while items.len() < CHUNK && bytes < CHUNK_BYTES {
            self.buf.clear();
            let n = reader.read_until(b'\n', &mut self.buf)?;
            if n == 0 || self.buf.last() != Some(&b'\n') {
                // The end, or a line still being written (it is newer than `upto`).
                reached_upto = true;
                break;
            }
            let line = &self.buf[..n - 1];
            let Some(seq) = line_seq(line) else {
                offset += n as u64;
                continue;
            };
            if seq > upto {
                reached_upto = true;
                break;
            }
            offset += n as u64;
            if let Some(held) = self.held.take() {
                if seq > held.seq {
                    bytes += held.line.len();
                    floor = held.seq;
                    items.push(held);
                }
            }
            if seq <= floor {
                continue;
            }
            // Lines recmon writes are UTF-8 JSON with every control character escaped;
            // anything else is not an entry, and a raw CR would break the event's framing.
            let Ok(text) = std::str::from_utf8(line) else {
                continue;
            };
            if memchr::memchr(b'\r', line).is_some() {
                continue;
            }
            self.held = Some(FeedItem {
                seq,
                line: Arc::from(text),
                callback: None,
            });
        }
        if reached_upto {
            // Anything replacing the held entry would have a seq <= upto, so it would have
            // been read by now.
            if let Some(held) = self.held.take() {
                items.push(held);
            }
        }
        self.offset = Some(offset);
        Ok(FileChunk {
            items,
            reached_upto,
            upto,
        })
    }
}

/// The start of a line at or before the first entry with seq > `after`, close to it: a binary
/// search over byte offsets, since recmon writes seqs rising through the file. Lines before the
/// returned offset all have seq <= `after`.
fn seek_after(reader: &mut BufReader<File>, after: u64, buf: &mut Vec<u8>) -> io::Result<u64> {
    let (mut lo, mut hi) = (0u64, reader.get_ref().metadata()?.len());
    if after == 0 {
        return Ok(0);
    }
    while hi - lo > SEEK_SCAN {
        let mid = lo + (hi - lo) / 2;
        match first_entry_from(reader, mid, hi, buf)? {
            Some((start, seq)) if seq <= after => lo = start,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// The start and seq of the first entry whose line starts at or after `from` (> 0) and before
/// `hi`.
fn first_entry_from(
    reader: &mut BufReader<File>,
    from: u64,
    hi: u64,
    buf: &mut Vec<u8>,
) -> io::Result<Option<(u64, u64)>> {
    // From the byte before `from`: if it ends a line, a line starts exactly at `from`.
    reader.seek(SeekFrom::Start(from - 1))?;
    buf.clear();
    let mut pos = from - 1 + reader.read_until(b'\n', buf)? as u64;
    while pos < hi {
        buf.clear();
        let n = reader.read_until(b'\n', buf)?;
        if n == 0 || buf.last() != Some(&b'\n') {
            return Ok(None);
        }
        if let Some(seq) = line_seq(&buf[..n - 1]) {
            return Ok(Some((pos, seq)));
        }
        pos += n as u64;
    }
    Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    /// A journal-shaped line for `seq`, about 100 bytes.
    fn line(seq: u64) -> String {
        format!(
            "{{\"seq\":{seq},\"received_at\":\"2026-11-27T17:54:13.847Z\",\"outcome\":\"accepted\",\"pad\":\"{}\"}}",
            "x".repeat(30)
        )
    }

    fn item(seq: u64) -> FeedItem {
        FeedItem {
            seq,
            line: Arc::from(line(seq)),
            callback: None,
        }
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// What the sequencer does: the lines go to the journal, then to the feed.
    fn commit(feed: &Feed, path: Option<&std::path::Path>, seqs: impl IntoIterator<Item = u64>) {
        let items: Vec<FeedItem> = seqs.into_iter().map(item).collect();
        if let Some(path) = path {
            let text: String = items.iter().map(|i| format!("{}\n", i.line)).collect();
            append(path, &text);
        }
        feed.publish(items);
    }

    /// Takes entries until one with seq >= `upto` (a generous ceiling only bounds how long a
    /// broken build takes to fail).
    async fn take_until(sub: &mut Subscription, upto: u64) -> Vec<FeedItem> {
        let mut got: Vec<FeedItem> = Vec::new();
        while got.last().is_none_or(|i| i.seq < upto) {
            match tokio::time::timeout(Duration::from_secs(30), sub.next()).await {
                Ok(Next::Items(items)) => got.extend(items),
                Ok(other) => panic!(
                    "expected entries up to {upto}, got {other:?} after {}",
                    got.len()
                ),
                Err(_) => panic!(
                    "no entries up to {upto} within 30 s; got up to {:?}",
                    got.last().map(|i| i.seq)
                ),
            }
        }
        got
    }

    fn seqs(items: &[FeedItem]) -> Vec<u64> {
        items.iter().map(|i| i.seq).collect()
    }

    /// Takes whole batches (or the tail of one) until seq `upto`, and the encoded form of
    /// each whole batch (encoded by counting the calls).
    async fn take_shared(sub: &mut Subscription, upto: u64, encodes: &AtomicU64) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut last = 0;
        while last < upto {
            match tokio::time::timeout(Duration::from_secs(30), sub.next_shared()).await {
                Ok(Shared::Batches(batches)) => {
                    for b in batches {
                        last = b.items().last().unwrap().seq;
                        out.push(b.encoded(|items| {
                            encodes.fetch_add(1, Ordering::Relaxed);
                            Bytes::from(
                                seqs(items)
                                    .iter()
                                    .map(|s| format!("{s},"))
                                    .collect::<String>(),
                            )
                        }));
                    }
                }
                Ok(Shared::Items(items)) => {
                    last = items.last().unwrap().seq;
                    out.push(Bytes::from(
                        seqs(&items)
                            .iter()
                            .map(|s| format!("{s},"))
                            .collect::<String>(),
                    ));
                }
                Ok(other) => panic!("expected entries up to {upto}, got {other:?}"),
                Err(_) => panic!("no entries up to {upto} within 30 s"),
            }
        }
        out
    }

    #[tokio::test]
    async fn subscribers_at_a_batch_start_share_its_one_encoding() {
        let feed = Feed::new(None, 0);
        commit(&feed, None, 1..=10);
        commit(&feed, None, 11..=20);
        let encodes = AtomicU64::new(0);
        let mut a = feed.subscribe(0);
        let mut b = feed.subscribe(0);
        // From the middle of a batch: its tail is this subscriber's own, then whole batches.
        let mut c = feed.subscribe(5);
        let got_a = take_shared(&mut a, 20, &encodes).await;
        let got_b = take_shared(&mut b, 20, &encodes).await;
        let got_c = take_shared(&mut c, 20, &encodes).await;
        assert_eq!(
            encodes.load(Ordering::Relaxed),
            2,
            "each batch encoded once"
        );
        assert_eq!(got_a.len(), 2);
        for (x, y) in got_a.iter().zip(&got_b) {
            assert_eq!(x.as_ptr(), y.as_ptr(), "the same bytes, not a copy");
        }
        assert_eq!(&got_c[0][..], b"6,7,8,9,10,");
        assert_eq!(got_c[1].as_ptr(), got_a[1].as_ptr());
        // Live batches too.
        commit(&feed, None, 21..=25);
        let live_a = take_shared(&mut a, 25, &encodes).await;
        let live_c = take_shared(&mut c, 25, &encodes).await;
        assert_eq!(live_a[0].as_ptr(), live_c[0].as_ptr());
        assert_eq!(&live_a[0][..], b"21,22,23,24,25,");
        assert_eq!(encodes.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn the_ring_holds_exactly_the_newest_entries_across_batches() {
        let feed = Feed::new(None, 0);
        // Batches of 7 (and one larger than a chunk): the front batch is held in part.
        let mut seq = 0;
        while seq < RING_CAPACITY as u64 + 100 {
            commit(&feed, None, (seq + 1)..=(seq + 7));
            seq += 7;
        }
        commit(&feed, None, (seq + 1)..=(seq + 3000));
        seq += 3000;
        let oldest = seq - RING_CAPACITY as u64 + 1;
        let mut sub = feed.subscribe(0);
        let got = take_until(&mut sub, seq).await;
        assert_eq!(seqs(&got), (oldest..=seq).collect::<Vec<_>>());
        // Both a subscriber right after the oldest held and one further back (a new one,
        // without a journal, starts at the oldest held) begin at the oldest held.
        for after in [oldest - 1, oldest - 2] {
            let got = take_until(&mut feed.subscribe(after), seq).await;
            assert_eq!(got[0].seq, oldest, "after {after}");
        }
    }

    #[tokio::test]
    async fn catch_up_from_the_ring_then_live() {
        let feed = Feed::new(None, 0);
        commit(&feed, None, 1..=100);
        let mut all = feed.subscribe(0);
        let mut late = feed.subscribe(50);
        assert_eq!(
            seqs(&take_until(&mut all, 100).await),
            (1..=100).collect::<Vec<_>>()
        );
        assert_eq!(
            seqs(&take_until(&mut late, 100).await),
            (51..=100).collect::<Vec<_>>()
        );
        let waiter = tokio::spawn(async move { take_until(&mut all, 110).await });
        commit(&feed, None, 101..=105);
        commit(&feed, None, 106..=110);
        assert_eq!(
            seqs(&waiter.await.unwrap()),
            (101..=110).collect::<Vec<_>>()
        );
        assert_eq!(feed.journal_reads(), 0);
    }

    #[tokio::test]
    async fn a_subscriber_far_behind_is_fed_from_the_journal_then_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let total = RING_CAPACITY as u64 + 5000;
        let feed = Feed::new(Some(path.clone()), 0);
        for start in (1..=total).step_by(1000) {
            commit(&feed, Some(&path), start..=(start + 999).min(total));
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sub = feed.subscribe(0);
        let got = take_until(&mut sub, total).await;
        assert_eq!(seqs(&got), (1..=total).collect::<Vec<_>>());
        let joined: String = got.iter().map(|i| format!("{}\n", i.line)).collect();
        assert!(joined == text, "the lines differ from the journal's");
        assert!(feed.journal_reads() > 0, "the start was not in the ring");
        // Reconnecting near the end of the journal: from the right place, each once.
        for after in [1, 3000, 4999, 5000, 5001, total - 1] {
            let mut sub = feed.subscribe(after);
            let got = take_until(&mut sub, total).await;
            assert_eq!(
                seqs(&got),
                ((after + 1)..=total).collect::<Vec<_>>(),
                "after {after}"
            );
        }
        // Live entries follow.
        let waiter = tokio::spawn(async move { take_until(&mut sub, total + 3).await });
        commit(&feed, Some(&path), (total + 1)..=(total + 3));
        assert_eq!(
            seqs(&waiter.await.unwrap()),
            ((total + 1)..=(total + 3)).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_resumed_journal_gives_the_entries_of_earlier_runs_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        // An earlier run wrote 1..=30000 (with a line that is not an entry in between).
        let mut earlier: String = (1..=15000).map(|s| line(s) + "\n").collect();
        earlier.push_str("not json\n\n");
        earlier.extend((15001..=30000).map(|s| line(s) + "\n"));
        append(&path, &earlier);
        let feed = Feed::new(Some(path.clone()), 30000);
        commit(&feed, Some(&path), 30001..=30100);
        for after in [0, 14999, 15000, 15001, 29999, 30000, 30050] {
            let mut sub = feed.subscribe(after);
            let got = take_until(&mut sub, 30100).await;
            assert_eq!(
                seqs(&got),
                ((after + 1)..=30100).collect::<Vec<_>>(),
                "after {after}"
            );
        }
    }

    #[tokio::test]
    async fn a_line_cut_by_a_crash_is_replaced_by_the_entry_written_after_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        // The crash cut seq 3 just after a nested object; resume wrote a newline and
        // continued at 3. The cut line starts and ends like an entry.
        let text = format!(
            "{}\n{}\n{{\"seq\":3,\"headers\":{{\"host\":\"a\"}}\n{}\n{}\n",
            line(1),
            line(2),
            line(3),
            line(4)
        );
        append(&path, &text);
        let feed = Feed::new(Some(path.clone()), 4);
        let mut sub = feed.subscribe(0);
        let got = take_until(&mut sub, 4).await;
        assert_eq!(seqs(&got), vec![1, 2, 3, 4]);
        assert_eq!(&*got[2].line, line(3));
    }

    #[tokio::test]
    async fn a_gap_in_seq_is_passed_over_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        // 4 and 5 failed to be written; then the file ends before 6..=8, which the feed says
        // were committed (a journal cut back under recmon): nothing more is there to read.
        append(&path, &[1, 2, 3].map(|s| line(s) + "\n").concat());
        let feed = Feed::new(Some(path.clone()), 8);
        let mut sub = feed.subscribe(0);
        assert_eq!(seqs(&take_until(&mut sub, 3).await), vec![1, 2, 3]);
        // 9 is only in memory: a subscriber that kept looking for 4..=8 in the file would
        // never get it.
        feed.publish([item(9)]);
        let got = take_until(&mut sub, 9).await;
        assert_eq!(seqs(&got), vec![9]);
        assert_eq!(feed.journal_reads(), 1, "the gap was read more than once");
    }

    #[tokio::test]
    async fn without_a_journal_a_subscriber_out_of_the_ring_is_told_it_lagged() {
        let feed = Feed::new(None, 0);
        let mut sub = feed.subscribe(0);
        commit(&feed, None, 1..=10);
        assert_eq!(
            seqs(&take_until(&mut sub, 10).await),
            (1..=10).collect::<Vec<_>>()
        );
        let total = 10 + RING_CAPACITY as u64 + 5;
        commit(&feed, None, 11..=total);
        assert!(matches!(sub.next().await, Next::Lagged));
        assert_eq!(sub.position(), 10);
        // A new subscriber (a reconnect) starts at the oldest entry still held.
        let mut again = feed.subscribe(10);
        let got = take_until(&mut again, total).await;
        assert_eq!(
            seqs(&got),
            ((total - RING_CAPACITY as u64 + 1)..=total).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn close_ends_every_subscription() {
        let feed = Feed::new(None, 0);
        commit(&feed, None, 1..=3);
        let mut waiting = feed.subscribe(3);
        let waiter = tokio::spawn(async move { waiting.next().await });
        let closed = {
            let feed = feed.clone();
            tokio::spawn(async move { feed.closed().await })
        };
        feed.close();
        let ceiling = Duration::from_secs(30);
        let ended = tokio::time::timeout(ceiling, waiter).await;
        assert!(matches!(ended, Ok(Ok(Next::Closed))), "{ended:?}");
        tokio::time::timeout(ceiling, closed)
            .await
            .unwrap()
            .unwrap();
        // Behind or not, after close there is nothing more.
        let late = tokio::time::timeout(ceiling, feed.subscribe(0).next()).await;
        assert!(matches!(late, Ok(Next::Closed)), "{late:?}");
    }

    #[tokio::test]
    async fn a_draining_subscriber_gets_what_was_published_after_close_then_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let total = RING_CAPACITY as u64 + 10;
        let feed = Feed::new(Some(path.clone()), 0);
        commit(&feed, Some(&path), 1..=5);
        let mut sub = feed.subscribe(0);
        feed.close();
        // Committed after the close (the sequencer drains at shutdown), some only in the
        // journal by now.
        commit(&feed, Some(&path), 6..=total);
        assert!(matches!(sub.next().await, Next::Closed));
        sub.drain();
        let got = take_until(&mut sub, total).await;
        assert_eq!(seqs(&got), (1..=total).collect::<Vec<_>>());
        assert!(matches!(sub.next().await, Next::Closed));
    }

    #[test]
    fn a_line_still_being_written_is_left_for_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let four = line(4);
        let (head, tail) = four.split_at(20);
        append(
            &path,
            &format!("{}\n{}\n{}\n{head}", line(1), line(2), line(3)),
        );
        let mut cursor = JournalCursor::new(path.clone());
        let chunk = cursor.read(0, 10).unwrap();
        assert_eq!(seqs(&chunk.items), vec![1, 2, 3]);
        assert!(chunk.reached_upto);
        append(&path, &format!("{tail}\n{}\n", line(5)));
        let chunk = cursor.read(3, 10).unwrap();
        assert_eq!(seqs(&chunk.items), vec![4, 5]);
        assert_eq!(&*chunk.items[0].line, four);
    }

    #[test]
    fn a_read_stops_before_entries_not_yet_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        append(&path, &(1..=5).map(|s| line(s) + "\n").collect::<String>());
        let mut cursor = JournalCursor::new(path);
        assert_eq!(seqs(&cursor.read(0, 3).unwrap().items), vec![1, 2, 3]);
        assert_eq!(seqs(&cursor.read(3, 5).unwrap().items), vec![4, 5]);
    }

    #[test]
    fn line_seq_reads_the_prefix_and_refuses_what_is_not_an_entry() {
        assert_eq!(line_seq(line(42).as_bytes()), Some(42));
        assert_eq!(line_seq(br#"{"outcome":"accepted","seq":7}"#), Some(7));
        assert_eq!(line_seq(br#"{"seq":7,"cut"#), None);
        assert_eq!(line_seq(b"not json"), None);
        assert_eq!(line_seq(b""), None);
    }

    #[test]
    fn alert_thresholds_survive_the_hello() {
        let cfg = AlertConfig {
            paused: Some(Duration::from_millis(1500)),
            gap: None,
            ..AlertConfig::default()
        };
        let json = serde_json::to_string(&AlertSettings::from(&cfg)).unwrap();
        let back: AlertSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_config(), cfg, "{json}");
        assert!(json.contains("\"gap_s\":null"), "{json}");
        // A hello from a receiver older than these fields reads as saying nothing.
        let old = r#"{"version":"0.1.0","listen":"x","journal":null,"started_at":"2026-11-27T17:54:13.847Z","signature_checking":false,"last_seq":3}"#;
        let facts: SessionFacts = serde_json::from_str(old).unwrap();
        assert_eq!((facts.journal_id, facts.alerts), (None, None));
    }
}
