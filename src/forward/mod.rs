//! Forwarding every callback to the user's own backends (`--forward-to`), with the journal as
//! the outbox (see [`crate::core::outbox`] for what the journal says).
//!
//! - [`target`]: one target, and the request a callback is forwarded as (pure).
//! - [`Sender`]: one HTTP(S) attempt with a timeout, its answer capped.
//! - [`start_async`]: the async outbox, one engine per target. Each stream's callbacks go in seq
//!   order (a later one waits until the earlier is delivered or given up), streams in
//!   parallel up to `--forward-concurrency`; a failed attempt is retried after 1 s, 2 s, 4 s …
//!   60 s, until `--forward-give-up` has passed since the callback arrived. While the backend
//!   looks down (no answer, 5xx or 429: not a 4xx, which is about one callback), a stream
//!   that has not failed yet waits for the target's own backoff (1 s doubling to 60 s) before
//!   its first attempt, instead of every stream knocking at once; the first success wakes
//!   every stream at once, so an outage is caught up at the backend's pace instead of each
//!   stream's backoff. And during an outage the target is probed every [`PROBE_EVERY`] with a
//!   TCP connect (nothing sent, nothing journaled): once it connects, the oldest waiting
//!   callback goes at once (at most one such attempt per [`PROBE_SEND_EVERY`]), so a backend
//!   that comes back gets the backlog within seconds, not after the streams' backoff (up to
//!   60 s). Not after a 429: the backend asked to slow down, the backoff stands. Every
//!   attempt's result is journaled.
//! - [`recover`]: what a resumed journal still owes each target.
//! - Sync mode (pass-through) is the listener's: it calls [`Sender::send`] itself and answers
//!   the provider with the backend's answer ([`SyncForward`]).

pub mod recover;
pub mod target;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderValue;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::core::feed::{FeedItem, Next, Subscription};
use crate::core::journal::{parse_line, Line};
use crate::core::outbox::{
    cap_text, Delivery, DeliveryResult, ForwardMode, ForwardedRequest, Owed, REPLY_MAX,
};
use crate::core::sequencer::Sequencer;
use crate::event::StreamId;
use crate::forward::target::{prepare, Target};

/// This process's name in `X-Recmon-Via` (random, new at each start): how a recmon knows a
/// callback it forwarded has come back to it.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| format!("{:016x}", rand::random::<u64>()))
}

/// Largest backend answer body read (and, in sync mode, passed back to the provider).
pub const ANSWER_MAX: usize = 64 * 1024;

/// The first retry's delay; each later one doubles, up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);

/// The longest delay between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How often the target is probed (a TCP connect) while it looks down.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Time allowed for a probe's connect.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Least time between two attempts a probe sends (a backend that takes connections but still
/// fails, with a 5xx or no answer, gets no more than one such attempt per this).
pub const PROBE_SEND_EVERY: Duration = Duration::from_secs(4);

/// How long shutdown waits for attempts in flight to finish and be journaled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The delay after failed attempt number `attempt` (1-based): 1 s, 2 s, 4 s, … 60 s.
pub fn backoff(attempt: u32) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(16);
    (BACKOFF_FIRST * factor as u32).min(BACKOFF_MAX)
}

/// Forwarding settings, from the command line.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// The targets, in command-line order.
    pub targets: Vec<Target>,
    /// async or sync.
    pub mode: ForwardMode,
    /// Time for one attempt, connect to the end of the answer.
    pub timeout: Duration,
    /// Async: how long after a callback arrived it is still retried.
    pub give_up: Duration,
    /// Async: streams delivered at once, per target.
    pub concurrency: usize,
    /// Async: duplicates are not forwarded.
    pub skip_duplicates: bool,
    /// Async: callbacks filled in from the providers' records are forwarded too
    /// (`--forward-reconciled`).
    pub reconciled: bool,
    /// Re-sign for the target's host with this key.
    pub sign_key: Option<String>,
}

