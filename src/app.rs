//! Wiring: opens the journal, builds the store, starts the sequencer and the listener, runs a
//! view, and shuts everything down in order.

use std::fmt;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::auth::AuthConfig;
use crate::cli::RunArgs;
use crate::headless::{write_output, Printer};
use crate::human::{count, thousands};
use crate::journal::{
    default_path, JournalFile, JournalReader, LockedJournal, OpenError, ReadItem, LINE_SHAPE,
};
use crate::pipeline::{rebuild, Sequencer, SequencerSummary};
use crate::progress::{eprint_line, journal_bar};
use crate::server::{serve, ServerConfig};
use crate::store::{Counters, Deduper, SharedStore, Store};

/// An error that ends recmon, with the exit code it maps to.
#[derive(Debug)]
pub struct AppError {
    /// What to tell the user: what happened, and what to do.
    pub message: String,
    /// Process exit code.
    pub code: i32,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl AppError {
    /// An error with its exit code (1: failure, 2: usage).
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        AppError {
            message: message.into(),
            code,
        }
    }
}

/// A running listener + sequencer + store.
pub struct Session {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The store the views read.
    pub shared: Arc<SharedStore>,
    /// Where the journal is written, if anywhere.
    pub journal_path: Option<PathBuf>,
    /// Whether the listener is reachable only from this machine.
    pub loopback_only: bool,
    /// Signature checking settings, when on.
    pub auth: Option<AuthConfig>,
    /// What `--resume` rebuilt, when it was given.
    pub resumed: Option<ResumeReport>,
    /// The `--demo` simulator, running against this session's listener.
    demo: Option<tokio::task::JoinHandle<()>>,
    stop_server: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    sequencer: Sequencer,
    sequencer_thread: JoinHandle<SequencerSummary>,
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
}

