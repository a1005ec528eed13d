//! Providers: each turns its HTTP requests into the domain events of [`crate::event`], purely
//! (no I/O, no clock, no shared state), and says how its sender wants to be answered.
//!
//! - [`aliyun`]: ApsaraVideo Live (JSON status and file callbacks, GET ingest callbacks);
//! - [`nginx_rtmp`]: nginx-rtmp's `on_*` notifications (form POST or GET, `call=`);
//! - [`srs`]: SRS `http_hooks` (JSON, `action`);
//! - [`tencent`]: Tencent Cloud CSS event callbacks (JSON, `event_type`).
//!
//! [`detect`] tells them apart by the request's shape; `--provider PATH_PREFIX=NAME` pins one
//! to a path ([`Pins`]). The journal records which provider parsed each request, and every
//! reader of a journal classifies it again with [`classify`] and that provider.

pub mod aliyun;
pub mod form;
pub mod nginx_rtmp;
pub mod srs;
pub mod tencent;

#[cfg(test)]
pub(crate) mod captures;

pub use crate::event::Provider;
use crate::event::{Callback, Method, Outcome, Rejection};
use memchr::memmem;

/// A JSON value's type in words, for the errors that name what a field was.
pub(crate) fn json_type(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The first `max` characters of `s` (untrusted text quoted in an error or a detail).
pub(crate) fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Classifies one request as `provider`'s. Returns the verdict and whether the body parsed as
/// JSON (the journal keeps such bodies inline).
pub fn classify(
    provider: Provider,
    method: Method,
    query: Option<&str>,
    body: &[u8],
) -> (Result<Callback, Rejection>, bool) {
    match provider {
        Provider::Aliyun => match aliyun::classify_request(method, query, body) {
            (Err(rej), json) if rej.status == 400 && json => {
                (Err(unsupported(body).unwrap_or(rej)), json)
            }
            other => other,
        },
        Provider::NginxRtmp => (nginx_rtmp::classify(method, query, body), false),
        Provider::Srs => srs::classify(method, body),
        Provider::Tencent => tencent::classify(method, body),
    }
}

/// A clearer refusal for the bodies of providers recmon does not read (see `docs/providers.md`,
/// "Providers recmon does not read"): AWS IVS's EventBridge events, Mux and Cloudflare Stream
/// webhooks.
fn unsupported(body: &[u8]) -> Option<Rejection> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let name = if v.get("source").and_then(|s| s.as_str()) == Some("aws.ivs") {
        "an AWS IVS EventBridge event"
    } else if v
        .get("type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.starts_with("video."))
    {
        "a Mux webhook"
    } else if v.pointer("/data/input_id").is_some() || v.get("readyToStream").is_some() {
        "a Cloudflare Stream webhook"
    } else {
        return None;
    };
    Some(Rejection::new(
        400,
        format!(
            "this is {name}, which recmon does not read; it reads ApsaraVideo Live, nginx-rtmp, SRS and Tencent Cloud callbacks"
        ),
    ))
}

/// Which provider sent a request, from its shape alone:
/// - a `call=` form (POST body, or GET query): nginx-rtmp;
/// - a POST whose `User-Agent` is `SRS/...`, or whose JSON object has a string `action`: SRS;
/// - a POST whose JSON object has an `event_type` member (of any type: Tencent's reader names
///   a wrong one): Tencent Cloud;
/// - anything else: ApsaraVideo Live (whose classifier names what is missing).
///
/// Cheap for the common case: an ApsaraVideo JSON body is only searched for two keys.
pub fn detect(
    method: Method,
    query: Option<&str>,
    content_type: Option<&str>,
    user_agent: Option<&str>,
    body: &[u8],
) -> Provider {
    match method {
        Method::Get => {
            let q = query.unwrap_or("");
            if q.contains("call=") && nginx_rtmp::looks_like(&form::parse_query(q)) {
                return Provider::NginxRtmp;
            }
            Provider::Aliyun
        }
        Method::Post => {
            const FORM: &str = "application/x-www-form-urlencoded";
            let form = content_type.is_some_and(|c| {
                let c = c.trim_start().as_bytes();
                c.len() >= FORM.len() && c[..FORM.len()].eq_ignore_ascii_case(FORM.as_bytes())
            });
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            if first == Some(&b'{') {
                // JSON: SRS's and Tencent's keys, searched with finders built once.
                if user_agent.is_some_and(|u| u.starts_with("SRS/")) {
                    return Provider::Srs;
                }
                static KEYS: std::sync::LazyLock<(memmem::Finder, memmem::Finder)> =
                    std::sync::LazyLock::new(|| {
                        (
                            memmem::Finder::new(b"\"action\"").into_owned(),
                            memmem::Finder::new(b"\"event_type\"").into_owned(),
                        )
                    });
                if KEYS.0.find(body).is_some() && srs::looks_like(body) {
                    return Provider::Srs;
                }
                if KEYS.1.find(body).is_some() && tencent::looks_like(body) {
                    return Provider::Tencent;
                }
                return Provider::Aliyun;
            }
            if (form || first.is_some_and(|b| b.is_ascii_alphabetic()))
                && memmem::find(body, b"call=").is_some()
                && nginx_rtmp::looks_like(&nginx_rtmp::fields(method, query, body))
            {
                return Provider::NginxRtmp;
            }
            if form && first.is_none() && query.is_some_and(|q| q.contains("call=")) {
                return Provider::NginxRtmp;
            }
            if user_agent.is_some_and(|u| u.starts_with("SRS/")) {
                return Provider::Srs;
            }
            Provider::Aliyun
        }
        Method::Other => Provider::Aliyun,
    }
}

/// `--provider PATH_PREFIX=NAME`: requests whose path starts with the prefix are read as that
/// provider's, whatever their shape. The longest matching prefix wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins(Vec<(String, Provider)>);

impl Pins {
    /// Parses `PATH_PREFIX=NAME` arguments.
    pub fn parse(args: &[String]) -> Result<Pins, String> {
        let mut pins = Vec::new();
        for a in args {
            let (prefix, name) = a.rsplit_once('=').ok_or_else(|| {
                format!("--provider {a:?}: expected PATH_PREFIX=NAME, e.g. /srs=srs")
            })?;
            if !prefix.starts_with('/') {
                return Err(format!(
                    "--provider {a:?}: the path prefix must start with /, e.g. /srs=srs"
                ));
            }
            if pins.iter().any(|(p, _): &(String, Provider)| p == prefix) {
                return Err(format!(
                    "--provider {a:?}: the path {prefix} is pinned twice"
                ));
            }
            let p = Provider::from_name(name).ok_or_else(|| {
                format!(
                    "--provider {a:?}: unknown provider {name:?}; one of {}",
                    Provider::ALL.map(Provider::as_str).join(", ")
                )
            })?;
            pins.push((prefix.to_string(), p));
        }
        pins.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Pins(pins))
    }

    /// The provider pinned to this path (with or without its query), if any. A prefix
    /// matches whole path segments: `/srs` pins `/srs`, `/srs/x` and `/srs?q`, not `/srsfoo`.
    pub fn for_path(&self, path: &str) -> Option<Provider> {
        self.0
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    prefix.ends_with('/')
                        || rest.is_empty()
                        || rest.starts_with('/')
                        || rest.starts_with('?')
                })
            })
            .map(|(_, p)| *p)
    }

    /// Whether no provider is pinned.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `/srs=srs, /tc=tencent`, longest prefix first (the order they are tried in).
