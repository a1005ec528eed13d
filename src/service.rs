//! The service: the long-lived receiver. [`Service::start`] opens (or resumes) the journal,
//! builds the store, starts the sequencer and the listener from a [`ServiceConfig`], and hands
//! out what subscribers need: the store (local views), and the [`Feed`] of committed journal
//! entries (`/api/events`, attached views). It runs no view itself: `main` wires views to it,
//! and it keeps receiving whatever views come and go.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::core::dedup::Deduper;
use crate::core::feed::{Feed, SessionFacts};
use crate::core::journal::{
    default_path, FsyncPolicy, JournalFile, JournalReader, LockedJournal, OpenError, ReadItem,
    LINE_SHAPE,
};
use crate::core::outbox::{ForwardMode, ForwardPlan};
use crate::core::sequencer::{RebuiltState, Sequencer, SequencerSummary};
use crate::core::store::{Counters, SharedStore, Store};
use crate::error::AppError;
use crate::forward::recover::Recovery;
use crate::forward::{ForwardConfig, Forwarder, Sender, SyncForward};
use crate::providers::aliyun::auth::AuthConfig;
use crate::server::{serve, Published, ServerConfig};
use crate::util::human::{count, thousands};
use crate::util::progress::{eprint_line, journal_bar};

/// Where the journal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalChoice {
    /// `--no-journal`: nothing is kept on disk.
    Off,
    /// A new journal (refused if the file already holds an earlier session).
    New(PathBuf),
    /// `--resume`: continue this journal, or start it if it does not exist yet.
    Resume(PathBuf),
}

/// Everything the service needs to start; built from the command line by `cli`.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Take any free port when `listen`'s is taken (the demo only needs some port).
    pub any_port_if_taken: bool,
    /// The journal.
    pub journal: JournalChoice,
    /// When the journal is fsynced.
    pub fsync: FsyncPolicy,
    /// Requests kept in the in-memory request log.
    pub log_capacity: usize,
    /// The listener's limits, API token and signature checking.
    pub server: ServerConfig,
    /// `--forward-to` and its settings, when given.
    pub forward: Option<ForwardConfig>,
    /// The alert rules' thresholds; `None` turns the engine off (`--no-alerts`).
    pub alerts: Option<crate::core::alerts::AlertConfig>,
    /// Where alerts go besides the views.
    pub alert_sinks: crate::alerting::AlertSinks,
}

/// A running receiver: listener + sequencer + journal + store + feed.
pub struct Service {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The store the local views read.
    pub shared: Arc<SharedStore>,
    /// Every committed journal entry, in order, for subscribers.
    pub feed: Arc<Feed>,
    /// Facts about this receiver (what `/api/events` says first).
    pub facts: SessionFacts,
    /// Where the journal is written, if anywhere.
    pub journal_path: Option<PathBuf>,
    /// Whether the listener is reachable only from this machine.
    pub loopback_only: bool,
    /// Signature checking settings, when on.
    pub auth: Option<AuthConfig>,
    /// Whether Tencent Cloud's `sign` is checked (`--tencent-key`).
    pub tencent_sign: bool,
    /// `--provider PATH_PREFIX=NAME` pins, as given.
    pub pins: crate::providers::Pins,
    /// What `--resume` rebuilt, when it was given.
    pub resumed: Option<ResumeReport>,
    /// The forwarding settings, when forwarding.
    pub forward: Option<ForwardConfig>,
    forwarder: Option<Forwarder>,
    alerting: Option<crate::alerting::ReceiverAlerts>,
    /// The background rebuild and what starts after it, while it runs.
    later: Option<tokio::task::JoinHandle<Result<Option<Later>, AppError>>>,
    /// Stops the background rebuild (shutdown).
    cancel: Arc<std::sync::atomic::AtomicBool>,
    stop_server: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    sequencer: Sequencer,
    sequencer_thread: JoinHandle<SequencerSummary>,
}

/// What starts once the state is whole: after the background rebuild of `--resume`.
struct Later {
    report: Option<ResumeReport>,
    forwarder: Option<Forwarder>,
    alerting: Option<crate::alerting::ReceiverAlerts>,
}

/// What a session did, printed at exit.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// Request counters.
    pub counters: Counters,
    /// Recordings held.
    pub recordings: usize,
    /// Journal lines written by this run.
    pub lines_written: u64,
    /// Requests refused for a bad signature.
    pub auth_failures: u64,
    /// Journal batches that could not be written (their requests got 503).
    pub journal_failures: u64,
    /// The journal path.
    pub journal_path: Option<PathBuf>,
    /// Each forwarding target: name, mode, delivered, pending, failed.
    pub forward: Vec<(String, ForwardMode, u64, usize, u64)>,
    /// How far the background rebuild of `--resume` had got when it was stopped, when it
    /// was (the counters are then only this run's rejections).
    pub unfinished_rebuild: Option<crate::core::rebuild::RebuildProgress>,
}

impl SessionSummary {
    /// The exit status of a session: an error when journal writes failed, so that a script
    /// running recmon notices that some callbacks were answered 503 and not recorded.
    pub fn exit_status(&self) -> Result<(), AppError> {
        if self.journal_failures > 0 {
            return Err(AppError::new(
                1,
                format!(
                    "{} failed during the session; the requests in them were answered 503 (the provider retries; nginx-rtmp and SRS, which do not, got 200 so that their streams went on) and are not in the journal",
                    count(self.journal_failures, "journal write", "journal writes")
                ),
            ));
        }
        Ok(())
    }
}

