//! Hostile traffic in each provider's own shape (nginx-rtmp, SRS, Tencent Cloud, ApsaraVideo
//! Live), sent as real HTTP over loopback to the real binary.
//!
//! What each provider must get (see `src/providers/*.rs`):
//! - nginx-rtmp and SRS: a 2xx for everything recognised as theirs, whatever it holds (nginx
//!   refuses the publish, SRS rejects the client, on anything else); SRS's body is an object
//!   whose integer `code` is 0. What recmon cannot use is journaled as rejected, status 200,
//!   with the reason. The only exceptions are the listener's own limits, which apply before
//!   any provider reads the request: a body over `--max-body` (413), a head over 64 KiB (431;
//!   a request target over 64 KiB is hyper's own 414) and a request hyper cannot parse (a raw
//!   control character in a header: 400).
//! - Tencent Cloud and ApsaraVideo Live: a real 4xx whose JSON `error` names what is wrong
//!   (400 missing, 422 wrong type, 403 bad `sign` with `--tencent-key`, 405, 413).
//!
//! For every request: exactly one journal line, naming its provider. After the barrage: a
//! normal callback of each provider is accepted, `/api/state` is valid JSON and counts every
//! request, the headless stdout holds no control character (no ESC, no C1, no bidi), and the
//! `recmon export` CSVs hold no control character and no cell a spreadsheet would run.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