impl std::fmt::Display for Pins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (prefix, p)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{prefix}={}", p.as_str())?;
        }
        Ok(())
    }
}

/// The stream a request names, read leniently: each identity field that is text, whatever is
/// wrong elsewhere in the request. For the row of a request that was refused (a 422 for a
/// field of the wrong type, say) but whose domain, app and stream could be read, so that it
/// still names the stream. Never a reason to apply anything: nothing else in the request was
/// read. `None` when a field of the stream's name is missing or not text.
pub fn readable_stream(
    provider: Provider,
    method: Method,
    query: Option<&str>,
    body: &[u8],
) -> Option<crate::event::StreamId> {
    use crate::event::StreamId;
    let pairs = |text: &str| form::parse_query(text);
    let pick = |f: &[(String, String)], k: &str| {
        f.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let json = || serde_json::from_slice::<serde_json::Value>(body).ok();
    let text = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(str::to_string);
    let id = match provider {
        Provider::Aliyun if method == Method::Get => {
            let f = pairs(query?);
            StreamId {
                domain: pick(&f, "app")?,
                app: pick(&f, "appname")?,
                stream: pick(&f, "id")?,
            }
        }
        Provider::Aliyun => {
            let v = json()?;
            StreamId {
                domain: text(&v, "domain")?,
                app: text(&v, "app")?,
                stream: text(&v, "stream")?,
            }
        }
        Provider::Srs => {
            let v = json()?;
            StreamId {
                domain: text(&v, "vhost")?,
                app: text(&v, "app")?,
                stream: text(&v, "stream")?,
            }
        }
        Provider::Tencent => {
            let v = json()?;
            StreamId {
                domain: text(&v, "app")
                    .or_else(|| text(&v, "domain"))
                    .unwrap_or_default(),
                app: text(&v, "appname").unwrap_or_default(),
                stream: text(&v, "stream_id").or_else(|| text(&v, "channel_id"))?,
            }
        }
        Provider::NginxRtmp => {
            let f = nginx_rtmp::fields(method, query, body);
            StreamId {
                domain: pick(&f, "tcurl")
                    .as_deref()
                    .and_then(nginx_rtmp::tcurl_host)
                    .unwrap_or("-")
                    .to_string(),
                app: pick(&f, "app").unwrap_or_default(),
                stream: pick(&f, "name")?,
            }
        }
    };
    (!id.stream.is_empty()).then_some(id)
}

/// The keys signatures are checked with: ApsaraVideo's (`--auth-key`) and Tencent Cloud's
/// (`--tencent-key`). A provider without a key set is not checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthKeys<'a> {
    /// ApsaraVideo's `ALI-LIVE-SIGNATURE` check.
    pub aliyun: Option<&'a aliyun::auth::AuthConfig>,
    /// Tencent Cloud's callback key, whose body `sign` is checked.
    pub tencent: Option<&'a str>,
}