/// What `--resume` found in the journal it rebuilt the state from.
#[derive(Debug, Clone)]
pub struct ResumeReport {
    /// The journal.
    pub journal: PathBuf,
    /// Entries applied.
    pub entries: u64,
    /// The highest seq in the journal; new requests continue after it.
    pub last_seq: u64,
    /// Garbled middle lines and a cut-off last line, described (line number, byte offset).
    pub problems: Vec<String>,
    /// Callbacks the journal still owed the forwarding targets (sent again now).
    pub owed: usize,
    /// Until when the journal shows its last receiver's alerts sent: the file's modification
    /// time, which a receiver with alerts on marks every second and holds before the oldest
    /// event a hook has not delivered yet (see [`crate::alerting`]), and sets back to it after
    /// its last write at shutdown; the newest entry's `received_at` where the file has no mark.
    /// What the alert rules find firing then was already sent to the hooks (see
    /// [`already_paged`]).
    pub alive_until: Option<chrono::DateTime<Utc>>,
}

impl ResumeReport {
    /// The closing line: how many entries, from where, and where seq continues.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "recmon: resumed {} from {}; new requests continue at seq {}",
            count(self.entries, "entry", "entries"),
            self.journal.display(),
            thousands(self.last_seq + 1)
        );
        if !self.problems.is_empty() {
            line.push_str(&format!(
                "; {} skipped, listed above",
                count(self.problems.len() as u64, "damaged line", "damaged lines")
            ));
        }
        line
    }
}

/// Damaged lines printed one by one at resume before the rest are only counted.
const PROBLEMS_SHOWN: usize = 20;

/// Damaged lines quoted when a file is refused as not a journal.
const REFUSAL_LINES_SHOWN: usize = 3;

/// How long [`Service::start`] waits for a background rebuild before it returns anyway (the
/// banner, then the views, come after it). A journal that rebuilds within it starts as it
/// always did: its report printed first, the views on the whole state. A longer rebuild goes
/// on behind the views, which say "rebuilding N%". Callbacks are answered from the start
/// either way: the listener does not wait for this.
pub const RESUME_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What `--resume` learns before the listener answers, without reading the journal: its
/// length now (the rebuild reads that much; this receiver appends after it), the seq to
/// continue from (read from its tail), and when the file was last written.
struct ResumeStart {
    path: PathBuf,
    len: u64,
    last_seq: u64,
    marked: Option<chrono::DateTime<Utc>>,
}

/// Why `--resume` cannot read `path`, and what to do.
fn cannot_resume(path: &Path, e: &dyn fmt::Display) -> AppError {
    AppError::new(
        1,
        format!(
            "cannot resume from {}: {e}. Expected an existing recmon journal; to start a new one use --journal PATH",
            path.display()
        ),
    )
}

/// The part of `--resume` done before the listener answers: a file that has lines but not
/// one journal entry (a CSV, a log, the wrong file) is refused, untouched (resuming it would
/// append journal lines to someone else's file); it reads lines only up to the first entry,
/// so a journal is told at once. Then the last seq, from the tail.
fn start_resume(path: &Path) -> Result<ResumeStart, AppError> {
    let meta = std::fs::metadata(path).map_err(|e| cannot_resume(path, &e))?;
    // Read before anything is written to the file (a cut last line gets its newline later).
    let marked = meta.modified().ok().map(chrono::DateTime::<Utc>::from);
    let len = meta.len();
    if let Some(lines) = lines_before_an_entry(path, len).map_err(|e| cannot_resume(path, &e))? {
        return Err(not_a_journal(path, lines));
    }
    let last_seq =
        crate::core::journal::tail_seq(path, len).map_err(|e| cannot_resume(path, &e))?;
    Ok(ResumeStart {
        path: path.to_path_buf(),
        len,
        last_seq,
        marked,
    })
}

/// `Some(n)` when the first `len` bytes of `path` hold `n` > 0 damaged lines and no journal
/// line; `None` as soon as a journal line is read (or for an empty file).
fn lines_before_an_entry(path: &Path, len: u64) -> std::io::Result<Option<u64>> {
    let mut damaged = 0;
    let mut reader = JournalReader::open_prefix(path, len)?;
    while let Some(item) = reader.next_ref() {
        match item? {
            crate::core::journal::ItemRef::Damaged(_) => damaged += 1,
            _ => return Ok(None),
        }
    }
    Ok((damaged > 0).then_some(damaged))
}

/// What a background rebuild made, for the hand-over.
struct Rebuild {
    store: Store,
    deduper: Deduper,
    unsettled: Vec<crate::core::rebuild::Unsettled>,
    report: ResumeReport,
    recovery: Recovery,
}

