//! nginx-rtmp (arut/nginx-rtmp-module) `on_*` notifications: a form-encoded POST, or a GET
//! with the same fields in the query (`notify_method get`), with `call=` naming the call.
//! See `docs/providers.md`, "nginx-rtmp wire format" (captured from a real nginx-rtmp).
//!
//! - Identity: the host of `tcurl` is the domain (nginx sends no domain), `app`, `name`.
//! - `publish` → live, `publish_done` → offline, `record_done` → a recording file with its
//!   `path`; nginx sends no duration or times (the store derives them, marked as derived).
//! - `play` / `play_done` count viewers.
//! - `connect`, `update_publish`, `update_play`, `done`, `disconnect` and any other call are
//!   notices: journaled and logged, no state change.
//!
//! nginx-rtmp refuses a publish (or a play, or a connect) when `on_publish` (…) gets anything
//! but 2xx/3xx, and drops a running publisher when `on_update` does. So a request recognised
//! as nginx-rtmp's is **always** answered 200, even when recmon cannot use it: such a request
//! is journaled as rejected, with the reason, but answered 200 (its [`Rejection`] has status
//! 200). Pure: no I/O, no clock.

pub mod wire;

use crate::event::{
    Callback, IngestAction, IngestEvent, Method, NoticeEvent, PlayAction, PlayEvent,
    RecordingGenerated, Rejection, StreamId,
};
use crate::providers::cut;
use crate::providers::form::parse_query;

/// The fields nginx-rtmp itself sends; any other field is one of the RTMP URL's own query
/// arguments (`token=abc`), which nginx appends raw.
const OWN_FIELDS: &[&str] = &[
    "app",
    "flashver",
    "swfurl",
    "tcurl",
    "pageurl",
    "addr",
    "epoch",
    "clientid",
    "call",
    "name",
    "type",
    "start",
    "duration",
    "reset",
    "time",
    "timestamp",
    "recorder",
    "path",
];

/// The form fields of a request: the body's for a POST, the query's for a GET (or a POST
/// whose body has no `call`).
pub fn fields(method: Method, query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let from_body = || parse_query(&String::from_utf8_lossy(body));
    match method {
        Method::Post => {
            let f = from_body();
            if f.iter().any(|(k, _)| k == "call") {
                f
            } else {
                parse_query(query.unwrap_or(""))
            }
        }
        _ => parse_query(query.unwrap_or("")),
    }
}

/// Whether a request has nginx-rtmp's shape: a `call` field (no other provider sends one).
pub fn looks_like(fields: &[(String, String)]) -> bool {
    fields.iter().any(|(key, _)| key == "call")
}

