//! `recmon simulate`: realistic broadcasts against any receiver, and the `--demo` driver.
//!
//! Two halves, kept apart so that repeatability can be tested:
//! - [`Generator`] is a pure, deterministic function of [`SimParams`] (seed included): an
//!   iterator of [`SimRequest`]s on a simulated clock. No I/O, no wall clock.
//! - [`run`] paces and sends them with [`crate::tools::client`], and reports the answers.
//!
//! The model, per stream (see DOMAIN.md): an ingest `publish` GET, then `record_started`;
//! recording is split into files every `cycle_s` (CycleDuration); pauses come at random; a
//! pause longer than `delay_s` (DelayTime) closes the current file, a shorter one leaves it
//! open, so that file's reported duration is shorter than its span (the provider's
//! duration/span mismatch appears naturally); durations also carry jitter, sometimes over a
//! second. A broadcast ends with its last file and a `publish_done`. About one callback in ten
//! is re-sent 1 to 5 times, a second apart, as the provider's retries are.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::cli::SimulateArgs;
use crate::cli::Speed;
use crate::error::AppError;
use crate::tools::client::{CallbackSender, Outgoing, Pacer, Stop, Tally, Target};
use crate::util::human;
use crate::util::output;

/// The simulated clock starts here unless told otherwise (2026-01-01T00:00:00Z), so that a
/// seed names one exact sequence of requests, times included.
pub const DEFAULT_EPOCH: i64 = 1_767_225_600;

/// Share of callbacks the simulated provider re-sends (its retries), in percent.
const RETRY_PERCENT: u32 = 10;
/// Share of recording files whose reported duration is off by more than a second, in percent.
const ODD_DURATION_PERCENT: u32 = 15;

/// What to simulate. Everything the generated sequence depends on is here.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    /// Random seed: the same params give the same sequence.
    pub seed: u64,
    /// Number of streams broadcasting.
    pub streams: u32,
    /// Number of streaming domains the streams are spread over.
    pub domains: u32,
    /// Unix seconds at which the simulated clock starts.
    pub epoch: i64,
    /// Broadcasts per stream; `None` = streams go live again after a break, forever.
    pub broadcasts: Option<u32>,
    /// Recording cycle (CycleDuration) in seconds: a file is closed and a new one started.
    pub cycle_s: i64,
    /// DelayTime in seconds: a pause longer than this closes the current file.
    pub delay_s: i64,
    /// Each stream goes live up to this many seconds after the previous one.
    pub stagger_s: i64,
}

impl SimParams {
    /// The defaults of `recmon simulate`: 5-minute files, 30 s DelayTime, one broadcast each.
    pub fn new(seed: u64, streams: u32, domains: u32) -> Self {
        SimParams {
            seed,
            streams: streams.max(1),
            domains: domains.clamp(1, streams.max(1)),
            epoch: DEFAULT_EPOCH,
            broadcasts: Some(1),
            cycle_s: 300,
            delay_s: 30,
            stagger_s: 15,
        }
    }
}

/// What a generated request is, for summaries and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimKind {
    /// Ingest `publish` (GET).
    Publish,
    /// Status `record_started`.
    RecordStarted,
    /// Status `record_paused`.
    RecordPaused,
    /// Status `record_resumed`.
    RecordResumed,
    /// A recording generation callback.
    Recording,
    /// Ingest `publish_done` (GET).
    PublishDone,
}

impl SimKind {
    /// The event name as the provider spells it (`recording` for generation callbacks).
    pub fn as_str(self) -> &'static str {
        match self {
            SimKind::Publish => "publish",
            SimKind::RecordStarted => "record_started",
            SimKind::RecordPaused => "record_paused",
            SimKind::RecordResumed => "record_resumed",
            SimKind::Recording => "recording",
            SimKind::PublishDone => "publish_done",
        }
    }
}

/// One generated callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    /// Simulated time it is sent at, Unix milliseconds.
    pub at_ms: i64,
    /// Index of the stream it is about.
    pub stream: u32,
    /// What it is.
    pub kind: SimKind,
    /// `GET` (ingest) or `POST` (status, recording).
    pub method: &'static str,
    /// The query string (ingest callbacks), without `?`.
    pub query: Option<String>,
    /// The JSON body (status and recording callbacks); empty for GET.
    pub body: Bytes,
    /// 0 for the first delivery, n for the provider's n-th retry of the same callback.
    pub resend: u8,
}