/// Rebuilds the store and the deduper from what the journal held at start, on a thread of
/// its own while the listener answers: the stand-in store in `shared` shows how far it got
/// ("rebuilding N%"), and so does `bar` while start-up waits for it ([`RESUME_WAIT`]). Damaged
/// lines, then a count, are printed on stderr (not while the terminal UI owns the screen).
/// `None` when `cancel` stopped it (shutdown).
fn rebuild_for_resume(
    start: &ResumeStart,
    log_capacity: usize,
    shared: &SharedStore,
    bar: &indicatif::ProgressBar,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Option<Rebuild>, AppError> {
    let path = &start.path;
    let mut newest: Option<chrono::DateTime<Utc>> = None;
    let mut store = Store::new(log_capacity);
    let mut deduper = Deduper::default();
    // Read whether or not this run forwards: what the journal still owes a target that is
    // not given now is reported.
    let mut recovery = Recovery::default();
    let mut shown = 0;
    let (rebuilt, unsettled) = crate::core::rebuild::rebuild_prefix(
        path,
        start.len,
        &mut store,
        &mut deduper,
        |read| {
            bar.set_position(read);
            let progress = crate::core::rebuild::RebuildProgress {
                read,
                total: start.len,
            };
            if progress.percent() != shown {
                shown = progress.percent();
                shared.lock().set_rebuilding(Some(progress));
                shared.notify();
            }
        },
        |line, cb| {
            if let crate::core::rebuild::LineRef::Request(e) = line {
                newest = newest.max(Some(e.received_at));
            }
            recovery.observe(line, cb);
        },
        cancel,
    )
    .map_err(|e| cannot_resume(path, &e))?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(None);
    }
    if rebuilt.last_seq > start.last_seq {
        // Only a journal whose lines are out of seq order (not one recmon wrote) gets here.
        tracing::error!(
            "{}: seq {} is in the journal before its last line's seq {}; new lines continue at {}, so seq numbers repeat",
            path.display(),
            rebuilt.last_seq,
            start.last_seq,
            start.last_seq + 1
        );
    }
    let report = ResumeReport {
        journal: path.to_path_buf(),
        entries: rebuilt.entries,
        last_seq: start.last_seq,
        problems: rebuilt.problems,
        owed: recovery.owed(),
        alive_until: start.marked.or(newest),
    };
    for p in report.problems.iter().take(PROBLEMS_SHOWN) {
        eprint_line(bar, &format!("recmon: resume: {}: {p}", path.display()));
    }
    if report.problems.len() > PROBLEMS_SHOWN {
        eprint_line(
            bar,
            &format!(
                "recmon: resume: … and {}",
                count(
                    (report.problems.len() - PROBLEMS_SHOWN) as u64,
                    "more damaged line",
                    "more damaged lines"
                )
            ),
        );
    }
    Ok(Some(Rebuild {
        store,
        deduper,
        unsettled,
        report,
        recovery,
    }))
}

/// Marks as already sent the alerts that were firing when the resumed journal's last
/// receiver stopped, so that a restart does not page them again: the rules are evaluated once
/// on the rebuilt store at `alive_until` (never later than now), before the engine's first
/// tick, and what fires then goes into the alert book without going to `--alert-exec`,
/// `--alert-webhook` or the feed. From the first tick on, only changes are sent: an alert
/// that resolves is sent as resolved, one that starts firing is sent.
///
/// Why this and not journaled alert transitions: the journal stays one request per line for
/// every reader, and a receiver with alerts on marks the journal's modification time every
/// second (held back while a hook still owes an event), so `alive_until` is within a second
/// of when its pages were last all sent, even after a crash.
/// What this cannot know, and how it errs: an alert that became due only by time passing
/// after that (a pause crossing its threshold while no receiver ran) is sent at the restart,
/// as it was never sent; a journal last written with `--no-alerts` (no marks) is taken as
/// having paged what held at its newest entry. Sending twice is preferred over never.
fn already_paged(store: &mut Store, alive_until: Option<chrono::DateTime<Utc>>) {
    let Some(at) = alive_until else {
        return;
    };
    let _ = crate::core::alerts::tick(store, at.min(Utc::now()));
}

/// The refusal of a file with `lines` lines, none of them a journal entry: which lines, why,
/// and what a journal line looks like. The file is read again for the first few lines' reasons
/// (only on this error path, so the rebuild keeps no per-line detail it rarely needs).
fn not_a_journal(path: &Path, lines: u64) -> AppError {
    let mut reasons = Vec::new();
    if let Ok(reader) = JournalReader::open(path) {
        for item in reader.map_while(Result::ok).take(REFUSAL_LINES_SHOWN) {
            reasons.push(match item {
                ReadItem::Garbled { line, error, .. } => format!("  line {line}: {error}"),
                ReadItem::PartialTail { line, bytes, .. } => format!(
                    "  line {line}: {} with no newline at the end, not a journal entry",
                    count(bytes, "byte", "bytes")
                ),
                ReadItem::Entry(_) | ReadItem::Delivery(_) => continue,
            });
        }
    }
    if lines > reasons.len() as u64 {
        reasons.push(format!(
            "  … {} not shown",
            count(lines - reasons.len() as u64, "more line", "more lines")
        ));
    }
    AppError::new(
        2,
        format!(
            "{} is not a recmon journal: {} a journal entry, so --resume leaves it untouched.\n{}\nA journal holds {}.\nGive --resume the recmon-*.jsonl file of the session to continue, or start a new journal with --journal NEW.jsonl",
            path.display(),
            if lines == 1 {
                "its one line is not".to_string()
            } else {
                format!("none of its {} lines is", thousands(lines))
            },
            reasons.join("\n"),
            LINE_SHAPE
        ),
    )
}

