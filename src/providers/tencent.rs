//! Tencent Cloud CSS (LVB) event callbacks: a JSON POST whose integer `event_type` names the
//! event. See `docs/providers.md`, "Tencent Cloud wire format" (from Tencent's documentation).
//!
//! - Identity: the push domain (`app`, or `domain` in 332; the `appid` when neither is sent,
//!   as in a real 2017 capture) / `appname` / `stream_id` (or `channel_id`).
//! - `1` push → live, `0` push cut → offline, `100` → a recording file (`video_url`,
//!   `duration`, `start_time`, `end_time`, `file_size`), `332` → the recording status in
//!   `record_event` (started, paused, resumed, ended, error), `321` push error and `341`
//!   abnormal recording → an error on the stream, `200` screenshot and others → notices.
//! - Signature: `sign = md5(key + t)`, `t` an expiry time ([`verify`], `--tencent-key`).
//! - Answer: 200 `{"code":0}`; Tencent retries anything else (12 times, a minute apart), so a
//!   request recmon refuses is refused with a 4xx naming what is wrong, like ApsaraVideo's.
//!
//! Pure: no I/O; [`verify`] takes the clock as an argument.

pub mod wire;

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use crate::event::{
    Callback, IngestAction, IngestEvent, Method, NoticeEvent, RecordingGenerated, Rejection,
    StatusEvent, StreamId,
};
use crate::providers::{cut, json_type};

/// Whether a body is a Tencent event: a JSON object with an `event_type` member at its top
/// level, of any type (a wrong one is better refused by Tencent's reader, which names it;
/// Cloudflare's `data.event_type` is not one).
pub fn looks_like(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek {
        event_type: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Peek>(body).is_ok_and(|p| p.event_type.is_some())
}

fn event_type_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Checks `sign` against `md5(key + t)` and that `t` (the expiry, Unix seconds) is not past
/// `now`. The error names what is wrong.
pub fn verify(body: &[u8], key: &str, now: i64) -> Result<(), String> {
    let obj: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|_| "the body is not a JSON object, so it has no sign".to_string())?;
    let t = match obj.get("t") {
        Some(Value::Number(n)) => n.as_i64().map(|t| (t, n.to_string())),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .map(|t| (t, s.trim().to_string())),
        None => return Err("no t (the signature's expiry time)".into()),
        _ => None,
    };
    let Some((t, t_text)) = t else {
        return Err("t must be whole Unix seconds".into());
    };
    let sign = match obj.get("sign") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("sign must be a string".into()),
        None => return Err("no sign".into()),
    };
    let want = hex(&Md5::digest(format!("{key}{t_text}").as_bytes()));
    if !crate::providers::aliyun::auth::constant_time_eq(
        sign.to_ascii_lowercase().as_bytes(),
        want.as_bytes(),
    ) {
        return Err("sign is not md5(key + t) for --tencent-key".into());
    }
    if t < now {
        return Err(format!(
            "t expired {} s ago (a replay, or this machine's clock is wrong)",
            now - t
        ));
    }
    Ok(())
}