impl SimRequest {
    /// The request as sent to `target`.
    pub fn outgoing(&self, target: &Target) -> Result<Outgoing, String> {
        Ok(Outgoing {
            method: self.method.to_string(),
            uri: target.uri_with_query(self.query.as_deref())?,
            content_type: (self.method == "POST").then(|| "application/json".to_string()),
            body: self.body.clone(),
            headers: Vec::new(),
        })
    }
}

#[derive(Serialize)]
struct StatusBody<'a> {
    domain: &'a str,
    app: &'a str,
    stream: &'a str,
    event: &'a str,
}

#[derive(Serialize)]
struct RecordingBody<'a> {
    domain: &'a str,
    app: &'a str,
    stream: &'a str,
    uri: &'a str,
    duration: f64,
    start_time: i64,
    stop_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    push_args: Option<&'a BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Not pushing; the next wake-up publishes.
    Offline,
    /// Published; the next wake-up starts recording.
    Starting,
    /// Recording.
    Recording,
    /// Paused; the next wake-up resumes.
    Paused,
    /// No more broadcasts.
    Done,
}

struct SimStream {
    domain: String,
    app: String,
    name: String,
    ext: &'static str,
    push_args: Option<BTreeMap<String, String>>,
    ip: String,
    node: String,
    phase: Phase,
    broadcasts_left: Option<u32>,
    file_seq: u32,
    file_start_ms: i64,
    /// Milliseconds recorded into the current file before the current run of recording.
    recorded_ms: i64,
    /// When the current run of (unpaused) recording began.
    run_start_ms: i64,
    /// The current file was closed during the pause (the pause outlasted DelayTime).
    file_closed: bool,
    next_pause_ms: i64,
    end_ms: i64,
}

enum Pending {
    /// A stream's state machine wakes up.
    Wake(u32),
    /// A request is due.
    Send(SimRequest),
}

/// The deterministic generator: an iterator of requests in simulated-time order.
pub struct Generator {
    params: SimParams,
    rng: StdRng,
    streams: Vec<SimStream>,
    /// Priority queue keyed by (time, insertion order): ties keep insertion order, so the
    /// sequence depends on nothing but the params.
    queue: BTreeMap<(i64, u64), Pending>,
    order: u64,
}

const APPS: [&str; 4] = ["liveApp", "classroom", "sports", "news"];
const NAMES: [&str; 8] = [
    "studio",
    "lecture",
    "match",
    "evening",
    "cam-north",
    "keynote",
    "concert",
    "lobby",
];
const FORMATS: [&str; 3] = ["flv", "m3u8", "mp4"];

impl Generator {
    /// A generator for `params`.
    pub fn new(params: SimParams) -> Self {
        let mut rng = StdRng::seed_from_u64(params.seed);
        let domains = params.domains.max(1);
        let mut streams = Vec::new();
        let mut first_wake = Vec::new();
        let mut first_ms = params.epoch * 1000;
        for i in 0..params.streams.max(1) {
            let d = i % domains;
            let domain = if d == 0 {
                "live.example.com".to_string()
            } else {
                format!("live{}.example.com", d + 1)
            };
            // Some streams are pushed without callback_* parameters, as in real use.
            let push_args = match rng.random_range(0..10) {
                0 => None,
                1 => Some(BTreeMap::new()),
                _ => Some(BTreeMap::from([
                    (
                        "callback_myid".to_string(),
                        rng.random_range(1_000_000_000u64..10_000_000_000)
                            .to_string(),
                    ),
                    ("callback_args1".to_string(), format!("room{}", i + 1)),
                ])),
            };
            streams.push(SimStream {
                domain,
                app: APPS[i as usize % APPS.len()].to_string(),
                name: format!("{}-{:02}", NAMES[i as usize % NAMES.len()], i + 1),
                ext: FORMATS[rng.random_range(0..FORMATS.len())],
                push_args,
                ip: format!("203.0.113.{}", rng.random_range(2..250)),
                node: format!("cdnvideocenter{}.cm3", rng.random_range(10000..20000)),
                phase: Phase::Offline,
                broadcasts_left: params.broadcasts,
                file_seq: 0,
                file_start_ms: 0,
                recorded_ms: 0,
                run_start_ms: 0,
                file_closed: false,
                next_pause_ms: 0,
                end_ms: 0,
            });
            first_wake.push(first_ms);
            first_ms += rng.random_range(0..=params.stagger_s.max(0)) * 1000;
        }
        let mut g = Generator {
            params,
            rng,
            streams,
            queue: BTreeMap::new(),
            order: 0,
        };
        if g.params.broadcasts != Some(0) {
            for (i, at) in first_wake.into_iter().enumerate() {
                g.push(at, Pending::Wake(i as u32));
            }
        }
        g
    }