/// Opens the journal for writing and takes its lock, before anything is read or written:
/// a second writer is refused with the first one's pid, a directory is refused with a file
/// name to use inside it, and with `--journal` an earlier session's journal is refused with
/// the `--resume` that continues it. Nothing is written here.
///
/// `--resume` of a path where no file exists yet creates it (and says so), so that one
/// command line works on a service's first start and on every restart; the flag in the
/// returned pair is then true and there is nothing to rebuild.
/// The folder a journal path names that does not exist, when that is why opening it failed:
/// "No such file or directory" alone reads as if the journal itself had to exist.
fn missing_folder<'a>(path: &'a Path, e: &std::io::Error) -> Option<&'a Path> {
    if e.kind() != std::io::ErrorKind::NotFound {
        return None;
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    (!folder.exists()).then_some(folder)
}

/// The folder a new journal could not be created in for want of permission (or on a
/// read-only file system), named in full: "Permission denied" alone does not say which.
fn unwritable_folder(path: &Path, e: &std::io::Error) -> Option<PathBuf> {
    let denied = e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(30);
    if !denied || std::fs::symlink_metadata(path).is_ok() {
        return None;
    }
    let folder = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(f) => f.to_path_buf(),
        None => PathBuf::from("."),
    };
    Some(std::fs::canonicalize(&folder).unwrap_or(folder))
}

/// Why an existing file is not a recmon journal (its first line's reason), or `None` when it
/// is one (a journal line comes before the end; read no further than it) or is not readable
/// (the open reports that).
fn not_a_journal_line(path: &Path) -> Option<String> {
    let mut first = None;
    for item in JournalReader::open(path).ok()? {
        match item.ok()? {
            ReadItem::Entry(_) | ReadItem::Delivery(_) => return None,
            damaged => {
                if first.is_none() {
                    first = crate::core::rebuild::problem_text(&damaged);
                }
            }
        }
    }
    first
}

/// The first port after `port` that `ip` can listen on now (a probe: bound and let go), for
/// the hint of a port in use.
fn free_port_after(ip: std::net::IpAddr, port: u16) -> Option<u16> {
    (port.saturating_add(1)..=port.saturating_add(100))
        .filter(|p| *p != port)
        .find(|p| std::net::TcpListener::bind((ip, *p)).is_ok())
}

fn take_journal(path: &Path, resuming: bool) -> Result<(LockedJournal, bool), AppError> {
    let flag = if resuming { "--resume" } else { "--journal" };
    let starting = resuming && std::fs::symlink_metadata(path).is_err();
    if path.is_dir() {
        let inside = path.join(default_path(Utc::now()));
        return Err(AppError::new(
            2,
            if resuming {
                format!(
                    "--resume {} is a directory; it takes the journal file to continue, e.g. --resume {}",
                    path.display(),
                    path.join("recmon-YYYYmmdd-HHMMSS.jsonl").display()
                )
            } else {
                format!(
                    "--journal {} is a directory; the journal is a file. To keep it in that directory, use --journal {}",
                    path.display(),
                    inside.display()
                )
            },
        ));
    }
    let locked = LockedJournal::open(path, !resuming || starting).map_err(|e| match e {
        OpenError::Locked { pid } => AppError::new(
            1,
            format!(
                "the journal {} is in use: {}. Two writers would mix their lines and repeat seq numbers. Stop {} first, or give this recmon its own file with --journal NEW.jsonl",
                path.display(),
                OpenError::Locked { pid },
                pid.map_or_else(|| "it".to_string(), |p| format!("it (kill {p})")),
            ),
        ),
        OpenError::Io(e) if starting => AppError::new(
            1,
            match missing_folder(path, &e) {
                Some(folder) => format!(
                    "cannot start the journal {} for --resume (there is none yet): the folder {} does not exist. Create it first (mkdir -p {}), or pick another path",
                    path.display(),
                    folder.display(),
                    folder.display()
                ),
                None => format!(
                    "cannot start the journal {} for --resume (there is none yet): {e}. Pick a writable path",
                    path.display()
                ),
            },
        ),
        OpenError::Io(e) if resuming => AppError::new(
            1,
            format!(
                "cannot resume from {}: {e}. Expected an existing recmon journal; to start a new one use --journal PATH",
                path.display()
            ),
        ),
        OpenError::Io(e) if unwritable_folder(path, &e).is_some() => AppError::new(
            1,
            format!(
                "cannot create the journal {}: the folder {} is not writable ({e}). Pick a folder you can write to with {flag}, or run with --no-journal",
                path.display(),
                unwritable_folder(path, &e).unwrap_or_default().display()
            ),
        ),
        OpenError::Io(e) => AppError::new(
            1,
            match missing_folder(path, &e) {
                Some(folder) => format!(
                    "cannot open the journal {}: the folder {} does not exist. Create it first (mkdir -p {}), or pick another path with {flag}",
                    path.display(),
                    folder.display(),
                    folder.display()
                ),
                None => format!(
                    "cannot open the journal {}: {e}. Pick a writable path with {flag}, or run with --no-journal",
                    path.display()
                ),
            },
        ),
    })?;
    if !resuming {
        // Appending to an old journal without rebuilding its state would restart seq at 1
        // and leave the journal and the state disagreeing.
        let len = locked.len().unwrap_or(0);
        if len > 0 {
            if let Some(why) = not_a_journal_line(path) {
                // Not a journal: --resume would refuse it too, so do not suggest it.
                let name = default_path(Utc::now());
                let new = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(folder) => folder.join(name),
                    None => name,
                };
                return Err(AppError::new(
                    2,
                    format!(
                        "--journal {} is an existing file that is not a recmon journal ({}); recmon writes only to a new or empty file, and leaves this one untouched. Give the journal a path of its own, e.g. --journal {}",
                        path.display(),
                        crate::util::sanitize::terminal(&why, 200),
                        new.display()
                    ),
                ));
            }
            return Err(AppError::new(
                2,
                format!(
                    "the journal {} already holds {} from an earlier session. Continue it with --resume {} (rebuilds the state, continues its seq), or pick a new path with --journal",
                    path.display(),
                    count(len, "byte", "bytes"),
                    path.display()
                ),
            ));
        }
    }
    if starting {
        crate::util::output::eline(&format!(
            "recmon: --resume {}: no journal there yet, so a new one is started; restarting with the same command continues it",
            path.display()
        ));
    }
    Ok((locked, starting))
}

