//! SRS `http_hooks`: a JSON POST whose `action` names the hook. See `docs/providers.md`,
//! "SRS wire format" (from SRS's source, `srs_app_http_hooks.cpp`).
//!
//! - Identity: `vhost` / `app` / `stream`.
//! - `on_publish` → live, `on_unpublish` → offline, `on_play` / `on_stop` count viewers,
//!   `on_dvr` → a recording file (`cwd` joined with `file`; no duration or times: the store
//!   derives them), `on_hls` → a segment that adds to the stream's recorded time.
//! - `on_connect`, `on_close`, `on_forward` and unknown actions are notices.
//!
//! SRS takes a hook as successful only when the answer is 200/201 with body `0` or an object
//! whose integer `code` is 0, and it **rejects the client** (publisher, player, connection)
//! otherwise. So everything recognised as SRS's is answered 200 `{"code":0}`, even a request
//! recmon cannot use: that one is journaled as rejected, with the reason (its [`Rejection`]
//! has status 200). Pure: no I/O, no clock.

pub mod wire;

use serde_json::{Map, Value};

use crate::event::{
    Callback, IngestAction, IngestEvent, Method, NoticeEvent, PlayAction, PlayEvent,
    RecordingGenerated, Rejection, SegmentEvent, StreamId,
};
use crate::providers::{cut, json_type};

/// Whether a body is an SRS hook: a JSON object with a string `action` starting with `on_`.
pub fn looks_like(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(borrow)]
        action: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Peek>(body)
        .ok()
        .and_then(|p| p.action)
        .is_some_and(|a| a.starts_with("on_"))
}

/// Classifies one SRS hook. Never refuses: see the module's doc. Returns whether the body
/// parsed as JSON.
pub fn classify(method: Method, body: &[u8]) -> (Result<Callback, Rejection>, bool) {
    if method != Method::Post {
        return (Err(open("SRS hooks are POST requests".into())), false);
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return (Err(open(format!("body is not valid JSON: {e}"))), false),
    };
    let Value::Object(obj) = value else {
        return (Err(open("body is JSON but not an object".into())), true);
    };
    (classify_object(&obj), true)
}

fn classify_object(obj: &Map<String, Value>) -> Result<Callback, Rejection> {
    let action = match obj.get("action") {
        Some(Value::String(a)) => a.as_str(),
        Some(other) => {
            return Err(open(format!(
                "field action must be a string, got {}",
                json_type(other)
            )))
        }
        None => return Err(open("missing field: action".into())),
    };
    let text = |k: &str| -> Result<Option<String>, Rejection> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(open(format!(
                "field {k} must be a string, got {}",
                json_type(other)
            ))),
        }
    };
    let id = || -> Result<StreamId, Rejection> {
        let mut missing = Vec::new();
        let mut get = |k: &'static str| -> Result<String, Rejection> {
            match text(k)? {
                Some(v) => Ok(v),
                None => {
                    missing.push(k);
                    Ok(String::new())
                }
            }
        };
        let id = StreamId {
            domain: get("vhost")?,
            app: get("app")?,
            stream: get("stream")?,
        };
        if !missing.is_empty() {
            return Err(open(format!(
                "missing field{}: {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            )));
        }
        Ok(id)
    };
    let ip = text("ip")?;
    let cb = match action {
        "on_publish" | "on_unpublish" => Callback::Ingest(IngestEvent {
            id: id()?,
            action: if action == "on_publish" {
                IngestAction::Publish
            } else {
                IngestAction::PublishDone
            },
            ip,
            node: text("server_id")?,
            time: None,
            usrargs: text("param")?
                .map(|p| p.trim_start_matches('?').to_string())
                .filter(|p| !p.is_empty()),
        }),
        "on_play" | "on_stop" => Callback::Play(PlayEvent {
            id: id()?,
            action: if action == "on_play" {
                PlayAction::Play
            } else {
                PlayAction::Stop
            },
            ip,
        }),
        "on_dvr" => {
            let id = id()?;
            let Some(file) = text("file")?.filter(|f| !f.is_empty()) else {
                return Err(open("on_dvr without a file: no recording to list".into()));
            };
            let mut push_args = Vec::new();
            if let Some(p) = text("param")?.filter(|p| !p.is_empty()) {
                push_args.push(("param".to_string(), p));
            }
            Callback::Recording(RecordingGenerated {
                id,
                uri: join_path(text("cwd")?.as_deref(), &file),
                duration: None,
                start_time: None,
                stop_time: None,
                push_args,
                file_size: None,
            })
        }
        "on_hls" => {
            let id = id()?;
            let file = text("file")?.unwrap_or_default();
            let duration = match obj.get("duration") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_f64().filter(|d| d.is_finite() && *d >= 0.0),
                Some(other) => {
                    return Err(open(format!(
                        "field duration must be a number of seconds, got {}",
                        json_type(other)
                    )))
                }
            };
            Callback::Segment(SegmentEvent {
                id,
                file: join_path(text("cwd")?.as_deref(), &file),
                duration,
            })
        }
        other => {
            let mut detail = Vec::new();
            for k in ["ip", "client_id", "tcUrl"] {
                if let Ok(Some(v)) = text(k) {
                    detail.push(format!("{k}={}", cut(&v, 64)));
                }
            }
            for k in ["send_bytes", "recv_bytes"] {
                if let Some(Value::Number(n)) = obj.get(k) {
                    detail.push(format!("{k}={n}"));
                }
            }
            if !KNOWN_NOTICES.contains(&other) {
                detail.push("(an action recmon does not know)".into());
            }
            Callback::Notice(NoticeEvent {
                id: id().ok().filter(|i| !i.stream.is_empty()),
                name: cut(other, 64).to_string(),
                detail: detail.join(" "),
            })
        }
    };
    Ok(cb)
}

