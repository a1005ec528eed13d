//! The domain types every part of recmon speaks: which stream ([`StreamId`]), what a request
//! meant ([`Callback`]: a recording status, a recording file, an ingest action, a viewer, an
//! HLS segment, or a call recognised but not applied), why one was
//! refused ([`Rejection`]), what became of it ([`Outcome`]), its signature check
//! ([`AuthCheck`]) and which provider's format it was in ([`Provider`]).
//!
//! Plain data with no I/O: providers produce these, the core journals and applies them, views
//! show them. This module imports nothing from the rest of the crate.

use serde::{Deserialize, Serialize};

/// The HTTP methods the classifier distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Ingest callbacks (publish / publish_done) arrive as GET.
    Get,
    /// Recording status and generation callbacks arrive as POST.
    Post,
    /// Anything else is answered 405.
    Other,
}

impl Method {
    /// Maps an HTTP method name to the classes the classifier cares about.
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" => Method::Get,
            "POST" => Method::Post,
            _ => Method::Other,
        }
    }
}

/// Identity of a stream as the provider names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// The streaming domain.
    pub domain: String,
    /// The application name.
    pub app: String,
    /// The stream name.
    pub stream: String,
}

/// The recording state a status event moves a stream to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    /// No status event has been seen for the stream.
    None,
    /// `record_started`.
    Started,
    /// `record_paused`.
    Paused,
    /// `record_resumed`.
    Resumed,
    /// The recording ended (Tencent's `record_ended`).
    Ended,
    /// The recording failed: ApsaraVideo's `record_error`, `record_force_transcode_fail`,
    /// `transformat_error`; Tencent's `record_start_failed`, `record_error`, push errors.
    Error,
}

impl RecordState {
    /// The lowercase name used in the API, the journal and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::None => "none",
            RecordState::Started => "started",
            RecordState::Paused => "paused",
            RecordState::Resumed => "resumed",
            RecordState::Ended => "ended",
            RecordState::Error => "error",
        }
    }
}

/// A recording status callback (ApsaraVideo's `NeedStatusNotify=true`, Tencent's 332, and
/// the error events of both).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    /// Which stream.
    pub id: StreamId,
    /// The event name exactly as sent.
    pub event: String,
    /// What the provider said about it beyond the name (an error code and message), when it
    /// did; untrusted text.
    pub detail: Option<String>,
    /// When the provider says it happened (Unix seconds), where it does (Tencent's
    /// `event_time`): a repeat with the same time is a retry however late it comes.
    pub time: Option<i64>,
}

impl StatusEvent {
    /// A status event with no detail.
    pub fn new(id: StreamId, event: impl Into<String>) -> Self {
        StatusEvent {
            id,
            event: event.into(),
            detail: None,
            time: None,
        }
    }

    /// The state this event moves the stream to, or `None` for an event name recmon does not
    /// know (it is kept and shown, but no state is guessed for it).
    pub fn target_state(&self) -> Option<RecordState> {
        state_of_event(&self.event)
    }
}

/// The recording state a status event name means, for every provider's spelling:
/// ApsaraVideo's `record_started|paused|resumed` and its error names (from its records API),
/// Tencent's 332 `record_event` values, and recmon's own names for Tencent's 321/341 error
/// events.
pub fn state_of_event(event: &str) -> Option<RecordState> {
    match event {
        "record_started" | "record_start_succeeded" => Some(RecordState::Started),
        "record_paused" => Some(RecordState::Paused),
        "record_resumed" => Some(RecordState::Resumed),
        "record_ended" => Some(RecordState::Ended),
        "record_error"
        | "record_start_failed"
        | "record_force_transcode_fail"
        | "transformat_error"
        | "push_error"
        | "record_abnormal" => Some(RecordState::Error),
        _ => None,
    }
}

/// A recording generation callback: one recording file was written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingGenerated {
    /// Which stream.
    pub id: StreamId,
    /// Object path of the file in the OSS bucket.
    pub uri: String,
    /// Duration in seconds, as reported by the provider.
    pub duration: Option<f64>,
    /// Unix seconds.
    pub start_time: Option<i64>,
    /// Unix seconds.
    pub stop_time: Option<i64>,
    /// `callback_*` ingest parameters; non-string values are kept as their JSON text.
    pub push_args: Vec<(String, String)>,
    /// The file's size in bytes, where the provider reports it (Tencent).
    pub file_size: Option<u64>,
}