impl Service {
    /// Opens the journal (rebuilding the state from it with `--resume`), binds the listener
    /// and starts serving.
    pub async fn start(cfg: ServiceConfig) -> Result<Service, AppError> {
        // The port first: a busy port is reported at once, before a long resume and without
        // leaving an empty journal file behind.
        let bound = match TcpListener::bind(cfg.listen).await {
            // The demo only needs some port: if the usual one is taken, take any free one.
            Err(e) if cfg.any_port_if_taken && e.kind() == std::io::ErrorKind::AddrInUse => {
                crate::util::output::eline(&format!(
                    "recmon: port {} is taken; the demo listens on a free port instead (shown below)",
                    cfg.listen.port()
                ));
                TcpListener::bind(SocketAddr::new(cfg.listen.ip(), 0)).await
            }
            other => other,
        };
        let listener = bound.map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                let ip = match cfg.listen.ip() {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                };
                format!(
                    ". Another program (another recmon?) is using port {}; stop it or pick another port, e.g. --listen {ip}:{}",
                    cfg.listen.port(),
                    free_port_after(cfg.listen.ip(), cfg.listen.port())
                        .map_or_else(|| "0 (any free port)".to_string(), |p| p.to_string())
                )
            } else {
                String::new()
            };
            AppError::new(1, format!("cannot listen on {}: {e}{hint}", cfg.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| AppError::new(1, e.to_string()))?;

        let (journal_path, mut resume) = match &cfg.journal {
            JournalChoice::Off => (None, None),
            JournalChoice::New(p) => (Some(p.clone()), None),
            JournalChoice::Resume(p) => (Some(p.clone()), Some(p.clone())),
        };
        // The journal's lock is taken before the resume reads it, so that a second writer
        // is refused at once, not after rebuilding a state it could not write to.
        let locked = match journal_path.as_deref() {
            Some(p) => {
                let (locked, started) = take_journal(p, resume.is_some())?;
                if started {
                    resume = None;
                }
                Some(locked)
            }
            None => None,
        };
        // A journal continued keeps its id; a new one gets its own, even in a file that held
        // another journal before.
        let journal_id = locked.as_ref().and_then(|l| match resume {
            Some(_) => l.id(),
            None => l.start_id(),
        });

        // --resume: the refusal of a file that is not a journal and the seq to continue from
        // come first, without reading the journal; the rebuild itself goes on in the
        // background while the listener answers (see `crate::core::rebuild`).
        let resume = match &resume {
            Some(path) => Some(start_resume(path)?),
            None => None,
        };
        let rebuilding = resume.as_ref().is_some_and(|r| r.len > 0);
        let forward = cfg.forward.clone();
        let async_forward = forward.as_ref().filter(|f| f.mode == ForwardMode::Async);
        let target_names: Vec<String> = forward
            .iter()
            .flat_map(|f| f.targets.iter().map(|t| t.name.clone()))
            .collect();
        // The store's settings: on the stand-in the views show during a rebuild, and on the
        // rebuilt store.
        let prepare = {
            let (forward, alerts) = (forward.clone(), cfg.alerts.clone());
            move |store: &mut Store| {
                store.retain_forward_targets(&target_names);
                if let Some(f) = &forward {
                    for t in &f.targets {
                        store.forward_target(&t.name, f.mode);
                    }
                }
                if let Some(a) = &alerts {
                    store.set_alert_config(a.clone());
                }
            }
        };
        let mut store = Store::new(cfg.log_capacity);
        prepare(&mut store);
        if let Some(r) = resume.as_ref().filter(|_| rebuilding) {
            store.set_rebuilding(Some(crate::core::rebuild::RebuildProgress {
                read: 0,
                total: r.len,
            }));
        }
        let next_seq = resume.as_ref().map_or(1, |r| r.last_seq + 1);

        let journal = match locked {
            Some(locked) => {
                let path = locked.path().to_path_buf();
                Some(JournalFile::from_locked(locked, cfg.fsync).map_err(|e| {
                    AppError::new(
                        1,
                        format!(
                            "cannot write the journal {}: {e}. Pick a writable path with --journal, or run with --no-journal",
                            path.display()
                        ),
                    )
                })?)
            }
            None => None,
        };

        let shared = SharedStore::new(store);
        let feed = Feed::new(journal_path.clone(), next_seq - 1);
        let sender = match &forward {
            Some(f) => Some(Sender::new(f).map_err(|e| AppError::new(2, e))?),
            None => None,
        };
        let forwarding = async_forward.map(|f| ForwardPlan {
            targets: f.targets.iter().map(|t| t.name.clone()).collect(),
            skip_duplicates: f.skip_duplicates,
        });
        // The forwarder follows the feed from here: what is committed before it starts (it
        // starts after a rebuild) is read back from the ring or the journal.
        let forward_feed = async_forward.map(|_| feed.subscribe(next_seq - 1));
        let (sequencer, sequencer_thread) = Sequencer::start(
            journal,
            shared.clone(),
            feed.clone(),
            (!rebuilding).then(Deduper::default),
            next_seq,
            forwarding,
        );
        let mut server_cfg = cfg.server;
        if let Some(f) = &forward {
            // The outbox resends from the journal, so it must keep every header it forwards.
            server_cfg.keep_all_headers = true;
            if f.mode == ForwardMode::Sync {
                server_cfg.forward_sync = Some(SyncForward {
                    target: std::sync::Arc::new(f.targets[0].clone()),
                    sender: sender.clone().expect("a sender for the targets"),
                });
            }
        }
        let auth = server_cfg.auth.clone();
        let tencent_sign = server_cfg.tencent_key.is_some();
        let pins = server_cfg.pins.clone();
        let facts = SessionFacts {
            version: env!("CARGO_PKG_VERSION").to_string(),
            listen: addr.to_string(),
            journal: journal_path.as_ref().map(|p| p.display().to_string()),
            started_at: Utc::now(),
            signature_checking: auth.is_some(),
            last_seq: next_seq - 1,
            journal_id,
            alerts: cfg
                .alerts
                .as_ref()
                .map(crate::core::feed::AlertSettings::from),
        };
        // The listener answers from here on, whatever the rebuild is doing.
        let (stop_server, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            server_cfg,
            sequencer.clone(),
            shared.clone(),
            Published {
                feed: feed.clone(),
                facts: facts.clone(),
            },
            async move {
                let _ = stop_rx.await;
            },
            std::time::Duration::from_secs(10),
        ));

