//! Streams and recordings: what each accepted callback changes (recording state, ingest,
//! viewers, segments, files).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Store;
use crate::event::{Callback, IngestAction, PlayAction, Provider, RecordState, StreamId};

/// Whether the stream is being pushed, from ingest callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ingest {
    /// No ingest callback seen.
    Unknown,
    /// Last ingest callback was `publish`.
    Live,
    /// Last ingest callback was `publish_done`.
    Offline,
}

impl Ingest {
    /// The lowercase name used in the API and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Ingest::Unknown => "unknown",
            Ingest::Live => "live",
            Ingest::Offline => "offline",
        }
    }
}

/// One stream, keyed by (domain, app, stream).
#[derive(Debug, Clone)]
pub struct Stream {
    /// Identity.
    pub id: StreamId,
    /// Recording state from status callbacks.
    pub state: RecordState,
    /// When the current state was entered (receive time; status callbacks carry no clock).
    pub state_since: Option<DateTime<Utc>>,
    /// Ingest state from publish / publish_done.
    pub ingest: Ingest,
    /// When the ingest state last changed.
    pub ingest_since: Option<DateTime<Utc>>,
    /// The last accepted event's name: a status event name, `recording`, `publish` or
    /// `publish_done`.
    pub last_event: Option<String>,
    /// When the last accepted event arrived.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Accepted recordings.
    pub recordings: u64,
    /// Accepted `record_paused` events.
    pub pauses: u64,
    /// Sum of the recordings' durations, in seconds.
    pub total_duration_s: f64,
    /// Index into [`Store::recordings`] of the newest recording.
    pub last_recording: Option<usize>,
    /// The provider whose callback first named the stream.
    pub provider: Provider,
    /// Viewers now: plays minus stops (nginx-rtmp, SRS), never below 0.
    pub viewers: u32,
    /// HLS segments written (SRS on_hls).
    pub segments: u64,
    /// Their seconds. SRS writes HLS and DVR files of one broadcast side by side, so the
    /// stream's recorded time (`total_duration_s`) is its files' seconds or these, whichever
    /// is more: never both added up.
    pub segment_s: f64,
    /// Seconds of the stream's recording files.
    pub file_s: f64,
    /// When the newest publish arrived (kept after publish_done: nginx-rtmp reports the last
    /// file after it).
    pub published_at: Option<DateTime<Utc>>,
    /// Broadcasts: publishes that took the stream live (a publish while already live is not
    /// a new one).
    pub broadcasts: u64,
    /// The newest broadcast's start and end, Unix seconds, on the sender's clock where its
    /// ingest callbacks carry one (ApsaraVideo's `time`, Tencent's `event_time`), else their
    /// arrival: the times a person is told (the alert rules count with arrival times).
    pub broadcast_span: (Option<i64>, Option<i64>),
    /// Recording files and HLS segments reported since the newest broadcast began (files
    /// reported after its publish_done still count: the last file comes after the end).
    pub broadcast_files: u64,
    /// Error events (recording errors, push errors).
    pub errors: u64,
    /// The newest error: its event name and what the provider said (untrusted text), and when.
    pub last_error: Option<(String, DateTime<Utc>)>,
}

impl Stream {
    /// The stream's recorded time: its files' seconds, or its HLS segments' seconds when it
    /// has segments and they hold more (SRS writes both for one broadcast; never added up).
    pub fn recorded_s(&self) -> f64 {
        if self.segments > 0 {
            self.file_s.max(self.segment_s)
        } else {
            self.file_s
        }
    }

    /// This stream's recordings, newest first, from `recordings` (the store's, or a prefix of
    /// them such as a frozen view's). Each step follows one link, so listing the newest few
    /// costs the same however many recordings other streams have.
    pub fn recordings_newest_first<'a>(
        &self,
        recordings: &'a [Recording],
    ) -> impl Iterator<Item = (usize, &'a Recording)> + 'a {
        let mut next = self.last_recording;
        std::iter::from_fn(move || {
            let i = next?;
            let r = recordings.get(i)?;
            next = r.previous_in_stream();
            Some((i, r))
        })
    }
}

