//! The model: what is simulated ([`SimParams`]), what one simulated callback is ([`SimKind`],
//! [`SimRequest`]), and the [`Generator`]: each stream's state machine (live, recording,
//! paused, offline, live again) on a simulated clock, with the provider's retries. What each
//! provider sends at each step is in [`super::calls`]; how it is written, in each provider's
//! `wire` module.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::providers::Provider;
use crate::providers::{srs, tencent};
use crate::tools::client::{Outgoing, Target};

/// The simulated clock starts here unless told otherwise (2026-01-01T00:00:00Z), so that a
/// seed names one exact sequence of requests, times included.
pub const DEFAULT_EPOCH: i64 = 1_767_225_600;

/// Share of callbacks the simulated provider re-sends (its retries), in percent.
const RETRY_PERCENT: u32 = 10;
/// Share of recording files whose reported duration is off by more than a second, in percent.
pub(super) const ODD_DURATION_PERCENT: u32 = 15;

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
    /// Whose wire format the requests are in.
    pub provider: Provider,
    /// nginx-rtmp: seconds between `update_publish` (and `update_play`) calls, its
    /// `notify_update_timeout` (30 s by default in nginx-rtmp).
    pub update_s: i64,
}

impl SimParams {
    /// The defaults of `recmon simulate`: 5-minute files, 30 s DelayTime, one broadcast each,
    /// ApsaraVideo Live's format.
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
            provider: Provider::Aliyun,
            update_s: 30,
        }
    }

    /// The same, in `provider`'s wire format.
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }
}

/// Whether `provider` re-sends a callback that got no timely 2xx (ApsaraVideo Live and
/// Tencent Cloud do; nginx-rtmp and SRS never do).
pub fn retries(provider: Provider) -> bool {
    matches!(provider, Provider::Aliyun | Provider::Tencent)
}

/// The provider's name for people: `ApsaraVideo Live`, `nginx-rtmp`, `SRS`, `Tencent Cloud`.
pub fn provider_title(provider: Provider) -> &'static str {
    match provider {
        Provider::Aliyun => "ApsaraVideo Live",
        Provider::NginxRtmp => "nginx-rtmp",
        Provider::Srs => "SRS",
        Provider::Tencent => "Tencent Cloud",
    }
}

/// What a generated request is, for summaries and tests (whatever the provider calls it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimKind {
    /// The stream goes live: ingest `publish` (GET), nginx-rtmp `publish`, SRS `on_publish`,
    /// Tencent `1`.
    Publish,
    /// Status `record_started` (Tencent `332 record_start_succeeded`).
    RecordStarted,
    /// Status `record_paused`.
    RecordPaused,
    /// Status `record_resumed`.
    RecordResumed,
    /// A recording file: ApsaraVideo's generation callback, nginx-rtmp `record_done`, SRS
    /// `on_dvr`, Tencent `100`.
    Recording,
    /// The stream goes offline: ingest `publish_done` (GET), nginx-rtmp `publish_done`, SRS
    /// `on_unpublish`, Tencent `0`.
    PublishDone,
    /// Status `record_error` (from ApsaraVideo's records API).
    RecordError,
    /// Tencent `332 record_ended`.
    RecordEnded,
    /// A connection opens: nginx-rtmp `connect`, SRS `on_connect`.
    Connect,
    /// nginx-rtmp `update_publish`.
    UpdatePublish,
    /// A viewer starts: nginx-rtmp `play`, SRS `on_play`.
    Play,
    /// nginx-rtmp `update_play`.
    UpdatePlay,
    /// A viewer stops: nginx-rtmp `play_done`, SRS `on_stop`.
    PlayDone,
    /// nginx-rtmp `done`.
    Done,
    /// A connection closes: nginx-rtmp `disconnect`, SRS `on_close`.
    Disconnect,
    /// SRS `on_hls`: an HLS segment.
    Segment,
}