        // What needs the whole state: the forwarder (what the journal still owes), the alert
        // engine (what was already paged), the resume report. At once without a rebuild;
        // after the hand-over with one.
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let bar = match resume.as_ref().filter(|_| rebuilding) {
            Some(r) => journal_bar(r.len, "resume"),
            None => indicatif::ProgressBar::hidden(),
        };
        let later = {
            let (shared, feed, sequencer, cancel, bar) = (
                shared.clone(),
                feed.clone(),
                sequencer.clone(),
                cancel.clone(),
                bar.clone(),
            );
            let (capacity, alerts, sinks) = (cfg.log_capacity, cfg.alerts.clone(), cfg.alert_sinks);
            let journal_path = journal_path.clone();
            let async_forward = async_forward.cloned();
            tokio::spawn(async move {
                let rebuilt = match resume {
                    Some(start) if start.len > 0 => {
                        let (shared, cancel, bar) = (shared.clone(), cancel.clone(), bar.clone());
                        let done = tokio::task::spawn_blocking(move || {
                            rebuild_for_resume(&start, capacity, &shared, &bar, &cancel)
                        })
                        .await
                        .map_err(|e| AppError::new(1, format!("resume failed: {e}")))
                        .and_then(|r| r);
                        match done {
                            Ok(Some(r)) => Some(r),
                            Ok(None) => return Ok(None),
                            Err(e) => {
                                tracing::error!("{}", e.message);
                                return Err(e);
                            }
                        }
                    }
                    // An empty journal: nothing to rebuild.
                    Some(start) => Some(Rebuild {
                        store: Store::new(capacity),
                        deduper: Deduper::default(),
                        unsettled: Vec::new(),
                        report: ResumeReport {
                            journal: start.path,
                            entries: 0,
                            last_seq: start.last_seq,
                            problems: Vec::new(),
                            owed: 0,
                            alive_until: start.marked,
                        },
                        recovery: Recovery::default(),
                    }),
                    None => None,
                };
                let (outbox, report) = match rebuilt {
                    Some(mut r) => {
                        prepare(&mut r.store);
                        // What the journal owes each target given now (async), and what it
                        // owes others.
                        let async_names: Vec<String> = async_forward
                            .iter()
                            .flat_map(|f| f.targets.iter().map(|t| t.name.clone()))
                            .collect();
                        let (outbox, dropped) = r.recovery.into_outbox(&async_names);
                        for (target, n) in &dropped {
                            let t = crate::util::sanitize::terminal(target, 200);
                            eprint_line(&bar, &format!(
                                "recmon: resume: {} still owed to {t} are not sent: that target is not given now (add --forward-to {t} to deliver them)",
                                count(*n, "callback", "callbacks"),
                            ));
                        }
                        r.report.owed = outbox.values().map(Vec::len).sum();
                        if alerts.is_some() {
                            already_paged(&mut r.store, r.report.alive_until);
                        }
                        if rebuilding {
                            let unsettled = r.unsettled.len();
                            sequencer
                                .rebuilt(RebuiltState::new(r.store, r.deduper, r.unsettled))
                                .await
                                .map_err(|e| AppError::new(1, format!("resume failed: {}", e.0)))?;
                            if unsettled > 0 {
                                eprint_line(&bar, &format!(
                                    "recmon: resume: {} answered while an earlier run was still rebuilding (journaled as pending) now decided and journaled settled",
                                    count(unsettled as u64, "callback", "callbacks")
                                ));
                            }
                        }
                        eprint_line(&bar, &r.report.summary_line());
                        (outbox, Some(r.report))
                    }
                    None => (Default::default(), None),
                };
                let forwarder = match (&async_forward, forward_feed, &sender) {
                    (Some(f), Some(sub), Some(sender)) => Some(crate::forward::start_async(
                        f,
                        sender.clone(),
                        sequencer.clone(),
                        sub,
                        outbox,
                    )),
                    _ => None,
                };
                let alerting = alerts.is_some().then(|| {
                    crate::alerting::start_receiver_marking(
                        shared.clone(),
                        feed.clone(),
                        sinks,
                        journal_path.as_deref(),
                    )
                });
                Ok(Some(Later {
                    report,
                    forwarder,
                    alerting,
                }))
            })
        };
        let mut service = Service {
            addr,
            shared,
            feed,
            facts,
            journal_path,
            loopback_only: addr.ip().is_loopback(),
            auth,
            tencent_sign,
            pins,
            resumed: None,
            forward,
            forwarder: None,
            alerting: None,
            later: Some(later),
            cancel,
            stop_server,
            server,
            sequencer,
            sequencer_thread,
        };
        // A short rebuild is waited for, so that its report comes before the banner and the
        // views start on the whole state; a long one goes on behind them.
        let waited =
            tokio::time::timeout(RESUME_WAIT, service.later.as_mut().expect("just set")).await;
        bar.finish_and_clear();
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        if let Ok(joined) = waited {
            service.later = None;
            // A failed rebuild ends the start (dropping the service closes the listener):
            // what was answered meanwhile is in the journal, pending, for the next --resume.
            let later = joined.map_err(|e| AppError::new(1, format!("resume failed: {e}")))??;
            service.take(later);
        }
        Ok(service)
    }

    /// Puts what was started after the rebuild in its place.
    fn take(&mut self, later: Option<Later>) {
        if let Some(l) = later {
            self.resumed = l.report;
            self.forwarder = l.forwarder;
            self.alerting = l.alerting;
        }
    }

    /// Stops accepting, finishes requests in flight, writes and fsyncs the journal. A
    /// background rebuild still running is stopped: the callbacks journaled as pending
    /// meanwhile are decided by the next `--resume`.
    pub async fn shutdown(mut self) -> SessionSummary {
        let mut unfinished = None;
        if let Some(later) = self.later.take() {
            unfinished = self.shared.lock().rebuilding();
            self.cancel
                .store(true, std::sync::atomic::Ordering::Relaxed);
            match later.await {
                Ok(Ok(l)) => {
                    if l.is_some() {
                        unfinished = None;
                    }
                    self.take(l);
                }
                Ok(Err(e)) => {
                    crate::util::output::eline(&format!("recmon: {}", e.message));
                }
                Err(_) => {}
            }
        }
        if let Some(a) = &self.alerting {
            a.abort();
        }
        // Long-lived `/api/events` responses end first, so that the listener can drain.
        self.feed.close();
        let _ = self.stop_server.send(());
        let _ = self.server.await;
        // Attempts in flight finish and journal their result; what is still owed stays in the
        // journal for the next --resume.
        if let Some(f) = self.forwarder {
            f.shutdown().await;
        }
        self.sequencer.stop().await;
        drop(self.sequencer);
        let thread = self.sequencer_thread;
        let written = tokio::task::spawn_blocking(move || thread.join())
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        if let Some(a) = &self.alerting {
            a.after_last_write();
        }
        let store = self.shared.lock();
        SessionSummary {
            counters: store.counters(),
            recordings: store.recordings().len(),
            lines_written: written.lines_written,
            auth_failures: store.auth_failures(),
            journal_failures: store.journal_failures().0,
            journal_path: self.journal_path,
            forward: store
                .forward_targets()
                .iter()
                .map(|t| (t.name.clone(), t.mode, t.delivered, t.pending(), t.failed))
                .collect(),
            unfinished_rebuild: unfinished,
        }
    }
}