/// One recording file, as reported by a generation callback.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Journal sequence number of the callback.
    pub seq: u64,
    /// Index into [`Store::streams`].
    pub stream: u32,
    /// When the callback arrived.
    pub received_at: DateTime<Utc>,
    /// Object path in the OSS bucket.
    pub uri: Box<str>,
    /// Reported duration, seconds.
    pub duration: Option<f64>,
    /// Unix seconds.
    pub start_time: Option<i64>,
    /// Unix seconds.
    pub stop_time: Option<i64>,
    /// `callback_*` ingest parameters.
    pub push_args: Box<[(Box<str>, Box<str>)]>,
    /// `duration` differs from `stop_time - start_time` by more than 1 s.
    pub mismatch: bool,
    /// Size in bytes plus one, where the provider reports it (8 bytes instead of an
    /// option's 16; see [`Recording::file_size`]).
    file_size: Option<std::num::NonZeroU64>,
    /// The provider sent no duration or times (nginx-rtmp, SRS): `start_time` is when the
    /// stream's previous file was reported or its publish arrived, `stop_time` and the
    /// duration are from this callback's arrival.
    pub derived: bool,
    /// Index into [`Store::recordings`] of the same stream's previous recording: with
    /// [`Stream::last_recording`] a list per stream, so that one stream's recordings are
    /// listed without scanning everyone's (4 bytes, which fit in the struct's padding).
    previous_in_stream: Option<NonMaxIndex>,
}

/// A recording's index, stored in 4 bytes: recordings are addressed with `u32` everywhere in
/// the views, and `u32::MAX` is kept free to mean "none" so that the option costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NonMaxIndex(std::num::NonZeroU32);

impl NonMaxIndex {
    pub(super) fn new(i: usize) -> Option<Self> {
        let i = u32::try_from(i).ok()?;
        std::num::NonZeroU32::new(i ^ u32::MAX).map(NonMaxIndex)
    }

    pub(super) fn get(self) -> usize {
        (self.0.get() ^ u32::MAX) as usize
    }
}

/// `stop − start` in seconds, when both are known and the difference fits: the provider's
/// times are untrusted, and `i64::MAX − i64::MIN` would overflow.
pub fn span_s(start: Option<i64>, stop: Option<i64>) -> Option<i64> {
    stop?.checked_sub(start?)
}

impl Recording {
    /// Size in bytes, where the provider reports it (Tencent).
    pub fn file_size(&self) -> Option<u64> {
        self.file_size.map(|n| n.get() - 1)
    }

    /// Index into [`Store::recordings`] of this stream's recording before this one.
    pub fn previous_in_stream(&self) -> Option<usize> {
        self.previous_in_stream.map(NonMaxIndex::get)
    }

    /// The duration to count: the reported one, else stop - start.
    pub fn effective_duration(&self) -> Option<f64> {
        self.duration
            .or_else(|| span_s(self.start_time, self.stop_time).map(|s| s as f64))
    }

    /// `stop_time − start_time`, when both are known (see [`span_s`]).
    pub fn span_s(&self) -> Option<i64> {
        span_s(self.start_time, self.stop_time)
    }

    /// push_args as one JSON object text (for views and exports).
    pub fn push_args_json(&self) -> String {
        // The classifier gives them in key order, one per key: then they are written as they
        // are, which is what going through a JSON map would write.
        if self.push_args.windows(2).all(|w| w[0].0 < w[1].0) {
            return serde_json::to_string(&PushArgs(&self.push_args)).expect("strings serialize");
        }
        serde_json::Value::Object(self.push_args_map()).to_string()
    }

    /// push_args as a JSON map (for JSON exports).
    pub fn push_args_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.push_args
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect()
    }
}

/// push_args written as a JSON object, in their order.
struct PushArgs<'a>(&'a [(Box<str>, Box<str>)]);

