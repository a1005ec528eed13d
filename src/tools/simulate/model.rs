//! `recmon simulate`: realistic broadcasts against any receiver, and the `--demo` driver.
//!
//! Two halves, kept apart so that repeatability can be tested:
//! - [`Generator`] is a pure, deterministic function of [`SimParams`] (seed included): an
//!   iterator of [`SimRequest`]s on a simulated clock. No I/O, no wall clock.
//! - [`run`] paces and sends them with [`crate::tools::client`], and reports the answers.
//!
//! The model, per stream (see `docs/providers.md`, "ApsaraVideo Live callback format"): the
//! stream goes live, recording starts; recording is split into files every `cycle_s`
//! (CycleDuration); pauses come at random; a pause longer than `delay_s` (DelayTime) closes
//! the current file, a shorter one leaves it open, so that file's reported duration is shorter
//! than its span (the provider's duration/span mismatch appears naturally); durations also
//! carry jitter, sometimes over a second. A broadcast ends with its last file and the stream
//! going offline. About one callback in ten is re-sent 1 to 5 times, a second apart, as the
//! provider's retries are.
//!
//! Each provider ([`SimParams::provider`]) tells that story in its own wire format
//! (see `docs/providers.md`):
//! - ApsaraVideo Live (`aliyun`): ingest `publish` / `publish_done` GETs, JSON status
//!   (`record_started`, `record_paused`, `record_resumed`) and recording callbacks; retries.
//! - nginx-rtmp: form POSTs shaped like the captured ones: `connect`, `publish`,
//!   `update_publish` every `update_s`, a viewer or two (`connect`, `play`, `update_play`,
//!   `done`, `play_done`, `disconnect`), `record_done` with `path=/var/rec/NAME-UNIXTIME.flv`
//!   per file, then `publish_done`, `done`, `record_done` (the last file), `disconnect`.
//!   No pauses (nginx-rtmp has no such callback), no retries (nginx-rtmp never retries).
//! - SRS: JSON `http_hooks`: `on_connect`, `on_publish`, `on_hls` per ~10 s segment, `on_dvr`
//!   per file (under `cwd`), a viewer or two (`on_connect`, `on_play`, `on_stop`,
//!   `on_close`), then `on_unpublish`, `on_dvr` (the last file), `on_close`. No pauses, no
//!   retries (SRS makes one attempt).
//! - Tencent Cloud: JSON events: `1` push, `332` recording status (`record_start_succeeded`,
//!   `record_paused`, `record_resumed`, `record_ended`), `100` per file (`video_url`,
//!   `duration`, `start_time`, `end_time`, `file_size`, `file_format`), `0` push cut; retries.
//!   `t` and `sign` are added when sent ([`tencent_stamp`]): they depend on the wall clock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::SimulateArgs;
use crate::cli::Speed;
use crate::error::AppError;
use crate::providers::Provider;
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

/// The User-Agent SRS sends (`SRS/<version>`), which recmon's detection also reads.
pub const SRS_USER_AGENT: &str = "SRS/6.0.157(Bee)";
/// How long a Tencent signature is valid: its `t` is the send time plus this (Tencent's
/// default, 10 minutes).
pub const TENCENT_SIGN_VALIDITY_S: i64 = 600;

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
    /// and `sign` added ([`tencent_stamp`]).
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
        (self.provider == Provider::Srs).then_some(SRS_USER_AGENT)
    }

    /// The request as sent to `target` now: a Tencent body gets `t` and, with
    /// `tencent_key`, `sign` ([`tencent_stamp`]).
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
            tencent_stamp(&self.body, tencent_key, now)
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

/// A Tencent body as sent at `now` (Unix seconds): with `t`, the signature's expiry (`now` +
/// 10 minutes, as Tencent sets it), and with a key `sign` = md5(key + t). Without a key there
/// is no `sign` (a receiver run with --tencent-key refuses such a callback). Keys stay in
/// order, as in Tencent's own samples.
pub fn tencent_stamp(body: &[u8], key: Option<&str>, now: i64) -> Bytes {
    let Ok(mut obj) = serde_json::from_slice::<serde_json::Map<String, Value>>(body) else {
        return Bytes::copy_from_slice(body);
    };
    let t = now + TENCENT_SIGN_VALIDITY_S;
    obj.insert("t".into(), t.into());
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        obj.insert(
            "sign".into(),
            crate::providers::tencent::sign(key, t).into(),
        );
    }
    Bytes::from(serde_json::to_vec(&obj).expect("a JSON object serializes"))
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

/// An SRS hook body, its fields in SRS's order (`srs_app_http_hooks.cpp`); each hook sends
/// the ones it has.
#[derive(Serialize, Default)]
struct SrsHook<'a> {
    server_id: &'a str,
    service_id: &'a str,
    action: &'a str,
    client_id: &'a str,
    ip: &'a str,
    vhost: &'a str,
    app: &'a str,
    #[serde(rename = "tcUrl", skip_serializing_if = "Option::is_none")]
    tc_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    #[serde(rename = "pageUrl", skip_serializing_if = "Option::is_none")]
    page_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    m3u8: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    m3u8_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq_no: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recv_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_id: Option<&'a str>,
}

/// SRS's working directory, which `on_dvr` and `on_hls` send as `cwd`.
const SRS_CWD: &str = "/usr/local/srs";
/// The Tencent Cloud account (`appid`) the simulated events come from.
const TENCENT_APPID: i64 = 1_253_456_789;

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
    /// What the other providers' requests carry beyond the identity.
    extra: Extra,
}

/// A stream's details in the formats other than ApsaraVideo's.
#[derive(Debug, Clone, Default)]
struct Extra {
    /// The push URL's query (`token=...`): nginx-rtmp appends it raw to its calls, SRS sends
    /// it as `param` (with `?`), Tencent as `stream_param`.
    args: String,
    /// nginx-rtmp: the publisher's `flashver`.
    flashver: &'static str,
    /// The publisher's connection: nginx-rtmp's `clientid`, SRS's `client_id`.
    client: String,
    /// When the current broadcast was published, Unix ms.
    publish_ms: i64,
    /// SRS: the next HLS segment's number (kept across broadcasts, as SRS keeps it).
    hls_seq: u64,
    /// SRS: where the current HLS segment began, Unix ms.
    hls_from_ms: i64,
    /// SRS: the stream's `stream_id` in its statistics.
    stream_id: String,
    /// Tencent: the push's `sequence` (the same in its push and push-cut events).
    sequence: String,
    /// Tencent: the recording task's `session_id`.
    session: String,
}

