//! The attaching side of the receiver/view split: a view that is not in the receiver's process
//! follows one or more receivers' `GET /api/events` feeds over HTTP(S) and sees the same ordered
//! journal entries a local view gets from the feed, resuming with `Last-Event-ID` across cut
//! connections and receiver restarts so that nothing is missed or counted twice.
//!
//! [`Attachment::start`] spawns one [`feed_client`] task per URL and one loop that applies what
//! they receive to a local [`Store`] through the one pure step ([`merge::Merge::apply`]), a
//! batch at a time under the store lock, then tells the views. Every entry received is also
//! appended to a copy of the journal (a temporary file, or `--save FILE`), which is what `e`
//! exports. It only ever reads: the feed is a GET, and nothing here sends anything else.
//!
//! What it applies it also publishes, in the copy's order, on a [`Feed`] of its own, backed by
//! the copy (a view behind the feed's memory reads on from the copy): the same kind of feed a
//! receiver's views follow, so a view does not care which it is given. `--json` prints the
//! lines straight from it.
//!
//! It knows nothing of the views: they read the store, the feed and the
//! [`status::SourceStatuses`].
//!
//! Alerts: the view runs the same alert engine as a receiver, on its own store, with the
//! receiver's thresholds: a receiver's `hello` carries them
//! ([`crate::core::feed::AlertSettings`]), and they replace the view's own from that hello
//! on, so that the view shows the alerts the receiver shows. The view's `--alert-*`
//! thresholds are used only until then, and for receivers that send none (an older recmon,
//! or one run with `--no-alerts`, whose operator may well alert from the attached view
//! instead): a view is attached to watch the receiver, and two sets of thresholds for one
//! broadcast would show two different truths. `--no-alerts` on the view still turns its
//! engine off, and where the view sends alerts (`--alert-exec`, `--alert-webhook`, `--bell`)
//! stays its own (a receiver never says where it sends them). With several receivers, the
//! first one in the command line's order that sent thresholds decides.

pub mod feed_client;
pub mod merge;
pub mod status;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, watch};

use crate::core::feed::{line_seq, Feed, FeedItem, SessionFacts};
use crate::core::store::{SharedStore, Store};
use crate::util::sanitize;
use feed_client::{SourceConfig, SourceEvent};
use merge::Merge;
use status::{Link, SourceChange, SourceStatus, SourceStatuses};

/// How many received events one batch takes at most before the views are told: large enough
/// that a catch-up of a long journal takes the store lock rarely, small enough that a view
/// redraws during it.
const BATCH: usize = 4096;

/// Events buffered between the source tasks and the loop.
const CHANNEL: usize = 8192;

/// What `recmon attach` follows and how.
#[derive(Debug, Clone)]
pub struct AttachConfig {
    /// The receivers' base URLs, in the order given.
    pub urls: Vec<String>,
    /// `--api-token`: sent to every receiver as a Bearer token.
    pub token: Option<String>,
    /// `--ca-cert`: extra CA certificates for https.
    pub ca_cert: Option<PathBuf>,
    /// Requests kept in the view's request log.
    pub log_capacity: usize,
    /// `--save FILE`: keep the copy of every entry received here (a new file); without it a
    /// temporary file is used and removed on exit.
    pub save: Option<PathBuf>,
}

/// A running attachment: the store the views show and the sources' statuses.
pub struct Attachment {
    /// The local store, fed only by the attach loop.
    pub shared: Arc<SharedStore>,
    /// Every entry applied (as the copy has it: merged lines renumbered), in order; its past
    /// is read back from the copy.
    pub feed: Arc<Feed>,
    /// Each source's connection state, for the header.
    pub statuses: SourceStatuses,
    /// The copy of every entry received this session (journal format; `source` fields when
    /// merged): what `e` exports.
    pub copy_path: PathBuf,
    /// Source state changes, for a view that prints them (the headless printer's stderr).
    /// Take it to receive them; if nobody takes it they are dropped.
    pub changes: Option<mpsc::UnboundedReceiver<SourceChange>>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Summary>,
    sources: Vec<tokio::task::JoinHandle<()>>,
}