impl Serialize for PushArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Store {
    pub(super) fn apply_accepted(&mut self, idx: u32, cb: &Callback, seq: u64, at: DateTime<Utc>) {
        let next_recording = self.recordings.len();
        let previous_at = self.streams[idx as usize]
            .last_recording
            .and_then(|i| self.recordings.get(i))
            .map(|r| r.received_at);
        let s = &mut self.streams[idx as usize];
        match cb {
            Callback::Status(ev) => {
                if !self.status_domains.contains(&s.id.domain) {
                    self.status_domains.insert(s.id.domain.clone());
                }
                if let Some(state) = ev.target_state() {
                    if state == RecordState::Paused {
                        s.pauses += 1;
                    }
                    if state == RecordState::Error {
                        s.errors += 1;
                        let what = match &ev.detail {
                            Some(d) => format!("{}: {d}", ev.event),
                            None => ev.event.clone(),
                        };
                        s.last_error = Some((what, at));
                    }
                    if s.state != state || s.state_since.is_none() {
                        s.state = state;
                        s.state_since = Some(at);
                    }
                }
                s.last_event = Some(ev.event.clone());
            }
            Callback::Recording(r) => {
                let derived =
                    r.duration.is_none() && r.start_time.is_none() && r.stop_time.is_none();
                let (duration, start_time, stop_time) = if derived {
                    // No duration or times (nginx-rtmp, SRS): the file began when the
                    // stream's previous file was reported or its publish arrived, whichever
                    // is later, and ended when this callback arrived.
                    // Compared in whole milliseconds, as the journal keeps times, so that a
                    // rebuilt store picks the same start.
                    let ms = at.timestamp_millis();
                    let from = [previous_at, s.published_at]
                        .into_iter()
                        .flatten()
                        .filter(|f| f.timestamp_millis() <= ms)
                        .max();
                    match from {
                        Some(f) => (
                            // In whole milliseconds of each time, as the journal keeps
                            // them: a rebuilt store derives the same duration.
                            Some((at.timestamp_millis() - f.timestamp_millis()) as f64 / 1000.0),
                            Some(f.timestamp()),
                            Some(at.timestamp()),
                        ),
                        None => (None, None, Some(at.timestamp())),
                    }
                } else {
                    (r.duration, r.start_time, r.stop_time)
                };
                let rec = Recording {
                    seq,
                    stream: idx,
                    received_at: at,
                    uri: r.uri.as_str().into(),
                    duration,
                    start_time,
                    stop_time,
                    push_args: r
                        .push_args
                        .iter()
                        .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                        .collect(),
                    mismatch: !derived && r.duration_mismatch(),
                    file_size: r
                        .file_size
                        .and_then(|n| std::num::NonZeroU64::new(n.saturating_add(1))),
                    derived,
                    previous_in_stream: s.last_recording.and_then(NonMaxIndex::new),
                };
                // A file was written: the recording works again after an error.
                if s.state == RecordState::Error {
                    s.state = RecordState::None;
                    s.state_since = Some(at);
                }
                s.recordings += 1;
                s.broadcast_files += 1;
                s.file_s += rec.effective_duration().unwrap_or(0.0);
                s.total_duration_s = s.recorded_s();
                s.last_recording = Some(next_recording);
                s.last_event = Some("recording".to_string());
                self.recordings.push(rec);
            }
            Callback::Ingest(i) => {
                let ingest = match i.action {
                    IngestAction::Publish => Ingest::Live,
                    IngestAction::PublishDone => Ingest::Offline,
                };
                // The sender's time where it gives one that is a date, else the arrival.
                let when = i.sent_at().unwrap_or_else(|| at.timestamp());
                if s.ingest != ingest {
                    if ingest == Ingest::Live {
                        s.broadcasts += 1;
                        s.broadcast_files = 0;
                        s.broadcast_span = (Some(when), None);
                    } else {
                        s.broadcast_span.1 = Some(when);
                    }
                    s.ingest = ingest;
                    s.ingest_since = Some(at);
                }
                if ingest == Ingest::Live {
                    s.published_at = Some(at);
                }
                s.last_event = Some(i.action.as_str().to_string());
            }
            Callback::Play(p) => {
                s.viewers = match p.action {
                    PlayAction::Play => s.viewers.saturating_add(1),
                    PlayAction::Stop => s.viewers.saturating_sub(1),
                };
                s.last_event = Some(cb.summary().to_string());
            }
            Callback::Segment(seg) => {
                s.segments += 1;
                s.broadcast_files += 1;
                s.segment_s += seg.duration.unwrap_or(0.0);
                s.total_duration_s = s.recorded_s();
                s.last_event = Some("hls_segment".to_string());
            }
            Callback::Notice(n) => {
                // An update_publish every few seconds says the stream is alive: it counts
                // as the stream's newest event.
                s.last_event = Some(n.name.clone());
            }
        }
        s.last_event_at = Some(at);
    }

    pub(super) fn intern(&mut self, id: &StreamId, provider: Provider) -> u32 {
        if let Some(i) = self.stream_index(provider, id) {
            return i;
        }
        let i = self.streams.len() as u32;
        self.streams.push(Stream {
            id: id.clone(),
            state: RecordState::None,
            state_since: None,
            ingest: Ingest::Unknown,
            ingest_since: None,
            last_event: None,
            last_event_at: None,
            recordings: 0,
            pauses: 0,
            total_duration_s: 0.0,
            last_recording: None,
            provider,
            viewers: 0,
            segments: 0,
            segment_s: 0.0,
            file_s: 0.0,
            published_at: None,
            broadcasts: 0,
            broadcast_span: (None, None),
            broadcast_files: 0,
            errors: 0,
            last_error: None,
        });
        self.by_provider[provider.index()] += 1;
        match self.index.get_mut(id) {
            Some(by_provider) => by_provider[provider.index()] = Some(i),
            None => {
                let mut by_provider = [None; Provider::ALL.len()];
                by_provider[provider.index()] = Some(i);
                self.index.insert(id.clone(), by_provider);
            }
        }
        i
    }

    /// The index of a known stream of `provider`.
    pub fn stream_index(&self, provider: Provider, id: &StreamId) -> Option<u32> {
        self.index.get(id).and_then(|by| by[provider.index()])
    }

    /// Streams in first-seen order.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// Accepted recordings in arrival order.
    pub fn recordings(&self) -> &[Recording] {
        &self.recordings
    }
}