    /// The generator's parameters.
    pub fn params(&self) -> &SimParams {
        &self.params
    }

    fn push(&mut self, at_ms: i64, p: Pending) {
        self.order += 1;
        self.queue.insert((at_ms, self.order), p);
    }

    fn secs(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi) * 1000
    }

    fn status(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        let st = &self.streams[s as usize];
        let body = serde_json::to_vec(&StatusBody {
            domain: &st.domain,
            app: &st.app,
            stream: &st.name,
            event: kind.as_str(),
        })
        .expect("status body serializes");
        self.push(at_ms, Pending::Send(post(at_ms, s, kind, body)));
    }

    fn ingest(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        let st = &self.streams[s as usize];
        let mut q = format!(
            "action={}&app={}&appname={}&id={}&ip={}&node={}&time={}",
            kind.as_str(),
            encode(&st.domain),
            encode(&st.app),
            encode(&st.name),
            st.ip,
            st.node,
            at_ms / 1000
        );
        if kind == SimKind::Publish {
            let mut usrargs = format!("vhost={}", st.domain);
            for (k, v) in st.push_args.iter().flatten() {
                let _ = write!(usrargs, "&{k}={v}");
            }
            let _ = write!(q, "&usrargs={}", encode(&usrargs));
        }
        let req = SimRequest {
            at_ms,
            stream: s,
            kind,
            method: "GET",
            query: Some(q),
            body: Bytes::new(),
            resend: 0,
        };
        self.push(at_ms, Pending::Send(req));
    }

    /// Closes the current file `[file_start, stop_ms)` with `recorded_ms` of content and
    /// schedules its generation callback at `at_ms`.
    fn recording(&mut self, s: u32, at_ms: i64, stop_ms: i64, recorded_ms: i64) {
        let odd = self.rng.random_range(0..100) < ODD_DURATION_PERCENT;
        // Normal files are within half a second of what was recorded; odd ones are off by
        // 1.5 to 15 s either way, as the provider's own sample is.
        let jitter_ms = if odd {
            let j = self.rng.random_range(1500..15000);
            if self.rng.random_bool(0.5) {
                j
            } else {
                -j
            }
        } else {
            self.rng.random_range(-500..500)
        };
        let st = &self.streams[s as usize];
        let duration_ms = (recorded_ms + jitter_ms).max(1);
        let start = st.file_start_ms.div_euclid(1000);
        let stop = stop_ms.div_euclid(1000);
        let uri = format!(
            "{}/{}/{}_{}_{}.{}",
            st.app,
            st.name,
            st.file_seq,
            escaped_time(start),
            escaped_time(stop),
            st.ext
        );
        let body = serde_json::to_vec(&RecordingBody {
            domain: &st.domain,
            app: &st.app,
            stream: &st.name,
            uri: &uri,
            duration: duration_ms as f64 / 1000.0,
            start_time: start,
            stop_time: stop,
            push_args: st.push_args.as_ref(),
        })
        .expect("recording body serializes");
        self.push(
            at_ms,
            Pending::Send(post(at_ms, s, SimKind::Recording, body)),
        );
    }

    fn wake(&mut self, s: u32, now: i64) {
        let phase = self.streams[s as usize].phase;
        match phase {
            Phase::Done => {}
            Phase::Offline => {
                self.ingest(s, now, SimKind::Publish);
                self.streams[s as usize].phase = Phase::Starting;
                let next = now + self.secs(1, 3);
                self.push(next, Pending::Wake(s));
            }
            Phase::Starting => {
                self.status(s, now, SimKind::RecordStarted);
                let cycle = self.params.cycle_s;
                let length = self.secs(2 * cycle, 6 * cycle);
                let first_pause = now + self.secs(15, 2 * cycle);
                let st = &mut self.streams[s as usize];
                st.phase = Phase::Recording;
                st.file_seq = 0;
                st.file_start_ms = now;
                st.run_start_ms = now;
                st.recorded_ms = 0;
                st.file_closed = false;
                st.end_ms = now + length;
                st.next_pause_ms = first_pause;
                self.schedule_recording_wake(s, now);
            }
            Phase::Recording => self.recording_wake(s, now),
            Phase::Paused => {
                self.status(s, now, SimKind::RecordResumed);
                let next_pause = now + self.secs(15, 2 * self.params.cycle_s);
                let st = &mut self.streams[s as usize];
                if st.file_closed {
                    st.file_seq += 1;
                    st.file_start_ms = now;
                    st.recorded_ms = 0;
                    st.file_closed = false;
                }
                st.run_start_ms = now;
                st.phase = Phase::Recording;
                st.next_pause_ms = next_pause;
                self.schedule_recording_wake(s, now);
            }
        }
    }

    /// Wakes the stream at its next recording event. A cycle that ended during a short pause
    /// (the file stayed open) closes at `now`, never in the past: time only moves forward.
    fn schedule_recording_wake(&mut self, s: u32, now: i64) {
        let st = &self.streams[s as usize];
        let cycle_end = st.file_start_ms + self.params.cycle_s * 1000;
        let next = cycle_end.min(st.next_pause_ms).min(st.end_ms).max(now);
        self.push(next, Pending::Wake(s));
    }

    fn recording_wake(&mut self, s: u32, now: i64) {
        let cycle_ms = self.params.cycle_s * 1000;
        let delay_ms = self.params.delay_s * 1000;
        let (end_ms, cycle_end, next_pause) = {
            let st = &self.streams[s as usize];
            (st.end_ms, st.file_start_ms + cycle_ms, st.next_pause_ms)
        };
        let recorded = {
            let st = &self.streams[s as usize];
            st.recorded_ms + (now - st.run_start_ms)
        };
        if now >= end_ms {
            // The push stops: the last file is closed and the stream goes offline.
            self.recording(s, now, now, recorded);
            self.ingest(s, now + 1000, SimKind::PublishDone);
            let gap = self.secs(60, 180);
            let st = &mut self.streams[s as usize];
            st.broadcasts_left = st.broadcasts_left.map(|n| n.saturating_sub(1));
            if st.broadcasts_left == Some(0) {
                st.phase = Phase::Done;
            } else {
                st.phase = Phase::Offline;
                self.push(now + gap, Pending::Wake(s));
            }
        } else if now >= cycle_end {
            // CycleDuration reached: this file is done, the next one starts now.
            self.recording(s, now, now, recorded);
            let st = &mut self.streams[s as usize];
            st.file_seq += 1;
            st.file_start_ms = now;
            st.run_start_ms = now;
            st.recorded_ms = 0;
            self.schedule_recording_wake(s, now);
        } else if now >= next_pause {
            self.status(s, now, SimKind::RecordPaused);
            // At least 8 s, so that retries (at most 5 s) of one status event always arrive
            // before the next one, as a receiver would expect.
            let pause = self.secs(8, 2 * self.params.delay_s);
            let resume = now + pause;
            if pause > delay_ms {
                // DelayTime passed without a push: the provider closes the file.
                self.recording(s, now + delay_ms, now, recorded);
            }
            let extra = self.secs(10, self.params.cycle_s.max(10));
            let st = &mut self.streams[s as usize];
            st.recorded_ms = recorded;
            st.file_closed = pause > delay_ms;
            st.phase = Phase::Paused;
            // A broadcast never ends while paused: it resumes, then ends a little later.
            if st.end_ms < resume + 10_000 {
                st.end_ms = resume + extra;
            }
            self.push(resume, Pending::Wake(s));
        } else {
            self.schedule_recording_wake(s, now);
        }
    }
}