impl Service {
    /// Lines printed at start (on stderr, so stdout stays the request stream).
    pub fn banner(&self) -> Vec<String> {
        let session = self;
        let mut lines = vec![format!("recmon: listening on http://{}", session.addr)];
        if session.loopback_only {
            lines.push(format!(
            "recmon: {} is loopback only: the provider cannot reach it. For real use: recmon --listen 0.0.0.0:{}",
            session.addr.ip(),
            session.addr.port()
        ));
        }
        match &session.auth {
        Some(a) => {
            lines.push(format!(
                "recmon: signature checking: on (host: {}, max age: {})",
                a.host_override
                    .as_deref()
                    .map(|h| format!("{h} (--auth-host)"))
                    .unwrap_or_else(|| "from the Host header".into()),
                if a.max_age_secs == 0 {
                    "unchecked".to_string()
                } else {
                    format!("{} s", a.max_age_secs)
                }
            ));
            if !a.key_looks_valid() {
                lines.push(
                    "recmon: warning: the auth key is not 16 to 64 letters and digits, as the provider's NotifyAuthKey is; check it"
                        .into(),
                );
            }
        }
        None if !session.loopback_only => lines.push(format!(
            "recmon: WARNING: listening on {} with no signature checking: anyone who can reach this port can forge callbacks. Set RECMON_AUTH_KEY to your NotifyAuthKey.",
            session.addr
        )),
        None => lines.push("recmon: signature checking: off (set RECMON_AUTH_KEY to turn it on)".into()),
    }
        if session.tencent_sign {
            lines.push(
                "recmon: Tencent Cloud sign checking: on (--tencent-key); nginx-rtmp and SRS sign nothing"
                    .into(),
            );
        }
        if !session.pins.is_empty() {
            lines.push(format!(
                "recmon: providers pinned by path: {}",
                session.pins
            ));
        }
        if session.auth.is_some() {
            lines.push(
                "recmon: with --auth-key, nginx-rtmp and SRS callbacks (which sign nothing) are read only on paths pinned to them, e.g. --provider /nginx=nginx-rtmp"
                    .into(),
            );
        }
        if let Some(f) = &session.forward {
            for t in &f.targets {
                lines.push(match f.mode {
                    ForwardMode::Async => format!(
                        "recmon: forwarding every callback to {} (async: at least once, each stream in order, retried for {}){}",
                        t.name,
                        crate::util::human::duration_words(f.give_up),
                        match session.resumed.as_ref().map(|r| r.owed) {
                            Some(n) if n > 0 => format!("; {} owed from the journal, sending now", count(n as u64, "callback", "callbacks")),
                            _ => String::new(),
                        }
                    ),
                    ForwardMode::Sync => format!(
                        "recmon: forwarding every callback to {} (sync: the provider gets the backend's answer, or 502/504 after {})",
                        t.name,
                        crate::util::human::duration_words(f.timeout)
                    ),
                });
            }
            if f.mode == ForwardMode::Sync && f.timeout > std::time::Duration::from_secs(5) {
                lines.push(format!(
                    "recmon: warning: --forward-timeout {} is longer than the provider waits (about 5 s): it will retry before the backend's answer can reach it",
                    crate::util::human::duration_words(f.timeout)
                ));
            }
            if session.journal_path.is_none() && f.mode == ForwardMode::Async {
                lines.push("recmon: warning: with --no-journal the outbox is in memory only: callbacks not yet delivered when recmon stops are lost".into());
            }
        }
        lines.push(match &session.journal_path {
            Some(p) => format!("recmon: journal: {}", p.display()),
            None => {
                "recmon: journal: off (--no-journal); requests are not kept on disk".to_string()
            }
        });
        // Where to watch from: a wildcard listen address is reached on loopback here.
        let ip = match session.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
            ip if ip.is_unspecified() => "[::1]".to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        };
        lines.push(format!(
            "recmon: watch from another terminal: recmon attach http://{ip}:{}",
            session.addr.port()
        ));
        lines
    }
}