impl SimKind {
    /// The event's name: ApsaraVideo's spelling for its events (`recording` for generation
    /// callbacks), nginx-rtmp's for the others (`hls_segment` for SRS's `on_hls`).
    pub fn as_str(self) -> &'static str {
        match self {
            SimKind::Publish => "publish",
            SimKind::RecordStarted => "record_started",
            SimKind::RecordPaused => "record_paused",
            SimKind::RecordResumed => "record_resumed",
            SimKind::Recording => "recording",
            SimKind::PublishDone => "publish_done",
            SimKind::RecordError => "record_error",
            SimKind::RecordEnded => "record_ended",
            SimKind::Connect => "connect",
            SimKind::UpdatePublish => "update_publish",
            SimKind::Play => "play",
            SimKind::UpdatePlay => "update_play",
            SimKind::PlayDone => "play_done",
            SimKind::Done => "done",
            SimKind::Disconnect => "disconnect",
            SimKind::Segment => "hls_segment",
        }
    }

    /// What recmon classifies such a request as ([`crate::event::Callback::kind`]).
    pub fn callback_kind(self) -> &'static str {
        match self {
            SimKind::Publish | SimKind::PublishDone => "ingest",
            SimKind::Recording => "recording",
            SimKind::RecordStarted
            | SimKind::RecordPaused
            | SimKind::RecordResumed
            | SimKind::RecordError
            | SimKind::RecordEnded => "status",
            SimKind::Play | SimKind::PlayDone => "play",
            SimKind::Segment => "segment",
            SimKind::Connect
            | SimKind::UpdatePublish
            | SimKind::UpdatePlay
            | SimKind::Done
            | SimKind::Disconnect => "notice",
        }
    }
}

/// One generated callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    /// Simulated time it is sent at, Unix milliseconds.
    pub at_ms: i64,
    /// Index of the stream it is about (among its generator's streams).
    pub stream: u32,
    /// What it is.
    pub kind: SimKind,
    /// `GET` (ApsaraVideo's ingest) or `POST` (everything else).
    pub method: &'static str,
    /// The query string (ApsaraVideo's ingest callbacks), without `?`.
    pub query: Option<String>,
    /// The body: JSON, or nginx-rtmp's form; empty for GET. A Tencent body is sent with `t`
    /// and `sign` added ([`tencent::wire::stamp`]).
    pub body: Bytes,
    /// 0 for the first delivery, n for the provider's n-th retry of the same callback.
    pub resend: u8,
    /// Whose request it is.
    pub provider: Provider,
}