/// What a backend answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its status.
    pub status: hyper::StatusCode,
    /// Its Content-Type.
    pub content_type: Option<HeaderValue>,
    /// Its body, at most [`ANSWER_MAX`] bytes.
    pub body: Bytes,
}

/// One attempt's result.
#[derive(Debug)]
pub struct Attempted {
    /// The answer, or why there is none.
    pub answer: Result<Answer, Failure>,
    /// How long it took.
    pub ms: u64,
}

/// Why an attempt got no answer.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No answer within the timeout.
    Timeout(Duration),
    /// Connecting or talking failed (in words).
    Connection(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            Failure::Connection(e) => f.write_str(e),
        }
    }
}

impl Attempted {
    /// Whether the backend answered 2xx.
    pub fn delivered(&self) -> bool {
        matches!(&self.answer, Ok(a) if a.status.is_success())
    }

    /// The journal's record of it.
    pub fn delivery(
        &self,
        of: u64,
        target: &str,
        mode: ForwardMode,
        attempt: u32,
        result: DeliveryResult,
    ) -> Delivery {
        let (status, error, reply) = match &self.answer {
            Ok(a) => (
                Some(a.status.as_u16()),
                (!a.status.is_success()).then(|| {
                    format!(
                        "{} {}",
                        a.status.as_u16(),
                        a.status.canonical_reason().unwrap_or("")
                    )
                    .trim_end()
                    .to_string()
                }),
                (!a.body.is_empty()).then(|| cap_text(&a.body, REPLY_MAX)),
            ),
            Err(f) => (
                None,
                Some(cap_text(f.to_string().as_bytes(), REPLY_MAX)),
                None,
            ),
        };
        Delivery {
            of,
            target: target.to_string(),
            mode,
            attempt,
            result,
            status,
            ms: self.ms,
            error,
            reply,
            retry_in_s: None,
            answered: None,
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends forwarded requests: one pooled HTTP(S) client (keep-alive to each backend).
#[derive(Clone)]
pub struct Sender {
    client: HttpClient,
    timeout: Duration,
    sign_key: Option<String>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("timeout", &self.timeout)
            .field("sign_key", &self.sign_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Sender {
    /// A sender for `cfg`'s targets. Must be called within a Tokio runtime.
    pub fn new(cfg: &ForwardConfig) -> Result<Sender, String> {
        let https = cfg.targets.iter().any(Target::is_https);
        let connector = crate::util::http_client::connector(https, None)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(cfg.concurrency.max(1) * 2)
            .build(connector);
        Ok(Sender {
            client,
            timeout: cfg.timeout,
            sign_key: cfg.sign_key.clone(),
        })
    }

    /// One attempt: the request, and the answer read up to [`ANSWER_MAX`] bytes, within the
    /// timeout.
    pub async fn send(&self, target: &Target, req: &ForwardedRequest, seq: u64) -> Attempted {
        let request = prepare(
            target,
            req,
            seq,
            self.sign_key.as_deref(),
            Utc::now().timestamp(),
        );
        let t0 = Instant::now();
        let exchange = async {
            let resp = self.client.request(request).await.map_err(|e| {
                Failure::Connection(crate::util::http_client::describe_error(&e, "the backend"))
            })?;
            let (parts, mut body) = resp.into_parts();
            let mut buf = BytesMut::new();
            while buf.len() < ANSWER_MAX {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let room = ANSWER_MAX - buf.len();
                            buf.extend_from_slice(&data[..data.len().min(room)]);
                        }
                    }
                    Some(Err(e)) => {
                        return Err(Failure::Connection(format!(
                            "the backend's answer broke off: {}",
                            crate::util::http_client::describe_error(&e, "the backend")
                        )))
                    }
                    None => break,
                }
            }
            Ok(Answer {
                status: parts.status,
                content_type: parts.headers.get(hyper::header::CONTENT_TYPE).cloned(),
                body: buf.freeze(),
            })
        };
        let answer = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout(self.timeout)),
        };
        Attempted {
            answer,
            ms: t0.elapsed().as_millis() as u64,
        }
    }
}

