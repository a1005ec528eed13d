//! How ApsaraVideo Live writes its callbacks: the other direction of [`super::classify`], for
//! whatever sends them as the provider would (`recmon simulate`, tests). Kept apart from the
//! classifier, which never calls it. Pure: no I/O, no clock.
//!
//! - a recording status callback: a JSON POST, [`StatusBody`];
//! - a recording file callback: a JSON POST, [`RecordingBody`], its `uri` in the provider's
//!   shape (`APP/STREAM/N_START_STOP.EXT`, [`escaped_time`]);
//! - an ingest callback: a GET whose query is [`IngestQuery`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::IngestAction;

/// A recording status callback's body (`NeedStatusNotify`).
#[derive(Serialize)]
pub struct StatusBody<'a> {
    /// The streaming domain.
    pub domain: &'a str,
    /// The application name.
    pub app: &'a str,
    /// The stream name.
    pub stream: &'a str,
    /// `record_started`, `record_paused`, `record_resumed`, `record_error`...
    pub event: &'a str,
}

impl StatusBody<'_> {
    /// The JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a status body serializes")
    }
}

/// A recording file callback's body.
#[derive(Serialize)]
pub struct RecordingBody<'a> {
    /// The streaming domain.
    pub domain: &'a str,
    /// The application name.
    pub app: &'a str,
    /// The stream name.
    pub stream: &'a str,
    /// Object path of the file.
    pub uri: &'a str,
    /// Seconds, as the provider reports them.
    pub duration: f64,
    /// Unix seconds.
    pub start_time: i64,
    /// Unix seconds.
    pub stop_time: i64,
    /// The `callback_*` ingest parameters; left out when `None` (a stream pushed without
    /// any), sent as `{}` when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_args: Option<&'a BTreeMap<String, String>>,
}

impl RecordingBody<'_> {
    /// The JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a recording body serializes")
    }
}

/// An ingest callback (a GET): what its query carries.
pub struct IngestQuery<'a> {
    /// `publish` or `publish_done`.
    pub action: IngestAction,
    /// The streaming domain (sent as `app`).
    pub domain: &'a str,
    /// The application name (sent as `appname`).
    pub app: &'a str,
    /// The stream name (sent as `id`).
    pub stream: &'a str,
    /// The pushing client's address.
    pub ip: &'a str,
    /// The edge node.
    pub node: &'a str,
    /// Unix seconds.
    pub time: i64,
    /// The push URL's parameters (`vhost=...&callback_myid=...`), decoded; the provider sends
    /// them with `publish`.
    pub usrargs: Option<&'a str>,
}

impl IngestQuery<'_> {
    /// The query string, without `?`: `action=publish&app=DOMAIN&appname=APP&id=STREAM&ip=...
    /// &node=...&time=...`, then `&usrargs=...` when there are some; every value
    /// percent-encoded.
    pub fn to_query(&self) -> String {
        let mut q = format!(
            "action={}&app={}&appname={}&id={}&ip={}&node={}&time={}",
            self.action.as_str(),
            encode(self.domain),
            encode(self.app),
            encode(self.stream),
            encode(self.ip),
            encode(self.node),
            self.time
        );
        if let Some(usrargs) = self.usrargs {
            let _ = write!(q, "&usrargs={}", encode(usrargs));
        }
        q
    }
}

/// `2017-03-08-23:09:46`, the provider's `{EscapedStartTime}` shape.
pub fn escaped_time(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d-%H:%M:%S").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Callback, IngestEvent, Method, RecordingGenerated, StatusEvent, StreamId};
    use crate::providers::aliyun::classify;

    fn id(domain: &str, app: &str, stream: &str) -> StreamId {
        StreamId {
            domain: domain.into(),
            app: app.into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn encode_escapes_reserved_characters() {
        assert_eq!(encode("vhost=a.b&x=1"), "vhost%3Da.b%26x%3D1");
    }

    #[test]
    fn a_status_body_reads_back_as_the_status_it_encodes() {
        for (stream, event) in [
            ("cam-01", "record_started"),
            ("hall \"A\" / é", "record_paused"),
            ("s", "record_error"),
        ] {
            let body = StatusBody {
                domain: "live.example.com",
                app: "liveApp",
                stream,
                event,
            }
            .to_bytes();
            assert_eq!(
                classify(Method::Post, None, &body),
                Ok(Callback::Status(StatusEvent::new(
                    id("live.example.com", "liveApp", stream),
                    event
                )))
            );
        }
    }

    #[test]
    fn a_recording_body_reads_back_as_the_file_it_encodes() {
        let args = BTreeMap::from([
            ("callback_args1".to_string(), "room 1&2".to_string()),
            ("callback_myid".to_string(), "1231389741".to_string()),
        ]);
        let empty = BTreeMap::new();
        let uri = format!(
            "liveApp/cam-01/0_{}_{}.flv",
            escaped_time(1_488_985_786),
            escaped_time(1_488_985_840)
        );
        assert_eq!(
            uri,
            "liveApp/cam-01/0_2017-03-08-15:09:46_2017-03-08-15:10:40.flv"
        );
        for push_args in [Some(&args), Some(&empty), None] {
            let body = RecordingBody {
                domain: "live.example.com",
                app: "liveApp",
                stream: "cam-01",
                uri: &uri,
                duration: 69.403,
                start_time: 1_488_985_786,
                stop_time: 1_488_985_840,
                push_args,
            }
            .to_bytes();
            assert_eq!(
                classify(Method::Post, None, &body),
                Ok(Callback::Recording(RecordingGenerated {
                    id: id("live.example.com", "liveApp", "cam-01"),
                    uri: uri.clone(),
                    duration: Some(69.403),
                    start_time: Some(1_488_985_786),
                    stop_time: Some(1_488_985_840),
                    push_args: push_args
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    file_size: None,
                }))
            );
        }
    }

    #[test]
    fn an_ingest_query_reads_back_as_the_action_it_encodes() {
        for (action, stream, usrargs) in [
            (
                IngestAction::Publish,
                "cam-01",
                Some("vhost=live.example.com&callback_myid=42"),
            ),
            (IngestAction::PublishDone, "cam-01", None),
            (IngestAction::Publish, "a b&c=d+e%f?#/é", Some("x=1 2")),
        ] {
            let q = IngestQuery {
                action,
                domain: "live.example.com",
                app: "live App",
                stream,
                ip: "203.0.113.7",
                node: "cdnvideocenter12345.cm3",
                time: 1_767_225_600,
                usrargs,
            }
            .to_query();
            assert_eq!(
                classify(Method::Get, Some(&q), b""),
                Ok(Callback::Ingest(IngestEvent {
                    id: id("live.example.com", "live App", stream),
                    action,
                    ip: Some("203.0.113.7".into()),
                    node: Some("cdnvideocenter12345.cm3".into()),
                    time: Some(1_767_225_600),
                    usrargs: usrargs.map(str::to_string),
                })),
                "{q}"
            );
        }
    }
}
