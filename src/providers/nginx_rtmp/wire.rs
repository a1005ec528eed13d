//! How nginx-rtmp writes its `on_*` notifications: the other direction of
//! [`super::classify`], for whatever sends them as nginx-rtmp would (`recmon simulate`,
//! tests). Kept apart from the classifier, which never calls it. Pure.
//!
//! A call is a form, its fields in nginx-rtmp's order (as captured): the connection's (`app`,
//! `flashver`, `swfurl`, `tcurl`, `pageurl`, `addr`), then the call's own before `call`
//! (`epoch` or `clientid`), `call`, the call's own after it (`name`, `path`, ...), and the
//! client's URL arguments, appended raw.

use std::fmt::Write as _;

/// A client connection, as its calls name it.
pub struct Conn<'a> {
    /// The client's address (`addr`).
    pub addr: &'a str,
    /// Its `flashver`.
    pub flashver: &'a str,
    /// The client's URL arguments, appended raw (`token=abc`, `viewer=v1`).
    pub args: &'a str,
}

/// One call.
pub struct Call<'a> {
    /// The application (`app`, and the path of `tcurl`).
    pub app: &'a str,
    /// The host the client connected to (`tcurl`'s, which recmon reads as the domain).
    pub host: &'a str,
    /// The client.
    pub conn: &'a Conn<'a>,
    /// Fields before `call`: `epoch` (a connect) or `clientid`.
    pub pre: &'a [(&'a str, String)],
    /// The call's name: `publish`, `record_done`, `update_play`...
    pub call: &'a str,
    /// Fields after `call`: `name`, `type`, `path`...
    pub post: &'a [(&'a str, String)],
    /// Whether the client's URL arguments follow (nginx-rtmp appends them to the calls about
    /// a stream, not to `connect` or `disconnect`).
    pub with_args: bool,
}

impl Call<'_> {
    /// The form body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let app = escape(self.app);
        let mut b = format!(
            "app={app}&flashver={}&swfurl=&tcurl=rtmp://{}:1935/{app}&pageurl=&addr={}",
            escape(self.conn.flashver),
            self.host,
            self.conn.addr
        );
        for (k, v) in self.pre {
            let _ = write!(b, "&{k}={}", escape(v));
        }
        let _ = write!(b, "&call={}", self.call);
        for (k, v) in self.post {
            let _ = write!(b, "&{k}={}", escape(v));
        }
        if self.with_args && !self.conn.args.is_empty() {
            b.push('&');
            b.push_str(self.conn.args);
        }
        b.into_bytes()
    }
}

/// Percent-encodes a value as nginx-rtmp does (`ngx_escape_uri` with `NGX_ESCAPE_ARGS`):
/// only space, `#`, `%`, `&`, `+`, `;`, `?`, control and non-ASCII bytes; `/`, `:`, `(`, `,`
/// stay as they are (`FMLE/3.0%20(compatible%3B%20Lavf59.27`).
pub fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        Callback, IngestAction, IngestEvent, Method, NoticeEvent, PlayAction, PlayEvent,
        RecordingGenerated, StreamId,
    };
    use crate::providers::nginx_rtmp::classify;

    #[test]
    fn escape_is_nginx_rtmps() {
        assert_eq!(
            escape("FMLE/3.0 (compatible; Lavf59.27"),
            "FMLE/3.0%20(compatible%3B%20Lavf59.27"
        );
        assert_eq!(escape("LNX 9,0,124,2"), "LNX%209,0,124,2");
        assert_eq!(escape("a&b+c#d?e%"), "a%26b%2Bc%23d%3Fe%25");
    }

    const PUBLISHER: Conn = Conn {
        addr: "203.0.113.7",
        flashver: "FMLE/3.0 (compatible; Lavf59.27",
        args: "token=abc",
    };

    fn call(
        name: &str,
        pre: &[(&str, String)],
        post: &[(&str, String)],
        with_args: bool,
    ) -> Callback {
        let body = Call {
            app: "live",
            host: "rtmp.example.com",
            conn: &PUBLISHER,
            pre,
            call: name,
            post,
            with_args,
        }
        .to_bytes();
        // nginx-rtmp POSTs the form (`notify_method post`, its default).
        classify(Method::Post, None, &body).unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    fn id(stream: &str) -> StreamId {
        StreamId {
            domain: "rtmp.example.com".into(),
            app: "live".into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn every_call_reads_back_as_what_it_encodes() {
        let client = [("clientid", "7".to_string())];
        // A stream's name with every character nginx-rtmp escapes.
        for stream in ["cam-01", "a b&c=d+e;f?g#h%i/é"] {
            let named = [("name", stream.to_string()), ("type", "live".into())];
            for (name, action) in [
                ("publish", IngestAction::Publish),
                ("publish_done", IngestAction::PublishDone),
            ] {
                assert_eq!(
                    call(name, &client, &named, true),
                    Callback::Ingest(IngestEvent {
                        id: id(stream),
                        action,
                        ip: Some("203.0.113.7".into()),
                        node: None,
                        time: None,
                        usrargs: Some("token=abc".into()),
                    })
                );
            }
            let file = [
                ("recorder", String::new()),
                ("name", stream.to_string()),
                ("path", format!("/var/rec/{stream}-1767225600.flv")),
            ];
            assert_eq!(
                call("record_done", &client, &file, true),
                Callback::Recording(RecordingGenerated {
                    id: id(stream),
                    uri: format!("/var/rec/{stream}-1767225600.flv"),
                    duration: None,
                    start_time: None,
                    stop_time: None,
                    push_args: vec![("token".into(), "abc".into())],
                    file_size: None,
                })
            );
            for (name, action) in [("play", PlayAction::Play), ("play_done", PlayAction::Stop)] {
                assert_eq!(
                    call(name, &client, &[("name", stream.to_string())], false),
                    Callback::Play(PlayEvent {
                        id: id(stream),
                        action,
                        ip: Some("203.0.113.7".into()),
                    })
                );
            }
            let update = [
                ("time", "30".to_string()),
                ("timestamp", "29800".into()),
                ("name", stream.to_string()),
            ];
            assert_eq!(
                call("update_publish", &client, &update, true),
                Callback::Notice(NoticeEvent {
                    id: Some(id(stream)),
                    name: "update_publish".into(),
                    detail: "time=30 addr=203.0.113.7 clientid=7".into(),
                })
            );
        }
        // A connect names no stream.
        assert_eq!(
            call("connect", &[("epoch", "519952".into())], &[], false),
            Callback::Notice(NoticeEvent {
                id: None,
                name: "connect".into(),
                detail: "addr=203.0.113.7".into(),
            })
        );
    }
}
