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

mod banner;
mod open;
mod resume;

use open::{free_port_after, take_journal};
use resume::{rebuild_for_resume, start_resume, Rebuild};
pub use resume::{ResumeReport, RESUME_WAIT};

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
    /// `--verify`: check each recording against its file, when given.
    pub verify: Option<crate::verifier::VerifyConfig>,
    /// `--reconcile-every`: how often, and with what.
    pub reconcile: Option<(std::time::Duration, crate::reconciler::Settings)>,
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
    alerting: Option<tokio::task::JoinHandle<()>>,
    verifier: Option<crate::verifier::Verifier>,
    reconciling: Option<tokio::task::JoinHandle<()>>,
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
    alerting: Option<tokio::task::JoinHandle<()>>,
    verifier: Option<crate::verifier::Verifier>,
    reconciling: Option<tokio::task::JoinHandle<()>>,
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
            let verifying = cfg.verify.is_some();
            move |store: &mut Store| {
                store.set_verifying(verifying);
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
            reconciled: f.reconciled,
        });
        // The forwarder follows the feed from here: what is committed before it starts (it
        // starts after a rebuild) is read back from the ring or the journal.
        let forward_feed = async_forward.map(|_| feed.subscribe(next_seq - 1));
        // So does the verifier: every recording committed from here on is checked.
        let verify_feed = cfg.verify.as_ref().map(|_| feed.subscribe(next_seq - 1));
        let (sequencer, sequencer_thread) = Sequencer::start(
            journal,
            shared.clone(),
            feed.clone(),
            (!rebuilding).then(Deduper::default),
            next_seq,
            forwarding,
        );
        let mut server_cfg = cfg.server;
        // `POST /api/reconcile` asks the reconcile loop (started after any rebuild) for a run:
        // one waiting at most.
        let (reconcile_asks, reconcile_rx) = match (&cfg.reconcile, &journal_path) {
            (Some(_), Some(_)) => {
                let (tx, rx) = tokio::sync::mpsc::channel(1);
                (Some(tx), Some(rx))
            }
            _ => (None, None),
        };
        server_cfg.reconcile = reconcile_asks;
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
        // engine (what its journal still owes), the resume report. At once without a rebuild;
        // after the hand-over with one.
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let bar = match resume.as_ref().filter(|_| rebuilding) {
            Some(r) => journal_bar(r.len, "resume"),
            None => indicatif::ProgressBar::hidden(),
        };
        let later = {
            let (shared, sequencer, cancel, bar) = (
                shared.clone(),
                sequencer.clone(),
                cancel.clone(),
                bar.clone(),
            );
            let (capacity, alerts, sinks) = (cfg.log_capacity, cfg.alerts.clone(), cfg.alert_sinks);
            let journal_path = journal_path.clone();
            let async_forward = async_forward.cloned();
            let verify = cfg.verify.clone();
            let reconcile = cfg.reconcile.clone();
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
                let verifier = match (verify, verify_feed) {
                    (Some(v), Some(sub)) => Some(crate::verifier::start(
                        v,
                        crate::verify::reader::Credentials::from_env(),
                        sub,
                        sequencer.clone(),
                    )),
                    _ => None,
                };
                let reconciling = match (reconcile, journal_path.clone(), reconcile_rx) {
                    (Some((every, settings)), Some(path), Some(asks)) => Some(tokio::spawn(
                        crate::reconciler::every(every, settings, path, sequencer.clone(), asks),
                    )),
                    _ => None,
                };
                let alerting = alerts.is_some().then(|| {
                    crate::alerting::start_receiver(shared.clone(), sequencer.clone(), sinks)
                });
                Ok(Some(Later {
                    report,
                    forwarder,
                    alerting,
                    verifier,
                    reconciling,
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
            verifier: None,
            reconciling: None,
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
            self.verifier = l.verifier;
            self.reconciling = l.reconciling;
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
        if let Some(r) = self.reconciling.take() {
            r.abort();
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
        if let Some(v) = self.verifier.take() {
            v.shutdown().await;
        }
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
            forward: store
                .forward_targets()
                .iter()
                .map(|t| (t.name.clone(), t.mode, t.delivered, t.pending(), t.failed))
                .collect(),
            unfinished_rebuild: unfinished,
        }
    }
}
