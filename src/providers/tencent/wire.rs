//! How Tencent Cloud writes its event callbacks: the other direction of [`super::classify`],
//! for whatever sends them as Tencent would (`recmon simulate`, tests). Kept apart from the
//! classifier, which never calls it. Pure: [`stamp`] takes the clock as an argument.
//!
//! A body is written without `t` and `sign` ([`Push`], [`RecordStatus`], [`RecordFile`]);
//! [`stamp`] adds them when it is sent, since they depend on the wall clock and the key.

use bytes::Bytes;
use serde_json::{json, Value};

/// How long a Tencent signature is valid: its `t` is the send time plus this (Tencent's
/// default, 10 minutes).
pub const SIGN_VALIDITY_S: i64 = 600;

/// A push (`1`) or push-cut (`0`) event.
pub struct Push<'a> {
    /// The account.
    pub appid: i64,
    /// The push domain (sent as `app`).
    pub domain: &'a str,
    /// The application (`appname`).
    pub app: &'a str,
    /// The stream (`stream_id`, and `channel_id`).
    pub stream: &'a str,
    /// The push (`1`) when true, the push cut (`0`) when false.
    pub live: bool,
    /// Unix seconds.
    pub event_time: i64,
    /// The access node (an IP).
    pub node: &'a str,
    /// The push's `sequence` (the same in its push and push-cut events).
    pub sequence: &'a str,
    /// The push URL's query.
    pub stream_param: &'a str,
    /// The pushing client's address.
    pub user_ip: &'a str,
    /// The push cut's `push_duration`, in milliseconds (sent as text, as Tencent does).
    pub push_duration_ms: Option<i64>,
}

impl Push<'_> {
    /// The JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let live = self.live;
        let mut body = json!({
            "app": self.domain,
            "appid": self.appid,
            "appname": self.app,
            "channel_id": self.stream,
            "errcode": if live { 0 } else { 1 },
            "errmsg": if live { "ok" } else { "The push client stopped the stream." },
            "event_time": self.event_time,
            "event_type": if live { 1 } else { 0 },
            "height": 720,
            "idc_id": 34,
            "node": self.node,
            "sequence": self.sequence,
            "set_id": 2,
            "stream_id": self.stream,
            "stream_param": self.stream_param,
            "user_ip": self.user_ip,
            "width": 1280,
        });
        if let Some(ms) = self.push_duration_ms {
            body["push_duration"] = ms.to_string().into();
        }
        body.to_string().into_bytes()
    }
}

/// A recording status event (`332`).
pub struct RecordStatus<'a> {
    /// The account.
    pub appid: i64,
    /// The push domain (sent as `domain`).
    pub domain: &'a str,
    /// The application (`appname`).
    pub app: &'a str,
    /// The stream (`stream_id`).
    pub stream: &'a str,
    /// Unix seconds.
    pub event_time: i64,
    /// `record_start_succeeded`, `record_paused`, `record_resumed`, `record_ended`...
    pub record_event: &'a str,
    /// The recording task's session.
    pub session_id: &'a str,
    /// The recording task.
    pub task_id: &'a str,
}

impl RecordStatus<'_> {
    /// The JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        json!({
            "appid": self.appid,
            "appname": self.app,
            "domain": self.domain,
            "event_time": self.event_time,
            "event_type": 332,
            "record_event": self.record_event,
            "session_id": self.session_id,
            "stream_id": self.stream,
            "task_id": self.task_id,
        })
        .to_string()
        .into_bytes()
    }
}

/// A recording file event (`100`): the file is stored in VOD, at
/// `http://APPID.vod2.myqcloud.com/9425a3e9vodgzpAPPID/FILE_ID/FILE_NAME`.
pub struct RecordFile<'a> {
    /// The account.
    pub appid: i64,
    /// The push domain (sent as `app`).
    pub domain: &'a str,
    /// The application (`appname`).
    pub app: &'a str,
    /// The stream (`stream_id`, and `channel_id`).
    pub stream: &'a str,
    /// The recording task's session (in `callback_ext`).
    pub session_id: &'a str,
    /// The push URL's query.
    pub stream_param: &'a str,
    /// Whole seconds.
    pub duration: i64,
    /// Unix seconds, and the microseconds past it.
    pub start_time: i64,
    /// Microseconds past `start_time`.
    pub start_time_usec: i64,
    /// Unix seconds.
    pub end_time: i64,
    /// Microseconds past `end_time`.
    pub end_time_usec: i64,
    /// `FLV`, `HLS`, `MP4`.
    pub file_format: &'a str,
    /// The VOD file's id.
    pub file_id: &'a str,
    /// The file's name in VOD (`f0.flv`, `playlist.m3u8`).
    pub file_name: &'a str,
    /// Bytes.
    pub file_size: u64,
}

impl RecordFile<'_> {
    /// The JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let appid = self.appid;
        json!({
            "app": self.domain,
            "appid": appid,
            "appname": self.app,
            "callback_ext": json!({
                "video_codec": "h264",
                "resolution": "1280x720",
                "session_id": self.session_id,
            }).to_string(),
            "channel_id": self.stream,
            "duration": self.duration,
            "end_time": self.end_time,
            "end_time_usec": self.end_time_usec,
            "event_type": 100,
            "file_format": self.file_format,
            "file_id": self.file_id,
            "file_size": self.file_size,
            "media_start_time": 2931,
            "record_bps": 0,
            "record_file_id": self.file_id,
            "start_time": self.start_time,
            "start_time_usec": self.start_time_usec,
            "stream_id": self.stream,
            "stream_param": self.stream_param,
            "video_url": format!(
                "http://{appid}.vod2.myqcloud.com/9425a3e9vodgzp{appid}/{}/{}",
                self.file_id, self.file_name
            ),
        })
        .to_string()
        .into_bytes()
    }
}