/// Sync mode's target, as the listener holds it.
#[derive(Debug, Clone)]
pub struct SyncForward {
    /// The one target.
    pub target: Arc<Target>,
    /// Its sender (with `--forward-timeout`, 4 s by default in this mode).
    pub sender: Sender,
}

/// The async outbox: one engine per target, fed by the sequencer with each committed
/// callback it owes them.
pub struct Forwarder {
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Forwarder {
    /// Stops sending: attempts in flight get [`SHUTDOWN_GRACE`] to finish and be journaled;
    /// whatever is still owed stays in the journal for `--resume`.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// How much lower than the listener's the forwarder thread's scheduling priority is (nice):
/// under load the provider's answers come first, and the outbox, which is durable, catches up
/// when there is CPU to spare.
const FORWARDER_NICE: i32 = 10;

/// Most callbacks held in memory per target, waiting or being retried. Past it the forwarder
/// stops taking from the feed: what follows stays in the journal, and the feed reads it back
/// from there once the backlog shrinks. So a backend that is down for hours costs bounded
/// memory, and nothing is lost.
pub const BACKLOG_MAX: usize = 20_000;

/// Starts the async engines on a thread of their own, at a lower priority than the listener's
/// (see [`FORWARDER_NICE`]). The forwarder is a subscriber of the feed like any other: `feed`
/// is its subscription, from the journal's last seq at start (it catches up from the journal
/// when it falls behind; see [`crate::core::feed`]), and each committed request line that
/// lists targets (`"forward":[...]`) is owed to them. `recovered` is what a resumed journal
/// still owed each target at start (see [`recover`]), sent first.
pub fn start_async(
    cfg: &ForwardConfig,
    sender: Sender,
    sequencer: Sequencer,
    feed: Subscription,
    recovered: recover::Outbox,
) -> Forwarder {
    let (stop, stop_rx) = watch::channel(false);
    let cfg = cfg.clone();
    let thread = std::thread::Builder::new()
        .name("recmon-forward".into())
        .spawn(move || {
            // Linux: a thread is a task of its own, and its nice value is its own.
            #[cfg(target_os = "linux")]
            unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, FORWARDER_NICE);
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the forwarder's runtime");
            rt.block_on(run_engines(
                cfg, sender, sequencer, feed, recovered, stop_rx,
            ));
        })
        .expect("spawn the forwarder thread");
    Forwarder { stop, thread }
}

async fn run_engines(
    cfg: ForwardConfig,
    sender: Sender,
    sequencer: Sequencer,
    mut feed: Subscription,
    mut recovered: recover::Outbox,
    stop_rx: watch::Receiver<bool>,
) {
    let mut tasks = Vec::new();
    let mut lanes_in: HashMap<String, mpsc::UnboundedSender<Job>> = HashMap::new();
    let backlog = Arc::new(Backlog::default());
    for target in &cfg.targets {
        let (tx, rx) = mpsc::unbounded_channel();
        for (owed, attempts) in recovered.remove(&target.name).unwrap_or_default() {
            backlog.add();
            let _ = tx.send(Job { owed, attempts });
        }
        lanes_in.insert(target.name.clone(), tx);
        let engine = Engine {
            target: Arc::new(target.clone()),
            sender: sender.clone(),
            sequencer: sequencer.clone(),
            give_up: cfg.give_up,
            concurrency: cfg.concurrency.max(1),
            lanes: HashMap::new(),
            ready: BinaryHeap::new(),
            generation: 0,
            down: None,
            probe: None,
            probe_sent: None,
            backlog: backlog.clone(),
        };
        tasks.push(tokio::spawn(engine.run(rx, stop_rx.clone())));
    }
    // Fan-out: each committed callback the feed carries, to each target it is owed to.
    let mut stop_fan = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            // A full backlog: take nothing more from the feed until it shrinks (the journal
            // keeps the rest).
            while backlog.held() >= BACKLOG_MAX * lanes_in.len().max(1) {
                tokio::select! {
                    _ = backlog.shrunk.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop_fan.changed() => return,
                }
            }
            let next = tokio::select! {
                n = feed.next() => n,
                _ = stop_fan.changed() => break,
            };
            let items = match next {
                Next::Items(items) => items,
                Next::Closed => break,
                Next::Lagged => {
                    // Only without a journal, which async forwarding never runs without.
                    tracing::error!("forward: fell behind the feed; what was missed stays owed in the journal for --resume");
                    break;
                }
            };
            for item in items {
                let Some(owed) = owed_of_item(&item) else {
                    continue;
                };
                let owed = Arc::new(owed);
                for name in &owed.targets {
                    if let Some(tx) = lanes_in.get(name) {
                        backlog.add();
                        let _ = tx.send(Job {
                            owed: owed.clone(),
                            attempts: 0,
                        });
                    }
                }
            }
        }
    }));
    for t in tasks {
        let _ = t.await;
    }
}

