//! How SRS writes its `http_hooks`: the other direction of [`super::classify`], for whatever
//! sends them as SRS would (`recmon simulate`, tests). Kept apart from the classifier, which
//! never calls it. Pure.

use serde::Serialize;

/// The User-Agent SRS sends (`SRS/<version>`), which recmon's detection also reads.
pub const USER_AGENT: &str = "SRS/6.0.157(Bee)";

/// An SRS hook body, its fields in SRS's order (`srs_app_http_hooks.cpp`); each hook sends
/// the ones it has (a field left `None` is not sent).
#[derive(Serialize, Default)]
pub struct Hook<'a> {
    /// The server's id.
    pub server_id: &'a str,
    /// The service's id.
    pub service_id: &'a str,
    /// The hook: `on_publish`, `on_dvr`, `on_hls`...
    pub action: &'a str,
    /// The client's connection.
    pub client_id: &'a str,
    /// The client's address.
    pub ip: &'a str,
    /// The vhost (recmon's domain).
    pub vhost: &'a str,
    /// The application.
    pub app: &'a str,
    /// The URL the client connected to.
    #[serde(rename = "tcUrl", skip_serializing_if = "Option::is_none")]
    pub tc_url: Option<&'a str>,
    /// The stream (not sent by `on_connect` and `on_close`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<&'a str>,
    /// The stream URL's query, with its `?`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<&'a str>,
    /// The page the player was on.
    #[serde(rename = "pageUrl", skip_serializing_if = "Option::is_none")]
    pub page_url: Option<&'a str>,
    /// `on_hls`: the segment's seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `on_dvr`, `on_hls`: SRS's working directory, which a relative `file` is under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<&'a str>,
    /// `on_dvr`, `on_hls`: the file written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `on_hls`: the segment's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `on_hls`: the playlist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m3u8: Option<String>,
    /// `on_hls`: the playlist's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m3u8_url: Option<String>,
    /// `on_hls`: the segment's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq_no: Option<u64>,
    /// `on_close`: bytes sent to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_bytes: Option<u64>,
    /// `on_close`: bytes received from the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recv_bytes: Option<u64>,
    /// `vhost/app/stream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    /// The stream's id in SRS's statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<&'a str>,
}

impl Hook<'_> {
    /// The JSON body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an SRS hook serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        Callback, IngestAction, IngestEvent, Method, NoticeEvent, PlayAction, PlayEvent,
        RecordingGenerated, SegmentEvent, StreamId,
    };
    use crate::providers::srs::classify;

    /// A hook about stream `stream` from the publisher.
    fn hook<'a>(action: &'a str, stream: Option<&'a str>) -> Hook<'a> {
        Hook {
            server_id: "vid-0xk9a1b",
            service_id: "4kz8q2m1",
            action,
            client_id: "3b8x0q1z",
            ip: "203.0.113.7",
            vhost: "srs.example.com",
            app: "live",
            tc_url: Some("rtmp://srs.example.com/live"),
            stream,
            param: stream.map(|_| "?token=abc"),
            stream_url: stream.map(|s| format!("srs.example.com/live/{s}")),
            stream_id: stream.map(|_| "vid-7q2m1xk"),
            ..Hook::default()
        }
    }

    fn read(h: &Hook) -> Callback {
        let (cb, json) = classify(Method::Post, &h.to_bytes());
        assert!(json);
        cb.unwrap_or_else(|e| panic!("{}: {e:?}", h.action))
    }

    fn id(stream: &str) -> StreamId {
        StreamId {
            domain: "srs.example.com".into(),
            app: "live".into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn every_hook_reads_back_as_what_it_encodes() {
        for stream in ["livestream-01", "a \"quoted\" name / é"] {
            for (action, ingest) in [
                ("on_publish", IngestAction::Publish),
                ("on_unpublish", IngestAction::PublishDone),
            ] {
                assert_eq!(
                    read(&hook(action, Some(stream))),
                    Callback::Ingest(IngestEvent {
                        id: id(stream),
                        action: ingest,
                        ip: Some("203.0.113.7".into()),
                        node: Some("vid-0xk9a1b".into()),
                        time: None,
                        usrargs: Some("token=abc".into()),
                    })
                );
            }
            for (action, play) in [("on_play", PlayAction::Play), ("on_stop", PlayAction::Stop)] {
                assert_eq!(
                    read(&hook(action, Some(stream))),
                    Callback::Play(PlayEvent {
                        id: id(stream),
                        action: play,
                        ip: Some("203.0.113.7".into()),
                    })
                );
            }
            let dvr = Hook {
                cwd: Some("/usr/local/srs"),
                file: Some(format!("./objs/nginx/html/live/{stream}.1767225600000.flv")),
                ..hook("on_dvr", Some(stream))
            };
            assert_eq!(
                read(&dvr),
                Callback::Recording(RecordingGenerated {
                    id: id(stream),
                    uri: format!("/usr/local/srs/objs/nginx/html/live/{stream}.1767225600000.flv"),
                    duration: None,
                    start_time: None,
                    stop_time: None,
                    push_args: vec![("param".into(), "?token=abc".into())],
                    file_size: None,
                })
            );
            let hls = Hook {
                duration: Some(9.86),
                cwd: Some("/usr/local/srs"),
                file: Some(format!("./objs/nginx/html/live/{stream}-3.ts")),
                url: Some(format!("live/{stream}-3.ts")),
                m3u8: Some(format!("./objs/nginx/html/live/{stream}.m3u8")),
                m3u8_url: Some(format!("live/{stream}.m3u8")),
                seq_no: Some(3),
                ..hook("on_hls", Some(stream))
            };
            assert_eq!(
                read(&hls),
                Callback::Segment(SegmentEvent {
                    id: id(stream),
                    file: format!("/usr/local/srs/objs/nginx/html/live/{stream}-3.ts"),
                    duration: Some(9.86),
                })
            );
        }
        // Connections name no stream.
        let connect = Hook {
            page_url: Some(""),
            ..hook("on_connect", None)
        };
        assert_eq!(
            read(&connect),
            Callback::Notice(NoticeEvent {
                id: None,
                name: "on_connect".into(),
                detail: "ip=203.0.113.7 client_id=3b8x0q1z tcUrl=rtmp://srs.example.com/live"
                    .into(),
            })
        );
        let close = Hook {
            tc_url: None,
            send_bytes: Some(3_500),
            recv_bytes: Some(190_000),
            ..hook("on_close", None)
        };
        assert_eq!(
            read(&close),
            Callback::Notice(NoticeEvent {
                id: None,
                name: "on_close".into(),
                detail: "ip=203.0.113.7 client_id=3b8x0q1z send_bytes=3500 recv_bytes=190000"
                    .into(),
            })
        );
    }
}