/// A signature check's result: `None` when nothing was checked (the provider signs nothing,
/// or its key is not set), else whether the signature holds and, if not, why.
pub type AuthOutcome = Option<Result<(), String>>;

/// Checks a request's signature the way its provider signs: ApsaraVideo's headers with
/// `--auth-key`, Tencent's body `sign` with `--tencent-key`; nginx-rtmp and SRS sign nothing.
/// `headers` are the request's headers with lowercase names; `now` is Unix seconds.
pub fn verify(
    provider: Provider,
    keys: &AuthKeys<'_>,
    headers: &std::collections::BTreeMap<String, String>,
    body: &[u8],
    now: i64,
) -> AuthOutcome {
    match provider {
        Provider::Aliyun => keys.aliyun.map(|auth| {
            auth.verify(
                headers.get("host").map(String::as_str),
                headers.get("ali-live-timestamp").map(String::as_str),
                headers.get("ali-live-signature").map(String::as_str),
                now,
            )
        }),
        Provider::Tencent => keys.tencent.map(|key| tencent::verify(body, key, now)),
        Provider::NginxRtmp | Provider::Srs => None,
    }
}

/// Whether `provider`'s sender takes any answer but a success as "refuse (or drop) the
/// stream", and never retries: nginx-rtmp (a non-2xx from `on_publish` drops the publisher)
/// and SRS (anything but `code` 0 rejects the client). When recmon cannot do its part for
/// such a sender (the journal cannot be written, the backend of `--forward-mode sync` fails),
/// it answers [`going_on`], so that a broadcast never ends because of recmon.
pub fn never_refuse(provider: Provider) -> bool {
    matches!(provider, Provider::NginxRtmp | Provider::Srs)
}

/// The success answer of a [`never_refuse`] sender when recmon could not do its part: 200,
/// with `code` 0 (what SRS reads; nginx-rtmp reads the status alone) and why, in words.
pub fn going_on(why: &str) -> (u16, String) {
    (
        200,
        serde_json::json!({
            "code": 0,
            "error": format!("{why} (answered 200 so that the stream goes on)"),
        })
        .to_string(),
    )
}