impl RecordingGenerated {
    /// True when `duration` disagrees with `stop_time - start_time` by more than one second.
    /// The provider's own sample does (69.403 s vs 54 s), so this is a flag, never a rejection.
    pub fn duration_mismatch(&self) -> bool {
        match (self.duration, self.start_time, self.stop_time) {
            (Some(d), Some(a), Some(b)) => (d - (b as f64 - a as f64)).abs() > 1.0,
            _ => false,
        }
    }
}

/// Whether a stream started or stopped being pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestAction {
    /// `action=publish`.
    Publish,
    /// `action=publish_done`.
    PublishDone,
}

impl IngestAction {
    /// The event name an ingest action is logged as.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestAction::Publish => "publish",
            IngestAction::PublishDone => "publish_done",
        }
    }
}

/// A stream ingest callback (GET with a query string).
#[derive(Debug, Clone, PartialEq)]
pub struct IngestEvent {
    /// `app` (the domain), `appname` and `id` from the query.
    pub id: StreamId,
    /// publish or publish_done.
    pub action: IngestAction,
    /// The pushing client's address, if given.
    pub ip: Option<String>,
    /// The edge node, if given.
    pub node: Option<String>,
    /// Unix seconds, if given and numeric.
    pub time: Option<i64>,
    /// The user's ingest parameters, decoded.
    pub usrargs: Option<String>,
}

impl IngestEvent {
    /// When the sender says it happened (ApsaraVideo's `time`, Tencent's `event_time`): its
    /// time where it gives one that can be read as a date (a hostile `time` of 10^17 cannot),
    /// else `None` and the arrival is the time to use.
    pub fn sent_at(&self) -> Option<i64> {
        self.time
            .filter(|t| *t > 0 && chrono::DateTime::from_timestamp(*t, 0).is_some())
    }
}

/// A viewer started or stopped playing (nginx-rtmp's play / play_done, SRS's on_play /
/// on_stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayAction {
    /// A viewer started.
    Play,
    /// A viewer stopped.
    Stop,
}

/// A viewer callback.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayEvent {
    /// Which stream is watched.
    pub id: StreamId,
    /// Started or stopped.
    pub action: PlayAction,
    /// The viewer's address, if given.
    pub ip: Option<String>,
}

/// One HLS segment written (SRS's on_hls): it adds to the stream's recorded time, and is not
/// a row of the recordings table (there is one every few seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentEvent {
    /// Which stream.
    pub id: StreamId,
    /// The segment file as the server names it (`cwd` joined with `file`).
    pub file: String,
    /// Its duration in seconds, when given.
    pub duration: Option<f64>,
}

/// A request recognised as a provider's callback that changes no stream state: nginx-rtmp's
/// connect, update_publish, done, disconnect; SRS's on_connect, on_close; Tencent's
/// screenshot; ApsaraVideo's on-demand recording question. It is journaled, logged and
/// answered the way its sender requires.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeEvent {
    /// The stream it names, when it names one (a connect does not).
    pub id: Option<StreamId>,
    /// The call's name as sent (`update_publish`, `on_connect`, `screenshot`...).
    pub name: String,
    /// Key fields in a few words (untrusted text).
    pub detail: String,
}

/// A request that was recognised as one of the provider's callbacks.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// record_started / record_paused / record_resumed / errors / any other event name.
    Status(StatusEvent),
    /// A recording file was written.
    Recording(RecordingGenerated),
    /// publish / publish_done.
    Ingest(IngestEvent),
    /// A viewer started or stopped.
    Play(PlayEvent),
    /// An HLS segment was written.
    Segment(SegmentEvent),
    /// Recognised, logged, no state change.
    Notice(NoticeEvent),
}

/// The kinds of [`Callback`], in [`Callback::kind_index`] order.
pub const CALLBACK_KINDS: [&str; 6] =
    ["status", "recording", "ingest", "play", "segment", "notice"];

impl Callback {
    /// The stream this callback is about; `None` for a notice that names none.
    pub fn stream_id(&self) -> Option<&StreamId> {
        match self {
            Callback::Status(s) => Some(&s.id),
            Callback::Recording(r) => Some(&r.id),
            Callback::Ingest(i) => Some(&i.id),
            Callback::Play(p) => Some(&p.id),
            Callback::Segment(s) => Some(&s.id),
            Callback::Notice(n) => n.id.as_ref(),
        }
    }

    /// The stream this callback is about, by value.
    pub fn into_stream_id(self) -> Option<StreamId> {
        match self {
            Callback::Status(s) => Some(s.id),
            Callback::Recording(r) => Some(r.id),
            Callback::Ingest(i) => Some(i.id),
            Callback::Play(p) => Some(p.id),
            Callback::Segment(s) => Some(s.id),
            Callback::Notice(n) => n.id,
        }
    }