/// A client connection in nginx-rtmp's calls.
struct NginxConn<'a> {
    addr: &'a str,
    flashver: &'a str,
    /// The client's URL arguments, appended raw (`token=abc`, `viewer=v1`).
    args: &'a str,
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
    /// nginx-rtmp's connection counter (its `clientid`s).
    connections: u64,
    /// SRS's `server_id` and `service_id`.
    server_id: String,
    service_id: String,
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
const PLAYER_FLASHVER: &str = "LNX 9,0,124,2";

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
fn token(rng: &mut StdRng, n: usize, alphabet: &[u8]) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}
const HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

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

    fn push(&mut self, at_ms: i64, p: Pending) {
        self.order += 1;
        self.queue.insert((at_ms, self.order), p);
    }

    fn secs(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi) * 1000
    }

    /// Queues a POST of this generator's provider.
    fn send(&mut self, at_ms: i64, s: u32, kind: SimKind, body: Vec<u8>) {
        let mut req = post(at_ms, s, kind, body);
        req.provider = self.params.provider;
        self.push(at_ms, Pending::Send(req));
    }

    /// A recording status event: ApsaraVideo's status callback, Tencent's `332`. nginx-rtmp
    /// and SRS send none.
    fn status(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        match self.params.provider {
            Provider::Aliyun => {
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
            Provider::Tencent => {
                let event = match kind {
                    SimKind::RecordStarted => "record_start_succeeded",
                    other => other.as_str(),
                };
                let st = &self.streams[s as usize];
                let body = json!({
                    "appid": TENCENT_APPID,
                    "appname": st.app,
                    "domain": st.domain,
                    "event_time": at_ms.div_euclid(1000),
                    "event_type": 332,
                    "record_event": event,
                    "session_id": st.extra.session,
                    "stream_id": st.name,
                    "task_id": format!("{}-{}", st.extra.session, st.file_seq),
                });
                self.send(at_ms, s, kind, body.to_string().into_bytes());
            }
            Provider::NginxRtmp | Provider::Srs => {}
        }
    }

    /// ApsaraVideo's ingest GET.
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
            provider: Provider::Aliyun,
        };
        self.push(at_ms, Pending::Send(req));
    }

    /// Tencent's push (`1`) or push-cut (`0`) event.
    fn tencent_push(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        let st = &self.streams[s as usize];
        let live = kind == SimKind::Publish;
        let mut body = json!({
            "app": st.domain,
            "appid": TENCENT_APPID,
            "appname": st.app,
            "channel_id": st.name,
            "errcode": if live { 0 } else { 1 },
            "errmsg": if live { "ok" } else { "The push client stopped the stream." },
            "event_time": at_ms.div_euclid(1000),
            "event_type": if live { 1 } else { 0 },
            "height": 720,
            "idc_id": 34,
            "node": st.node,
            "sequence": st.extra.sequence,
            "set_id": 2,
            "stream_id": st.name,
            "stream_param": st.extra.args,
            "user_ip": st.ip,
            "width": 1280,
        });
        if !live {
            body["push_duration"] = (at_ms - st.extra.publish_ms).max(0).to_string().into();
        }
        self.send(at_ms, s, kind, body.to_string().into_bytes());
    }

    /// One nginx-rtmp call, its fields in nginx-rtmp's order: the connection's (`app`,
    /// `flashver`, `swfurl`, `tcurl`, `pageurl`, `addr`), then `pre` (`epoch` or `clientid`),
    /// `call`, `post`, and the client's URL arguments when `args`.
    #[allow(clippy::too_many_arguments)]
    fn nginx_call(
        &mut self,
        s: u32,
        at_ms: i64,
        kind: SimKind,
        conn: &NginxConn,
        pre: &[(&str, String)],
        post_fields: &[(&str, String)],
        args: bool,
    ) {
        let st = &self.streams[s as usize];
        let app = ngx_escape(&st.app);
        let mut b = format!(
            "app={app}&flashver={}&swfurl=&tcurl=rtmp://{}:1935/{app}&pageurl=&addr={}",
            ngx_escape(conn.flashver),
            st.domain,
            conn.addr
        );
        for (k, v) in pre {
            let _ = write!(b, "&{k}={}", ngx_escape(v));
        }
        let call = match kind {
            SimKind::Recording => "record_done",
            other => other.as_str(),
        };
        let _ = write!(b, "&call={call}");
        for (k, v) in post_fields {
            let _ = write!(b, "&{k}={}", ngx_escape(v));
        }
        if args && !conn.args.is_empty() {
            b.push('&');
            b.push_str(conn.args);
        }
        self.send(at_ms, s, kind, b.into_bytes());
    }

    /// nginx-rtmp's `epoch` of a connection opened at `at_ms`: milliseconds of nginx's own
    /// clock, 32 bits.
    fn nginx_epoch(&self, at_ms: i64) -> String {
        ((at_ms - self.params.epoch * 1000 + 519_952).rem_euclid(1 << 32)).to_string()
    }

    /// The publisher's side of nginx-rtmp's calls about stream `s`.
    fn nginx_publisher(
        &mut self,
        s: u32,
        at_ms: i64,
        kind: SimKind,
        post_fields: &[(&str, String)],
    ) {
        let st = &self.streams[s as usize];
        let (addr, flashver, clientid, args) = (
            st.ip.clone(),
            st.extra.flashver,
            st.extra.client.clone(),
            st.extra.args.clone(),
        );
        let conn = NginxConn {
            addr: &addr,
            flashver,
            args: &args,
        };
        let name = self.streams[s as usize].name.clone();
        let pre = [("clientid", clientid.clone())];
        match kind {
            SimKind::Connect => {
                let pre = [("epoch", self.nginx_epoch(at_ms))];
                self.nginx_call(s, at_ms, kind, &conn, &pre, &[], false);
            }
            SimKind::Disconnect => {
                let app = self.streams[s as usize].app.clone();
                self.nginx_call(s, at_ms, kind, &conn, &pre, &[("app", app)], false);
            }
            // Calls that carry only the stream's name (publish_done, done) say so with none.
            _ if post_fields.is_empty() => {
                self.nginx_call(s, at_ms, kind, &conn, &pre, &[("name", name)], true);
            }
            _ => self.nginx_call(s, at_ms, kind, &conn, &pre, post_fields, true),
        }
    }

    /// One SRS hook about stream `s`, from the publisher (`client` = None) or a player.
    fn srs_hook(
        &mut self,
        s: u32,
        at_ms: i64,
        kind: SimKind,
        client: Option<(&str, &str)>,
        fill: impl FnOnce(&mut SrsHook),
    ) {
        let st = &self.streams[s as usize];
        let (client_id, ip) = client.unwrap_or((&st.extra.client, &st.ip));
        let tc_url = format!("rtmp://{}/{}", st.domain, st.app);
        let action = match kind {
            SimKind::Connect => "on_connect",
            SimKind::Publish => "on_publish",
            SimKind::PublishDone => "on_unpublish",
            SimKind::Play => "on_play",
            SimKind::PlayDone => "on_stop",
            SimKind::Recording => "on_dvr",
            SimKind::Segment => "on_hls",
            _ => "on_close",
        };
        let stream_hook = !matches!(kind, SimKind::Connect | SimKind::Disconnect);
        let mut hook = SrsHook {
            server_id: &self.server_id,
            service_id: &self.service_id,
            action,
            client_id,
            ip,
            vhost: &st.domain,
            app: &st.app,
            tc_url: (kind != SimKind::Disconnect).then_some(tc_url.as_str()),
            ..SrsHook::default()
        };
        if stream_hook {
            hook.stream = Some(&st.name);
            hook.param = Some(&st.extra.args);
            hook.stream_url = Some(format!("{}/{}/{}", st.domain, st.app, st.name));
            hook.stream_id = Some(&st.extra.stream_id);
        }
        fill(&mut hook);
        let body = serde_json::to_vec(&hook).expect("an SRS hook serializes");
        self.send(at_ms, s, kind, body);
    }

    /// The stream goes live at `now`; returns when its recording starts.
    fn go_live(&mut self, s: u32, now: i64) -> i64 {
        match self.params.provider {
            Provider::Aliyun => {
                self.ingest(s, now, SimKind::Publish);
                now + self.secs(1, 3)
            }
            Provider::Tencent => {
                let sequence = self.rng.random_range(1u64 << 60..1u64 << 63).to_string();
                let session = format!("{}-{}", TENCENT_APPID, token(&mut self.rng, 16, HEX));
                let st = &mut self.streams[s as usize];
                st.extra.sequence = sequence;
                st.extra.session = session;
                st.extra.publish_ms = now;
                self.tencent_push(s, now, SimKind::Publish);
                now + self.secs(1, 3)
            }
            Provider::NginxRtmp => {
                self.connections += 1;
                let publish = now + self.rng.random_range(100..300);
                let st = &mut self.streams[s as usize];
                st.extra.client = self.connections.to_string();
                st.extra.publish_ms = publish;
                self.nginx_publisher(s, now, SimKind::Connect, &[]);
                let name = self.streams[s as usize].name.clone();
                self.nginx_publisher(
                    s,
                    publish,
                    SimKind::Publish,
                    &[("name", name), ("type", "live".into())],
                );
                publish
            }
            Provider::Srs => {
                let client = token(&mut self.rng, 8, ALNUM);
                let publish = now + self.rng.random_range(100..300);
                let st = &mut self.streams[s as usize];
                st.extra.client = client;
                st.extra.publish_ms = publish;
                st.extra.hls_from_ms = publish;
                self.srs_hook(s, now, SimKind::Connect, None, |h| h.page_url = Some(""));
                self.srs_hook(s, publish, SimKind::Publish, None, |_| {});
                publish
            }
        }
    }

    /// What nginx-rtmp and SRS send while a broadcast runs, known at its start (neither
    /// pauses): nginx-rtmp's `update_publish` calls, SRS's HLS segments, and a viewer or
    /// two.
    fn schedule_broadcast(&mut self, s: u32, now: i64) {
        let end = self.streams[s as usize].end_ms;
        match self.params.provider {
            Provider::NginxRtmp => {
                let every = self.params.update_s.max(1) * 1000;
                let mut at = now + every;
                while at < end {
                    let time = (at - now) / 1000;
                    let timestamp = time * 1000 - self.rng.random_range(100..400);
                    let name = self.streams[s as usize].name.clone();
                    self.nginx_publisher(
                        s,
                        at,
                        SimKind::UpdatePublish,
                        &[
                            ("time", time.to_string()),
                            ("timestamp", timestamp.to_string()),
                            ("name", name),
                        ],
                    );
                    at += every;
                }
            }
            Provider::Srs => {
                let mut from = now;
                loop {
                    let length = self.rng.random_range(9_500..=10_500);
                    if from + length >= end {
                        break;
                    }
                    self.srs_segment(s, from + length, length);
                    from += length;
                }
                self.streams[s as usize].extra.hls_from_ms = from;
            }
            _ => return,
        }
        // A viewer or two, each gone before the broadcast ends.
        for _ in 0..self.rng.random_range(1..=2) {
            let latest = end - 12_000;
            if latest <= now + 5_000 {
                break;
            }
            let start = self.rng.random_range(now + 5_000..=latest);
            let stop = (start + self.rng.random_range(5_000..=120_000)).min(end - 2_000);
            self.viewer(s, start, stop);
        }
    }

    /// A viewer of stream `s` from `start` to `stop`.
    fn viewer(&mut self, s: u32, start: i64, stop: i64) {
        let addr = format!("198.51.100.{}", self.rng.random_range(2..250));
        match self.params.provider {
            Provider::NginxRtmp => {
                self.connections += 1;
                let clientid = self.connections.to_string();
                let args = format!("viewer=v{}", self.connections);
                let name = self.streams[s as usize].name.clone();
                let conn = NginxConn {
                    addr: &addr,
                    flashver: PLAYER_FLASHVER,
                    args: &args,
                };
                let id = [("clientid", clientid.clone())];
                let epoch = [("epoch", self.nginx_epoch(start - 140))];
                self.nginx_call(s, start - 140, SimKind::Connect, &conn, &epoch, &[], false);
                self.nginx_call(
                    s,
                    start,
                    SimKind::Play,
                    &conn,
                    &id,
                    &[
                        ("name", name.clone()),
                        ("start", "4294965296".into()),
                        ("duration", "0".into()),
                        ("reset", "0".into()),
                    ],
                    true,
                );
                let every = self.params.update_s.max(1) * 1000;
                let mut at = start + every;
                while at < stop {
                    let time = (at - start) / 1000;
                    let timestamp = at - self.streams[s as usize].extra.publish_ms;
                    self.nginx_call(
                        s,
                        at,
                        SimKind::UpdatePlay,
                        &conn,
                        &id,
                        &[
                            ("time", time.to_string()),
                            ("timestamp", timestamp.to_string()),
                            ("name", name.clone()),
                        ],
                        true,
                    );
                    at += every;
                }
                let named = [("name", name)];
                self.nginx_call(s, stop, SimKind::Done, &conn, &id, &named, true);
                self.nginx_call(s, stop + 1, SimKind::PlayDone, &conn, &id, &named, true);
                let app = [("app", self.streams[s as usize].app.clone())];
                self.nginx_call(s, stop + 2, SimKind::Disconnect, &conn, &id, &app, false);
            }
            Provider::Srs => {
                let client = token(&mut self.rng, 8, ALNUM);
                let sent = (stop - start) as u64 * self.rng.random_range(150..250);
                let c = Some((client.as_str(), addr.as_str()));
                self.srs_hook(s, start - 100, SimKind::Connect, c, |h| {
                    h.page_url = Some("")
                });
                self.srs_hook(s, start, SimKind::Play, c, |h| h.page_url = Some(""));
                self.srs_hook(s, stop, SimKind::PlayDone, c, |_| {});
                self.srs_hook(s, stop + 3, SimKind::Disconnect, c, |h| {
                    h.send_bytes = Some(sent);
                    h.recv_bytes = Some(3_500);
                });
            }
            _ => {}
        }
    }

    /// SRS's `on_hls` for the segment that ends at `at_ms` and lasts `length_ms`.
    fn srs_segment(&mut self, s: u32, at_ms: i64, length_ms: i64) {
        let st = &mut self.streams[s as usize];
        let seq = st.extra.hls_seq;
        st.extra.hls_seq += 1;
        let (app, name) = (st.app.clone(), st.name.clone());
        self.srs_hook(s, at_ms, SimKind::Segment, None, |h| {
            h.duration = Some(length_ms as f64 / 1000.0);
            h.cwd = Some(SRS_CWD);
            h.file = Some(format!("./objs/nginx/html/{app}/{name}-{seq}.ts"));
            h.url = Some(format!("{app}/{name}-{seq}.ts"));
            h.m3u8 = Some(format!("./objs/nginx/html/{app}/{name}.m3u8"));
            h.m3u8_url = Some(format!("{app}/{name}.m3u8"));
            h.seq_no = Some(seq);
        });
    }

    /// Closes the current file `[file_start, stop_ms)` with `recorded_ms` of content and
    /// schedules its callback at `at_ms`.
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
        match self.params.provider {
            Provider::Aliyun => {
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
            Provider::NginxRtmp => {
                // record_unique: the file is named by the Unix time it was opened.
                let path = format!("/var/rec/{}-{start}.flv", st.name);
                self.nginx_publisher(
                    s,
                    at_ms,
                    SimKind::Recording,
                    &[
                        ("recorder", String::new()),
                        ("name", st.name.clone()),
                        ("path", path),
                    ],
                );
            }
            Provider::Srs => {
                // dvr_path's default: [app]/[stream].[timestamp].flv, the opening time in ms.
                let file = format!(
                    "./objs/nginx/html/{}/{}.{}.flv",
                    st.app, st.name, st.file_start_ms
                );
                self.srs_hook(s, at_ms, SimKind::Recording, None, |h| {
                    h.cwd = Some(SRS_CWD);
                    h.file = Some(file);
                });
            }
            Provider::Tencent => {
                let (format, ext) = match st.ext {
                    "m3u8" => ("HLS", "playlist.m3u8"),
                    "mp4" => ("MP4", "f0.mp4"),
                    _ => ("FLV", "f0.flv"),
                };
                let file_id = self
                    .rng
                    .random_range(5_285_890_000_000_000_000u64..5_285_899_999_999_999_999)
                    .to_string();
                let bytes_per_ms = self.rng.random_range(120..200);
                let st = &self.streams[s as usize];
                // Tencent sends whole seconds.
                let duration = (duration_ms + 500) / 1000;
                let body = json!({
                    "app": st.domain,
                    "appid": TENCENT_APPID,
                    "appname": st.app,
                    "callback_ext": json!({
                        "video_codec": "h264",
                        "resolution": "1280x720",
                        "session_id": st.extra.session,
                    }).to_string(),
                    "channel_id": st.name,
                    "duration": duration,
                    "end_time": stop,
                    "end_time_usec": stop_ms.rem_euclid(1000) * 1000,
                    "event_type": 100,
                    "file_format": format,
                    "file_id": file_id,
                    "file_size": (duration_ms.max(0) as u64) * bytes_per_ms,
                    "media_start_time": 2931,
                    "record_bps": 0,
                    "record_file_id": file_id,
                    "start_time": start,
                    "start_time_usec": st.file_start_ms.rem_euclid(1000) * 1000,
                    "stream_id": st.name,
                    "stream_param": st.extra.args,
                    "video_url": format!(
                        "http://{TENCENT_APPID}.vod2.myqcloud.com/9425a3e9vodgzp{TENCENT_APPID}/{file_id}/{ext}"
                    ),
                });
                self.send(at_ms, s, SimKind::Recording, body.to_string().into_bytes());
            }
        }
    }

    /// The push stops at `now`: the last file is closed and the stream goes offline, in the
    /// order each provider tells it.
    fn go_offline(&mut self, s: u32, now: i64, recorded: i64) {
        match self.params.provider {
            Provider::Aliyun => {
                self.recording(s, now, now, recorded);
                self.ingest(s, now + 1000, SimKind::PublishDone);
            }
            Provider::Tencent => {
                // The push cut, the recording's end, then the last file once it is stored.
                self.tencent_push(s, now, SimKind::PublishDone);
                self.status(s, now + 1000, SimKind::RecordEnded);
                self.recording(s, now + 3000, now, recorded);
            }
            Provider::NginxRtmp => {
                // As captured: publish_done, done, record_done (the last file), disconnect,
                // within a few milliseconds.
                self.nginx_publisher(s, now, SimKind::PublishDone, &[]);
                self.nginx_publisher(s, now + 1, SimKind::Done, &[]);
                self.recording(s, now + 3, now, recorded);
                self.nginx_publisher(s, now + 7, SimKind::Disconnect, &[]);
            }
            Provider::Srs => {
                // The last HLS segment and DVR file close with the publish.
                let from = self.streams[s as usize].extra.hls_from_ms;
                if now > from {
                    self.srs_segment(s, now, now - from);
                }
                self.srs_hook(s, now + 2, SimKind::PublishDone, None, |_| {});
                self.recording(s, now + 10, now, recorded);
                let sent = 3_500;
                let recv = (now - self.streams[s as usize].extra.publish_ms).max(0) as u64 * 190;
                self.srs_hook(s, now + 20, SimKind::Disconnect, None, |h| {
                    h.send_bytes = Some(sent);
                    h.recv_bytes = Some(recv);
                });
            }
        }
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

fn post(at_ms: i64, stream: u32, kind: SimKind, body: Vec<u8>) -> SimRequest {
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

/// Percent-encodes a value as nginx-rtmp does (`ngx_escape_uri` with `NGX_ESCAPE_ARGS`):
/// only space, `#`, `%`, `&`, `+`, `;`, `?`, control and non-ASCII bytes; `/`, `:`, `(`, `,`
/// stay as they are (`FMLE/3.0%20(compatible%3B%20Lavf59.27`).
fn ngx_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f || matches!(b, b'#' | b'%' | b'&' | b'+' | b';' | b'?') {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
    out
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
        // Tencent's `100` calls it end_time.
        v["stop_time"].as_i64().or(v["end_time"].as_i64()),
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

/// Sends each provider's requests as that provider does, to one receiver: ApsaraVideo's signed
/// with ALI-LIVE-* headers when there is an auth key, SRS's with SRS's User-Agent, Tencent's
/// stamped with `t` and `sign` ([`tencent_stamp`]). One connection per provider; requests
/// still go one at a time, in order.
pub struct Senders {
    aliyun: CallbackSender,
    srs: CallbackSender,
    nginx: CallbackSender,
    tencent: CallbackSender,
    tencent_key: Option<String>,
}

impl Senders {
    /// Senders to `target`; `user_agent` for the providers whose agent recmon does not read.
    pub fn new(
        target: Target,
        auth_key: Option<String>,
        tencent_key: Option<String>,
        user_agent: &'static str,
    ) -> Self {
        Senders {
            aliyun: CallbackSender::new(target.clone(), auth_key, user_agent),
            srs: CallbackSender::new(target.clone(), None, SRS_USER_AGENT),
            nginx: CallbackSender::new(target.clone(), None, user_agent),
            tencent: CallbackSender::new(target, None, user_agent),
            tencent_key: tencent_key.filter(|k| !k.is_empty()),
        }
    }

    /// Sends nginx-rtmp's and SRS's requests to these targets instead (the demo's pinned
    /// paths: a receiver with `--auth-key` reads those providers only where pinned).
    pub fn unsigned_to(mut self, nginx: Target, srs: Target, user_agent: &'static str) -> Self {
        self.nginx = CallbackSender::new(nginx, None, user_agent);
        self.srs = CallbackSender::new(srs, None, SRS_USER_AGENT);
        self
    }

    /// The receiver.
    pub fn target(&self) -> &Target {
        self.aliyun.target()
    }

    /// The sender for `provider`'s requests.
    pub fn for_provider(&self, provider: Provider) -> &CallbackSender {
        match provider {
            Provider::Aliyun => &self.aliyun,
            Provider::Srs => &self.srs,
            Provider::NginxRtmp => &self.nginx,
            Provider::Tencent => &self.tencent,
        }
    }

    /// The key Tencent requests are signed with.
    pub fn tencent_key(&self) -> Option<&str> {
        self.tencent_key.as_deref()
    }
}

/// Sends `requests` in order, one at a time, paced, counting into `sent` and `tally` (so a
/// caller that stops this future early still has the counts). Reports each non-2xx answer
/// through `report`. Returns why it stopped early: a request that got no answer at all.
pub async fn run_requests(
    requests: impl Iterator<Item = SimRequest>,
    senders: &Senders,
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
        let target = senders.for_provider(req.provider).target();
        let out = match req.outgoing(target, senders.tencent_key()) {
            Ok(o) => o,
            Err(e) => return Some(e),
        };
        let what = format!("{} {}", req.method, out.uri);
        match senders.for_provider(req.provider).send(out).await {
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
    "--alert-paused 5s --alert-not-recording 5s --alert-not-recorded 5s --alert-file-overdue 5s --alert-silence 30s";

/// `recmon simulate --chaos`: every alert rule's condition, on a stream of its own, over about
/// ten seconds of wall-clock time starting at `now_ms` (Unix milliseconds): a broadcast that
/// ends with no file, a stream left paused, one live but never recording (on a domain that
/// sends status callbacks), one whose
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
    let ingest_action = |at: i64, stream: &str, kind: SimKind| SimRequest {
        at_ms: now_ms + at,
        stream: 0,
        kind,
        method: "GET",
        query: Some(format!(
            "action={}&app={domain}&appname={app}&id={stream}&ip=203.0.113.99&node=chaos&time={}",
            kind.as_str(),
            (now_ms + at) / 1000
        )),
        body: Bytes::new(),
        resend: 0,
        provider: Provider::Aliyun,
    };
    let ingest = |at: i64, stream: &str| ingest_action(at, stream, SimKind::Publish);
    let live = [
        "paused-too-long",
        "live-not-recording",
        "file-overdue",
        "short-file",
        "gap",
        "duration-mismatch",
        "recording-error",
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
    // The recording fails (ApsaraVideo's record_error).
    out.push(status(8500, "recording-error", SimKind::RecordError));
    // A broadcast that ends with no file at all.
    out.push(ingest(8700, "not-recorded"));
    out.push(ingest_action(8800, "not-recorded", SimKind::PublishDone));
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
        if args.provider != Provider::Aliyun {
            return Err(AppError::new(
                2,
                format!(
                    "--chaos speaks ApsaraVideo Live's format only; leave out --provider {}",
                    args.provider.as_str()
                ),
            ));
        }
        return run_chaos(&args, target).await;
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut params = SimParams::new(seed, args.streams, args.domains).with_provider(args.provider);
    if let Some(t) = &args.start_time {
        params.epoch = crate::tools::export::parse_time(t)
            .map_err(|e| AppError::new(2, format!("--start-time: {e}")))?
            .timestamp();
    }
    if args.count.is_some() {
        // With a count, streams keep broadcasting (and coming back) until it is reached.
        params.broadcasts = None;
    }
    let senders = Senders::new(
        target,
        args.auth_key.clone(),
        args.tencent_key.clone(),
        "recmon-simulate",
    );
    let streams = match params.provider {
        Provider::Aliyun => human::count(params.streams as u64, "stream", "streams"),
        p => format!(
            "{} {}",
            provider_title(p),
            human::count(params.streams as u64, "stream", "streams")
        ),
    };
    say(&format!(
        "{streams} on {} -> {} (seed {seed}, rate {}{})",
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
        &senders,
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
    let senders = Senders::new(target, args.auth_key.clone(), None, "recmon-simulate");
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
        &senders,
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
            senders.target().clone(),
            Some("not-the-key-0123456789".into()),
            "recmon-simulate",
        );
        let req = chaos(chrono::Utc::now().timestamp_millis()).remove(0);
        if let Ok(out) = req.outgoing(forged.target(), None) {
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

/// What `--demo` simulates: per provider, streams and domains.
pub const DEMO_MIX: [(Provider, u32, u32); 4] = [
    (Provider::Aliyun, 4, 2),
    (Provider::NginxRtmp, 2, 1),
    (Provider::Srs, 2, 1),
    (Provider::Tencent, 2, 1),
];

/// The demo's mix in words: `10 streams: 4 ApsaraVideo Live on 2 domains, 2 nginx-rtmp, ...`.
pub fn demo_description() -> String {
    let total: u32 = DEMO_MIX.iter().map(|(_, n, _)| n).sum();
    let parts: Vec<String> = DEMO_MIX
        .iter()
        .map(|(p, streams, domains)| {
            let mut part = format!("{streams} {}", provider_title(*p));
            if *domains > 1 {
                let _ = write!(part, " on {domains} domains");
            }
            part
        })
        .collect();
    format!(
        "{}: {}",
        human::count(u64::from(total), "stream", "streams"),
        parts.join(", ")
    )
}

/// The demo's requests: every provider of [`DEMO_MIX`], 20 s files, nginx-rtmp updates every
/// 5 s, streams coming back after a break, forever; merged in simulated-time order.
pub fn demo_requests(seed: u64, epoch: i64) -> Merged {
    let gens = DEMO_MIX
        .iter()
        .enumerate()
        .map(|(i, (provider, streams, domains))| {
            let mut params = SimParams::new(seed.wrapping_add(i as u64), *streams, *domains)
                .with_provider(*provider);
            params.epoch = epoch;
            params.broadcasts = None;
            // Short files and a quick start, so that the screen fills within seconds.
            params.cycle_s = 20;
            params.delay_s = 15;
            params.stagger_s = 2;
            params.update_s = 5;
            Generator::new(params)
        })
        .collect();
    Merged::new(gens)
}

/// Several generators' requests as one sequence in simulated-time order (ties: the earlier
/// generator first).
pub struct Merged {
    gens: Vec<std::iter::Peekable<Generator>>,
}

impl Merged {
    /// Merges `gens`.
    pub fn new(gens: Vec<Generator>) -> Self {
        Merged {
            gens: gens.into_iter().map(Iterator::peekable).collect(),
        }
    }
}

impl Iterator for Merged {
    type Item = SimRequest;

    fn next(&mut self) -> Option<SimRequest> {
        let (_, i) = self
            .gens
            .iter_mut()
            .enumerate()
            .filter_map(|(i, g)| g.peek().map(|r| (r.at_ms, i)))
            .min()?;
        self.gens[i].next()
    }
}

/// The `--demo` driver: [`demo_description`] (every provider recmon reads), 20 s files,
/// following the simulated clock in real time (so times on screen agree with the recordings'
/// times), forever. Runs until the task is dropped; stops quietly if the monitor goes away.
/// `auth_key` signs ApsaraVideo's requests and `tencent_key` Tencent's, for a monitor that
/// checks signatures with those keys.
pub async fn run_demo(addr: SocketAddr, auth_key: Option<String>, tencent_key: Option<String>) {
    use crate::cli::{DEMO_NGINX_PATH, DEMO_SRS_PATH};
    let targets = ["/recmon", DEMO_NGINX_PATH, DEMO_SRS_PATH]
        .map(|path| Target::parse(&format!("http://{addr}{path}")));
    let [Ok(target), Ok(nginx), Ok(srs)] = targets else {
        tracing::error!("demo: no target for {addr}");
        return;
    };
    let senders = Senders::new(target, auth_key, tencent_key, "recmon-demo").unsigned_to(
        nginx,
        srs,
        "recmon-demo",
    );
    let stopped = run_requests(
        demo_requests(rand::random(), Utc::now().timestamp()),
        &senders,
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

    // ---- the other providers ----

    use crate::providers::{classify as classify_as, detect};
    use std::collections::HashSet;

    const TENCENT_KEY: &str = "tencent-callback-key";
    /// The wall clock the Tencent bodies are stamped at.
    const NOW: i64 = 1_767_225_600;

    fn provider_sample(provider: Provider, seed: u64) -> Vec<SimRequest> {
        let mut p = SimParams::new(seed, 4, 2).with_provider(provider);
        p.cycle_s = 60;
        Generator::new(p).collect()
    }

    /// What a receiver gets of `r`: method, query, Content-Type, User-Agent, body.
    struct Wire {
        method: Method,
        query: Option<String>,
        content_type: Option<&'static str>,
        user_agent: &'static str,
        body: Bytes,
    }

    fn wire(r: &SimRequest, tencent_key: Option<&str>) -> Wire {
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
    fn callback(r: &SimRequest) -> Callback {
        let w = wire(r, Some(TENCENT_KEY));
        classify_as(r.provider, w.method, w.query.as_deref(), &w.body)
            .0
            .unwrap_or_else(|e| panic!("{r:?}: {e:?}"))
    }

    #[test]
    fn every_providers_requests_are_detected_as_its_own_and_classify() {
        for provider in Provider::ALL {
            for seed in [1, 2, 3] {
                let reqs = provider_sample(provider, seed);
                assert!(reqs.len() > 20, "{provider:?}: {}", reqs.len());
                assert!(reqs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
                for r in &reqs {
                    assert_eq!(r.provider, provider);
                    let w = wire(r, Some(TENCENT_KEY));
                    // By shape, with the User-Agent sent and without any.
                    for ua in [Some(w.user_agent), None] {
                        let got = detect(w.method, w.query.as_deref(), w.content_type, ua, &w.body);
                        assert_eq!(got, provider, "{r:?}");
                    }
                    let cb = callback(r);
                    assert_eq!(cb.kind(), r.kind.callback_kind(), "{r:?}");
                    if provider == Provider::Tencent {
                        assert_eq!(
                            crate::providers::tencent::verify(&w.body, TENCENT_KEY, NOW + 599),
                            Ok(()),
                            "{r:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_providers_broadcasts_make_sense() {
        use SimKind::*;
        for provider in Provider::ALL {
            let reqs = provider_sample(provider, 5);
            // Retries only from the providers that retry, and only copies of a first delivery.
            assert_eq!(
                reqs.iter().any(|r| r.resend > 0),
                retries(provider),
                "{provider:?}"
            );
            for r in reqs.iter().filter(|r| r.resend > 0) {
                assert!(reqs.iter().any(|o| o.resend == 0 && o.body == r.body));
            }
            let firsts: Vec<&SimRequest> = reqs.iter().filter(|r| r.resend == 0).collect();
            let mut files = HashSet::new();
            for s in 0..4 {
                let mine: Vec<&SimRequest> =
                    firsts.iter().filter(|r| r.stream == s).copied().collect();
                // Live once, then offline once, each stream its own identity.
                let ingest: Vec<SimKind> = mine
                    .iter()
                    .filter(|r| r.kind.callback_kind() == "ingest")
                    .map(|r| r.kind)
                    .collect();
                assert_eq!(ingest, [Publish, PublishDone], "{provider:?} stream {s}");
                let ids: HashSet<_> = mine
                    .iter()
                    .filter_map(|r| callback(r).stream_id().cloned())
                    .collect();
                assert_eq!(ids.len(), 1, "{provider:?} {ids:?}");
                let at = |k: SimKind| mine.iter().find(|r| r.kind == k).unwrap().at_ms;
                let (live, offline) = (at(Publish), at(PublishDone));
                // Nothing about the stream before it is live but its connection.
                for r in &mine {
                    assert!(r.at_ms >= live || r.kind == Connect, "{r:?}");
                }
                // After it is offline, only the last file and the end of the connection,
                // within seconds (nginx-rtmp reports the last file after publish_done).
                for r in mine.iter().filter(|r| r.at_ms > offline) {
                    assert!(
                        matches!(r.kind, Recording | Done | Disconnect | RecordEnded),
                        "{r:?}"
                    );
                    assert!(r.at_ms - offline <= 3_000, "{r:?}");
                }
                // Several files, one callback each.
                let recordings: Vec<&&SimRequest> =
                    mine.iter().filter(|r| r.kind == Recording).collect();
                assert!(recordings.len() >= 2, "{provider:?}: {}", recordings.len());
                for r in recordings {
                    let Callback::Recording(rec) = callback(r) else {
                        panic!("{r:?}")
                    };
                    assert!(files.insert(rec.uri.clone()), "{} reported twice", rec.uri);
                }
                // Every viewer leaves, after coming, while the stream is live.
                let count = |k: SimKind| mine.iter().filter(|r| r.kind == k).count();
                assert_eq!(count(Play), count(PlayDone));
                for r in mine.iter().filter(|r| matches!(r.kind, Play | PlayDone)) {
                    assert!(r.at_ms > live && r.at_ms < offline, "{r:?}");
                }
                match provider {
                    Provider::NginxRtmp | Provider::Srs => {
                        assert!(count(Play) >= 1);
                        assert_eq!(count(RecordStarted) + count(RecordPaused), 0);
                        // Every connection opened is closed.
                        assert_eq!(count(Connect), count(Disconnect));
                    }
                    Provider::Tencent => {
                        assert_eq!(count(RecordStarted), 1);
                        assert_eq!(count(RecordEnded), 1);
                        assert_eq!(count(RecordPaused), count(RecordResumed));
                    }
                    Provider::Aliyun => assert_eq!(count(RecordStarted), 1),
                }
                if provider == Provider::NginxRtmp {
                    // update_publish every update_s (30 s) while live.
                    let updates = count(UpdatePublish) as i64;
                    assert!(
                        (updates - (offline - live) / 30_000).abs() <= 1,
                        "{updates}"
                    );
                }
                if provider == Provider::Srs {
                    // HLS segments of about 10 s cover the broadcast.
                    let mut covered = 0.0;
                    for r in mine.iter().filter(|r| r.kind == Segment) {
                        let Callback::Segment(seg) = callback(r) else {
                            panic!()
                        };
                        let d = seg.duration.unwrap();
                        assert!(d > 0.0 && d <= 10.5, "{d}");
                        covered += d;
                    }
                    let span = (offline - at(Publish)) as f64 / 1000.0;
                    assert!((covered - span).abs() < 1.0, "{covered} of {span}");
                }
            }
            let domains: HashSet<String> = firsts
                .iter()
                .filter_map(|r| callback(r).stream_id().map(|i| i.domain.clone()))
                .collect();
            assert_eq!(domains.len(), 2, "{provider:?}: {domains:?}");
        }
    }

    #[test]
    fn nginx_rtmp_calls_carry_the_captured_fields_in_the_captured_order() {
        use crate::providers::form::parse_query;
        // The URL's own arguments are appended raw; everything else is nginx-rtmp's.
        let own = |body: &[u8]| -> Vec<String> {
            parse_query(&String::from_utf8_lossy(body))
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k != "token" && k != "viewer")
                .collect()
        };
        let mut captured = BTreeMap::new();
        for c in crate::providers::captures::nginx_rtmp() {
            if c.file.starts_with("nginx-rtmp/") {
                captured
                    .entry(c.call.clone())
                    .or_insert_with(|| own(&c.body));
            }
        }
        assert!(captured.len() >= 8, "{captured:?}");
        let reqs = provider_sample(Provider::NginxRtmp, 9);
        let mut seen = HashSet::new();
        for r in &reqs {
            let fields = parse_query(&String::from_utf8_lossy(&r.body));
            let call = &fields.iter().find(|(k, _)| k == "call").unwrap().1;
            seen.insert(call.clone());
            assert_eq!(Some(&own(&r.body)), captured.get(call), "{call}");
            assert_eq!(r.method, "POST");
            let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
            let tcurl = get("tcurl").unwrap();
            assert!(
                tcurl.starts_with("rtmp://rtmp")
                    && tcurl.ends_with(&format!(":1935/{}", get("app").unwrap())),
                "{tcurl}"
            );
            if call == "record_done" {
                let path = get("path").unwrap();
                let stem = path
                    .strip_prefix(&format!("/var/rec/{}-", get("name").unwrap()))
                    .and_then(|p| p.strip_suffix(".flv"))
                    .unwrap_or_else(|| panic!("{path}"));
                assert!(stem.len() == 10 && stem.parse::<i64>().is_ok(), "{path}");
            }
        }
        for call in [
            "connect",
            "publish",
            "update_publish",
            "play",
            "update_play",
            "record_done",
            "done",
            "play_done",
            "publish_done",
            "disconnect",
        ] {
            assert!(seen.contains(call), "no {call}");
        }
        // nginx-rtmp's escaping, as captured.
        assert!(reqs.iter().any(|r| {
            String::from_utf8_lossy(&r.body).contains("&flashver=FMLE/3.0%20(compatible%3B%20")
        }));
    }

    #[test]
    fn srs_hooks_are_srs_shaped() {
        let reqs = provider_sample(Provider::Srs, 4);
        for r in &reqs {
            assert_eq!(r.user_agent(), Some(SRS_USER_AGENT));
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            let action = v["action"].as_str().unwrap();
            for k in ["server_id", "service_id", "client_id", "ip", "vhost", "app"] {
                assert!(v[k].is_string(), "{action} without {k}: {v}");
            }
            match action {
                "on_connect" | "on_close" => assert!(v.get("stream").is_none()),
                _ => {
                    assert_eq!(
                        v["stream_url"].as_str().unwrap(),
                        format!(
                            "{}/{}/{}",
                            v["vhost"].as_str().unwrap(),
                            v["app"].as_str().unwrap(),
                            v["stream"].as_str().unwrap()
                        )
                    );
                }
            }
            if action == "on_dvr" {
                assert_eq!(v["cwd"], SRS_CWD);
                assert!(v["file"]
                    .as_str()
                    .unwrap()
                    .starts_with("./objs/nginx/html/"));
            }
            if action == "on_hls" {
                assert!(v["seq_no"].is_u64() && v["duration"].is_f64(), "{v}");
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

    #[test]
    fn the_demo_mixes_every_provider() {
        let reqs: Vec<SimRequest> = demo_requests(7, NOW).take(3000).collect();
        assert!(reqs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        for p in Provider::ALL {
            let live: HashSet<StreamIdKey> = reqs
                .iter()
                .filter(|r| r.provider == p && r.kind == SimKind::Publish)
                .filter_map(|r| {
                    callback(r)
                        .stream_id()
                        .map(|i| (i.domain.clone(), i.app.clone(), i.stream.clone()))
                })
                .collect();
            let want = DEMO_MIX.iter().find(|(q, _, _)| *q == p).unwrap().1 as usize;
            assert_eq!(live.len(), want, "{p:?}");
        }
        assert_eq!(
            demo_description(),
            "10 streams: 4 ApsaraVideo Live on 2 domains, 2 nginx-rtmp, 2 SRS, 2 Tencent Cloud"
        );
    }

    type StreamIdKey = (String, String, String);

    #[test]
    fn ngx_escape_is_nginx_rtmps() {
        assert_eq!(
            ngx_escape("FMLE/3.0 (compatible; Lavf59.27"),
            "FMLE/3.0%20(compatible%3B%20Lavf59.27"
        );
        assert_eq!(ngx_escape("LNX 9,0,124,2"), "LNX%209,0,124,2");
        assert_eq!(ngx_escape("a&b+c#d?e%"), "a%26b%2Bc%23d%3Fe%25");
    }
}