/// The answer to a request that was journaled: status and JSON body, the way its sender needs
/// it. `error` is the rejection's reason when it was one.
pub fn answer(
    provider: Provider,
    seq: u64,
    outcome: Outcome,
    status: u16,
    error: Option<&str>,
    callback: Option<&Callback>,
) -> (u16, String) {
    match provider {
        // SRS takes only `0` or an object whose integer `code` is 0 as success; everything it
        // sends is answered so (see srs's module doc).
        // A hook recmon could not use says why beside the code SRS reads.
        Provider::Srs if status == 200 => (
            200,
            match error {
                Some(why) if outcome == Outcome::Rejected => serde_json::json!({
                    "code": 0, "seq": seq, "outcome": "rejected", "error": why
                })
                .to_string(),
                _ => format!(
                    "{{\"code\":0,\"seq\":{seq},\"outcome\":\"{}\"}}",
                    outcome.as_str()
                ),
            },
        ),
        Provider::Tencent if outcome != Outcome::Rejected => (
            200,
            format!(
                "{{\"code\":0,\"seq\":{seq},\"outcome\":\"{}\"}}",
                outcome.as_str()
            ),
        ),
        Provider::Aliyun
            if outcome != Outcome::Rejected
                && matches!(callback, Some(Callback::Notice(n)) if n.name == aliyun::ON_DEMAND) =>
        {
            (200, aliyun::ON_DEMAND_ANSWER.to_string())
        }
        _ if outcome == Outcome::Rejected => (
            status,
            serde_json::json!({ "error": error.unwrap_or("rejected") }).to_string(),
        ),
        _ => (
            200,
            format!(
                "{{\"ok\":true,\"seq\":{seq},\"outcome\":\"{}\"}}",
                outcome.as_str()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_still_names_the_stream_it_could_read() {
        let name = |p, m, q, b: &str| {
            readable_stream(p, m, q, b.as_bytes())
                .map(|id| format!("{}/{}/{}", id.domain, id.app, id.stream))
        };
        let wrong_duration =
            r#"{"domain":"d","app":"a","stream":"s","uri":"a/s/1.flv","duration":"x"}"#;
        assert_eq!(
            name(Provider::Aliyun, Method::Post, None, wrong_duration),
            Some("d/a/s".into())
        );
        assert_eq!(
            name(
                Provider::Aliyun,
                Method::Post,
                None,
                r#"{"domain":"d","app":"a","stream":{}}"#
            ),
            None,
            "a name that is not text names nothing"
        );
        assert_eq!(
            name(
                Provider::Aliyun,
                Method::Get,
                Some("action=publish&app=d&appname=a&id=s&time=x"),
                ""
            ),
            Some("d/a/s".into())
        );
        assert_eq!(
            name(
                Provider::Tencent,
                Method::Post,
                None,
                r#"{"event_type":"x","app":"d","appname":"a","stream_id":"s"}"#
            ),
            Some("d/a/s".into())
        );
        assert_eq!(
            name(
                Provider::Srs,
                Method::Post,
                None,
                r#"{"action":1,"vhost":"v","app":"a","stream":"s"}"#
            ),
            Some("v/a/s".into())
        );
        assert_eq!(
            name(
                Provider::NginxRtmp,
                Method::Post,
                None,
                "call=publish&app=live&name=cam&tcurl=rtmp://h:1935/live"
            ),
            Some("h/live/cam".into())
        );
        assert_eq!(name(Provider::Aliyun, Method::Post, None, "not json"), None);
    }

    #[test]
    fn going_on_is_a_success_for_nginx_rtmp_and_srs() {
        assert!(never_refuse(Provider::NginxRtmp) && never_refuse(Provider::Srs));
        assert!(!never_refuse(Provider::Aliyun) && !never_refuse(Provider::Tencent));
        let (status, body) = going_on("journal write failed");
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], 0);
        assert!(v["error"]
            .as_str()
            .unwrap()
            .starts_with("journal write failed"));
    }

    #[test]
    fn pins_take_the_longest_prefix_and_name_bad_ones() {
        let pins = Pins::parse(&["/a=srs".into(), "/a/b=tencent".into()]).unwrap();
        assert_eq!(pins.for_path("/a/b/c"), Some(Provider::Tencent));
        assert_eq!(pins.for_path("/a/x"), Some(Provider::Srs));
        assert_eq!(pins.for_path("/z"), None);
        assert_eq!(pins.for_path("/a?x=1"), Some(Provider::Srs));
        assert_eq!(pins.for_path("/abc"), None, "whole segments only");
        let root = Pins::parse(&["/=ngx".into()]).unwrap();
        assert_eq!(
            root.for_path("/anything"),
            Some(Provider::NginxRtmp),
            "a tag is a name too"
        );
        assert!(Pins::parse(&["/a=srs".into(), "/a=tc".into()])
            .unwrap_err()
            .contains("pinned twice"));
        assert!(Pins::parse(&["srs".into()])
            .unwrap_err()
            .contains("PATH_PREFIX=NAME"));
        assert!(Pins::parse(&["/x=wowza".into()])
            .unwrap_err()
            .contains("nginx-rtmp"));
        assert!(Pins::parse(&["x=srs".into()])
            .unwrap_err()
            .contains("start with /"));
    }

    #[test]
    fn every_sample_is_detected_as_its_provider() {
        for s in captures::samples() {
            let got = detect(Method::Post, None, Some("application/json"), None, &s.body);
            let want = match s.name.split('_').next().unwrap() {
                "srs" => Provider::Srs,
                "tencent" => Provider::Tencent,
                _ => Provider::Aliyun,
            };
            assert_eq!(got, want, "{}", s.name);
        }
        assert_eq!(
            detect(Method::Post, None, None, Some("SRS/6.0.157(Bee)"), b"{}"),
            Provider::Srs
        );
        assert_eq!(
            detect(
                Method::Get,
                Some("app=seq_all&domain=d&stream=s&codec=h264"),
                None,
                None,
                b""
            ),
            Provider::Aliyun
        );
    }

    #[test]
    fn every_documented_sample_reads_as_what_it_documents() {
        let want: &[(&str, Result<&str, &str>)] = &[
            ("ali_status_record_error", Ok("status")),
            (
                "cloudflare_live_disconnected",
                Err("a Cloudflare Stream webhook"),
            ),
            ("ivs_recording_end", Err("an AWS IVS EventBridge event")),
            ("mux_live_active", Err("a Mux webhook")),
            ("srs_on_dvr", Ok("recording")),
            ("srs_on_publish", Ok("ingest")),
            ("tencent_push_1", Ok("ingest")),
            ("tencent_record_100", Ok("recording")),
        ];
        let samples = captures::samples();
        assert_eq!(samples.len(), want.len(), "a sample without an expectation");
        for (s, (name, expected)) in samples.iter().zip(want) {
            assert_eq!(&s.name, name);
            let p = detect(Method::Post, None, Some("application/json"), None, &s.body);
            let (verdict, json) = classify(p, Method::Post, None, &s.body);
            assert!(json, "{name}");
            match (verdict, expected) {
                (Ok(cb), Ok(kind)) => assert_eq!(cb.kind(), *kind, "{name}"),
                (Err(r), Err(who)) => {
                    assert_eq!(r.status, 400, "{name}");
                    assert!(r.error.contains(who), "{name}: {}", r.error);
                }
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
        let ali = classify(
            Provider::Aliyun,
            Method::Post,
            None,
            &captures::sample("ali_status_record_error"),
        )
        .0
        .unwrap();
        let Callback::Status(st) = ali else { panic!() };
        assert_eq!(st.target_state(), Some(crate::event::RecordState::Error));
    }

    #[test]
    fn answers_are_what_each_sender_requires() {
        let (s, b) = answer(Provider::Srs, 3, Outcome::Accepted, 200, None, None);
        assert_eq!(
            (s, b.as_str()),
            (200, r#"{"code":0,"seq":3,"outcome":"accepted"}"#)
        );
        // SRS's own parse: an object with an integer code equal to 0.
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["code"].as_i64(), Some(0));
        let (s, b) = answer(Provider::Srs, 4, Outcome::Rejected, 200, Some("x"), None);
        assert_eq!(
            (s, b.as_str()),
            (
                200,
                r#"{"code":0,"error":"x","outcome":"rejected","seq":4}"#
            )
        );
        let (s, _) = answer(
            Provider::NginxRtmp,
            5,
            Outcome::Rejected,
            200,
            Some("x"),
            None,
        );
        assert_eq!(s, 200);
        let (s, b) = answer(
            Provider::Tencent,
            6,
            Outcome::Rejected,
            403,
            Some("bad sign"),
            None,
        );
        assert_eq!((s, b.as_str()), (403, r#"{"error":"bad sign"}"#));
        let (s, b) = answer(Provider::Tencent, 7, Outcome::Duplicate, 200, None, None);
        assert_eq!(
            (s, b.as_str()),
            (200, r#"{"code":0,"seq":7,"outcome":"duplicate"}"#)
        );
        let (s, b) = answer(Provider::Aliyun, 8, Outcome::Accepted, 200, None, None);
        assert_eq!(
            (s, b.as_str()),
            (200, r#"{"ok":true,"seq":8,"outcome":"accepted"}"#)
        );
    }
}