impl SessionSummary {
    /// The exit status of a session: an error when journal writes failed, so that a script
    /// running recmon notices that some callbacks were answered 503 and not recorded.
    pub fn exit_status(&self) -> Result<(), AppError> {
        if self.journal_failures > 0 {
            return Err(AppError::new(
                1,
                format!(
                    "{} failed during the session; the requests in them were answered 503 (the provider retries) and are not in the journal",
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

/// Rebuilds the store and the deduper from `path` for `--resume`, with a progress bar on a
/// terminal, and prints what it found (damaged lines, then a count) on stderr, before any
/// view starts. Blocking. A file that has lines but not one journal entry (a CSV, a log, the
/// wrong file) is refused: resuming it would append journal lines to someone else's file.
fn rebuild_for_resume(
    path: &Path,
    log_capacity: usize,
) -> Result<(Store, Deduper, ResumeReport), AppError> {
    let cannot = |e: &dyn fmt::Display| {
        AppError::new(
            1,
            format!(
                "cannot resume from {}: {e}. Expected an existing recmon journal; to start a new one use --journal PATH",
                path.display()
            ),
        )
    };
    let size = std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| cannot(&e))?;
    let mut store = Store::new(log_capacity);
    let mut deduper = Deduper::default();
    let bar = journal_bar(size, "resume");
    let rebuilt =
        rebuild(path, &mut store, &mut deduper, |o| bar.set_position(o)).map_err(|e| cannot(&e))?;
    bar.finish_and_clear();
    if rebuilt.entries == 0 && !rebuilt.problems.is_empty() {
        return Err(not_a_journal(path, rebuilt.problems.len() as u64));
    }
    let report = ResumeReport {
        journal: path.to_path_buf(),
        entries: rebuilt.entries,
        last_seq: rebuilt.last_seq,
        problems: rebuilt.problems,
    };
    for p in report.problems.iter().take(PROBLEMS_SHOWN) {
        eprint_line(&bar, &format!("recmon: resume: {}: {p}", path.display()));
    }
    if report.problems.len() > PROBLEMS_SHOWN {
        eprint_line(
            &bar,
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
    crate::output::eline(&report.summary_line());
    Ok((store, deduper, report))
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
                ReadItem::Entry(_) => continue,
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
fn take_journal(path: &Path, resuming: bool) -> Result<LockedJournal, AppError> {
    let flag = if resuming { "--resume" } else { "--journal" };
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
    let locked = LockedJournal::open(path, !resuming).map_err(|e| match e {
        OpenError::Locked { pid } => AppError::new(
            1,
            format!(
                "the journal {} is in use: {}. Two writers would mix their lines and repeat seq numbers. Stop {} first, or give this recmon its own file with --journal NEW.jsonl",
                path.display(),
                OpenError::Locked { pid },
                pid.map_or_else(|| "it".to_string(), |p| format!("it (kill {p})")),
            ),
        ),
        OpenError::Io(e) if resuming => AppError::new(
            1,
            format!(
                "cannot resume from {}: {e}. Expected an existing recmon journal; to start a new one use --journal PATH",
                path.display()
            ),
        ),
        OpenError::Io(e) => AppError::new(
            1,
            format!(
                "cannot open the journal {}: {e}. Pick a writable path with {flag}, or run with --no-journal",
                path.display()
            ),
        ),
    })?;
    if !resuming {
        // Appending to an old journal without rebuilding its state would restart seq at 1
        // and leave the journal and the state disagreeing.
        let len = locked.len().unwrap_or(0);
        if len > 0 {
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
    Ok(locked)
}

impl Session {
    /// Opens the journal (rebuilding the state from it with `--resume`), binds the listener,
    /// starts serving, and with `--demo` starts the simulator against it.
    pub async fn start(args: &RunArgs) -> Result<Session, AppError> {
        // Usage checks and the port first: a mistake or a busy port is reported at once,
        // before a long resume and without leaving an empty journal file behind.
        let auth = match args.auth_key.as_deref() {
            Some("") => {
                return Err(AppError::new(
                    2,
                    "--auth-key (or RECMON_AUTH_KEY) is empty: set it to your NotifyAuthKey",
                ))
            }
            Some(k) => Some(AuthConfig::new(
                k.to_string(),
                args.auth_host.clone(),
                args.auth_max_age,
            )),
            None => None,
        };
        let bound = match TcpListener::bind(args.listen).await {
            // The demo only needs some port: if the usual one is taken, take any free one.
            Err(e) if args.demo && e.kind() == std::io::ErrorKind::AddrInUse => {
                crate::output::eline(&format!(
                    "recmon: port {} is taken; the demo listens on a free port instead (shown below)",
                    args.listen.port()
                ));
                TcpListener::bind(SocketAddr::new(args.listen.ip(), 0)).await
            }
            other => other,
        };
        let listener = bound.map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    ". Another program (another recmon?) is using port {}; stop it or pick another port, e.g. --listen {}:{}",
                    args.listen.port(),
                    args.listen.ip(),
                    args.listen.port().wrapping_add(1)
                )
            } else {
                String::new()
            };
            AppError::new(1, format!("cannot listen on {}: {e}{hint}", args.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| AppError::new(1, e.to_string()))?;

        let journal_path = if args.no_journal {
            None
        } else if let Some(p) = &args.resume {
            Some(p.clone())
        } else {
            Some(args.journal.clone().unwrap_or_else(|| {
                let path = default_path(Utc::now());
                if args.demo {
                    // Name demo journals so they are easy to tell from real sessions.
                    PathBuf::from(
                        path.to_string_lossy()
                            .replacen("recmon-", "recmon-demo-", 1),
                    )
                } else {
                    path
                }
            }))
        };
        // The journal's lock is taken before the resume reads it, so that a second writer
        // is refused at once, not after rebuilding a state it could not write to.
        let locked = journal_path
            .as_deref()
            .map(|p| take_journal(p, args.resume.is_some()))
            .transpose()?;

        let (store, deduper, resumed) = match &args.resume {
            Some(path) => {
                let (path, capacity) = (path.clone(), args.log_capacity);
                let (store, deduper, report) =
                    tokio::task::spawn_blocking(move || rebuild_for_resume(&path, capacity))
                        .await
                        .map_err(|e| AppError::new(1, format!("resume failed: {e}")))??;
                (store, deduper, Some(report))
            }
            None => (Store::new(args.log_capacity), Deduper::default(), None),
        };
        let next_seq = resumed.as_ref().map_or(1, |r| r.last_seq + 1);

        let journal = match locked {
            Some(locked) => {
                let path = locked.path().to_path_buf();
                Some(JournalFile::from_locked(locked, args.fsync).map_err(|e| {
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
        let (sequencer, sequencer_thread) =
            Sequencer::start(journal, shared.clone(), deduper, next_seq);
        let cfg = ServerConfig {
            max_body: args.max_body,
            api_token: args.api_token.clone(),
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
            max_connections: args.max_connections,
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            auth: auth.clone(),
        };
        let (stop_server, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            cfg,
            sequencer.clone(),
            shared.clone(),
            async move {
                let _ = stop_rx.await;
            },
            Duration::from_secs(10),
        ));
        let demo = args
            .demo
            // Once the listener verifies signatures (--auth-key), pass that key here so
            // the demo's callbacks are signed with it.
            .then(|| tokio::spawn(crate::simulate::run_demo(addr, args.auth_key.clone())));
        Ok(Session {
            addr,
            shared,
            journal_path,
            loopback_only: addr.ip().is_loopback(),
            auth,
            resumed,
            demo,
            stop_server,
            server,
            sequencer,
            sequencer_thread,
        })
    }

    /// Stops accepting, finishes requests in flight, writes and fsyncs the journal.
    pub async fn shutdown(self) -> SessionSummary {
        if let Some(demo) = &self.demo {
            demo.abort();
        }
        let _ = self.stop_server.send(());
        let _ = self.server.await;
        self.sequencer.stop().await;
        drop(self.sequencer);
        let thread = self.sequencer_thread;
        let written = tokio::task::spawn_blocking(move || thread.join())
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        let store = self.shared.lock();
        SessionSummary {
            counters: store.counters(),
            recordings: store.recordings().len(),
            lines_written: written.lines_written,
            auth_failures: store.auth_failures(),
            journal_failures: store.journal_failures().0,
            journal_path: self.journal_path,
        }
    }
}

/// Lines printed at start (on stderr, so stdout stays the request stream).
pub fn banner(session: &Session) -> Vec<String> {
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
    lines.push(match &session.journal_path {
        Some(p) => format!("recmon: journal: {}", p.display()),
        None => "recmon: journal: off (--no-journal); requests are not kept on disk".to_string(),
    });
    if session.demo.is_some() {
        lines.push(format!(
            "recmon: demo: simulating 4 streams on 2 domains against http://{}/recmon; Ctrl-C to stop",
            session.addr
        ));
    }
    lines
}

/// The summary printed at exit.
pub fn summary_lines(s: &SessionSummary) -> Vec<String> {
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
}

/// Sends diagnostics (tracing) to `--log-file` if given. Otherwise, in headless mode, warnings
/// and errors go to stderr; under the terminal UI nothing may reach the terminal, so they are
/// dropped (the journal and the header still show journal failures).
pub fn init_tracing(args: &RunArgs, headless: bool) -> Result<(), AppError> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(if args.log_file.is_some() {
                "info"
            } else {
                "warn"
            })
        })
    };
    // `try_init`: when a subscriber is already set (tests, embedding), keep it.
    match &args.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    AppError::new(
                        1,
                        format!(
                            "cannot open the log file {}: {e}. Pick a writable path with --log-file",
                            path.display()
                        ),
                    )
                })?;
            let _ = tracing_subscriber::fmt()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_env_filter(filter())
                .try_init();
        }
        None if headless => {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_env_filter(filter())
                .try_init();
        }
        None => {}
    }
    Ok(())
}

/// Ctrl-C and SIGTERM, with their handlers installed when this is created. Create it before
/// the listener starts: a signal that arrives while recmon is starting (or before the first
/// await reaches the handler) then still leads to the graceful shutdown, instead of the
/// default action that kills the process without syncing the journal or printing the
/// summary.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Installs the handlers now.
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            ShutdownSignal {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            ShutdownSignal {}
        }
    }

    /// Resolves on the next Ctrl-C or SIGTERM.
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.interrupt) => {},
                _ = next(&mut self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (handlers installed at the first call).
pub async fn shutdown_signal() {
    ShutdownSignal::register().wait().await
}

/// Whether this run should use the headless view.
pub fn wants_headless(args: &RunArgs) -> bool {
    args.headless || args.json || !std::io::stdout().is_terminal()
}

/// Runs the monitor with the headless printer until Ctrl-C or SIGTERM.
pub async fn run_headless(args: RunArgs) -> Result<(), AppError> {
    let mut signals = ShutdownSignal::register();
    init_tracing(&args, true)?;
    let session = Session::start(&args).await?;
    for l in banner(&session) {
        crate::output::eline(&l);
    }
    let shared = session.shared.clone();
    let mut changes = shared.subscribe();
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    // After --resume, the old entries are in the store's log; print only new ones.
    let mut printer = Printer::new(
        args.json,
        session.resumed.as_ref().map_or(0, |r| r.last_seq),
    );
    let printer_task = tokio::spawn(async move {
        let mut printing = true;
        loop {
            let last_round = tokio::select! {
                r = changes.changed() => r.is_err(),
                _ = &mut stop_rx => true,
            };
            // Format under the lock, write outside it: ingest never waits on stdout.
            let out = printer.take_new(&shared.lock());
            if printing && !write_output(&out) {
                // stdout closed: keep serving, stop printing.
                printing = false;
            }
            if last_round {
                return;
            }
        }
    });
    // A closed stdout (`recmon … | head -2` after head exits) ends the session like SIGTERM:
    // nobody reads the stream any more, and it must not keep running unseen.
    let why = tokio::select! {
        _ = signals.wait() => "",
        _ = crate::output::reader_gone(crate::output::Stream::Stdout) => "stdout was closed (its reader exited); ",
    };
    crate::output::eline(&format!(
        "recmon: {why}shutting down: finishing requests in flight, syncing the journal"
    ));
    let summary = session.shutdown().await;
    let _ = stop_tx.send(());
    let _ = printer_task.await;
    for l in summary_lines(&summary) {
        crate::output::eline(&l);
    }
    summary.exit_status()
}