impl Iterator for Generator {
    type Item = SimRequest;

    fn next(&mut self) -> Option<SimRequest> {
        loop {
            let ((now, _), pending) = self.queue.pop_first()?;
            match pending {
                Pending::Wake(s) => self.wake(s, now),
                Pending::Send(req) => {
                    if req.resend == 0 && self.rng.random_range(0..100) < RETRY_PERCENT {
                        for k in 1..=self.rng.random_range(1..=5u8) {
                            let mut retry = req.clone();
                            retry.resend = k;
                            retry.at_ms = req.at_ms + i64::from(k) * 1000;
                            self.push(retry.at_ms, Pending::Send(retry));
                        }
                    }
                    return Some(req);
                }
            }
        }
    }
}

fn post(at_ms: i64, stream: u32, kind: SimKind, body: Vec<u8>) -> SimRequest {
    SimRequest {
        at_ms,
        stream,
        kind,
        method: "POST",
        query: None,
        body: Bytes::from(body),
        resend: 0,
    }
}

/// `2017-03-08-23:09:46`, the provider's `{EscapedStartTime}` shape.
fn escaped_time(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d-%H:%M:%S").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Counts of what was sent, by kind.
#[derive(Debug, Default, Clone)]
pub struct SentSummary {
    /// Requests per kind (first deliveries and retries together).
    pub by_kind: BTreeMap<SimKind, u64>,
    /// Retries among them.
    pub retries: u64,
    /// Recording callbacks whose duration is more than 1 s off their span.
    pub mismatched: u64,
}

impl SentSummary {
    /// Counts one request.
    pub fn add(&mut self, req: &SimRequest) {
        *self.by_kind.entry(req.kind).or_default() += 1;
        if req.resend > 0 {
            self.retries += 1;
        } else if req.kind == SimKind::Recording && is_mismatched(&req.body) {
            self.mismatched += 1;
        }
    }

    /// `12 requests: publish 3, record_started 3, …, recording 4 (1 with duration ≠ span);
    /// 2 of them provider retries`, or `0 requests`.
    pub fn line(&self) -> String {
        let total: u64 = self.by_kind.values().sum();
        let mut line = human::count(total, "request", "requests");
        if total == 0 {
            return line;
        }
        let parts: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, n)| {
                let n = human::thousands(*n);
                if *k == SimKind::Recording {
                    format!(
                        "{} {n} ({} with duration ≠ span)",
                        k.as_str(),
                        human::thousands(self.mismatched)
                    )
                } else {
                    format!("{} {n}", k.as_str())
                }
            })
            .collect();
        line.push_str(&format!(
            ": {}; {} of them {}",
            parts.join(", "),
            human::thousands(self.retries),
            if self.retries == 1 {
                "a provider retry"
            } else {
                "provider retries"
            }
        ));
        line
    }
}