/// The callback a committed line owes to targets, if it owes any. Only lines that list
/// targets are parsed (a cheap look for `"forward":[` first): request lines, and reconciled
/// lines with `--forward-reconciled` (without it the sequencer lists no target in them, so
/// they are skipped here).
fn owed_of_item(item: &FeedItem) -> Option<Owed> {
    memchr::memmem::find(item.line.as_bytes(), b"\"forward\":[")?;
    match parse_line(&item.line) {
        Ok(Line::Request(e)) => recover::owed_of(&e, item.callback.as_deref()),
        Ok(Line::Reconciled(r)) => recover::owed_of_reconciled(&r, None),
        _ => None,
    }
}

/// How many callbacks the engines hold (all targets), and a wake-up when one is done with.
#[derive(Default)]
struct Backlog {
    held: std::sync::atomic::AtomicUsize,
    shrunk: tokio::sync::Notify,
}

impl Backlog {
    fn add(&self) {
        self.held.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn done(&self) {
        self.held.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.shrunk.notify_one();
    }

    fn held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One owed callback in a target's queue.
struct Job {
    owed: Arc<Owed>,
    /// Attempts already made (also those in an earlier run, from the journal).
    attempts: u32,
}

/// One stream's queue at one target.
#[derive(Default)]
struct Lane {
    jobs: VecDeque<Job>,
    busy: bool,
    /// The generation of its entry in the ready heap (older entries are stale).
    generation: u64,
}

/// What an attempt came to, back at the engine.
struct Done {
    stream: StreamId,
    result: DeliveryResult,
    retry_in: Duration,
    /// The failure says the backend is down (no answer, 5xx, 429), not that it refused
    /// this one callback.
    backend_down: bool,
    /// The backend asked to slow down (429): no probing, the backoff stands.
    throttled: bool,
}

struct Engine {
    target: Arc<Target>,
    sender: Sender,
    sequencer: Sequencer,
    give_up: Duration,
    concurrency: usize,
    lanes: HashMap<StreamId, Lane>,
    /// Streams whose head may be sent at the given time.
    ready: BinaryHeap<Reverse<(Instant, u64, StreamId)>>,
    generation: u64,
    /// While the backend looks down: failed attempts in a row, and when the next stream's
    /// first attempt may go.
    down: Option<(u32, Instant)>,
    /// While the backend looks down (not throttled): when it is probed next.
    probe: Option<Instant>,
    /// When a probe last sent a waiting callback.
    probe_sent: Option<Instant>,
    /// Counts what the engines hold (see [`BACKLOG_MAX`]).
    backlog: Arc<Backlog>,
}

impl Engine {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>, mut stop: watch::Receiver<bool>) {
        let mut in_flight: JoinSet<Done> = JoinSet::new();
        let mut probes: JoinSet<bool> = JoinSet::new();
        let mut open = true;
        loop {
            self.dispatch(&mut in_flight);
            let wake = self
                .ready
                .peek()
                .map(|r| r.0 .0)
                .filter(|_| in_flight.len() < self.concurrency);
            let probe = self.probe.filter(|_| probes.is_empty());
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(done) = done {
                        self.finish(done);
                    }
                }
                Some(up) = probes.join_next(), if !probes.is_empty() => {
                    self.probed(up.unwrap_or(false), in_flight.is_empty());
                }
                job = rx.recv(), if open => match job {
                    Some(job) => self.enqueue(job),
                    None => open = false,
                },
                _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
                _ = tokio::time::sleep_until(probe.unwrap_or_else(Instant::now)), if probe.is_some() => {
                    self.probe = None;
                    let (host, port) = self.target.host_port();
                    probes.spawn(async move {
                        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
                        matches!(tokio::time::timeout(PROBE_TIMEOUT, connect).await, Ok(Ok(_)))
                    });
                }
            }
            if !open && in_flight.is_empty() && self.lanes.is_empty() {
                return;
            }
        }
        // Shutdown: let attempts in flight finish and journal their result.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
    }

    /// A probe's result: `up` when the target took a connection. Then the oldest waiting
    /// callback goes at once (unless an attempt is in flight, which will tell, or one probe
    /// sent in the last [`PROBE_SEND_EVERY`]); its success wakes every stream (see
    /// [`Engine::finish`]). The probing goes on while the target looks down.
    fn probed(&mut self, up: bool, idle: bool) {
        if self.down.is_none() {
            return;
        }
        let now = Instant::now();
        let recent = self
            .probe_sent
            .is_some_and(|at| now.duration_since(at) < PROBE_SEND_EVERY);
        if up && idle && !recent {
            let oldest = self
                .lanes
                .iter()
                .filter(|(_, l)| !l.busy)
                .filter_map(|(s, l)| l.jobs.front().map(|j| (j.owed.seq, s)))
                .min_by_key(|(seq, _)| *seq)
                .map(|(_, s)| s.clone());
            if let Some(stream) = oldest {
                self.probe_sent = Some(now);
                self.schedule(&stream, now);
            }
        }
        self.probe = Some(now + PROBE_EVERY);
    }

    fn schedule(&mut self, stream: &StreamId, at: Instant) {
        self.generation += 1;
        if let Some(lane) = self.lanes.get_mut(stream) {
            lane.generation = self.generation;
            self.ready
                .push(Reverse((at, self.generation, stream.clone())));
        }
    }

    fn enqueue(&mut self, job: Job) {
        // The stream's name is copied only for a new lane, or to schedule one.
        let owed = job.owed.clone();
        let stream = &owed.stream;
        if !self.lanes.contains_key(stream) {
            self.lanes.insert(stream.clone(), Lane::default());
        }
        let lane = self.lanes.get_mut(stream).expect("just made sure");
        lane.jobs.push_back(job);
        if lane.jobs.len() == 1 && !lane.busy {
            // While the backend looks down, a new stream waits for the target's backoff.
            let at = self
                .down
                .map_or_else(Instant::now, |(_, next)| next.max(Instant::now()));
            self.schedule(stream, at);
        }
    }

    fn dispatch(&mut self, in_flight: &mut JoinSet<Done>) {
        let now = Instant::now();
        while in_flight.len() < self.concurrency {
            let Some(Reverse((at, generation, _))) = self.ready.peek() else {
                break;
            };
            if *at > now {
                break;
            }
            let (generation, stream) = (*generation, self.ready.pop().expect("peeked").0 .2);
            let Some(lane) = self.lanes.get_mut(&stream) else {
                continue;
            };
            if lane.busy || lane.generation != generation {
                continue;
            }
            let Some(job) = lane.jobs.front() else {
                continue;
            };
            lane.busy = true;
            let (owed, attempt) = (job.owed.clone(), job.attempts + 1);
            let (target, sender, sequencer, give_up) = (
                self.target.clone(),
                self.sender.clone(),
                self.sequencer.clone(),
                self.give_up,
            );
            in_flight.spawn(async move {
                let tried = sender.send(&target, &owed.request, owed.seq).await;
                let backend_down = match &tried.answer {
                    Err(_) => true,
                    Ok(a) => a.status.is_server_error() || a.status.as_u16() == 429,
                };
                let throttled = matches!(&tried.answer, Ok(a) if a.status.as_u16() == 429);
                let age = (Utc::now() - owed.received_at).to_std().unwrap_or_default();
                // 508: the target is this recmon itself (a loop): retrying cannot help.
                let looped = matches!(&tried.answer, Ok(a) if a.status.as_u16() == 508);
                let result = if tried.delivered() {
                    DeliveryResult::Delivered
                } else if age >= give_up || looped {
                    DeliveryResult::Failed
                } else {
                    DeliveryResult::Retry
                };
                let retry_in = backoff(attempt);
                let mut d =
                    tried.delivery(owed.seq, &target.name, ForwardMode::Async, attempt, result);
                if result == DeliveryResult::Retry {
                    d.retry_in_s = Some(retry_in.as_secs());
                }
                if result == DeliveryResult::Failed {
                    d.error = Some(format!(
                        "{}; given up {} after it arrived (--forward-give-up)",
                        d.error.as_deref().unwrap_or("not delivered"),
                        crate::util::human::duration_words(give_up)
                    ));
                }
                // A result that cannot be journaled (the journal is failing) changes nothing
                // for the backend: a --resume sends the callback again, at least once.
                let _ = sequencer.note_delivery(d).await;
                Done {
                    stream: owed.stream.clone(),
                    result,
                    retry_in,
                    backend_down: backend_down && result != DeliveryResult::Delivered,
                    throttled,
                }
            });
        }
    }

    fn finish(&mut self, done: Done) {
        let now = Instant::now();
        let Some(lane) = self.lanes.get_mut(&done.stream) else {
            return;
        };
        lane.busy = false;
        match done.result {
            DeliveryResult::Delivered | DeliveryResult::Failed => {
                if lane.jobs.pop_front().is_some() {
                    self.backlog.done();
                }
                if lane.jobs.is_empty() {
                    self.lanes.remove(&done.stream);
                } else {
                    self.schedule(&done.stream, now);
                }
                if done.result == DeliveryResult::Delivered && self.down.take().is_some() {
                    self.probe = None;
                    // The backend is back: every stream waiting out its backoff goes now.
                    let waiting: Vec<StreamId> = self
                        .lanes
                        .iter()
                        .filter(|(_, l)| !l.busy && !l.jobs.is_empty())
                        .map(|(s, _)| s.clone())
                        .collect();
                    for s in waiting {
                        self.schedule(&s, now);
                    }
                }
            }
            DeliveryResult::Retry => {
                if let Some(job) = lane.jobs.front_mut() {
                    job.attempts += 1;
                }
                self.schedule(&done.stream, now + done.retry_in);
            }
        }
        if done.backend_down {
            let failures = self.down.map_or(1, |(n, _)| n + 1);
            self.down = Some((failures, now + backoff(failures)));
            // Probed from now on, unless it asked to slow down; a probe already due stays.
            self.probe = match (done.throttled, self.probe) {
                (true, _) => None,
                (false, Some(at)) => Some(at),
                (false, None) => Some(now + PROBE_EVERY),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let secs: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(1000), BACKOFF_MAX);
    }
}