impl SessionSummary {
    /// The summary printed at exit.
    pub fn lines(&self) -> Vec<String> {
        let s = self;
        vec![
            format!(
                "recmon: stopped. requests: {} accepted, {} duplicate, {} rejected ({}); {}",
                thousands(s.counters.accepted),
                thousands(s.counters.duplicate),
                thousands(s.counters.rejected),
                count(s.auth_failures, "bad signature", "bad signatures"),
                count(s.recordings as u64, "recording", "recordings")
            ),
            match &s.journal_path {
                Some(p) => format!(
                    "recmon: journal: {} ({} this run)",
                    p.display(),
                    count(s.lines_written, "line written", "lines written")
                ),
                None => "recmon: journal: off".to_string(),
            },
        ]
        .into_iter()
        .chain(s.unfinished_rebuild.map(|p| {
            format!(
                "recmon: stopped before the state was rebuilt from the journal ({}%), so the counts above are not the journal's; the callbacks answered meanwhile are in it as pending, and the next --resume decides and applies them",
                p.percent()
            )
        }))
        .chain(
            s.forward
                .iter()
                .map(|(name, mode, delivered, pending, failed)| {
                    format!(
                        "recmon: forward to {name} ({}): {} delivered, {} pending{}, {} failed{}",
                        mode.as_str(),
                        thousands(*delivered),
                        thousands(*pending as u64),
                        if *pending > 0 {
                            " (recmon --resume JOURNAL delivers them)"
                        } else {
                            ""
                        },
                        thousands(*failed),
                        if *failed > 0 {
                            " (listed in /api/state; resend with recmon replay --seq)"
                        } else {
                            ""
                        },
                    )
                }),
        )
        .collect()
    }
}