    /// Index of the class in [`CALLBACK_KINDS`].
    pub fn kind_index(&self) -> usize {
        match self {
            Callback::Status(_) => 0,
            Callback::Recording(_) => 1,
            Callback::Ingest(_) => 2,
            Callback::Play(_) => 3,
            Callback::Segment(_) => 4,
            Callback::Notice(_) => 5,
        }
    }

    /// What the request log shows of it in one word: the status event's name, the
    /// recording's uri, the ingest action, `play`/`play_done`, the segment's file, or the
    /// notice's call name.
    pub fn summary(&self) -> &str {
        match self {
            Callback::Status(s) => &s.event,
            Callback::Recording(r) => &r.uri,
            Callback::Ingest(i) => i.action.as_str(),
            Callback::Play(p) => match p.action {
                PlayAction::Play => "play",
                PlayAction::Stop => "play_done",
            },
            Callback::Segment(s) => &s.file,
            Callback::Notice(n) => &n.name,
        }
    }

    /// Short name of the class: `status`, `recording`, `ingest`, `play`, `segment` or
    /// `notice`.
    pub fn kind(&self) -> &'static str {
        CALLBACK_KINDS[self.kind_index()]
    }
}

/// Why a request was refused, with the HTTP status it is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 400, 403, 405, 413, 422, 503...
    pub status: u16,
    /// A short sentence naming what is wrong; sent as `{"error": ...}` and journaled.
    pub error: String,
}

impl Rejection {
    /// A rejection with the given status and message.
    pub fn new(status: u16, error: impl Into<String>) -> Self {
        Rejection {
            status,
            error: error.into(),
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A callback applied to the store.
    Accepted,
    /// A provider retry of a callback already applied: answered 200, not counted again.
    Duplicate,
    /// Refused with a 4xx.
    Rejected,
    /// A callback journaled and answered while `--resume` was still rebuilding the state in
    /// the background, before the deduper could tell a retry from a new callback. The line
    /// changes nothing: once the rebuild is done, the callback is decided in seq order and
    /// journaled again, whole, as accepted or duplicate, with `"settles"` naming this line's
    /// seq (see [`crate::core::rebuild`]). Every reader skips pending lines.
    Pending,
}

impl Outcome {
    /// The lowercase name used in the journal and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
            Outcome::Pending => "pending",
        }
    }
}

/// Result of the `ALI-LIVE-SIGNATURE` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthCheck {
    /// The signature matched (and its timestamp was within `--auth-max-age`).
    Ok,
    /// Missing, malformed, wrong or stale: answered 403, never applied.
    Failed,
}

/// Which provider's format a journaled request was parsed as. Journal lines without a
/// `provider` field were written before there was a choice, and are ApsaraVideo Live's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// ApsaraVideo Live (Alibaba Cloud).
    #[default]
    Aliyun,
    /// nginx-rtmp (arut/nginx-rtmp-module) `on_*` notifications.
    NginxRtmp,
    /// SRS `http_hooks`.
    Srs,
    /// Tencent Cloud CSS event callbacks.
    Tencent,
}

impl Provider {
    /// Every provider recmon speaks.
    pub const ALL: [Provider; 4] = [
        Provider::Aliyun,
        Provider::NginxRtmp,
        Provider::Srs,
        Provider::Tencent,
    ];

    /// The name used in the journal, the API and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aliyun => "aliyun",
            Provider::NginxRtmp => "nginx-rtmp",
            Provider::Srs => "srs",
            Provider::Tencent => "tencent",
        }
    }

    /// The provider with this name (as [`Provider::as_str`] writes it), or this tag
    /// ([`Provider::tag`]); `nginx` is nginx-rtmp too.
    pub fn from_name(name: &str) -> Option<Provider> {
        if name == "nginx" {
            return Some(Provider::NginxRtmp);
        }
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == name || p.tag() == name)
    }

    /// Its position in [`Provider::ALL`].
    pub fn index(self) -> usize {
        match self {
            Provider::Aliyun => 0,
            Provider::NginxRtmp => 1,
            Provider::Srs => 2,
            Provider::Tencent => 3,
        }
    }

    /// A short tag for narrow columns.
    pub fn tag(self) -> &'static str {
        match self {
            Provider::Aliyun => "ali",
            Provider::NginxRtmp => "ngx",
            Provider::Srs => "srs",
            Provider::Tencent => "tc",
        }
    }

    /// True for the provider assumed when a journal line names none; lets the journal leave
    /// the field out for it, so that lines from older and newer recmon compare equal.
    pub fn is_default(&self) -> bool {
        *self == Provider::default()
    }
}