/// A Tencent body as sent at `now` (Unix seconds): with `t`, the signature's expiry (`now` +
/// 10 minutes, as Tencent sets it), and with a key `sign` = md5(key + t) ([`super::sign`]).
/// Without a key there is no `sign` (a receiver run with --tencent-key refuses such a
/// callback). Keys stay in order, as in Tencent's own samples.
pub fn stamp(body: &[u8], key: Option<&str>, now: i64) -> Bytes {
    let Ok(mut obj) = serde_json::from_slice::<serde_json::Map<String, Value>>(body) else {
        return Bytes::copy_from_slice(body);
    };
    let t = now + SIGN_VALIDITY_S;
    obj.insert("t".into(), t.into());
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        obj.insert("sign".into(), super::sign(key, t).into());
    }
    Bytes::from(serde_json::to_vec(&obj).expect("a JSON object serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        Callback, IngestAction, IngestEvent, Method, RecordingGenerated, StatusEvent, StreamId,
    };
    use crate::providers::tencent::{classify, verify};

    const KEY: &str = "tencent-callback-key";
    const NOW: i64 = 1_767_225_600;

    /// `body` as recmon reads it once sent, signed, at `NOW`.
    fn read(body: &[u8]) -> Callback {
        let sent = stamp(body, Some(KEY), NOW);
        assert_eq!(verify(&sent, KEY, NOW + SIGN_VALIDITY_S), Ok(()));
        let (cb, json) = classify(Method::Post, &sent);
        assert!(json);
        cb.unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn id(stream: &str) -> StreamId {
        StreamId {
            domain: "push.example.com".into(),
            app: "live".into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn every_event_reads_back_as_what_it_encodes() {
        for stream in ["talkshow-01", "a \"quoted\" name / é"] {
            for (live, action) in [
                (true, IngestAction::Publish),
                (false, IngestAction::PublishDone),
            ] {
                let push = Push {
                    appid: 1_253_456_789,
                    domain: "push.example.com",
                    app: "live",
                    stream,
                    live,
                    event_time: NOW,
                    node: "42.81.7.9",
                    sequence: "2236000521158340432",
                    stream_param: "txSecret=ab12&txTime=69A5F780",
                    user_ip: "203.0.113.7",
                    push_duration_ms: (!live).then_some(61_000),
                };
                assert_eq!(
                    read(&push.to_bytes()),
                    Callback::Ingest(IngestEvent {
                        id: id(stream),
                        action,
                        ip: Some("203.0.113.7".into()),
                        node: Some("42.81.7.9".into()),
                        time: Some(NOW),
                        usrargs: Some("txSecret=ab12&txTime=69A5F780".into()),
                    })
                );
            }
            for event in ["record_start_succeeded", "record_paused", "record_ended"] {
                let status = RecordStatus {
                    appid: 1_253_456_789,
                    domain: "push.example.com",
                    app: "live",
                    stream,
                    event_time: NOW,
                    record_event: event,
                    session_id: "1253456789-0123456789abcdef",
                    task_id: "1253456789-0123456789abcdef-0",
                };
                assert_eq!(
                    read(&status.to_bytes()),
                    Callback::Status(StatusEvent {
                        id: id(stream),
                        event: event.into(),
                        detail: None,
                        time: Some(NOW),
                    })
                );
            }
            let file = RecordFile {
                appid: 1_253_456_789,
                domain: "push.example.com",
                app: "live",
                stream,
                session_id: "1253456789-0123456789abcdef",
                stream_param: "txSecret=ab12&txTime=69A5F780",
                duration: 300,
                start_time: NOW - 300,
                start_time_usec: 250_000,
                end_time: NOW,
                end_time_usec: 0,
                file_format: "HLS",
                file_id: "5285890812345678901",
                file_name: "playlist.m3u8",
                file_size: 48_000_000,
            };
            assert_eq!(
                read(&file.to_bytes()),
                Callback::Recording(RecordingGenerated {
                    id: id(stream),
                    uri: "http://1253456789.vod2.myqcloud.com/9425a3e9vodgzp1253456789/\
                          5285890812345678901/playlist.m3u8"
                        .into(),
                    duration: Some(300.0),
                    start_time: Some(NOW - 300),
                    stop_time: Some(NOW),
                    push_args: vec![
                        ("file_format".into(), "HLS".into()),
                        ("file_id".into(), "5285890812345678901".into()),
                        ("record_file_id".into(), "5285890812345678901".into()),
                    ],
                    file_size: Some(48_000_000),
                })
            );
        }
    }

    #[test]
    fn a_body_is_stamped_with_its_expiry_and_signed_only_with_a_key() {
        let body = br#"{"event_type":1,"stream_id":"s"}"#;
        let signed: Value = serde_json::from_slice(&stamp(body, Some(KEY), NOW)).unwrap();
        assert_eq!(signed["t"], NOW + 600);
        assert_eq!(signed["sign"], super::super::sign(KEY, NOW + 600));
        for key in [None, Some("")] {
            let unsigned = stamp(body, key, NOW);
            let v: Value = serde_json::from_slice(&unsigned).unwrap();
            assert_eq!(v["t"], NOW + 600);
            assert!(v.get("sign").is_none());
            assert!(verify(&unsigned, KEY, NOW).is_err());
        }
        // What is not a JSON object goes as it is.
        assert_eq!(&stamp(b"not json", Some(KEY), NOW)[..], b"not json");
    }
}