/// Text that must stay inert wherever it ends up: terminal escapes (ESC [2J, OSC 52 clipboard
/// write, C1 CSI and NEL, bidi overrides), spreadsheet formulas, NUL and line breaks.
const PAYLOADS: &[(&str, &str)] = &[
    ("ESC [2J and SGR", "\u{1b}[2J\u{1b}[31mred\u{1b}[0m"),
    ("OSC 52 clipboard", "\u{1b}]52;c;SGVsbG8gd29ybGQ=\u{7}"),
    ("C1 controls", "c1\u{9b}31m\u{85}\u{90}\u{9d}x"),
    ("bidi overrides", "bidi\u{202e}gnp.exe\u{2066}\u{202d}"),
    ("=HYPERLINK", "=HYPERLINK(\"http://evil.example\",\"x\")"),
    ("+cmd", "+cmd|' /C calc'!A0"),
    ("@SUM", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("-formula", "-2+3+cmd|' /C calc'!A0"),
    ("NUL and line breaks", "nul\u{0}line\nbreak\rtab\t"),
];

/// A usual nginx-rtmp tcUrl.
const TCURL: &str = "rtmp://127.0.0.1:1935/live";
/// SRS's own User-Agent (`SRS/<version>(<codename>)`).
const SRS_UA: &str = "SRS/6.0.157(Bee)";
/// Header values may carry bytes >= 0x80 (C1 and bidi in UTF-8) but no C0 control: hyper
/// refuses those before recmon sees the request (checked once, as a listener-level case).
fn header_safe(p: &str) -> bool {
    !p.chars().any(|c| c.is_ascii_control())
}

/// Percent-encodes every byte but the unreserved ones.
fn pct(s: impl AsRef<[u8]>) -> String {
    s.as_ref()
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A form body (or query) from pairs, keys and values percent-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a case must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// nginx-rtmp's: a 2xx whatever it holds. `None`: used (accepted or duplicate); `Some`:
    /// journaled as rejected, status 200, the error holding this text.
    Nginx(Option<&'static str>),
    /// SRS's: 200 and an object whose integer `code` is 0; `None`/`Some` as for nginx-rtmp.
    Srs(Option<&'static str>),
    /// Tencent's or ApsaraVideo's, used: 200 (accepted or duplicate).
    Used,
    /// Tencent's or ApsaraVideo's, refused: this status, the JSON error holding this text.
    Refused(u16, &'static str),
    /// Refused by the listener before any provider reads it (a limit, an unparsable head):
    /// this status on the wire and in the journal, the journal's error holding this text.
    Limit(u16, &'static str),
}

struct Case {
    name: String,
    method: &'static str,
    path: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    /// The provider the journal line must name; `None` where the listener refuses the
    /// request before its body could say whose it is (any provider name is then accepted).
    provider: Option<&'static str>,
    want: Want,
}

impl Case {
    fn new(
        name: impl Into<String>,
        method: &'static str,
        path: &str,
        body: impl Into<Vec<u8>>,
        provider: &'static str,
        want: Want,
    ) -> Case {
        Case {
            name: name.into(),
            method,
            path: path.as_bytes().to_vec(),
            headers: Vec::new(),
            body: body.into(),
            provider: Some(provider),
            want,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Case {
        self.headers.push((name, value.into()));
        self
    }

    fn at(mut self, path: impl Into<Vec<u8>>) -> Case {
        self.path = path.into();
        self
    }

    fn method(mut self, m: &'static str) -> Case {
        self.method = m;
        self
    }

    fn any_provider(mut self) -> Case {
        self.provider = None;
        self
    }
}

// ---- one constructor per provider's usual request shape --------------------------------------

/// nginx-rtmp `notify_method post`: a form POST.
fn ngx(name: impl Into<String>, body: impl Into<Vec<u8>>, want: Want) -> Case {
    Case::new(name, "POST", "/on_rtmp", body, "nginx-rtmp", want)
        .header("Content-Type", "application/x-www-form-urlencoded")
}

/// nginx-rtmp `notify_method get`: the same fields in the query.
fn ngx_get(name: impl Into<String>, query: &str, want: Want) -> Case {
    Case::new(name, "GET", "/", "", "nginx-rtmp", want).at(format!("/on_rtmp?{query}"))
}

/// An SRS hook recognised by its JSON `action` alone (no User-Agent).
fn srs(name: impl Into<String>, body: Value, want: Want) -> Case {
    srs_raw(name, body.to_string(), want)
}

fn srs_raw(name: impl Into<String>, body: impl Into<Vec<u8>>, want: Want) -> Case {
    Case::new(name, "POST", "/srs-hooks", body, "srs", want)
        .header("Content-Type", "application/json")
}

/// An SRS hook recognised by SRS's User-Agent, whatever its body.
fn srs_ua(name: impl Into<String>, body: impl Into<Vec<u8>>, want: Want) -> Case {
    srs_raw(name, body, want).header("User-Agent", SRS_UA)
}

/// A Tencent Cloud event, recognised by its `event_type` member.
fn tc(name: impl Into<String>, body: Value, want: Want) -> Case {
    tc_raw(name, body.to_string(), want)
}

fn tc_raw(name: impl Into<String>, body: impl Into<Vec<u8>>, want: Want) -> Case {
    Case::new(name, "POST", "/tencent", body, "tencent", want)
        .header("Content-Type", "application/json")
}

/// A Tencent Cloud event on the path pinned with `--provider /tc=tencent`.
fn tc_pinned(name: impl Into<String>, body: impl Into<Vec<u8>>, want: Want) -> Case {
    tc_raw(name, body, want).at("/tc/callback")
}

/// An ApsaraVideo Live POST.
fn ali(name: impl Into<String>, body: impl Into<Vec<u8>>, want: Want) -> Case {
    Case::new(name, "POST", "/cb", body, "aliyun", want).header("Content-Type", "application/json")
}

/// An ApsaraVideo Live ingest GET.
fn ali_get(name: impl Into<String>, query: &str, want: Want) -> Case {
    Case::new(name, "GET", "/", "", "aliyun", want).at(format!("/pub?{query}"))
}

// ---- the cases --------------------------------------------------------------------------------

/// Every payload in every text position of every provider: stream names, paths, push
/// args/params, user agents, request paths.
fn payload_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, (what, p)) in PAYLOADS.iter().enumerate() {
        let ua = |prefix: &str| -> Vec<u8> {
            if header_safe(p) {
                format!("{prefix} {p}").into_bytes()
            } else {
                prefix.as_bytes().to_vec()
            }
        };
        let hooks_path = format!("/hooks/{}", pct(p));

        // nginx-rtmp: publish with the payload in the name, the client's fields and the RTMP
        // URL's own arguments; record_done with it at the start of the file path (GET); a
        // play; an unknown call named with it.
        let stream = format!("{p}-pub-{i}");
        let body = form(&[
            ("app", "live"),
            ("flashver", p),
            ("tcurl", TCURL),
            ("addr", p),
            ("clientid", p),
            ("call", "publish"),
            ("name", &stream),
            ("type", "live"),
            ("token", p),
            (p, "arg-named-by-the-payload"),
        ]);
        cases.push(
            ngx(format!("nginx publish, {what}"), body, Want::Nginx(None))
                .header("User-Agent", ua("nginx-rtmp"))
                .at(format!("{hooks_path}?call=publish")),
        );
        let rec_path = format!("{p}/srv/rec/cam-{i}.flv");
        let query = form(&[
            ("app", "live"),
            ("tcurl", TCURL),
            ("call", "record_done"),
            ("name", &stream),
            ("path", &rec_path),
            ("recorder", p),
            ("token", p),
        ]);
        cases.push(ngx_get(
            format!("nginx GET record_done, {what}"),
            &query,
            Want::Nginx(None),
        ));
        let body = form(&[
            ("app", "live"),
            ("tcurl", TCURL),
            ("call", "play"),
            ("name", &stream),
            ("addr", p),
        ]);
        cases.push(ngx(format!("nginx play, {what}"), body, Want::Nginx(None)));
        let body = form(&[
            ("app", "live"),
            ("tcurl", TCURL),
            ("call", &format!("{p}-call")),
            ("name", &stream),
            ("time", p),
        ]);
        cases.push(ngx(
            format!("nginx unknown call, {what}"),
            body,
            Want::Nginx(None),
        ));

        // SRS: on_publish with the payload in every identity field and the param; on_dvr
        // with it at the start of cwd and file; on_hls; an unknown action.
        let srs_ua_value = if header_safe(p) {
            format!("SRS/6.0.157({p})").into_bytes()
        } else {
            SRS_UA.as_bytes().to_vec()
        };
        cases.push(
            srs(
                format!("SRS on_publish, {what}"),
                json!({"action":"on_publish","client_id":p,"ip":p,"vhost":p,"app":p,
                       "stream":format!("{p}-srs-{i}"),"param":format!("?token={p}"),
                       "server_id":p,"tcUrl":p}),
                Want::Srs(None),
            )
            .header("User-Agent", srs_ua_value)
            .at(hooks_path.clone()),
        );
        cases.push(srs(
            format!("SRS on_dvr, {what}"),
            json!({"action":"on_dvr","client_id":p,"ip":p,"vhost":"v.example","app":"live",
                   "stream":format!("{p}-srs-{i}"),"param":p,"cwd":p,
                   "file":format!("{p}/dvr-{i}.flv")}),
            Want::Srs(None),
        ));
        cases.push(srs(
            format!("SRS on_hls, {what}"),
            json!({"action":"on_hls","vhost":"v.example","app":"live",
                   "stream":format!("{p}-srs-{i}"),"duration":2.5,"cwd":"/srv",
                   "file":format!("./{p}/seg-{i}.ts"),"url":p,"m3u8":p,"seq_no":i}),
            Want::Srs(None),
        ));
        cases.push(srs(
            format!("SRS unknown action, {what}"),
            json!({"action":format!("on_{p}"),"vhost":"v.example","app":"live","stream":p,
                   "ip":p,"client_id":p,"tcUrl":p,"send_bytes":1}),
            Want::Srs(None),
        ));

        // Tencent: push with the payload in the domain, app, stream, params and node; a
        // recording with it at the start of the file URL and in the file ids; a status
        // event named with it; a screenshot notice.
        cases.push(
            tc(
                format!("Tencent push, {what}"),
                json!({"event_type":1,"appid":12345678,"app":p,"appname":p,
                       "stream_id":format!("{p}-tc-{i}"),"channel_id":p,"stream_param":p,
                       "user_ip":p,"node":p,"errmsg":p,"event_time":1_703_731_478}),
                Want::Used,
            )
            .header("User-Agent", ua("Tencent"))
            .at(hooks_path.clone()),
        );
        cases.push(tc(
            format!("Tencent recording, {what}"),
            json!({"event_type":100,"appid":12345678,"app":"push.example","appname":"live",
                   "stream_id":format!("{p}-tc-{i}"),"video_url":format!("{p}/vod/{i}.mp4"),
                   "file_id":p,"file_format":p,"task_id":p,"record_file_id":p,
                   "start_time":1_700_000_000 + i,"end_time":1_700_000_060 + i,
                   "duration":60,"file_size":1234}),
            Want::Used,
        ));
        cases.push(tc(
            format!("Tencent 332 status, {what}"),
            json!({"event_type":332,"appid":12345678,"domain":"push.example","appname":"live",
                   "stream_id":format!("{p}-tc-{i}"),"record_event":p,"errcode":1,"errmsg":p}),
            Want::Used,
        ));
        cases.push(tc(
            format!("Tencent screenshot, {what}"),
            json!({"event_type":200,"app":"push.example","appname":"live",
                   "stream_id":format!("{p}-tc-{i}"),"pic_url":p}),
            Want::Used,
        ));

        // ApsaraVideo Live: a recording with the payload everywhere; an ingest GET.
        cases.push(
            ali(
                format!("ApsaraVideo recording, {what}"),
                json!({"domain":format!("dom{p}"),"app":format!("app{p}"),
                       "stream":format!("{p}-ali-{i}"),"uri":format!("{p}/live/0_1_2.flv"),
                       "duration":1,"start_time":1,"stop_time":2,
                       "push_args":{format!("callback_{p}"):p,"callback_x":p}})
                .to_string(),
                Want::Used,
            )
            .header("User-Agent", ua("aliyun"))
            .at(hooks_path.clone()),
        );
        let query = form(&[
            ("action", "publish"),
            ("app", p),
            ("appname", p),
            ("id", &format!("{p}-ali-{i}")),
            ("ip", p),
            ("node", p),
            ("usrargs", &format!("token={p}")),
        ]);
        cases.push(ali_get(
            format!("ApsaraVideo ingest GET, {what}"),
            &query,
            Want::Used,
        ));
    }

    // Raw UTF-8 C1 and bidi characters in the request path itself (legal bytes on the wire).
    let raw_path = "/cb/\u{9b}31m\u{202e}gnp.exe\u{85}";
    cases.push(
        ngx(
            "nginx publish, C1 and bidi raw in the path",
            form(&[("app", "live"), ("tcurl", TCURL), ("call", "publish")]),
            Want::Nginx(Some("without a name")),
        )
        .at(raw_path),
    );
    cases.push(
        srs_ua(
            "SRS, C1 and bidi raw in the path",
            "{",
            Want::Srs(Some("not valid JSON")),
        )
        .at(raw_path),
    );
    cases.push(
        tc(
            "Tencent, C1 and bidi raw in the path",
            json!({"event_type":1,"app":"d","stream_id":[1]}),
            Want::Refused(422, "field stream_id must be a string, got an array"),
        )
        .at(raw_path),
    );
    cases.push(
        ali(
            "ApsaraVideo, C1 and bidi raw in the path",
            r#"{"domain":"d","app":"a","stream":7,"event":"e"}"#,
            Want::Refused(422, "field stream must be a string, got a number"),
        )
        .at(raw_path),
    );
    cases
}

/// A valid JSON text with `@@` replaced by raw bytes (invalid UTF-8, a raw NUL).
fn splice(json_text: &str, raw: &[u8]) -> Vec<u8> {
    let (a, b) = json_text.split_once("@@").unwrap();
    [a.as_bytes(), raw, b.as_bytes()].concat()
}

/// `base` with `extra`'s members set.
fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// A 60 KB field that still fits `--max-body` (64 KiB) in any provider's body.
fn big_field() -> String {
    format!("\u{1b}[2J{}", "x".repeat(60_000))
}

/// A 70 KB field: any body holding it is over `--max-body`.
fn over_field() -> String {
    "y".repeat(70_000)
}

/// nginx-rtmp: no field recmon cannot use makes it answer anything but 200.
fn nginx_broken() -> Vec<Case> {
    let tcurl = pct(TCURL);
    vec![
        ngx(
            "nginx publish without a name",
            format!("app=live&tcurl={tcurl}&call=publish"),
            Want::Nginx(Some("publish without a name")),
        ),
        ngx(
            "nginx publish with an empty name",
            format!("app=live&tcurl={tcurl}&call=publish&name="),
            Want::Nginx(Some("publish without a name")),
        ),
        ngx(
            "nginx publish_done without a name",
            "app=live&call=publish_done",
            Want::Nginx(Some("publish_done without a name")),
        ),
        ngx(
            "nginx record_done without a path",
            "app=live&call=record_done&name=cam-nopath",
            Want::Nginx(Some("record_done without a path")),
        ),
        ngx(
            "nginx play without a name",
            "app=live&call=play",
            Want::Nginx(Some("play without a name")),
        ),
        ngx(
            "nginx publish with broken percent-encoding",
            concat!(
                "app=live&tcurl=rtmp%3A%2F%2Fh%zz%2&call=publish&name=cam%zz%1%",
                "&flashver=%e2%80&x=%&%=%%"
            ),
            Want::Nginx(None),
        ),
        ngx(
            "nginx publish with invalid UTF-8 (raw and percent-encoded)",
            splice(
                "app=live&tcurl=rtmp://h/live&call=publish&name=cam-@@&addr=%ff%c3%28",
                b"\xff\xfe\xc3(\xed\xa0\x80",
            ),
            Want::Nginx(None),
        ),
        ngx(
            "nginx publish with NUL bytes (raw and percent-encoded)",
            splice(
                "app=live&tcurl=rtmp://h/live&call=publish&name=cam-nul@@x%00y",
                b"\0",
            ),
            Want::Nginx(None),
        ),
        ngx(
            "nginx record_done with start, duration and time of the wrong shape",
            concat!(
                "app=live&call=record_done&name=cam-shape&path=/srv/rec/shape.flv",
                "&start=yesterday&duration=-1&time=NaN&epoch=%5B%5D&clientid=%7B%7D"
            ),
            Want::Nginx(None),
        ),
        ngx(
            "nginx publish with repeated and bracketed keys",
            concat!(
                "app=live&app[]=x&call=publish&call=publish_done&name=cam-rep",
                "&name[x]=y&tcurl=a&tcurl=b"
            ),
            Want::Nginx(None),
        ),
        ngx(
            "nginx publish with a 60 KB name (fits --max-body)",
            format!(
                "app=live&tcurl={tcurl}&call=publish&name={}",
                pct(big_field())
            ),
            Want::Nginx(None),
        ),
        ngx_get(
            "nginx GET publish with a 60 KB name (fits the 64 KiB head)",
            &format!("app=live&call=publish&name={}", "g".repeat(60_000)),
            Want::Nginx(None),
        ),
        ngx_get(
            "nginx GET play_done without a name",
            "app=live&tcurl=x&call=play_done",
            Want::Nginx(Some("play_done without a name")),
        ),
        // Pinned with --provider /ngx=nginx-rtmp: read as nginx-rtmp's whatever the shape.
        ngx(
            "nginx (pinned) JSON body without call",
            r#"{"call":"publish","app":"live"}"#,
            Want::Nginx(Some("no call field")),
        )
        .at("/ngx/on_publish"),
        ngx(
            "nginx (pinned) invalid UTF-8 body without call",
            b"\xff\xfe\x00\x1b[2J".to_vec(),
            Want::Nginx(Some("no call field")),
        )
        .at("/ngx/on_publish"),
        ngx(
            "nginx (pinned) PUT",
            "app=live&call=publish&name=cam-put",
            Want::Nginx(Some("method not allowed")),
        )
        .at("/ngx/on_publish")
        .method("PUT"),
        Case::new(
            "nginx (pinned) GET without call",
            "GET",
            "/ngx/on_publish?app=live&name=x",
            "",
            "nginx-rtmp",
            Want::Nginx(Some("no call field")),
        ),
    ]
}

/// The listener's own limits, which apply before any provider reads the request.
fn limit_cases() -> Vec<Case> {
    let over = over_field();
    vec![
        ngx(
            "nginx (pinned) body over --max-body",
            format!("app=live&call=publish&name=cam-big&x={over}"),
            Want::Limit(413, "body too large"),
        )
        .at("/ngx/on_publish"),
        // A declared length over the limit is refused unread: nothing says whose it is.
        ngx(
            "nginx body over --max-body",
            format!("app=live&call=publish&name=cam-big&x={over}"),
            Want::Limit(413, "body too large"),
        )
        .any_provider(),
        // A 60 KB query and an 8 KB header: the head is over 64 KiB, the URI is not (a URI
        // over 64 KiB is hyper's own 414: see a_uri_over_64_kib_is_journaled_as_answered).
        ngx_get(
            "nginx GET with a 60,000-byte query and an 8 KB header (head over 64 KiB)",
            &format!("app=live&call=publish&name={}", "h".repeat(60_000)),
            Want::Limit(431, "request head too large"),
        )
        .header("X-Pad", "p".repeat(8_000))
        .any_provider(),
        ngx(
            "nginx publish with ESC in the User-Agent (hyper refuses the head)",
            "app=live&call=publish&name=cam-ua",
            Want::Limit(400, "malformed HTTP request"),
        )
        .header("User-Agent", "nginx\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[2J")
        .any_provider(),
        srs_ua(
            "SRS body over --max-body",
            json!({"action":"on_publish","vhost":"v","app":"a","stream":over}).to_string(),
            Want::Limit(413, "body too large"),
        ),
        tc_pinned(
            "Tencent (pinned) body over --max-body",
            json!({"event_type":1,"app":"d","stream_id":over}).to_string(),
            Want::Limit(413, "body too large"),
        ),
        ali(
            "ApsaraVideo body over --max-body",
            json!({"domain":"d","app":"a","stream":over,"event":"e"}).to_string(),
            Want::Refused(413, "body too large"),
        ),
    ]
}

/// SRS: no body recmon cannot use makes it answer anything but 200 `{"code":0}`.
fn srs_broken() -> Vec<Case> {
    let publish = json!({"action":"on_publish","vhost":"v","app":"a","stream":"s"});
    let hls = json!({"action":"on_hls","vhost":"v","app":"a","stream":"s","file":"x.ts"});
    let string_of = |name: &str, field: &str, value: Value, why: &'static str| {
        srs(
            format!("SRS {name}"),
            with(publish.clone(), json!({ field: value })),
            Want::Srs(Some(why)),
        )
    };
    let not_json = Want::Srs(Some("body is not valid JSON"));
    vec![
        srs_ua("SRS invalid JSON", r#"{"action":"on_publish","#, not_json),
        srs_ua(
            "SRS invalid UTF-8 in a string",
            splice(
                r#"{"action":"on_publish","vhost":"v","app":"a","stream":"@@"}"#,
                b"\xff\xfe",
            ),
            not_json,
        ),
        srs_ua(
            "SRS raw NUL inside a string",
            splice(
                r#"{"action":"on_publish","vhost":"v","app":"a","stream":"a@@b"}"#,
                b"\0",
            ),
            not_json,
        ),
        srs_ua("SRS empty body", "", not_json),
        srs_ua(
            "SRS JSON array",
            "[1,2,3]",
            Want::Srs(Some("not an object")),
        ),
        srs_ua("SRS JSON null", "null", Want::Srs(Some("not an object"))),
        srs_ua(
            "SRS 1,000 arrays deep",
            "[".repeat(1_000) + &"]".repeat(1_000),
            not_json,
        ),
        srs_ua(
            "SRS without action",
            r#"{"vhost":"v","app":"a","stream":"s"}"#,
            Want::Srs(Some("missing field: action")),
        ),
        srs_ua(
            "SRS action a number",
            r#"{"action":5,"vhost":"v","app":"a","stream":"s"}"#,
            Want::Srs(Some("field action must be a string, got a number")),
        ),
        string_of(
            "stream a number",
            "stream",
            json!(7),
            "field stream must be a string, got a number",
        ),
        string_of(
            "app an array",
            "app",
            json!(["a"]),
            "field app must be a string, got an array",
        ),
        string_of(
            "vhost an object",
            "vhost",
            json!({"x":1}),
            "field vhost must be a string, got an object",
        ),
        string_of(
            "ip a boolean",
            "ip",
            json!(true),
            "field ip must be a string, got a boolean",
        ),
        string_of(
            "param a number",
            "param",
            json!(1),
            "field param must be a string, got a number",
        ),
        srs(
            "SRS on_publish without stream",
            json!({"action":"on_publish","vhost":"v","app":"a"}),
            Want::Srs(Some("missing field: stream")),
        ),
        srs(
            "SRS on_publish without any identity",
            json!({"action":"on_publish"}),
            Want::Srs(Some("missing fields: vhost, app, stream")),
        ),
        srs(
            "SRS on_dvr without file",
            json!({"action":"on_dvr","vhost":"v","app":"a","stream":"s","cwd":"/srv"}),
            Want::Srs(Some("on_dvr without a file")),
        ),
        srs(
            "SRS on_dvr file a number",
            json!({"action":"on_dvr","vhost":"v","app":"a","stream":"s","file":5}),
            Want::Srs(Some("field file must be a string, got a number")),
        ),
        srs(
            "SRS on_hls duration as text",
            with(hls.clone(), json!({"duration":"nine"})),
            Want::Srs(Some(
                "field duration must be a number of seconds, got a string",
            )),
        ),
        srs(
            "SRS on_hls duration negative",
            with(hls, json!({"stream":"srs-neg","duration":-9.5})),
            Want::Srs(None),
        ),
        srs(
            "SRS on_publish with escaped NUL in the stream",
            with(publish.clone(), json!({"stream":"srs\u{0}nul"})),
            Want::Srs(None),
        ),
        srs(
            "SRS on_publish with a 60 KB stream (fits --max-body)",
            with(publish, json!({ "stream": big_field() })),
            Want::Srs(None),
        ),
        srs_ua(
            "SRS on_connect with duplicate action keys",
            r#"{"action":"on_connect","action":"on_close","vhost":"v","app":"a"}"#,
            Want::Srs(None),
        ),
        // Pinned with --provider /srs=srs.
        srs_raw("SRS (pinned) invalid JSON", "{not json", not_json).at("/srs/hook"),
        srs_raw(
            "SRS (pinned) nginx form",
            "app=live&call=publish&name=x",
            not_json,
        )
        .at("/srs/hook"),
        Case::new(
            "SRS (pinned) GET",
            "GET",
            "/srs/hook?action=on_publish",
            "",
            "srs",
            Want::Srs(Some("SRS hooks are POST requests")),
        ),
    ]
}

/// Tencent: a 4xx naming the field.
fn tencent_broken() -> Vec<Case> {
    let push = json!({"event_type":1,"app":"d","appname":"live","stream_id":"s"});
    let file = json!({"event_type":100,"app":"d","stream_id":"s","video_url":"u.mp4"});
    let refused = |name: &str, body: Value, status, why: &'static str| {
        tc(format!("Tencent {name}"), body, Want::Refused(status, why))
    };
    let not_json = Want::Refused(400, "body is not valid JSON");
    vec![
        tc_pinned(
            "Tencent (pinned) event_type of letters",
            r#"{"event_type":"push","app":"d","stream_id":"s"}"#,
            Want::Refused(422, "field event_type must be an integer, got a string"),
        ),
        tc_pinned(
            "Tencent (pinned) event_type an array",
            r#"{"event_type":[1],"app":"d","stream_id":"s"}"#,
            Want::Refused(422, "field event_type must be an integer, got an array"),
        ),
        tc_pinned(
            "Tencent (pinned) event_type an object",
            r#"{"event_type":{"n":1},"app":"d","stream_id":"s"}"#,
            Want::Refused(422, "field event_type must be an integer, got an object"),
        ),
        // Unpinned, an `event_type` member of any type is Tencent's shape (README: "JSON with
        // an `event_type` key"): Tencent's reader refuses it naming the field.
        tc(
            "Tencent-like event_type of letters, unpinned",
            with(push.clone(), json!({"event_type":"push"})),
            Want::Refused(422, "field event_type must be an integer, got a string"),
        ),
        tc_pinned(
            "Tencent (pinned) without event_type",
            r#"{"app":"d","stream_id":"s"}"#,
            Want::Refused(400, "missing field: event_type"),
        ),
        tc_pinned(
            "Tencent (pinned) invalid JSON",
            r#"{"event_type":1,"#,
            not_json,
        ),
        tc_pinned(
            "Tencent (pinned) invalid UTF-8",
            splice(r#"{"event_type":1,"app":"d","stream_id":"@@"}"#, b"\xff"),
            not_json,
        ),
        tc_pinned(
            "Tencent (pinned) raw NUL inside a string",
            splice(r#"{"event_type":1,"app":"d","stream_id":"a@@b"}"#, b"\0"),
            not_json,
        ),
        // Invalid UTF-8 in a string the detector skips: read as Tencent's, refused naming it.
        tc_raw(
            "Tencent invalid UTF-8, unpinned",
            splice(r#"{"event_type":1,"app":"d","stream_id":"@@"}"#, b"\xff"),
            not_json,
        ),
        tc_pinned(
            "Tencent (pinned) JSON array",
            "[1]",
            Want::Refused(400, "body is JSON but not an object"),
        ),
        tc_pinned(
            "Tencent (pinned) GET",
            "",
            Want::Refused(405, "Tencent Cloud callbacks are POST"),
        )
        .method("GET"),
        refused(
            "stream_id a number",
            with(push.clone(), json!({"stream_id":5})),
            422,
            "field stream_id must be a string, got a number",
        ),
        refused(
            "stream_id an array",
            with(push.clone(), json!({"event_type":0,"stream_id":["s"]})),
            422,
            "field stream_id must be a string, got an array",
        ),
        refused(
            "app an object",
            with(push.clone(), json!({"app":{"d":1}})),
            422,
            "field app must be a string, got an object",
        ),
        refused(
            "appname a number",
            with(push.clone(), json!({"appname":3})),
            422,
            "field appname must be a string, got a number",
        ),
        refused(
            "appid of letters without app",
            json!({"event_type":1,"appid":"abc","stream_id":"s"}),
            422,
            "field appid must be an integer, got a string",
        ),
        refused(
            "without stream_id",
            json!({"event_type":1,"app":"d","appname":"live"}),
            400,
            "missing field: stream_id",
        ),
        refused(
            "empty stream_id",
            with(push.clone(), json!({"stream_id":""})),
            400,
            "missing field: stream_id",
        ),
        refused(
            "event_time of letters",
            with(push.clone(), json!({"event_time":"yesterday"})),
            422,
            "field event_time must be an integer, got a string",
        ),
        refused(
            "stream_param an array",
            with(push.clone(), json!({"stream_param":["a=1"]})),
            422,
            "field stream_param must be a string, got an array",
        ),
        refused(
            "recording without video_url",
            json!({"event_type":100,"app":"d","stream_id":"s"}),
            400,
            "missing field: video_url",
        ),
        refused(
            "recording video_url a number",
            with(file.clone(), json!({"video_url":1})),
            422,
            "field video_url must be a string, got a number",
        ),
        refused(
            "recording file_size negative",
            with(file.clone(), json!({"file_size":-1})),
            422,
            "field file_size must be a byte count, got -1",
        ),
        refused(
            "recording file_size negative text",
            with(file.clone(), json!({"file_size":"-1"})),
            422,
            "field file_size must be a byte count",
        ),
        refused(
            "recording file_size fractional",
            with(file.clone(), json!({"file_size":1.5})),
            422,
            "field file_size must be a byte count",
        ),
        refused(
            "recording file_size an array",
            with(file.clone(), json!({"file_size":[1]})),
            422,
            "field file_size must be a byte count, got an array",
        ),
        refused(
            "recording duration an object",
            with(file.clone(), json!({"duration":{"s":1}})),
            422,
            "field duration must be a number of seconds, got an object",
        ),
        refused(
            "recording start_time of letters",
            with(file.clone(), json!({"start_time":"yesterday"})),
            422,
            "field start_time must be an integer, got a string",
        ),
        refused(
            "recording end_time fractional",
            with(file.clone(), json!({"end_time":1.5})),
            422,
            "field end_time must be an integer",
        ),
        tc(
            "Tencent recording duration as numeric text",
            with(file, json!({"stream_id":"tc-numtext","duration":"12.5"})),
            Want::Used,
        ),
        refused(
            "332 without record_event",
            json!({"event_type":332,"domain":"d","stream_id":"s"}),
            400,
            "missing field: record_event",
        ),
        refused(
            "332 record_event a number",
            json!({"event_type":332,"domain":"d","stream_id":"s","record_event":5}),
            422,
            "field record_event must be a string, got a number",
        ),
        refused(
            "321 errcode of letters",
            json!({"event_type":321,"app":"d","stream_id":"s","errcode":"bad"}),
            422,
            "field errcode must be an integer, got a string",
        ),
        tc(
            "Tencent push with escaped NUL in the stream",
            with(push.clone(), json!({"stream_id":"tc\u{0}nul"})),
            Want::Used,
        ),
        tc(
            "Tencent push with a 60 KB stream_id (fits --max-body)",
            with(push, json!({ "stream_id": big_field() })),
            Want::Used,
        ),
    ]
}

/// ApsaraVideo Live: a 4xx naming the field.
fn aliyun_broken() -> Vec<Case> {
    let status = json!({"domain":"d","app":"a","stream":"s","event":"e"});
    let file = json!({"domain":"d","app":"a","stream":"s","uri":"u.flv"});
    let refused = |name: &str, body: Value, status, why: &'static str| {
        ali(
            format!("ApsaraVideo {name}"),
            body.to_string(),
            Want::Refused(status, why),
        )
    };
    let not_json = Want::Refused(400, "body is not valid JSON");
    vec![
        refused(
            "stream a number",
            with(status.clone(), json!({"stream":7})),
            422,
            "field stream must be a string, got a number",
        ),
        refused(
            "domain an array",
            with(status.clone(), json!({"domain":["d"]})),
            422,
            "field domain must be a string, got an array",
        ),
        refused(
            "app an object",
            with(file.clone(), json!({"app":{}})),
            422,
            "field app must be a string, got an object",
        ),
        refused(
            "without app",
            json!({"domain":"d","stream":"s","event":"e"}),
            400,
            "missing field: app",
        ),
        refused(
            "without identity",
            json!({"event":"record_started"}),
            400,
            "missing fields: domain, app, stream",
        ),
        refused(
            "duration as text",
            with(file.clone(), json!({"duration":"ten seconds"})),
            422,
            "field duration must be a finite number of seconds",
        ),
        refused(
            "start_time of letters",
            with(file.clone(), json!({"start_time":"yesterday"})),
            422,
            "field start_time must be whole Unix seconds",
        ),
        refused(
            "push_args a string",
            with(file, json!({"push_args":"callback_a=1"})),
            422,
            "field push_args must be an object, got a string",
        ),
        ali("ApsaraVideo invalid JSON", r#"{"domain":"d","#, not_json),
        ali(
            "ApsaraVideo invalid UTF-8",
            splice(
                r#"{"domain":"@@","app":"a","stream":"s","event":"e"}"#,
                b"\xc3\x28",
            ),
            not_json,
        ),
        ali(
            "ApsaraVideo raw NUL inside a string",
            splice(
                r#"{"domain":"d","app":"a","stream":"a@@b","event":"e"}"#,
                b"\0",
            ),
            not_json,
        ),
        ali_get(
            "ApsaraVideo GET without id",
            "action=publish&app=d&appname=a",
            Want::Refused(400, "missing query parameter: id"),
        ),
        ali_get(
            "ApsaraVideo GET time of letters",
            "action=publish&app=d&appname=a&id=s&time=yesterday",
            Want::Refused(422, "query parameter time must be Unix seconds"),
        ),
        ali_get(
            "ApsaraVideo GET unknown action with escapes",
            "action=%1b%5b2J&app=d&appname=a&id=s",
            Want::Refused(400, "unknown action"),
        ),
        ali_get(
            "ApsaraVideo GET broken percent-encoding",
            "action=publish&app=d%zz&appname=a%&id=ali-pct%1&usrargs=%e2%80%",
            Want::Used,
        ),
        ali_get(
            "ApsaraVideo GET NUL bytes",
            "action=publish&app=d&appname=a&id=ali%00nul&usrargs=%00",
            Want::Used,
        ),
        ali(
            "ApsaraVideo with escaped NUL in the stream",
            with(status.clone(), json!({"stream":"ali\u{0}nul"})).to_string(),
            Want::Used,
        ),
        ali(
            "ApsaraVideo 60 KB stream (fits --max-body)",
            with(status, json!({ "stream": big_field() })).to_string(),
            Want::Used,
        ),
    ]
}

/// Wrong types, missing identity fields, broken encodings, NUL bytes, huge fields and the
/// listener's limits, for every provider.
fn broken_cases() -> Vec<Case> {
    let mut cases = nginx_broken();
    cases.extend(limit_cases());
    cases.extend(srs_broken());
    cases.extend(tencent_broken());
    cases.extend(aliyun_broken());
    // Bodies for the limits are built past the limit, the huge ones that fit within it.
    for c in &cases {
        if matches!(c.want, Want::Limit(413, _) | Want::Refused(413, _)) {
            assert!(c.body.len() > 64 * 1024, "{}", c.name);
        } else if c.name.contains("(fits") {
            assert!(
                c.body.len() < 64 * 1024 && c.body.len() + c.path.len() > 60_000,
                "{}",
                c.name
            );
        }
    }
    cases
}

// ---- sending and checking -----------------------------------------------------------------------

/// Sends one case as one HTTP/1.1 request on its own connection; returns (status, body).
fn send(addr: std::net::SocketAddr, c: &Case) -> (u16, String) {
    let mut raw = Vec::new();
    raw.extend_from_slice(c.method.as_bytes());
    raw.push(b' ');
    raw.extend_from_slice(&c.path);
    raw.extend_from_slice(format!(" HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").as_bytes());
    for (k, v) in &c.headers {
        raw.extend_from_slice(k.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(v);
        raw.extend_from_slice(b"\r\n");
    }
    if c.method != "GET" || !c.body.is_empty() {
        raw.extend_from_slice(format!("Content-Length: {}\r\n", c.body.len()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&c.body);
    let out = raw_exchange(addr, &raw);
    parse_response(&out).unwrap_or((0, out))
}

/// What is wrong with one case's answer and journal line (empty: nothing).
fn check(c: &Case, status: u16, body: &str, line: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            bad.push(format!("{}: {what}", c.name));
        }
    };
    let provider = line["provider"].as_str().unwrap_or("");
    expect(
        ["aliyun", "nginx-rtmp", "srs", "tencent"].contains(&provider),
        format!(
            "journal provider {:?} is not a provider's name",
            line["provider"]
        ),
    );
    if let Some(p) = c.provider {
        expect(
            provider == p,
            format!("journal provider {provider:?}, not {p:?}"),
        );
    }
    let outcome = line["outcome"].as_str().unwrap_or("");
    let journal_status = line["status"].as_u64().unwrap_or(0);
    let error = line["error"].as_str().unwrap_or("");
    let used = outcome == "accepted" || outcome == "duplicate";
    let wire_error = || -> String {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    match c.want {
        Want::Nginx(reason) | Want::Srs(reason) => {
            expect(
                (200..300).contains(&status),
                format!("answered {status} {body:?}: nginx-rtmp and SRS must get a 2xx"),
            );
            expect(
                journal_status == 200,
                format!("journaled with status {journal_status}"),
            );
            match reason {
                None => expect(used, format!("journaled {outcome} ({error}), not used")),
                Some(why) => {
                    expect(
                        outcome == "rejected",
                        format!("journaled {outcome}, not rejected"),
                    );
                    expect(
                        error.contains(why),
                        format!("journal error {error:?} lacks {why:?}"),
                    );
                }
            }
            if matches!(c.want, Want::Srs(_)) {
                let v: Option<Value> = serde_json::from_str(body).ok();
                expect(
                    v.as_ref()
                        .is_some_and(|v| v.is_object() && v["code"].as_i64() == Some(0)),
                    format!("SRS answer {body:?} is not an object whose integer code is 0"),
                );
            }
        }
        Want::Used => {
            expect(
                status == 200,
                format!("answered {status} {body:?}, not 200"),
            );
            expect(used, format!("journaled {outcome} ({error}), not used"));
            if c.provider == Some("tencent") {
                let v: Option<Value> = serde_json::from_str(body).ok();
                expect(
                    v.is_some_and(|v| v["code"].as_i64() == Some(0)),
                    format!("Tencent answer {body:?} has no code 0"),
                );
            }
        }
        Want::Refused(want, why) => {
            expect(
                status == want,
                format!("answered {status} {body:?}, not {want}"),
            );
            let e = wire_error();
            expect(
                e.contains(why),
                format!("answer's error {e:?} lacks {why:?} ({body:?})"),
            );
            expect(outcome == "rejected", format!("journaled {outcome}"));
            expect(
                journal_status == want as u64,
                format!("journaled with status {journal_status}"),
            );
            expect(
                error.contains(why),
                format!("journal error {error:?} lacks {why:?}"),
            );
        }
        Want::Limit(want, why) => {
            expect(
                status == want,
                format!("answered {status} {body:?}, not {want}"),
            );
            // hyper's own 400 has no body; recmon's refusals say why in JSON.
            if !body.is_empty() {
                let e = wire_error();
                expect(
                    e.contains(why),
                    format!("answer's error {e:?} lacks {why:?}"),
                );
            }
            expect(outcome == "rejected", format!("journaled {outcome}"));
            expect(
                journal_status == want as u64,
                format!("journaled with status {journal_status}"),
            );
            expect(
                error.contains(why),
                format!("journal error {error:?} lacks {why:?}"),
            );
        }
    }
    bad
}

/// Sends every case in order, each checked against the line it adds to the journal.
/// Returns every problem found (the run goes on, so that one finding hides no other).
fn run(r: &Recmon, cases: &[Case], lines_before: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut n = lines_before;
    for c in cases {
        let (status, body) = send(r.addr, c);
        n += 1;
        let lines = r.wait_journal_lines(n);
        if lines.len() != n {
            problems.push(format!(
                "{}: the journal has {} lines, not {n} (one per request)",
                c.name,
                lines.len()
            ));
            n = lines.len();
            continue;
        }
        problems.extend(check(c, status, &body, &lines[n - 1]));
    }
    problems
}

/// A normal callback of each provider, each accepted: the process still serves all four.
fn normal_callbacks(tencent_sign: Option<(i64, String)>) -> Vec<Case> {
    let mut tencent = json!({
        "event_type": 1, "appid": 12345678, "app": "push.example", "appname": "live",
        "stream_id": "after-barrage", "user_ip": "192.0.2.9", "event_time": 1_703_731_478,
    });
    if let Some((t, sign)) = tencent_sign {
        tencent["t"] = json!(t);
        tencent["sign"] = json!(sign);
    }
    let nginx = form(&[
        ("app", "live"),
        ("tcurl", TCURL),
        ("call", "publish"),
        ("name", "after-barrage"),
        ("addr", "192.0.2.1"),
    ]);
    let srs_publish = json!({
        "action": "on_publish", "client_id": "341w361a", "ip": "192.0.2.2",
        "vhost": "__defaultVhost__", "app": "live", "stream": "after-barrage",
        "param": "?token=abc", "server_id": "vid-0xk989d",
    });
    let aliyun = json!({"domain":"d.example","app":"live","stream":"after-barrage",
                        "event":"record_started"});
    vec![
        ngx(
            "normal nginx-rtmp publish after the barrage",
            nginx,
            Want::Nginx(None),
        ),
        srs(
            "normal SRS on_publish after the barrage",
            srs_publish,
            Want::Srs(None),
        )
        .header("User-Agent", SRS_UA),
        tc("normal Tencent push after the barrage", tencent, Want::Used),
        ali(
            "normal ApsaraVideo status after the barrage",
            aliyun.to_string(),
            Want::Used,
        ),
    ]
}

/// Every character of the headless stdout (and of stderr) is safe for a terminal: no ESC, no
/// C0 or C1 control, no bidi override, no zero-width character; only the newlines between
/// lines. Output is written from Rust strings, so a stray byte 0x80..0x9f that is not part of
/// a UTF-8 sequence would arrive here as U+FFFD, and a C1 control written as UTF-8 as itself.
fn assert_inert_output(what: &str, text: &str) {
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line
            .chars()
            .find(|&c| recmon::util::sanitize::is_unsafe_char(c))
        {
            panic!("{what} line {}: raw {c:?} in {line:?}", i + 1);
        }
    }
}

/// The CSV export of the journal: every cell free of control characters, none starting
/// with a formula character. Returns the rows, as (column, cell) maps.
fn export_csv(journal: &std::path::Path, what: &str) -> Vec<Vec<(String, String)>> {
    let out = Command::new(bin())
        .arg("export")
        .arg(journal)
        .args(["--what", what, "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export --what {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        let mut row = Vec::new();
        for (name, cell) in headers.iter().zip(rec.iter()) {
            if let Some(c) = cell
                .chars()
                .find(|&c| recmon::util::sanitize::is_unsafe_char(c))
            {
                panic!("{what}.csv column {name}: raw {c:?} in {cell:?}");
            }
            assert!(
                !matches!(cell.chars().next(), Some('=' | '+' | '-' | '@')),
                "{what}.csv column {name}: cell {cell:?} starts a formula"
            );
            row.push((name.to_string(), cell.to_string()));
        }
        rows.push(row);
    }
    rows
}

fn column<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    row.iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn hostile_requests_in_every_providers_shape() {
    let mut r = Recmon::start(&[
        "--provider",
        "/ngx=nginx-rtmp",
        "--provider",
        "/srs=srs",
        "--provider",
        "/tc=tencent",
    ]);
    let mut cases = payload_cases();
    cases.extend(broken_cases());
    cases.extend(normal_callbacks(None));
    assert!(cases.len() > 200, "only {} cases", cases.len());
    let problems = run(&r, &cases, 0);
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );

    // Every request is one journal line, and the state counts them all.
    let lines = r.journal_lines();
    assert_eq!(lines.len(), cases.len());
    let state = r.state();
    assert_eq!(
        state["last_seq"].as_u64(),
        Some(cases.len() as u64),
        "{state}"
    );
    let live: BTreeSet<&str> = state["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stream"] == "after-barrage" && s["ingest"] != "offline")
        .filter_map(|s| s["provider"].as_str())
        .collect();
    assert_eq!(
        live,
        BTreeSet::from(["aliyun", "nginx-rtmp", "srs", "tencent"]),
        "every provider's normal callback reached the state"
    );

    // The journal, read again with each line's provider, builds the same state.
    {
        use recmon::core::{dedup::Deduper, rebuild::rebuild, store::Store};
        let mut store = Store::default();
        let rebuilt = rebuild(&r.journal, &mut store, &mut Deduper::default(), |_| {}).unwrap();
        assert!(rebuilt.problems.is_empty(), "{:?}", rebuilt.problems);
        assert_eq!(
            store.recordings().len() as u64,
            state["recordings_total"].as_u64().unwrap(),
            "recordings rebuilt from the journal"
        );
    }

    let (status, stdout, stderr) = r.stop();
    assert!(status.success(), "{stderr}");
    assert_inert_output("headless stdout", &stdout);
    assert_inert_output("stderr", &stderr);
    // The hostile text reached the output, made visible rather than dropped.
    for shown in [
        "\\x1b[2J",
        "\\x1b]52;c;",
        "\\x9b31m",
        "\\u{202e}",
        "=HYPERLINK(",
    ] {
        assert!(stdout.contains(shown), "{shown} not in the headless output");
    }
    assert_eq!(
        stdout.lines().count(),
        cases.len(),
        "one headless line per request:\n{stdout}"
    );

    // The exports: recordings of every provider, hostile text inert.
    let recordings = export_csv(&r.journal, "recordings");
    let providers: BTreeSet<&str> = recordings
        .iter()
        .map(|row| column(row, "provider"))
        .collect();
    assert_eq!(
        providers,
        BTreeSet::from(["aliyun", "nginx-rtmp", "srs", "tencent"])
    );
    // Each payload starts a file path of each provider's: its cell starts with the payload
    // made inert (escaped, and quoted when it starts a formula).
    for (what, p) in PAYLOADS {
        let inert = recmon::util::sanitize::csv_cell(p);
        let found: BTreeSet<&str> = recordings
            .iter()
            .filter(|row| column(row, "uri").starts_with(&*inert))
            .map(|row| column(row, "provider"))
            .collect();
        assert_eq!(
            found,
            BTreeSet::from(["aliyun", "nginx-rtmp", "srs", "tencent"]),
            "{what}: a recording of each provider whose uri starts with {inert:?}"
        );
    }
    assert!(export_csv(&r.journal, "events").len() == cases.len());
    assert!(!export_csv(&r.journal, "streams").is_empty());
}

/// `--tencent-key`: a wrong or missing `sign`, or an expired `t`, gets 403 naming what is
/// wrong, before the body is classified; a good one reaches the classifier (and its 4xx).
/// nginx-rtmp and SRS sign nothing and are answered 2xx all the same.
#[test]
fn tencent_signatures_are_checked_first_and_refusals_name_the_reason() {
    const KEY: &str = "k3y";
    let mut r = Recmon::start(&["--tencent-key", KEY]);
    let now = chrono::Utc::now().timestamp();
    let sign = |t: i64| {
        use md5::{Digest, Md5};
        Md5::digest(format!("{KEY}{t}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let t = now + 600;
    let push = |extra: Value| {
        let mut v =
            json!({"event_type":1,"app":"push.example","appname":"live","stream_id":"signed"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let cases = vec![
        tc(
            "sign of someone else's key",
            push(json!({"t":t,"sign":"0".repeat(32)})),
            Want::Refused(403, "sign is not md5(key + t) for --tencent-key"),
        ),
        tc(
            "sign with escapes",
            push(json!({"t":t,"sign":"\u{1b}]52;c;SGVsbG8=\u{7}\u{9b}31m"})),
            Want::Refused(403, "sign is not md5(key + t)"),
        ),
        tc(
            "expired t",
            push(json!({"t":now - 120,"sign":sign(now - 120)})),
            Want::Refused(403, "t expired"),
        ),
        tc(
            "negative t",
            push(json!({"t":-1,"sign":sign(-1)})),
            Want::Refused(403, "t expired"),
        ),
        tc(
            "t of letters",
            push(json!({"t":"soon","sign":sign(t)})),
            Want::Refused(403, "t must be whole Unix seconds"),
        ),
        tc(
            "t fractional",
            push(json!({"t":1.5,"sign":sign(t)})),
            Want::Refused(403, "t must be whole Unix seconds"),
        ),
        tc(
            "t an array",
            push(json!({"t":[t],"sign":sign(t)})),
            Want::Refused(403, "t must be whole Unix seconds"),
        ),
        tc(
            "sign an array",
            push(json!({"t":t,"sign":[sign(t)]})),
            Want::Refused(403, "sign must be a string"),
        ),
        tc(
            "no sign",
            push(json!({"t":t})),
            Want::Refused(403, "no sign"),
        ),
        tc(
            "no t",
            push(json!({"sign":sign(t)})),
            Want::Refused(403, "no t"),
        ),
        // Signed, then classified: the classifier's 4xx.
        tc(
            "signed, stream_id a number",
            push(json!({"t":t,"sign":sign(t),"stream_id":9})),
            Want::Refused(422, "field stream_id must be a string, got a number"),
        ),
        tc(
            "signed, file_size negative",
            json!({"event_type":100,"app":"d","stream_id":"s","video_url":"u.mp4",
                   "file_size":-5,"t":t,"sign":sign(t)}),
            Want::Refused(422, "field file_size must be a byte count"),
        ),
        tc(
            "signed (uppercase hex), t as text, escapes in the stream",
            push(json!({"t":format!(" {t} "),"sign":sign(t).to_uppercase(),
                        "stream_id":"signed\u{1b}[2J\u{9b}31m\u{202e}"})),
            Want::Used,
        ),
        // nginx-rtmp and SRS are not signed: the Tencent key changes nothing for them.
        ngx(
            "nginx publish beside --tencent-key",
            form(&[
                ("app", "live"),
                ("tcurl", TCURL),
                ("call", "publish"),
                ("name", "\u{1b}[2Jcam"),
            ]),
            Want::Nginx(None),
        ),
        ngx(
            "nginx publish without a name beside --tencent-key",
            "app=live&call=publish",
            Want::Nginx(Some("without a name")),
        ),
        srs(
            "SRS on_publish beside --tencent-key",
            json!({"action":"on_publish","vhost":"v","app":"a","stream":"=cmd"}),
            Want::Srs(None),
        ),
        srs_ua(
            "SRS invalid JSON beside --tencent-key",
            "{",
            Want::Srs(Some("not valid JSON")),
        ),
    ];
    let mut all = cases;
    all.extend(normal_callbacks(Some((t, sign(t)))));
    let problems = run(&r, &all, 0);
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    let state = r.state();
    assert_eq!(state["last_seq"].as_u64(), Some(all.len() as u64));
    assert_eq!(state["auth_failures"].as_u64(), Some(10), "{state}");
    let (status, stdout, stderr) = r.stop();
    assert!(status.success(), "{stderr}");
    assert_inert_output("headless stdout", &stdout);
    assert_inert_output("stderr", &stderr);
}

/// Tencent's `duration` must be "a number of seconds": a string that holds no number is a
/// wrong type, refused with 422 naming the field, as ApsaraVideo's is (README: "a recognised
/// callback with a field of the wrong type: 422, naming the field"). Tencent retries a
/// refusal, so the sender sees it; accepting the file without its duration hides the fault.
#[test]
fn tencent_duration_that_is_not_a_number_is_refused_naming_duration() {
    let r = Recmon::start(&[]);
    let cases: Vec<Case> = ["ten seconds", "NaN", "Infinity"]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            tc(
                format!("Tencent recording duration {d:?}"),
                json!({"event_type":100,"app":"d","stream_id":"s",
                       "video_url":format!("u{i}.mp4"),"duration":d}),
                Want::Refused(422, "duration"),
            )
        })
        .collect();
    let problems = run(&r, &cases, 0);
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A request target over 64 KiB (an nginx-rtmp GET notification with a long query) is
/// refused by hyper itself with 414 URI Too Long. The journal must say what was answered
/// (`status`: "The HTTP status answered"): it says 431 instead, with advice about headers
/// ("send fewer or shorter headers"), because every `is_parse_too_large()` error is journaled
/// as 431 (`src/server/listener.rs`, `serve`).
#[test]
fn a_uri_over_64_kib_is_journaled_as_answered() {
    let r = Recmon::start(&[]);
    let cases = vec![ngx_get(
        "nginx GET with a 70 KB query (URI over 64 KiB)",
        &format!("app=live&call=publish&name={}", "y".repeat(70_000)),
        Want::Limit(414, "URI too long"),
    )
    .any_provider()];
    let problems = run(&r, &cases, 0);
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