fn is_mismatched(body: &[u8]) -> bool {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match (
        v["duration"].as_f64(),
        v["start_time"].as_i64(),
        v["stop_time"].as_i64(),
    ) {
        (Some(d), Some(a), Some(b)) => (d - (b - a) as f64).abs() > 1.0,
        _ => false,
    }
}

/// How `run_requests` spaces requests out.
#[derive(Debug, Clone, Copy)]
pub enum Pacing {
    /// `rate` requests per second (or no waiting with `Speed::Max`).
    Rate(Speed),
    /// Follow the simulated clock, sped up by the factor.
    SimClock(f64),
}

/// Sends `requests` in order, one at a time, paced, counting into `sent` and `tally` (so a
/// caller that stops this future early still has the counts). Reports each non-2xx answer
/// through `report`. Returns why it stopped early: a request that got no answer at all.
pub async fn run_requests(
    requests: impl Iterator<Item = SimRequest>,
    sender: &CallbackSender,
    pacing: Pacing,
    sent: &mut SentSummary,
    tally: &mut Tally,
    mut report: impl FnMut(&str),
) -> Option<String> {
    tally.start();
    let mut pacer = match pacing {
        Pacing::Rate(speed) => Pacer::new(speed),
        Pacing::SimClock(speed) => Pacer::new(Speed::Factor(speed)),
    };
    let mut first_at: Option<i64> = None;
    for (i, req) in requests.enumerate() {
        let offset = match pacing {
            Pacing::Rate(_) => i as f64,
            Pacing::SimClock(_) => (req.at_ms - *first_at.get_or_insert(req.at_ms)) as f64 / 1000.0,
        };
        pacer.wait(offset).await;
        let out = match req.outgoing(sender.target()) {
            Ok(o) => o,
            Err(e) => return Some(e),
        };
        let what = format!("{} {}", req.method, out.uri);
        match sender.send(out).await {
            Ok(answer) => {
                sent.add(&req);
                tally.record(&answer);
                if !answer.is_success() {
                    report(&format!(
                        "{} ({}) -> {}: {}",
                        what,
                        req.kind.as_str(),
                        answer.status,
                        answer.body_excerpt()
                    ));
                }
            }
            Err(e) => {
                tally.failed += 1;
                return Some(e);
            }
        }
    }
    None
}

/// The receiver flags that make every chaos condition an alert within about a minute (the
/// defaults wait minutes to hours).
pub const CHAOS_RECEIVER_FLAGS: &str =
    "--alert-paused 5s --alert-not-recording 5s --alert-file-overdue 5s --alert-silence 30s";