/// What an attachment did, for the exit message.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Entries received (all sources).
    pub received: u64,
    /// Lines a source sent that were not journal entries (skipped; each was described on the
    /// change channel).
    pub skipped: u64,
    /// The copy could not be written (the view still shows everything): why.
    pub copy_error: Option<String>,
}

/// Where the copy goes: the `--save` file (which must not exist yet, so no earlier session is
/// overwritten or mixed in), or a temporary file that is removed when the attachment ends.
enum Copy {
    Saved(BufWriter<File>),
    Temp(BufWriter<tempfile::NamedTempFile>),
}

impl Copy {
    fn create(save: Option<&Path>) -> Result<(Copy, PathBuf), String> {
        match save {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(|e| {
                        if e.kind() == std::io::ErrorKind::AlreadyExists {
                            format!(
                                "--save {}: the file exists; pick a new file name (an attached view never adds to or overwrites an existing file)",
                                path.display()
                            )
                        } else {
                            format!(
                                "--save {}: cannot create it: {e}. Pick a writable path",
                                path.display()
                            )
                        }
                    })?;
                Ok((Copy::Saved(BufWriter::new(file)), path.to_path_buf()))
            }
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix(&format!(
                        "recmon-attach-{}-",
                        Utc::now().format("%Y%m%d-%H%M%S")
                    ))
                    .suffix(".jsonl")
                    .tempfile()
                    .map_err(|e| {
                        format!(
                            "cannot create the temporary copy of the received entries in {}: {e}. Set TMPDIR to a writable folder, or use --save FILE",
                            std::env::temp_dir().display()
                        )
                    })?;
                let path = tmp.path().to_path_buf();
                Ok((Copy::Temp(BufWriter::new(tmp)), path))
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Copy::Saved(w) => w.write_all(bytes).and_then(|_| w.flush()),
            Copy::Temp(w) => w.write_all(bytes).and_then(|_| w.flush()),
        }
    }
}

impl Attachment {
    /// Starts following every URL into a new store. `Err` is a message for the user: a URL
    /// that is not an http(s) base URL, an unreadable `--ca-cert`, a `--save` file that exists.
    /// Must be called within a Tokio runtime.
    pub fn start(cfg: AttachConfig) -> Result<Attachment, String> {
        let shared = SharedStore::new(Store::new(cfg.log_capacity));
        Self::start_paced(cfg, shared, None)
    }

