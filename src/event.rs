//! The domain types every part of recmon speaks: which stream ([`StreamId`]), what a request
//! meant ([`Callback`]: a recording status, a recording file, an ingest action), why one was
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
}

impl RecordState {
    /// The lowercase name used in the API, the journal and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::None => "none",
            RecordState::Started => "started",
            RecordState::Paused => "paused",
            RecordState::Resumed => "resumed",
        }
    }
}

/// A recording status callback (`NeedStatusNotify=true`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    /// Which stream.
    pub id: StreamId,
    /// The event name exactly as sent.
    pub event: String,
}

impl StatusEvent {
    /// The state this event moves the stream to, or `None` for an event name recmon does not
    /// know (it is kept and shown, but no state is guessed for it).
    pub fn target_state(&self) -> Option<RecordState> {
        match self.event.as_str() {
            "record_started" => Some(RecordState::Started),
            "record_paused" => Some(RecordState::Paused),
            "record_resumed" => Some(RecordState::Resumed),
            _ => None,
        }
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

/// A request that was recognised as one of the provider's callbacks.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// record_started / record_paused / record_resumed / any other event name.
    Status(StatusEvent),
    /// A recording file was written.
    Recording(RecordingGenerated),
    /// publish / publish_done.
    Ingest(IngestEvent),
}

impl Callback {
    /// The stream this callback is about.
    pub fn stream_id(&self) -> &StreamId {
        match self {
            Callback::Status(s) => &s.id,
            Callback::Recording(r) => &r.id,
            Callback::Ingest(i) => &i.id,
        }
    }

    /// Short name of the class: `status`, `recording` or `ingest`.
    pub fn kind(&self) -> &'static str {
        match self {
            Callback::Status(_) => "status",
            Callback::Recording(_) => "recording",
            Callback::Ingest(_) => "ingest",
        }
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
}

impl Outcome {
    /// The lowercase name used in the journal and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
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
}

impl Provider {
    /// The name used in the journal, the API and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aliyun => "aliyun",
        }
    }

    /// True for the provider assumed when a journal line names none; lets the journal leave
    /// the field out for it, so that lines from older and newer recmon compare equal.
    pub fn is_default(&self) -> bool {
        *self == Provider::default()
    }
}