/// The hooks SRS calls that change no state.
const KNOWN_NOTICES: &[&str] = &["on_connect", "on_close", "on_forward"];

/// `cwd` joined with a relative `file` (`./objs/...` → `/usr/local/srs/objs/...`); an
/// absolute `file` as it is.
fn join_path(cwd: Option<&str>, file: &str) -> String {
    match cwd.filter(|c| !c.is_empty()) {
        Some(cwd) if !file.starts_with('/') => format!(
            "{}/{}",
            cwd.trim_end_matches('/'),
            file.trim_start_matches("./")
        ),
        _ => file.to_string(),
    }
}

/// A reason recmon cannot use a request, answered 200 `{"code":0}` all the same.
fn open(why: String) -> Rejection {
    Rejection::new(
        200,
        format!("{why}; answered {{\"code\":0}} so that SRS does not reject the client"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::captures::sample;

    fn post(body: &str) -> Result<Callback, Rejection> {
        classify(Method::Post, body.as_bytes()).0
    }

    #[test]
    fn documented_on_publish_sample() {
        let Callback::Ingest(i) = classify(Method::Post, &sample("srs_on_publish")).0.unwrap()
        else {
            panic!()
        };
        assert_eq!(i.action, IngestAction::Publish);
        assert_eq!(
            (
                i.id.domain.as_str(),
                i.id.app.as_str(),
                i.id.stream.as_str()
            ),
            ("video.test.com", "live", "livestream")
        );
        assert_eq!(i.ip.as_deref(), Some("192.168.1.10"));
        assert_eq!(i.usrargs.as_deref(), Some("token=xxx&salt=yyy"));
    }

    #[test]
    fn documented_on_dvr_sample_is_a_file_under_cwd() {
        let Callback::Recording(r) = classify(Method::Post, &sample("srs_on_dvr")).0.unwrap()
        else {
            panic!()
        };
        assert_eq!(
            r.uri,
            "/usr/local/srs/objs/nginx/html/live/livestream.1420254068776.flv"
        );
        assert_eq!(r.duration, None);
    }

    #[test]
    fn documented_on_hls_unpublish_play_stop_connect_close() {
        // The full.conf comment samples, as SRS sends them (without the comment).
        let hls = r#"{"action":"on_hls","client_id":"9308h583","ip":"192.168.1.10","vhost":"video.test.com","app":"live","stream":"livestream","param":"?token=xxx&salt=yyy","duration":9.36,"cwd":"/usr/local/srs","file":"./objs/nginx/html/live/livestream/2015-04-23/01/476584165.ts","url":"live/livestream/2015-04-23/01/476584165.ts","m3u8":"./objs/nginx/html/live/livestream/live.m3u8","m3u8_url":"live/livestream/live.m3u8","seq_no":100,"server_id":"vid-werty","stream_url":"video.test.com/live/livestream","stream_id":"vid-124q9y3"}"#;
        let Callback::Segment(s) = post(hls).unwrap() else {
            panic!()
        };
        assert_eq!(s.duration, Some(9.36));
        assert!(s.file.starts_with("/usr/local/srs/objs/"));
        let body = String::from_utf8(sample("srs_on_publish")).unwrap();
        let unpub = body.replace("on_publish", "on_unpublish");
        let Callback::Ingest(i) = post(&unpub).unwrap() else {
            panic!()
        };
        assert_eq!(i.action, IngestAction::PublishDone);
        let Callback::Play(p) = post(&body.replace("on_publish", "on_play")).unwrap() else {
            panic!()
        };
        assert_eq!(p.action, PlayAction::Play);
        let Callback::Play(p) = post(&body.replace("on_publish", "on_stop")).unwrap() else {
            panic!()
        };
        assert_eq!(p.action, PlayAction::Stop);
        let close = r#"{"action":"on_close","client_id":"9308h583","ip":"192.168.1.10","vhost":"video.test.com","app":"live","send_bytes":10560,"recv_bytes":10560}"#;
        let Callback::Notice(n) = post(close).unwrap() else {
            panic!()
        };
        assert_eq!(n.name, "on_close");
        assert!(n.detail.contains("send_bytes=10560"), "{}", n.detail);
        assert!(n.id.is_none());
    }

    #[test]
    fn what_recmon_cannot_use_is_still_answered_code_0() {
        for body in [
            "{not json",
            "[1]",
            r#"{"action":"on_publish","vhost":"v","app":"a"}"#,
            r#"{"action":"on_publish","vhost":"v","app":"a","stream":7}"#,
            r#"{"action":"on_dvr","vhost":"v","app":"a","stream":"s"}"#,
            r#"{"action":"on_hls","vhost":"v","app":"a","stream":"s","duration":"9"}"#,
        ] {
            let e = post(body).unwrap_err();
            assert_eq!(e.status, 200, "{body}");
            assert!(e.error.contains("{\"code\":0}"), "{}", e.error);
        }
        let e = post(r#"{"action":"on_publish","vhost":"v","app":"a","stream":7}"#).unwrap_err();
        assert!(
            e.error
                .starts_with("field stream must be a string, got a number"),
            "{}",
            e.error
        );
    }
}