    /// [`Attachment::start`] into `shared` (an empty store), pausing whenever the newest seq
    /// applied is more than `room` ahead of `pace` (the seq a printer has written): a printer
    /// that must show every entry then gets every one, and the receiver's feed waits (or,
    /// past its buffer, has the client resume with `Last-Event-ID`) instead. A printer of the
    /// store's request log gives the log's capacity as the room; one of [`Attachment::feed`]
    /// the feed's memory
    /// ([`crate::core::feed::RING_CAPACITY`]), so that it never has to read the copy back.
    pub fn start_paced(
        cfg: AttachConfig,
        shared: Arc<SharedStore>,
        pace: Option<(watch::Receiver<u64>, usize)>,
    ) -> Result<Attachment, String> {
        if cfg.urls.is_empty() {
            return Err(
                "give at least one receiver URL, e.g. recmon attach http://127.0.0.1:8080".into(),
            );
        }
        let now = Utc::now();
        let n = cfg.urls.len();
        let statuses: SourceStatuses = Arc::new(Mutex::new(
            cfg.urls
                .iter()
                .enumerate()
                .map(|(i, u)| SourceStatus::new(u.clone(), status::label(i, n), now))
                .collect(),
        ));
        let (tx, rx) = mpsc::channel(CHANNEL);
        let mut sources = Vec::with_capacity(n);
        for (i, url) in cfg.urls.iter().enumerate() {
            let source = SourceConfig {
                url: url.clone(),
                token: cfg.token.clone(),
                ca_cert: cfg.ca_cert.clone(),
            };
            match feed_client::spawn_source(i, source, 0, tx.clone()) {
                Ok(h) => sources.push(h),
                Err(e) => {
                    for h in &sources {
                        h.abort();
                    }
                    let who = sanitize::terminal(url, 300);
                    return Err(if n > 1 { format!("{who}: {e}") } else { e });
                }
            }
        }
        drop(tx);
        let (copy, copy_path) = Copy::create(cfg.save.as_deref()).inspect_err(|_| {
            for h in &sources {
                h.abort();
            }
        })?;
        let feed = Feed::new(Some(copy_path.clone()), 0);
        let (changes_tx, changes_rx) = mpsc::unbounded_channel();
        // Paced, a batch must fit in the room with room to spare.
        let (pace, capacity) = match pace {
            Some((rx, room)) => (Some(rx), room),
            None => (None, usize::MAX),
        };
        let batch = (capacity / 2).clamp(1, BATCH);
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run_loop(Loop {
            rx,
            stop: stop_rx,
            shared: shared.clone(),
            feed: feed.clone(),
            statuses: statuses.clone(),
            merge: Merge::new(cfg.urls.clone()),
            copy,
            changes: changes_tx,
            pace,
            batch,
            capacity: capacity as u64,
            alerts_from: None,
        }));
        Ok(Attachment {
            shared,
            feed,
            statuses,
            copy_path,
            changes: Some(changes_rx),
            stop,
            task,
            sources,
        })
    }

    /// Stops following (what was received is applied first) and says what was done. A
    /// temporary copy is removed; a `--save` file is kept.
    pub async fn finish(self) -> Summary {
        for h in &self.sources {
            h.abort();
        }
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

struct Loop {
    rx: mpsc::Receiver<(usize, SourceEvent)>,
    stop: oneshot::Receiver<()>,
    shared: Arc<SharedStore>,
    feed: Arc<Feed>,
    statuses: SourceStatuses,
    merge: Merge,
    copy: Copy,
    changes: mpsc::UnboundedSender<SourceChange>,
    pace: Option<watch::Receiver<u64>>,
    batch: usize,
    capacity: u64,
    /// The source whose alert thresholds the store uses, once one sent them.
    alerts_from: Option<usize>,
}

/// Waits until a batch more fits in the log before the printer has printed it. `false`: stop
/// was asked meanwhile.
async fn wait_for_pace(l: &mut Loop) -> bool {
    let room = l.capacity - l.batch as u64;
    while let Some(pace) = &mut l.pace {
        let newest = l.shared.lock().last_seq();
        if newest.saturating_sub(*pace.borrow_and_update()) <= room {
            return true;
        }
        tokio::select! {
            r = pace.changed() => if r.is_err() {
                // The printer is gone: nothing to wait for.
                l.pace = None;
            },
            _ = &mut l.stop => return false,
        }
    }
    true
}

async fn run_loop(mut l: Loop) -> Summary {
    let mut summary = Summary::default();
    let mut batch: Vec<(usize, SourceEvent)> = Vec::with_capacity(l.batch);
    let mut out: Vec<u8> = Vec::new();
    let mut published: Vec<FeedItem> = Vec::new();
    // The copy's last seq: merged lines are numbered 1, 2, ...; one source's keep the
    // receiver's, which rise.
    let mut last_published = 0;
    loop {
        if !wait_for_pace(&mut l).await {
            break;
        }
        let first = tokio::select! {
            biased;
            ev = l.rx.recv() => ev,
            _ = &mut l.stop => None,
        };
        let Some(first) = first else {
            break;
        };
        batch.push(first);
        while batch.len() < l.batch {
            match l.rx.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        out.clear();
        let mut changed: Vec<usize> = Vec::new();
        {
            let mut store = l.shared.lock();
            let mut statuses = l.statuses.lock().unwrap_or_else(|p| p.into_inner());
            for (i, ev) in batch.drain(..) {
                let Some(st) = statuses.get_mut(i) else {
                    continue;
                };
                match ev {
                    SourceEvent::Entry { seq, line } => {
                        match l.merge.apply(&mut store, i, &line) {
                            Ok(applied) => {
                                if !applied.line.is_empty() {
                                    out.extend_from_slice(applied.line.as_bytes());
                                    out.push(b'\n');
                                    match line_seq(applied.line.as_bytes()) {
                                        Some(seq) if seq > last_published => {
                                            last_published = seq;
                                            published.push(FeedItem {
                                                seq,
                                                line: applied.line,
                                                callback: None,
                                            });
                                        }
                                        // (Cannot be: the copy's seqs rise.)
                                        _ => {}
                                    }
                                }
                                summary.received += 1;
                            }
                            Err(why) => {
                                summary.skipped += 1;
                                let _ = l.changes.send(SourceChange {
                                    source: i,
                                    status: st.clone(),
                                    skipped: Some(format!("entry #{seq} skipped: {why}")),
                                });
                            }
                        }
                        // Caught up: the header shows it once, not on every live entry.
                        let was_behind = st.lag() > 0;
                        st.last_seq = seq;
                        st.received += 1;
                        if was_behind && st.lag() == 0 {
                            changed.push(i);
                        }
                    }
                    SourceEvent::Connected { hello } => {
                        let facts = serde_json::from_value::<SessionFacts>(hello).ok();
                        st.catch_up_to = facts.as_ref().map_or(0, |f| f.last_seq);
                        st.listen = facts.as_ref().map(|f| f.listen.clone());
                        st.signature_checking = facts.as_ref().map(|f| f.signature_checking);
                        let theirs = facts.as_ref().and_then(|f| f.alerts.as_ref());
                        if let Some(settings) = theirs {
                            // Only while the view's engine is on (not `--no-alerts`).
                            if store.alert_config().is_some()
                                && l.alerts_from.is_none_or(|first| i <= first)
                            {
                                let cfg = settings.to_config();
                                if store.alert_config() != Some(&cfg) {
                                    store.set_alert_config(cfg);
                                }
                                l.alerts_from = Some(i);
                            }
                        }
                        st.link = Link::Connected { since: Utc::now() };
                        // Said as it is now (how far behind), not after this batch's entries.
                        let _ = l.changes.send(SourceChange {
                            source: i,
                            status: st.clone(),
                            skipped: None,
                        });
                    }
                    SourceEvent::Disconnected { reason, .. } => {
                        // Down since it stopped being connected, or since the start when it
                        // never was.
                        let since = match &st.link {
                            Link::Reconnecting { since, .. } | Link::Connecting { since } => *since,
                            Link::Connected { .. } => Utc::now(),
                        };
                        let reason = sanitize::terminal(&reason, 300).into_owned();
                        // Each failed retry for the same reason is not news: the first one
                        // is, and a new reason (the receiver is back, but restarted without
                        // --resume) is.
                        let news = match &st.link {
                            Link::Reconnecting { reason: was, .. } => *was != reason,
                            _ => true,
                        };
                        st.link = Link::Reconnecting { since, reason };
                        if news {
                            changed.push(i);
                        }
                    }
                }
            }
            for &i in &changed {
                if let Some(st) = statuses.get(i) {
                    let _ = l.changes.send(SourceChange {
                        source: i,
                        status: st.clone(),
                        skipped: None,
                    });
                }
            }
        }
        // The copy first: the feed reads its past from there.
        if !out.is_empty() && summary.copy_error.is_none() {
            if let Err(e) = l.copy.write_all(&out) {
                summary.copy_error = Some(e.to_string());
            }
        }
        l.feed.publish(published.drain(..));
        l.shared.notify();
    }
    summary
}