/// `recmon simulate --chaos`: every alert rule's condition, on a stream of its own, over about
/// ten seconds of wall-clock time starting at `now_ms` (Unix milliseconds): a stream left
/// paused, one live but never recording (on a domain that sends status callbacks), one whose
/// next file never comes, a 3-second file, a 30-second hole between two files, a duration that
/// disagrees with its times, a status for a stream never started, a file that overlaps the one
/// before it, duplicated callbacks; and then silence while the streams are still live.
pub fn chaos(now_ms: i64) -> Vec<SimRequest> {
    let domain = "chaos.example.com";
    let app = "chaos";
    let t0 = now_ms / 1000 - 600;
    let mut out = Vec::new();
    let status = |at: i64, stream: &str, kind: SimKind| {
        let body = serde_json::to_vec(&StatusBody {
            domain,
            app,
            stream,
            event: kind.as_str(),
        })
        .expect("a status body serializes");
        post(now_ms + at, 0, kind, body)
    };
    let file = |at: i64, stream: &str, n: u32, start: i64, stop: i64, duration: f64| {
        let uri = format!(
            "{app}/{stream}/{n}_{}_{}.flv",
            escaped_time(start),
            escaped_time(stop)
        );
        let body = serde_json::to_vec(&RecordingBody {
            domain,
            app,
            stream,
            uri: &uri,
            duration,
            start_time: start,
            stop_time: stop,
            push_args: None,
        })
        .expect("a recording body serializes");
        post(now_ms + at, 0, SimKind::Recording, body)
    };
    let ingest = |at: i64, stream: &str| {
        SimRequest {
        at_ms: now_ms + at,
        stream: 0,
        kind: SimKind::Publish,
        method: "GET",
        query: Some(format!(
            "action=publish&app={domain}&appname={app}&id={stream}&ip=203.0.113.99&node=chaos&time={}",
            (now_ms + at) / 1000
        )),
        body: Bytes::new(),
        resend: 0,
    }
    };
    let live = [
        "paused-too-long",
        "live-not-recording",
        "file-overdue",
        "short-file",
        "gap",
        "duration-mismatch",
    ];
    for (i, s) in live.iter().enumerate() {
        out.push(ingest(i as i64 * 50, s));
    }
    for (i, s) in live
        .iter()
        .filter(|s| **s != "live-not-recording")
        .enumerate()
    {
        out.push(status(500 + i as i64 * 50, s, SimKind::RecordStarted));
    }
    // Left paused; and the provider's retry of it.
    out.push(status(1000, "paused-too-long", SimKind::RecordPaused));
    out.push(status(1100, "paused-too-long", SimKind::RecordPaused));
    // A 10 s cycle learned from two files, then no third.
    out.push(file(2000, "file-overdue", 0, t0, t0 + 10, 10.0));
    out.push(file(3000, "file-overdue", 1, t0 + 10, t0 + 20, 10.0));
    // A normal file, then one of 3 s.
    out.push(file(4000, "short-file", 0, t0, t0 + 60, 60.0));
    out.push(file(5000, "short-file", 1, t0 + 60, t0 + 63, 3.0));
    // 30 s missing between two files.
    out.push(file(6000, "gap", 0, t0, t0 + 60, 60.0));
    out.push(file(7000, "gap", 1, t0 + 90, t0 + 150, 60.0));
    // 99 s claimed for a 60 s span; then the same file again (a retry).
    out.push(file(8000, "duration-mismatch", 0, t0, t0 + 60, 99.0));
    out.push(file(8100, "duration-mismatch", 0, t0, t0 + 60, 99.0));
    // Out of order: resumed without a start; a file overlapping the previous one.
    out.push(status(9000, "orphan", SimKind::RecordResumed));
    out.push(file(9500, "orphan", 0, t0 + 100, t0 + 160, 60.0));
    out.push(file(9600, "orphan", 1, t0 + 130, t0 + 190, 60.0));
    out
}