impl SimRequest {
    /// The Content-Type it is sent with: nginx-rtmp's form type (nginx-rtmp sends it on every
    /// call), JSON for the other POSTs, none for a GET.
    pub fn content_type(&self) -> Option<&'static str> {
        match (self.provider, self.method) {
            (Provider::NginxRtmp, _) => Some("application/x-www-form-urlencoded"),
            (_, "POST") => Some("application/json"),
            _ => None,
        }
    }

    /// The User-Agent its provider sends, when recmon reads it (SRS's).
    pub fn user_agent(&self) -> Option<&'static str> {
        (self.provider == Provider::Srs).then_some(srs::wire::USER_AGENT)
    }

    /// The request as sent to `target` now: a Tencent body gets `t` and, with
    /// `tencent_key`, `sign` ([`tencent::wire::stamp`]).
    pub fn outgoing(&self, target: &Target, tencent_key: Option<&str>) -> Result<Outgoing, String> {
        self.outgoing_at(target, tencent_key, Utc::now().timestamp())
    }

    /// [`SimRequest::outgoing`] at `now` (Unix seconds).
    pub fn outgoing_at(
        &self,
        target: &Target,
        tencent_key: Option<&str>,
        now: i64,
    ) -> Result<Outgoing, String> {
        let body = if self.provider == Provider::Tencent {
            tencent::wire::stamp(&self.body, tencent_key, now)
        } else {
            self.body.clone()
        };
        Ok(Outgoing {
            method: self.method.to_string(),
            uri: target.uri_with_query(self.query.as_deref())?,
            content_type: self.content_type().map(str::to_string),
            body,
            headers: Vec::new(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Phase {
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

pub(super) struct SimStream {
    pub(super) domain: String,
    pub(super) app: String,
    pub(super) name: String,
    pub(super) ext: &'static str,
    pub(super) push_args: Option<BTreeMap<String, String>>,
    pub(super) ip: String,
    pub(super) node: String,
    pub(super) phase: Phase,
    pub(super) broadcasts_left: Option<u32>,
    pub(super) file_seq: u32,
    pub(super) file_start_ms: i64,
    /// Milliseconds recorded into the current file before the current run of recording.
    pub(super) recorded_ms: i64,
    /// When the current run of (unpaused) recording began.
    pub(super) run_start_ms: i64,
    /// The current file was closed during the pause (the pause outlasted DelayTime).
    pub(super) file_closed: bool,
    pub(super) next_pause_ms: i64,
    pub(super) end_ms: i64,
    /// What the other providers' requests carry beyond the identity.
    pub(super) extra: Extra,
}

/// A stream's details in the formats other than ApsaraVideo's.
#[derive(Debug, Clone, Default)]
pub(super) struct Extra {
    /// The push URL's query (`token=...`): nginx-rtmp appends it raw to its calls, SRS sends
    /// it as `param` (with `?`), Tencent as `stream_param`.
    pub(super) args: String,
    /// nginx-rtmp: the publisher's `flashver`.
    pub(super) flashver: &'static str,
    /// The publisher's connection: nginx-rtmp's `clientid`, SRS's `client_id`.
    pub(super) client: String,
    /// When the current broadcast was published, Unix ms.
    pub(super) publish_ms: i64,
    /// SRS: the next HLS segment's number (kept across broadcasts, as SRS keeps it).
    pub(super) hls_seq: u64,
    /// SRS: where the current HLS segment began, Unix ms.
    pub(super) hls_from_ms: i64,
    /// SRS: the stream's `stream_id` in its statistics.
    pub(super) stream_id: String,
    /// Tencent: the push's `sequence` (the same in its push and push-cut events).
    pub(super) sequence: String,
    /// Tencent: the recording task's `session_id`.
    pub(super) session: String,
}

pub(super) enum Pending {
    /// A stream's state machine wakes up.
    Wake(u32),
    /// A request is due.
    Send(SimRequest),
}

/// The deterministic generator: an iterator of requests in simulated-time order.
pub struct Generator {
    pub(super) params: SimParams,
    pub(super) rng: StdRng,
    pub(super) streams: Vec<SimStream>,
    /// Priority queue keyed by (time, insertion order): ties keep insertion order, so the
    /// sequence depends on nothing but the params.
    pub(super) queue: BTreeMap<(i64, u64), Pending>,
    pub(super) order: u64,
    /// nginx-rtmp's connection counter (its `clientid`s).
    pub(super) connections: u64,
    /// SRS's `server_id` and `service_id`.
    pub(super) server_id: String,
    pub(super) service_id: String,
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

/// The other providers' apps and stream names, so that a mixed demo tells them apart.
const NGINX_APPS: [&str; 2] = ["live", "classroom"];
const NGINX_NAMES: [&str; 4] = ["cam", "stage", "podium", "yard"];
const SRS_APPS: [&str; 2] = ["live", "events"];
const SRS_NAMES: [&str; 4] = ["livestream", "lesson", "gameplay", "radio"];
const TENCENT_APPS: [&str; 2] = ["live", "shop"];
const TENCENT_NAMES: [&str; 4] = ["talkshow", "outlet", "webinar", "market"];

/// nginx-rtmp's publisher `flashver`s (cut to 32 characters by nginx-rtmp, as captured).
const FLASHVERS: [&str; 2] = [
    "FMLE/3.0 (compatible; Lavf59.27",
    "FMLE/3.0 (compatible; FMSc/1.0)",
];
/// A player's `flashver` (ffmpeg's, as captured).
pub(super) const PLAYER_FLASHVER: &str = "LNX 9,0,124,2";

fn domain_name(provider: Provider, d: u32) -> String {
    let base = match provider {
        Provider::Aliyun => "live",
        Provider::NginxRtmp => "rtmp",
        Provider::Srs => "srs",
        Provider::Tencent => "push",
    };
    if d == 0 {
        format!("{base}.example.com")
    } else {
        format!("{base}{}.example.com", d + 1)
    }
}

fn app_and_name(provider: Provider, i: u32) -> (String, String) {
    let i = i as usize;
    let (apps, names): (&[&str], &[&str]) = match provider {
        Provider::Aliyun => (&APPS, &NAMES),
        Provider::NginxRtmp => (&NGINX_APPS, &NGINX_NAMES),
        Provider::Srs => (&SRS_APPS, &SRS_NAMES),
        Provider::Tencent => (&TENCENT_APPS, &TENCENT_NAMES),
    };
    (
        apps[i % apps.len()].to_string(),
        format!("{}-{:02}", names[i % names.len()], i + 1),
    )
}

/// `n` random lowercase hex digits or letters-and-digits.
pub(super) fn token(rng: &mut StdRng, n: usize, alphabet: &[u8]) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}
pub(super) const HEX: &[u8] = b"0123456789abcdef";
pub(super) const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

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
            let domain = domain_name(params.provider, d);
            let (app, name) = app_and_name(params.provider, i);
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
                app,
                name,
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
                extra: Extra::default(),
            });
            first_wake.push(first_ms);
            first_ms += rng.random_range(0..=params.stagger_s.max(0)) * 1000;
        }
        // The other providers' details come after ApsaraVideo's draws, which therefore give
        // the same sequence for a seed as they always did.
        let (mut server_id, mut service_id) = (String::new(), String::new());
        if params.provider != Provider::Aliyun {
            server_id = format!("vid-{}", token(&mut rng, 7, ALNUM));
            service_id = token(&mut rng, 8, ALNUM);
            for st in &mut streams {
                let tok = token(&mut rng, 8, HEX);
                let with_token = rng.random_range(0..10) < 7;
                st.extra = match params.provider {
                    Provider::NginxRtmp => Extra {
                        args: if with_token {
                            format!("token={tok}")
                        } else {
                            String::new()
                        },
                        flashver: FLASHVERS[rng.random_range(0..FLASHVERS.len())],
                        ..Extra::default()
                    },
                    Provider::Srs => Extra {
                        args: if with_token {
                            format!("?token={tok}")
                        } else {
                            String::new()
                        },
                        stream_id: format!("vid-{}", token(&mut rng, 7, ALNUM)),
                        ..Extra::default()
                    },
                    _ => {
                        // Tencent: the access node is an IP; the push URL carries the
                        // anti-leech parameters.
                        st.node = format!(
                            "42.81.{}.{}",
                            rng.random_range(1..255),
                            rng.random_range(2..250)
                        );
                        Extra {
                            args: format!(
                                "txSecret={}&txTime={:X}",
                                token(&mut rng, 32, HEX),
                                params.epoch + 86_400
                            ),
                            ..Extra::default()
                        }
                    }
                };
            }
        }
        let mut g = Generator {
            params,
            rng,
            streams,
            queue: BTreeMap::new(),
            order: 0,
            connections: 0,
            server_id,
            service_id,
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

    pub(super) fn push(&mut self, at_ms: i64, p: Pending) {
        self.order += 1;
        self.queue.insert((at_ms, self.order), p);
    }

    pub(super) fn secs(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi) * 1000
    }

    /// Queues a POST of this generator's provider.
    pub(super) fn send(&mut self, at_ms: i64, s: u32, kind: SimKind, body: Vec<u8>) {
        let mut req = post(at_ms, s, kind, body);
        req.provider = self.params.provider;
        self.push(at_ms, Pending::Send(req));
    }

    fn wake(&mut self, s: u32, now: i64) {
        let phase = self.streams[s as usize].phase;
        match phase {
            Phase::Done => {}
            Phase::Offline => {
                let next = self.go_live(s, now);
                self.streams[s as usize].phase = Phase::Starting;
                self.push(next, Pending::Wake(s));
            }
            Phase::Starting => {
                self.status(s, now, SimKind::RecordStarted);
                let cycle = self.params.cycle_s;
                let length = self.secs(2 * cycle, 6 * cycle);
                let first_pause = now + self.secs(15, 2 * cycle);
                // nginx-rtmp and SRS have no recording pause.
                let pauses = matches!(self.params.provider, Provider::Aliyun | Provider::Tencent);
                let st = &mut self.streams[s as usize];
                st.phase = Phase::Recording;
                st.file_seq = 0;
                st.file_start_ms = now;
                st.run_start_ms = now;
                st.recorded_ms = 0;
                st.file_closed = false;
                st.end_ms = now + length;
                st.next_pause_ms = if pauses { first_pause } else { i64::MAX };
                self.schedule_broadcast(s, now);
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
            self.go_offline(s, now, recorded);
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
                    if req.resend == 0
                        && retries(req.provider)
                        && self.rng.random_range(0..100) < RETRY_PERCENT
                    {
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

/// A POST (ApsaraVideo's unless the caller says otherwise) with `body`.
pub(super) fn post(at_ms: i64, stream: u32, kind: SimKind, body: Vec<u8>) -> SimRequest {
    SimRequest {
        at_ms,
        stream,
        kind,
        method: "POST",
        query: None,
        body: Bytes::from(body),
        resend: 0,
        provider: Provider::Aliyun,
    }
}

/// What the tests of the simulator's files share: a receiver's view of a generated request.
#[cfg(test)]
pub(super) mod testing {
    use bytes::Bytes;

    use super::{Generator, SimParams, SimRequest};
    use crate::event::{Callback, Method};
    use crate::providers::{classify as classify_as, Provider};
    use crate::tools::client::Target;

    pub const TENCENT_KEY: &str = "tencent-callback-key";
    /// The wall clock the Tencent bodies are stamped at.
    pub const NOW: i64 = 1_767_225_600;

    pub fn provider_sample(provider: Provider, seed: u64) -> Vec<SimRequest> {
        let mut p = SimParams::new(seed, 4, 2).with_provider(provider);
        p.cycle_s = 60;
        Generator::new(p).collect()
    }

    /// What a receiver gets of `r`: method, query, Content-Type, User-Agent, body.
    pub struct Wire {
        pub method: Method,
        pub query: Option<String>,
        pub content_type: Option<&'static str>,
        pub user_agent: &'static str,
        pub body: Bytes,
    }

    pub fn wire(r: &SimRequest, tencent_key: Option<&str>) -> Wire {
        let target = Target::parse("http://127.0.0.1:9/cb").unwrap();
        let out = r.outgoing_at(&target, tencent_key, NOW).unwrap();
        assert_eq!(out.content_type.as_deref(), r.content_type());
        Wire {
            method: Method::from_name(r.method),
            query: out.uri.query().map(str::to_string),
            content_type: r.content_type(),
            user_agent: r.user_agent().unwrap_or("recmon-simulate"),
            body: out.body,
        }
    }

    /// `r` as recmon reads it, with its provider's classifier.
    pub fn callback(r: &SimRequest) -> Callback {
        let w = wire(r, Some(TENCENT_KEY));
        classify_as(r.provider, w.method, w.query.as_deref(), &w.body)
            .0
            .unwrap_or_else(|e| panic!("{r:?}: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{provider_sample, NOW, TENCENT_KEY};
    use super::*;
    use crate::event::{Callback, Method};
    use crate::providers::aliyun::classify;
    use serde_json::Value;

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
    fn tencent_events_are_signed_when_sent_and_only_with_a_key() {
        let reqs = provider_sample(Provider::Tencent, 6);
        let target = Target::parse("http://127.0.0.1:9/cb").unwrap();
        let mut types = BTreeMap::new();
        for r in &reqs {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            *types.entry(v["event_type"].as_i64().unwrap()).or_insert(0) += 1;
            // The generated body has neither: they depend on the wall clock and the key.
            assert!(v.get("t").is_none() && v.get("sign").is_none());
            let signed = r.outgoing_at(&target, Some(TENCENT_KEY), NOW).unwrap().body;
            let v: Value = serde_json::from_slice(&signed).unwrap();
            assert_eq!(v["t"], NOW + 600);
            assert_eq!(
                v["sign"].as_str().unwrap(),
                crate::providers::tencent::sign(TENCENT_KEY, NOW + 600)
            );
            let unsigned = r.outgoing_at(&target, None, NOW).unwrap().body;
            let v: Value = serde_json::from_slice(&unsigned).unwrap();
            assert_eq!(v["t"], NOW + 600);
            assert!(v.get("sign").is_none());
            assert!(crate::providers::tencent::verify(&unsigned, TENCENT_KEY, NOW).is_err());
        }
        assert_eq!(types.keys().copied().collect::<Vec<_>>(), [0, 1, 100, 332]);
        // Files carry what Tencent sends.
        let file = reqs.iter().find(|r| r.kind == SimKind::Recording).unwrap();
        let v: Value = serde_json::from_slice(&file.body).unwrap();
        for k in [
            "video_url",
            "start_time",
            "end_time",
            "file_size",
            "file_format",
            "duration",
        ] {
            assert!(!v[k].is_null(), "no {k}: {v}");
        }
        assert!(v["duration"].is_i64());
    }
}