/// Classifies one nginx-rtmp request. Never refuses: see the module's doc.
pub fn classify(method: Method, query: Option<&str>, body: &[u8]) -> Result<Callback, Rejection> {
    if method == Method::Other {
        return Err(open(
            "method not allowed: nginx-rtmp notifies with POST or GET".to_string(),
        ));
    }
    let f = fields(method, query, body);
    // The first value of a key (`disconnect` repeats app=).
    let get = |k: &str| f.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let Some(call) = get("call") else {
        return Err(open(
            "no call field: nginx-rtmp's notifications carry call=publish, record_done, ...".into(),
        ));
    };
    let extras: Vec<(String, String)> = f
        .iter()
        .filter(|(k, _)| !OWN_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    let domain = get("tcurl").and_then(tcurl_host).unwrap_or("-").to_string();
    let app = get("app").unwrap_or("").to_string();
    let name = get("name").filter(|n| !n.is_empty());
    let id = name.map(|n| StreamId {
        domain: domain.clone(),
        app: app.clone(),
        stream: n.to_string(),
    });
    let addr = get("addr").filter(|a| !a.is_empty()).map(str::to_string);
    let needs_name = |what: &str| {
        open(format!(
            "nginx-rtmp {what} without a name: no stream to apply it to"
        ))
    };
    let cb = match call {
        "publish" | "publish_done" => {
            let id = id.ok_or_else(|| needs_name(call))?;
            Callback::Ingest(IngestEvent {
                id,
                action: if call == "publish" {
                    IngestAction::Publish
                } else {
                    IngestAction::PublishDone
                },
                ip: addr,
                node: None,
                time: None,
                usrargs: (!extras.is_empty()).then(|| join(&extras)),
            })
        }
        "play" | "play_done" => Callback::Play(PlayEvent {
            id: id.ok_or_else(|| needs_name(call))?,
            action: if call == "play" {
                PlayAction::Play
            } else {
                PlayAction::Stop
            },
            ip: addr,
        }),
        "record_done" => {
            let id = id.ok_or_else(|| needs_name(call))?;
            let Some(path) = get("path").filter(|p| !p.is_empty()) else {
                return Err(open(
                    "nginx-rtmp record_done without a path: no file to list".into(),
                ));
            };
            let mut push_args = extras;
            if let Some(r) = get("recorder").filter(|r| !r.is_empty()) {
                push_args.push(("recorder".into(), r.to_string()));
            }
            Callback::Recording(RecordingGenerated {
                id,
                uri: path.to_string(),
                duration: None,
                start_time: None,
                stop_time: None,
                push_args,
                file_size: None,
            })
        }
        other => {
            let mut detail = Vec::new();
            for k in ["time", "addr", "clientid", "type"] {
                if let Some(v) = get(k).filter(|v| !v.is_empty()) {
                    detail.push(format!("{k}={}", cut(v, 64)));
                }
            }
            if !KNOWN_NOTICES.contains(&other) {
                detail.push("(a call recmon does not know)".into());
            }
            Callback::Notice(NoticeEvent {
                id,
                name: cut(other, 64).to_string(),
                detail: detail.join(" "),
            })
        }
    };
    Ok(cb)
}

/// The calls nginx-rtmp makes that change no state.
const KNOWN_NOTICES: &[&str] = &[
    "connect",
    "update_publish",
    "update_play",
    "done",
    "disconnect",
];

/// A reason recmon cannot use a request, answered 200 all the same (see the module's doc).
fn open(why: String) -> Rejection {
    Rejection::new(
        200,
        format!("{why}; answered 200 so that nginx-rtmp does not refuse or drop the stream"),
    )
}

/// The host of an RTMP URL (`rtmp://host:1935/app` → `host`), without the port.
pub fn tcurl_host(tcurl: &str) -> Option<&str> {
    let rest = tcurl.split_once("://").map_or(tcurl, |(_, r)| r);
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn join(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::captures;

    fn post(body: &str) -> Result<Callback, Rejection> {
        classify(Method::Post, None, body.as_bytes())
    }

    #[test]
    fn tcurl_hosts() {
        assert_eq!(tcurl_host("rtmp://127.0.0.1:19935/live"), Some("127.0.0.1"));
        assert_eq!(
            tcurl_host("rtmp://live.example.com/app"),
            Some("live.example.com")
        );
        assert_eq!(tcurl_host("rtmp://[::1]:1935/live"), Some("::1"));
        assert_eq!(tcurl_host("rtmp://u:p@h.example:1/x"), Some("h.example"));
        assert_eq!(tcurl_host(""), None);
        assert_eq!(tcurl_host("rtmp:///live"), None);
    }

    #[test]
    fn every_captured_request_is_recognised_and_answered_200() {
        let all = captures::nginx_rtmp();
        assert!(all.len() >= 40, "captures found: {}", all.len());
        for c in &all {
            let (verdict, _) = crate::providers::classify(
                crate::providers::Provider::NginxRtmp,
                c.method,
                c.query.as_deref(),
                &c.body,
            );
            let cb = verdict.unwrap_or_else(|e| panic!("{}: {e:?}", c.file));
            let call = c.call.as_str();
            let expected = match call {
                "publish" | "publish_done" => "ingest",
                "play" | "play_done" => "play",
                "record_done" => "recording",
                _ => "notice",
            };
            assert_eq!(cb.kind(), expected, "{}", c.file);
            if let Some(id) = cb.stream_id() {
                assert_eq!(id.domain, "127.0.0.1", "{}", c.file);
                assert_eq!(id.app, "live", "{}", c.file);
                assert!(id.stream.starts_with("cam"), "{}", c.file);
            }
            // The detector picks nginx-rtmp for every one of them, by shape alone.
            assert_eq!(
                crate::providers::detect(
                    c.method,
                    c.query.as_deref(),
                    Some(&c.content_type),
                    None,
                    &c.body
                ),
                crate::providers::Provider::NginxRtmp,
                "{}",
                c.file
            );
        }
    }

    #[test]
    fn captured_publish_record_done_and_play() {
        let all = captures::nginx_rtmp();
        let find = |file: &str| all.iter().find(|c| c.file.ends_with(file)).unwrap();
        let c = find("nginx-rtmp/0002-POST-publish.txt");
        let cb = classify(c.method, c.query.as_deref(), &c.body).unwrap();
        let Callback::Ingest(i) = cb else { panic!() };
        assert_eq!(i.action, IngestAction::Publish);
        assert_eq!(i.id.stream, "cam1");
        assert_eq!(i.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(i.usrargs.as_deref(), Some("token=abc"));

        let c = find("nginx-rtmp/0007-POST-record_done.txt");
        let Callback::Recording(r) = classify(c.method, c.query.as_deref(), &c.body).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.uri, "/srv/rec/cam1-1795812650.flv");
        assert_eq!((r.duration, r.start_time, r.stop_time), (None, None, None));

        let c = find("nginx-rtmp-get/0005-GET-record_done.txt");
        let Callback::Recording(r) = classify(c.method, c.query.as_deref(), &c.body).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.uri, "/srv/rec/cam5-1795812748.flv");

        let c = find("nginx-rtmp/0005-POST-play.txt");
        let Callback::Play(p) = classify(c.method, c.query.as_deref(), &c.body).unwrap() else {
            panic!()
        };
        assert_eq!(p.action, PlayAction::Play);

        let c = find("nginx-rtmp/0021-POST-disconnect.txt");
        let Callback::Notice(n) = classify(c.method, c.query.as_deref(), &c.body).unwrap() else {
            panic!()
        };
        assert_eq!((n.name.as_str(), n.id.is_none()), ("disconnect", true));
    }

    #[test]
    fn what_recmon_cannot_use_is_still_answered_200() {
        for body in [
            "app=live&tcurl=rtmp://h/live&call=publish",
            "app=live&tcurl=rtmp://h/live&call=record_done&name=x",
            "app=live&tcurl=rtmp://h/live&call=play&name=",
        ] {
            let e = post(body).unwrap_err();
            assert_eq!(e.status, 200, "{body}");
            assert!(e.error.contains("without a"), "{}", e.error);
        }
        // Unknown calls are notices; hostile names are kept as sent (views escape them).
        let cb = post("app=live&tcurl=rtmp://h/live&call=bogus&name=%1b%5b2J").unwrap();
        let Callback::Notice(n) = cb else { panic!() };
        assert_eq!(n.name, "bogus");
        assert_eq!(n.id.unwrap().stream, "\u{1b}[2J");
    }
}