/// `recmon simulate`.
pub async fn run(args: SimulateArgs) -> Result<(), AppError> {
    let target = Target::parse(&args.to).map_err(|e| AppError::new(2, e))?;
    if args.chaos {
        return run_chaos(&args, target).await;
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut params = SimParams::new(seed, args.streams, args.domains);
    if let Some(t) = &args.start_time {
        params.epoch = crate::tools::export::parse_time(t)
            .map_err(|e| AppError::new(2, format!("--start-time: {e}")))?
            .timestamp();
    }
    if args.count.is_some() {
        // With a count, streams keep broadcasting (and coming back) until it is reached.
        params.broadcasts = None;
    }
    let sender = CallbackSender::new(target, args.auth_key.clone(), "recmon-simulate");
    say(&format!(
        "{} on {} -> {} (seed {seed}, rate {}{})",
        human::count(params.streams as u64, "stream", "streams"),
        human::count(params.domains as u64, "domain", "domains"),
        args.to,
        args.rate,
        args.count
            .map(|c| format!(", {}", human::count(c, "request", "requests")))
            .unwrap_or_default()
    ));
    let requests = Generator::new(params).take(args.count.unwrap_or(u64::MAX) as usize);
    let (mut sent, mut tally) = (SentSummary::default(), Tally::default());
    let sending = run_requests(
        requests,
        &sender,
        Pacing::Rate(args.rate),
        &mut sent,
        &mut tally,
        |line| {
            say(line);
        },
    );
    // Ctrl-C still prints what was sent so far; a closed output stops quietly.
    let stopped = tokio::select! {
        r = sending => r.map(Stop::Failed),
        _ = crate::signals::shutdown_signal() => Some(Stop::Interrupted),
        _ = output::reader_gone(output::Stream::Stderr) => Some(Stop::OutputClosed),
    };
    say(&format!("sent {}", sent.line()));
    say(&tally.summary());
    say(&format!("repeat this exact sequence with --seed {seed}"));
    tally.outcome("simulate", stopped)
}

async fn run_chaos(args: &SimulateArgs, target: Target) -> Result<(), AppError> {
    let sender = CallbackSender::new(target, args.auth_key.clone(), "recmon-simulate");
    let requests = chaos(chrono::Utc::now().timestamp_millis());
    say(&format!(
        "chaos: {} on chaos.example.com -> {}: every alert rule's condition, over about 10 s, then silence",
        human::count(requests.len() as u64, "callback", "callbacks"),
        args.to
    ));
    say(&format!(
        "chaos: for every rule to fire within a minute, run the receiver with {CHAOS_RECEIVER_FLAGS}"
    ));
    let (mut sent, mut tally) = (SentSummary::default(), Tally::default());
    let sending = run_requests(
        requests.into_iter(),
        &sender,
        Pacing::SimClock(1.0),
        &mut sent,
        &mut tally,
        |line| {
            say(line);
        },
    );
    let stopped = tokio::select! {
        r = sending => r.map(Stop::Failed),
        _ = crate::signals::shutdown_signal() => Some(Stop::Interrupted),
    };
    if args.auth_key.is_some() && stopped.is_none() {
        // A forged one: the right shape, a wrong signature (bad_signature).
        let forged = CallbackSender::new(
            sender.target().clone(),
            Some("not-the-key-0123456789".into()),
            "recmon-simulate",
        );
        let req = chaos(chrono::Utc::now().timestamp_millis()).remove(0);
        if let Ok(out) = req.outgoing(forged.target()) {
            let _ = forged.send(out).await;
            say("chaos: sent one callback with a wrong signature");
        }
    }
    say(&format!("sent {}", sent.line()));
    say(&tally.summary());
    tally.outcome("simulate", stopped)
}

/// One report line on stderr; a closed stderr is ignored (the run is stopped by
/// [`output::reader_gone`]).
fn say(line: &str) -> bool {
    output::eline(&format!("recmon simulate: {line}"))
}

/// The `--demo` driver: four streams on two domains, 20 s files, following the simulated clock
/// in real time (so times on screen agree with the recordings' times), forever. Runs until
/// the task is dropped; stops quietly if the monitor goes away. `auth_key` signs the requests,
/// for a monitor that checks signatures with that key.
pub async fn run_demo(addr: SocketAddr, auth_key: Option<String>) {
    let target = match Target::parse(&format!("http://{addr}/recmon")) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("demo: {e}");
            return;
        }
    };
    let mut params = SimParams::new(rand::random(), 4, 2);
    params.epoch = Utc::now().timestamp();
    params.broadcasts = None;
    // Short files and a quick start, so that the screen fills within seconds.
    params.cycle_s = 20;
    params.delay_s = 15;
    params.stagger_s = 2;
    let sender = CallbackSender::new(target, auth_key, "recmon-demo");
    let stopped = run_requests(
        Generator::new(params),
        &sender,
        Pacing::SimClock(1.0),
        &mut SentSummary::default(),
        &mut Tally::default(),
        |line| tracing::warn!("demo: {line}"),
    )
    .await;
    if let Some(e) = stopped {
        tracing::info!("demo simulator stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Callback, Method};
    use crate::providers::aliyun::classify;

    fn sample(seed: u64) -> Vec<SimRequest> {
        let mut p = SimParams::new(seed, 4, 2);
        p.cycle_s = 60;
        Generator::new(p).collect()
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let a = sample(7);
        assert_eq!(a, sample(7));
        assert_ne!(a, sample(8));
        let endless: Vec<SimRequest> = {
            let mut p = SimParams::new(7, 4, 2);
            p.broadcasts = None;
            Generator::new(p).take(500).collect()
        };
        assert_eq!(endless.len(), 500);
    }

    #[test]
    fn every_request_is_a_valid_callback_in_time_order() {
        let reqs = sample(1);
        assert!(reqs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        for r in &reqs {
            let cb = classify(Method::from_name(r.method), r.query.as_deref(), &r.body)
                .unwrap_or_else(|e| panic!("{r:?}: {e:?}"));
            assert_eq!(
                cb.kind(),
                match r.kind {
                    SimKind::Publish | SimKind::PublishDone => "ingest",
                    SimKind::Recording => "recording",
                    _ => "status",
                }
            );
        }
    }

    #[test]
    fn broadcasts_look_real() {
        let reqs = sample(3);
        let firsts: Vec<&SimRequest> = reqs.iter().filter(|r| r.resend == 0).collect();
        let count = |k: SimKind| firsts.iter().filter(|r| r.kind == k).count();
        // One broadcast per stream: published, started, ended.
        assert_eq!(count(SimKind::Publish), 4);
        assert_eq!(count(SimKind::RecordStarted), 4);
        assert_eq!(count(SimKind::PublishDone), 4);
        assert_eq!(count(SimKind::RecordPaused), count(SimKind::RecordResumed));
        assert!(count(SimKind::RecordPaused) > 0);
        // Several files per stream (the cycle splits them), with the provider's uri shape.
        assert!(
            count(SimKind::Recording) >= 8,
            "{}",
            count(SimKind::Recording)
        );
        let mut mismatched = 0;
        let mut push_args = 0;
        for r in firsts.iter().filter(|r| r.kind == SimKind::Recording) {
            let Ok(Callback::Recording(rec)) = classify(Method::Post, None, &r.body) else {
                panic!("not a recording: {r:?}");
            };
            let file = rec.uri.rsplit('/').next().unwrap();
            let (stem, ext) = file.rsplit_once('.').unwrap();
            assert!(["flv", "m3u8", "mp4"].contains(&ext), "{}", rec.uri);
            let parts: Vec<&str> = stem.splitn(3, '_').collect();
            assert_eq!(parts.len(), 3, "{}", rec.uri);
            assert!(parts[0].parse::<u32>().is_ok(), "{}", rec.uri);
            assert!(
                rec.uri
                    .starts_with(&format!("{}/{}/", rec.id.app, rec.id.stream)),
                "{}",
                rec.uri
            );
            assert!(rec.start_time <= rec.stop_time);
            assert!(rec.duration.unwrap() > 0.0);
            mismatched += usize::from(rec.duration_mismatch());
            push_args += usize::from(!rec.push_args.is_empty());
        }
        assert!(mismatched > 0, "no duration/span mismatch generated");
        assert!(push_args > 0, "no push_args generated");
        // Retries are exact copies of an earlier request, at most 5 per callback.
        let retries: Vec<&SimRequest> = reqs.iter().filter(|r| r.resend > 0).collect();
        assert!(!retries.is_empty());
        for r in retries {
            assert!((1..=5).contains(&r.resend));
            assert!(reqs
                .iter()
                .any(|o| o.resend == 0 && o.body == r.body && o.query == r.query));
        }
    }

    #[test]
    fn streams_spread_over_domains_and_status_retries_never_cross_the_next_event() {
        let reqs = sample(11);
        let domains: std::collections::HashSet<String> = reqs
            .iter()
            .filter_map(|r| {
                classify(Method::from_name(r.method), r.query.as_deref(), &r.body)
                    .ok()
                    .map(|c| c.stream_id().unwrap().domain.clone())
            })
            .collect();
        assert_eq!(domains.len(), 2);
        // Per stream, the status events (with retries) never go back to an older event.
        for s in 0..4 {
            let events: Vec<&SimRequest> = reqs
                .iter()
                .filter(|r| r.stream == s && r.method == "POST" && r.kind != SimKind::Recording)
                .collect();
            for w in events.windows(2) {
                if w[1].resend > 0 {
                    assert_eq!(w[0].kind, w[1].kind, "a retry arrived after a newer event");
                }
            }
        }
    }

    #[test]
    fn encode_escapes_reserved_characters() {
        assert_eq!(encode("vhost=a.b&x=1"), "vhost%3Da.b%26x%3D1");
    }
}