/// `md5(key + t)` as lowercase hex: what Tencent sends as `sign` (for simulate and tests).
pub fn sign(key: &str, t: i64) -> String {
    hex(&Md5::digest(format!("{key}{t}").as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Classifies one Tencent event. Returns whether the body parsed as JSON.
pub fn classify(method: Method, body: &[u8]) -> (Result<Callback, Rejection>, bool) {
    if method != Method::Post {
        return (
            Err(Rejection::new(
                405,
                "method not allowed: Tencent Cloud callbacks are POST",
            )),
            false,
        );
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return (
                Err(Rejection::new(400, format!("body is not valid JSON: {e}"))),
                false,
            )
        }
    };
    let Value::Object(obj) = value else {
        return (
            Err(Rejection::new(400, "body is JSON but not an object")),
            true,
        );
    };
    (classify_object(&obj), true)
}

fn classify_object(obj: &Map<String, Value>) -> Result<Callback, Rejection> {
    let event_type = match obj.get("event_type") {
        Some(v) => event_type_of(v).ok_or_else(|| {
            Rejection::new(
                422,
                format!("field event_type must be an integer, got {}", json_type(v)),
            )
        })?,
        None => return Err(Rejection::new(400, "missing field: event_type")),
    };
    let text = |k: &str| -> Result<Option<String>, Rejection> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Rejection::new(
                422,
                format!("field {k} must be a string, got {}", json_type(other)),
            )),
        }
    };
    let int = |k: &str| -> Result<Option<i64>, Rejection> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                Rejection::new(422, format!("field {k} must be an integer, got {n}"))
            }),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                Ok(s.trim().parse::<i64>().ok())
            }
            Some(other) => Err(Rejection::new(
                422,
                format!("field {k} must be an integer, got {}", json_type(other)),
            )),
        }
    };
    let id = || -> Result<StreamId, Rejection> {
        let domain = match text("app")? {
            Some(d) => d,
            None => match text("domain")? {
                Some(d) => d,
                None => int("appid")?.map(|a| a.to_string()).unwrap_or_default(),
            },
        };
        let stream = match text("stream_id")?.filter(|s| !s.is_empty()) {
            Some(s) => s,
            None => text("channel_id")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| Rejection::new(400, "missing field: stream_id"))?,
        };
        Ok(StreamId {
            domain,
            app: text("appname")?.unwrap_or_default(),
            stream,
        })
    };
    let errmsg = || -> Result<Option<String>, Rejection> {
        let code = int("errcode")?;
        let msg = text("errmsg")?;
        Ok(match (code, msg) {
            (Some(0), _) | (None, None) => None,
            (c, m) => Some(format!(
                "errcode={} {}",
                c.map_or("-".into(), |c| c.to_string()),
                m.unwrap_or_default()
            )),
        })
    };
    let cb = match event_type {
        1 | 0 => Callback::Ingest(IngestEvent {
            id: id()?,
            action: if event_type == 1 {
                IngestAction::Publish
            } else {
                IngestAction::PublishDone
            },
            ip: text("user_ip")?,
            node: text("node")?,
            time: int("event_time")?,
            usrargs: text("stream_param")?.filter(|p| !p.is_empty()),
        }),
        100 => {
            let id = id()?;
            let uri = text("video_url")?
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .ok_or_else(|| Rejection::new(400, "missing field: video_url"))?;
            let duration = match obj.get("duration") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_f64().filter(|d| d.is_finite()),
                Some(Value::String(s)) => Some(
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|d| d.is_finite())
                        .ok_or_else(|| {
                            Rejection::new(
                                422,
                                "field duration must be a number of seconds, got a string that is not a finite number",
                            )
                        })?,
                ),
                Some(other) => {
                    return Err(Rejection::new(
                        422,
                        format!(
                            "field duration must be a number of seconds, got {}",
                            json_type(other)
                        ),
                    ))
                }
            };
            let file_size = match obj.get("file_size") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                    Rejection::new(
                        422,
                        format!("field file_size must be a byte count, got {n}"),
                    )
                })?),
                Some(Value::String(s)) => Some(s.trim().parse::<u64>().map_err(|_| {
                    Rejection::new(
                        422,
                        "field file_size must be a byte count, got a string that is not one",
                    )
                })?),
                Some(other) => {
                    return Err(Rejection::new(
                        422,
                        format!(
                            "field file_size must be a byte count, got {}",
                            json_type(other)
                        ),
                    ))
                }
            };
            let mut push_args = Vec::new();
            for k in ["file_format", "file_id", "record_file_id", "task_id"] {
                match obj.get(k) {
                    Some(Value::String(s)) => push_args.push((k.to_string(), s.clone())),
                    Some(Value::Number(n)) => push_args.push((k.to_string(), n.to_string())),
                    _ => {}
                }
            }
            Callback::Recording(RecordingGenerated {
                id,
                uri,
                duration,
                start_time: int("start_time")?,
                stop_time: int("end_time")?,
                push_args,
                file_size,
            })
        }
        332 => {
            let event = text("record_event")?
                .filter(|e| !e.is_empty())
                .ok_or_else(|| Rejection::new(400, "missing field: record_event (332)"))?;
            Callback::Status(StatusEvent {
                id: id()?,
                event,
                detail: errmsg()?,
                time: int("event_time")?,
            })
        }
        321 | 341 => Callback::Status(StatusEvent {
            id: id()?,
            event: if event_type == 321 {
                "push_error"
            } else {
                "record_abnormal"
            }
            .to_string(),
            detail: errmsg()?
                .or(text("abnormal_event")?)
                .or(Some(format!("event_type {event_type}"))),
            time: int("event_time")?,
        }),
        other => {
            let mut detail = Vec::new();
            if let Some(p) = text("pic_url").ok().flatten() {
                detail.push(format!("pic_url={}", cut(&p, 128)));
            }
            Callback::Notice(NoticeEvent {
                id: id().ok(),
                name: match other {
                    200 => "screenshot".to_string(),
                    n => format!("event_type {n}"),
                },
                detail: detail.join(" "),
            })
        }
    };
    Ok(cb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RecordState;
    use crate::providers::captures::sample;

    fn post(body: &str) -> Result<Callback, Rejection> {
        classify(Method::Post, body.as_bytes()).0
    }

    #[test]
    fn documented_push_sample() {
        let Callback::Ingest(i) = classify(Method::Post, &sample("tencent_push_1")).0.unwrap()
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
            ("test.domain.com", "live", "test_stream")
        );
        assert_eq!(i.time, Some(1703731478));
        assert_eq!(i.ip.as_deref(), Some("1.1.1.1"));
    }

    #[test]
    fn real_2017_recording_capture_without_app_uses_the_appid() {
        let Callback::Recording(r) = classify(Method::Post, &sample("tencent_record_100"))
            .0
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(r.id.domain, "1251457656");
        assert_eq!(r.id.app, "");
        assert!(r.id.stream.starts_with("marketflashtest_"));
        assert_eq!(r.duration, Some(63.0));
        assert_eq!(
            (r.start_time, r.stop_time),
            (Some(1506308695), Some(1506308756))
        );
        assert_eq!(r.file_size, Some(1349));
        assert!(r.uri.ends_with("/playlist.m3u8"));
        assert!(r
            .push_args
            .iter()
            .any(|(k, v)| k == "file_format" && v == "hls"));
    }

    #[test]
    fn status_332_and_errors() {
        for (ev, state) in [
            ("record_start_succeeded", RecordState::Started),
            ("record_paused", RecordState::Paused),
            ("record_resumed", RecordState::Resumed),
            ("record_ended", RecordState::Ended),
            ("record_error", RecordState::Error),
            ("record_start_failed", RecordState::Error),
        ] {
            let body = format!(
                r#"{{"appid":123456789,"appname":"live","domain":"x.livepush.myqcloud.com","event_time":1,"event_type":332,"record_event":"{ev}","stream_id":"s","t":1,"sign":"x"}}"#
            );
            let Callback::Status(s) = post(&body).unwrap() else {
                panic!()
            };
            assert_eq!(s.id.domain, "x.livepush.myqcloud.com");
            assert_eq!(s.target_state(), Some(state), "{ev}");
        }
        let Callback::Status(s) =
            post(r#"{"event_type":321,"app":"d","appname":"live","stream_id":"s","errcode":-1,"errmsg":"bad gop"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.target_state(), Some(RecordState::Error));
        assert_eq!(s.detail.as_deref(), Some("errcode=-1 bad gop"));
        let Callback::Notice(n) = post(
            r#"{"event_type":200,"app":"d","appname":"live","stream_id":"s","pic_url":"/a.jpg"}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(n.name, "screenshot");
    }

    #[test]
    fn wrong_types_get_clear_4xx() {
        for (body, status, needle) in [
            (
                r#"{"event_type":"x"}"#,
                422,
                "event_type must be an integer",
            ),
            (
                r#"{"event_type":1,"app":"d"}"#,
                400,
                "missing field: stream_id",
            ),
            (
                r#"{"event_type":1,"app":5,"stream_id":"s"}"#,
                422,
                "field app must be a string",
            ),
            (
                r#"{"event_type":100,"app":"d","stream_id":"s"}"#,
                400,
                "video_url",
            ),
            (
                r#"{"event_type":100,"app":"d","stream_id":"s","video_url":"u","file_size":-1}"#,
                422,
                "file_size",
            ),
            (
                r#"{"event_type":332,"app":"d","stream_id":"s"}"#,
                400,
                "record_event",
            ),
        ] {
            let e = post(body).unwrap_err();
            assert_eq!(e.status, status, "{body}");
            assert!(e.error.contains(needle), "{body}: {}", e.error);
        }
    }

    #[test]
    fn signature_is_md5_of_key_and_t_and_t_is_an_expiry() {
        let key = "k3y";
        let t = 1_703_732_078;
        let body = format!(r#"{{"event_type":1,"t":{t},"sign":"{}"}}"#, sign(key, t));
        assert_eq!(verify(body.as_bytes(), key, t - 600), Ok(()));
        assert!(verify(body.as_bytes(), key, t + 1)
            .unwrap_err()
            .contains("expired"));
        assert!(verify(body.as_bytes(), "other", t)
            .unwrap_err()
            .contains("md5"));
        // Uppercase hex is the same signature.
        let upper = body.replace(&sign(key, t), &sign(key, t).to_uppercase());
        assert_eq!(verify(upper.as_bytes(), key, t), Ok(()));
        assert!(verify(br#"{"event_type":1}"#, key, t)
            .unwrap_err()
            .contains("no t"));
        // The documented sample's sign is masked: it never verifies.
        assert!(verify(&sample("tencent_push_1"), key, 0).is_err());
    }
}
