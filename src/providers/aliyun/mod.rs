//! Classification of one HTTP request into a typed callback or a typed rejection.
//!
//! This module is pure: no I/O, no clock, no shared state. It is the one place that knows the
//! provider's wire format (see `docs/providers.md`, "ApsaraVideo Live callback format"), so
//! every consumer (the live listener, resume, export, replay) classifies a request the same
//! way, and the journal only has to keep the raw request.

pub mod auth;
pub mod wire;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::event::{
    Callback, IngestAction, IngestEvent, Method, NoticeEvent, RecordingGenerated, Rejection,
    StatusEvent, StreamId,
};
pub use crate::providers::form::parse_query;
#[cfg(test)]
use crate::providers::form::percent_decode;
use crate::providers::{cut as truncate, json_type};

/// Classifies one request. `query` is the part after `?`, if any; `body` is the complete body
/// (size limits are enforced by the listener before this is called).
pub fn classify(method: Method, query: Option<&str>, body: &[u8]) -> Result<Callback, Rejection> {
    classify_request(method, query, body).0
}

/// Like [`classify`], and also says whether the body parsed as JSON (the journal keeps such
/// bodies inline; it must not inline anything a JSON reader would refuse).
pub fn classify_request(
    method: Method,
    query: Option<&str>,
    body: &[u8],
) -> (Result<Callback, Rejection>, bool) {
    match method {
        Method::Other => (
            Err(Rejection::new(
                405,
                "method not allowed: callbacks are POST (recording) or GET (ingest)",
            )),
            false,
        ),
        Method::Get => (classify_ingest(query.unwrap_or("")), false),
        Method::Post => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return (
                    Err(Rejection::new(
                        400,
                        "empty body: expected a JSON object with domain, app, stream and event or uri",
                    )),
                    false,
                );
            }
            if let Some(rej) = reserved_key(body) {
                return (Err(rej), false);
            }
            // Most bodies: read in place, without building a `Value` (see `InPlace`).
            if let Ok(obj) = serde_json::from_slice::<InPlace>(body) {
                return (classify_object(&obj), true);
            }
            match serde_json::from_slice::<Value>(body) {
                Ok(value) => (classify_post(value), true),
                Err(e) => (
                    Err(Rejection::new(400, format!("body is not valid JSON: {e}"))),
                    false,
                ),
            }
        }
    }
}

/// The reference reading of a POST body, always through a `Value` parse: what the in-place
/// fast path in [`classify_request`] must agree with. For differential tests and fuzzing.
#[doc(hidden)]
pub fn classify_post_reference(body: &[u8]) -> (Result<Callback, Rejection>, bool) {
    if let Some(rej) = reserved_key(body) {
        return (Err(rej), false);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => (classify_post(value), true),
        Err(e) => (
            Err(Rejection::new(400, format!("body is not valid JSON: {e}"))),
            false,
        ),
    }
}

fn classify_post(value: Value) -> Result<Callback, Rejection> {
    let Value::Object(obj) = value else {
        return Err(Rejection::new(
            400,
            format!("body is JSON but not an object (got {})", json_type(&value)),
        ));
    };
    classify_object(&obj)
}

/// What a POST body's object means: the one definition, over either a parsed `Value` map or
/// an [`InPlace`] reading of the same body.
fn classify_object(obj: &impl Fields) -> Result<Callback, Rejection> {
    let missing: Vec<&str> = ["domain", "app", "stream"]
        .into_iter()
        .filter(|k| obj.field(k).is_none_or(|v| v.is_null()))
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::new(
            400,
            format!(
                "{}: {}",
                if missing.len() == 1 {
                    "missing field"
                } else {
                    "missing fields"
                },
                missing.join(", ")
            ),
        ));
    }
    let id = StreamId {
        domain: req_string(obj, "domain")?,
        app: req_string(obj, "app")?,
        stream: req_string(obj, "stream")?,
    };

    // A body with a uri reports a written file; that is the stronger fact, so it wins over an
    // `event` field that a custom callback template might add.
    if obj.field("uri").is_some_and(|v| !v.is_null()) {
        let uri = req_string(obj, "uri")?;
        let duration = opt_f64(obj, "duration")?;
        let start_time = opt_i64(obj, "start_time")?;
        let stop_time = opt_i64(obj, "stop_time")?;
        let push_args = push_args(obj)?;
        return Ok(Callback::Recording(RecordingGenerated {
            id,
            uri,
            duration,
            start_time,
            stop_time,
            push_args,
            file_size: None,
        }));
    }
    if obj.field("event").is_some_and(|v| !v.is_null()) {
        let event = req_string(obj, "event")?;
        return Ok(Callback::Status(StatusEvent::new(id, event)));
    }
    Err(Rejection::new(
        400,
        "missing field: event (status callback) or uri (recording callback)",
    ))
}

/// One member of a body's top-level object, as the classifier looks at it.
enum FieldRef<'v> {
    Null,
    Bool,
    Number(&'v Number),
    String(&'v str),
    Array,
    /// An object: only `push_args` is read as one, as (key, text) pairs in key order.
    Object(ObjectRef<'v>),
}

enum ObjectRef<'v> {
    Value(&'v Map<String, Value>),
    /// Already sorted by key, one pair per key (the last one given), like a `Value` map.
    Pairs(&'v [(Cow<'v, str>, Cow<'v, str>)]),
}

impl FieldRef<'_> {
    fn is_null(&self) -> bool {
        matches!(self, FieldRef::Null)
    }

    fn json_type(&self) -> &'static str {
        match self {
            FieldRef::Null => "null",
            FieldRef::Bool => "a boolean",
            FieldRef::Number(_) => "a number",
            FieldRef::String(_) => "a string",
            FieldRef::Array => "an array",
            FieldRef::Object(_) => "an object",
        }
    }
}

/// A body's top-level object: a `Value` map, or an [`InPlace`] reading.
trait Fields {
    fn field(&self, key: &str) -> Option<FieldRef<'_>>;
}

impl Fields for Map<String, Value> {
    fn field(&self, key: &str) -> Option<FieldRef<'_>> {
        Some(match self.get(key)? {
            Value::Null => FieldRef::Null,
            Value::Bool(_) => FieldRef::Bool,
            Value::Number(n) => FieldRef::Number(n),
            Value::String(s) => FieldRef::String(s),
            Value::Array(_) => FieldRef::Array,
            Value::Object(m) => FieldRef::Object(ObjectRef::Value(m)),
        })
    }
}

/// A POST body read in place: the members the classifier reads, borrowed from the body where
/// they need no unescaping; every other member is checked exactly as parsing it into a `Value`
/// would (numbers in range, nesting within the limit, valid strings), but not kept. So a body
/// reads this way exactly when it parses as a `Value` object, and means the same. Anything
/// this does not handle (not an object; serde_json's private raw-value key) fails here and
/// goes through `Value`.
#[derive(Default)]
struct InPlace<'a> {
    domain: Option<Member<'a>>,
    app: Option<Member<'a>>,
    stream: Option<Member<'a>>,
    uri: Option<Member<'a>>,
    event: Option<Member<'a>>,
    duration: Option<Member<'a>>,
    start_time: Option<Member<'a>>,
    stop_time: Option<Member<'a>>,
    push_args: Option<Member<'a>>,
}

enum Member<'a> {
    Null,
    Bool,
    Number(Number),
    String(Cow<'a, str>),
    Array,
    Object(Vec<(Cow<'a, str>, Cow<'a, str>)>),
}

impl Fields for InPlace<'_> {
    fn field(&self, key: &str) -> Option<FieldRef<'_>> {
        let m = match key {
            "domain" => &self.domain,
            "app" => &self.app,
            "stream" => &self.stream,
            "uri" => &self.uri,
            "event" => &self.event,
            "duration" => &self.duration,
            "start_time" => &self.start_time,
            "stop_time" => &self.stop_time,
            "push_args" => &self.push_args,
            _ => return None,
        };
        Some(match m.as_ref()? {
            Member::Null => FieldRef::Null,
            Member::Bool => FieldRef::Bool,
            Member::Number(n) => FieldRef::Number(n),
            Member::String(s) => FieldRef::String(s),
            Member::Array => FieldRef::Array,
            Member::Object(pairs) => FieldRef::Object(ObjectRef::Pairs(pairs)),
        })
    }
}

/// With serde_json's `raw_value` feature, an object whose key is [`RAW_VALUE_KEY`] is read by
/// `Value` as the JSON text inside it, so `{"$serde_json::private::RawValue":"{...}"}` would be
/// taken for the callback in the string. No provider body contains that key: refuse it.
fn reserved_key(body: &[u8]) -> Option<Rejection> {
    let key = RAW_VALUE_KEY.as_bytes();
    // Bodies almost never hold a `$`: one cheap scan before the window search.
    if !body.contains(&b'$') || !body.windows(key.len()).any(|w| w == key) {
        return None;
    }
    Some(Rejection::new(
        400,
        format!("body uses serde_json's reserved key {RAW_VALUE_KEY:?}; not a provider callback"),
    ))
}

/// The first key by which serde_json's `Value` recognises a raw value (feature `raw_value`):
/// an object starting with it is not read in place.
const RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

/// A JSON string, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Checks a value the way parsing it into a `Value` would, keeping nothing.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut first = true;
        while let Some(key) = map.next_key::<Text>()? {
            if std::mem::take(&mut first) && key.0 == RAW_VALUE_KEY {
                return Err(de::Error::custom("raw value"));
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// A member the classifier reads: scalars kept, arrays and objects checked; an object's
/// members kept as (key, text) pairs, in key order, the last of a repeated key winning.
impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Member::Bool)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Member::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Member::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                // As `Value` does: a float that is not finite is null.
                Ok(Number::from_f64(v).map_or(Member::Null, Member::Number))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Member::String(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Member::String(Cow::Owned(v.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Member::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                CheckVisitor.visit_seq(seq).map(|_| Member::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs: Vec<(Cow<'de, str>, Cow<'de, str>)> = Vec::new();
                while let Some(key) = map.next_key::<Text>()? {
                    if pairs.is_empty() && key.0 == RAW_VALUE_KEY {
                        return Err(de::Error::custom("raw value"));
                    }
                    let value = match map.next_value::<Member>()? {
                        Member::String(s) => s,
                        // A non-string value is kept as its JSON text as `Value` prints it:
                        // rare, so such a body is read through `Value` instead.
                        _ => return Err(de::Error::custom("not a string")),
                    };
                    pairs.push((key.0, value));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                let mut kept: Vec<(Cow<'de, str>, Cow<'de, str>)> = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    match kept.last_mut() {
                        Some(last) if last.0 == k => last.1 = v,
                        _ => kept.push((k, v)),
                    }
                }
                Ok(Member::Object(kept))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for InPlace<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InPlace<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut obj = InPlace::default();
                let mut first = true;
                while let Some(key) = map.next_key::<Text>()? {
                    let slot = match key.0.as_ref() {
                        "domain" => &mut obj.domain,
                        "app" => &mut obj.app,
                        "stream" => &mut obj.stream,
                        "uri" => &mut obj.uri,
                        "event" => &mut obj.event,
                        "duration" => &mut obj.duration,
                        "start_time" => &mut obj.start_time,
                        "stop_time" => &mut obj.stop_time,
                        "push_args" => &mut obj.push_args,
                        k => {
                            if first && k == RAW_VALUE_KEY {
                                return Err(de::Error::custom("raw value"));
                            }
                            first = false;
                            map.next_value::<Checked>()?;
                            continue;
                        }
                    };
                    first = false;
                    // A repeated key: the last one counts, as in a `Value` map.
                    *slot = Some(map.next_value::<Member>()?);
                }
                Ok(obj)
            }
        }
        d.deserialize_map(V)
    }
}

/// The notice name of the on-demand recording question.
pub const ON_DEMAND: &str = "on_demand_record";

/// recmon's answer to the on-demand recording question: record, in the formats the console
/// configured (no `Format` or `Interval`: the domain's recording configuration applies). The
/// operator pointed `OnDemandUrl` at a recording monitor, so that they can watch the
/// recordings; a backend that decides per stream answers instead in `--forward-mode sync`.
pub const ON_DEMAND_ANSWER: &str = r#"{"ApiVersion":"1.0","NeedRecord":true}"#;

fn classify_ingest(query: &str) -> Result<Callback, Rejection> {
    let params = parse_query(query);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let action = match get("action").as_deref() {
        Some("publish") => IngestAction::Publish,
        Some("publish_done") => IngestAction::PublishDone,
        Some(other) => {
            return Err(Rejection::new(
                400,
                format!(
                    "unknown action {:?}: GET callbacks need action=publish or action=publish_done",
                    truncate(other, 64)
                ),
            ))
        }
        // The on-demand recording question (`OnDemandUrl`): domain, app and stream, no
        // action. Recognised and logged; see [`ON_DEMAND_ANSWER`] for the answer.
        None if ["domain", "app", "stream"].iter().all(|k| get(k).is_some()) => {
            let mut detail = String::new();
            for k in ["codec", "vbitrate"] {
                if let Some(v) = get(k) {
                    if !detail.is_empty() {
                        detail.push(' ');
                    }
                    detail.push_str(&format!("{k}={}", truncate(&v, 64)));
                }
            }
            return Ok(Callback::Notice(NoticeEvent {
                id: Some(StreamId {
                    domain: get("domain").unwrap_or_default(),
                    app: get("app").unwrap_or_default(),
                    stream: get("stream").unwrap_or_default(),
                }),
                name: ON_DEMAND.to_string(),
                detail,
            }));
        }
        None => {
            return Err(Rejection::new(
                400,
                "GET without action: ingest callbacks need action=publish or action=publish_done in the query (or domain, app and stream for the on-demand recording question)",
            ))
        }
    };
    let missing: Vec<&str> = ["app", "appname", "id"]
        .into_iter()
        .filter(|k| get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::new(
            400,
            format!(
                "{}: {}",
                if missing.len() == 1 {
                    "missing query parameter"
                } else {
                    "missing query parameters"
                },
                missing.join(", ")
            ),
        ));
    }
    let time = match get("time") {
        None => None,
        Some(t) if t.is_empty() => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| Rejection::new(422, "query parameter time must be Unix seconds"))?,
        ),
    };
    Ok(Callback::Ingest(IngestEvent {
        id: StreamId {
            domain: get("app").unwrap_or_default(),
            app: get("appname").unwrap_or_default(),
            stream: get("id").unwrap_or_default(),
        },
        action,
        ip: get("ip"),
        node: get("node"),
        time,
        usrargs: get("usrargs"),
    }))
}

fn req_string(obj: &impl Fields, key: &str) -> Result<String, Rejection> {
    match obj.field(key) {
        Some(FieldRef::String(s)) => Ok(s.to_owned()),
        Some(other) => Err(Rejection::new(
            422,
            format!("field {key} must be a string, got {}", other.json_type()),
        )),
        None => Err(Rejection::new(400, format!("missing field: {key}"))),
    }
}

/// What `duration` may be, for the 422 that refuses anything else.
const SECONDS_RULE: &str =
    "a finite number of seconds, as a JSON number or a string holding one (e.g. 69.403 or \"69.403\")";

/// What `start_time` / `stop_time` may be, for the 422 that refuses anything else.
const UNIX_SECONDS_RULE: &str = "whole Unix seconds, as a JSON number or a string holding one (e.g. 1488985786, 1488985786.0 or \"1488985786\"; no fraction)";

fn opt_f64(obj: &impl Fields, key: &str) -> Result<Option<f64>, Rejection> {
    let bad = |got: &str| {
        Rejection::new(
            422,
            format!("field {key} must be {SECONDS_RULE}, got {got}"),
        )
    };
    match obj.field(key) {
        None | Some(FieldRef::Null) => Ok(None),
        Some(FieldRef::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| bad("a number out of range")),
        Some(FieldRef::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| bad("a string that is not a finite number")),
        Some(other) => Err(bad(other.json_type())),
    }
}

/// A number of Unix seconds read as a float (`1488985786.0`, `1.488985786e9`): accepted when
/// it is whole and small enough to be exact.
fn whole_seconds(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// `start_time` / `stop_time`. A string is read exactly as the number it holds would be, so
/// `"1488985786.0"` is accepted because `1488985786.0` is.
fn opt_i64(obj: &impl Fields, key: &str) -> Result<Option<i64>, Rejection> {
    let bad = |got: &str| {
        Rejection::new(
            422,
            format!("field {key} must be {UNIX_SECONDS_RULE}, got {got}"),
        )
    };
    let from_float = |f: f64, got: &str| match whole_seconds(f) {
        Some(i) => Ok(Some(i)),
        None if f.is_finite() && f.fract() != 0.0 => Err(bad(&format!("{got} with a fraction"))),
        None => Err(bad(&format!("{got} out of range"))),
    };
    match obj.field(key) {
        None | Some(FieldRef::Null) => Ok(None),
        Some(FieldRef::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            None => from_float(n.as_f64().unwrap_or(f64::INFINITY), "a number"),
        },
        Some(FieldRef::String(s)) => {
            let t = s.trim();
            match t.parse::<i64>() {
                Ok(i) => Ok(Some(i)),
                Err(_) => match t.parse::<f64>() {
                    Ok(f) => from_float(f, "a string holding a number"),
                    Err(_) => Err(bad("a string that is not a number")),
                },
            }
        }
        Some(other) => Err(bad(other.json_type())),
    }
}

fn push_args(obj: &impl Fields) -> Result<Vec<(String, String)>, Rejection> {
    match obj.field("push_args") {
        None | Some(FieldRef::Null) => Ok(Vec::new()),
        Some(FieldRef::Object(ObjectRef::Value(m))) => Ok(m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()),
        Some(FieldRef::Object(ObjectRef::Pairs(pairs))) => Ok(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()),
        Some(other) => Err(Rejection::new(
            422,
            format!(
                "field push_args must be an object, got {}",
                other.json_type()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RecordState;

    const STATUS_SAMPLE: &str = r#"{
"domain": "gs_domain",
"app": "gs_app",
"stream": "gs_stream",
"event": "record_started"
}"#;

    const RECORDING_SAMPLE: &str = r#"{
  "domain": "demo.aliyundoc.com",
  "app": "liveApp****",
  "stream": "liveStream****",
  "uri": "liveApp****/liveStream****/0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv",
  "duration": 69.403,
  "start_time": 1488985786,
  "stop_time": 1488985840,
  "push_args": {
    "callback_args1": "value1",
    "callback_myid": "1231389741"
  }
}"#;

    fn post(body: &str) -> Result<Callback, Rejection> {
        classify(Method::Post, None, body.as_bytes())
    }

    fn status_of(body: &str) -> u16 {
        post(body).unwrap_err().status
    }

    #[test]
    fn serde_json_raw_value_key_is_refused_not_unwrapped() {
        for body in [
            r#"{"$serde_json::private::RawValue":"{\"domain\":\"d\",\"app\":\"a\",\"stream\":\"s\",\"event\":\"record_started\"}"}"#,
            r#"{"domain":"d","app":"a","stream":"s","event":"e","x":{"$serde_json::private::RawValue":"1"}}"#,
        ] {
            let e = post(body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert!(e.error.contains("reserved key"), "{}", e.error);
            assert_eq!(classify_post_reference(body.as_bytes()).0, Err(e));
        }
    }

    /// The body read through `Value` only, as before `InPlace` existed.
    fn via_value(body: &[u8]) -> (Result<Callback, Rejection>, bool) {
        if let Some(rej) = reserved_key(body) {
            return (Err(rej), false);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => (classify_post(value), true),
            Err(_) => (Err(Rejection::new(400, "not JSON")), false),
        }
    }

    /// Reading a body in place means exactly what reading it through `Value` means, whenever
    /// it succeeds; and it fails only where `Value` fails or for the cases it leaves to it.
    #[test]
    fn in_place_reading_agrees_with_value() {
        let mut bodies: Vec<String> = vec![
            STATUS_SAMPLE.into(),
            RECORDING_SAMPLE.into(),
            r#"{"$serde_json::private::RawValue":"{\"domain\":\"d\",\"app\":\"a\",\"stream\":\"s\",\"event\":\"e\"}"}"#.into(),
            r#"{"x":{"$serde_json::private::RawValue":"1"},"domain":"d","app":"a","stream":"s","event":"e"}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","event":"e","x":1e400}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","event":"e","x":[[[[1]]]]}"#.into(),
            format!(r#"{{"domain":"d","app":"a","stream":"s","event":"e","x":{}1{}}}"#, "[".repeat(200), "]".repeat(200)),
            format!(r#"{{"domain":"d","app":"a","stream":"s","event":"e","x":{}1{}}}"#, "[".repeat(126), "]".repeat(126)),
            r#"{"domain":"d","app":"a","stream":"s","event":"e","x":"\ud800"}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","push_args":{"b":"1","a":"2","b":"3","c":{"z":1,"y":[2.50]}}}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","push_args":{"b":"1","a":"2","b":"3"}}"#.into(),
            r#"{"domain":"d","domain":"e","app":"a","stream":"s","event":"e","event":null,"uri":"u"}"#.into(),
            r#"{"dom\u0061in":"d\n","app":"a","stream":"s","event":"e"}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":18446744073709551615,"start_time":-9223372036854775808,"stop_time":1.5e3}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","start_time":9.5e15}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":" 1e3 ","start_time":" 7 "}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":"inf"}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":true}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","push_args":[1]}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","event":"e","push_args":[1],"duration":{}}"#.into(),
            r#"{"domain":1,"app":"a","stream":"s","event":"e"}"#.into(),
            r#"{"app":"a","stream":null,"event":"e"}"#.into(),
            r#"{"domain":"d","app":"a","stream":"s"}"#.into(),
            r#"{}"#.into(),
            r#"[]"#.into(),
            r#""text""#.into(),
            r#"{"domain":"d","app":"a","stream":"s","event":"e"} x"#.into(),
            r#"{"domain":"d","app":"a","stream":"s","event":"e",}"#.into(),
        ];
        // And many random objects over the keys the classifier reads.
        let keys = [
            "domain",
            "app",
            "stream",
            "uri",
            "event",
            "duration",
            "start_time",
            "stop_time",
            "push_args",
            "other",
            "$serde_json::private::RawValue",
        ];
        let values = [
            r#""s""#,
            r#""\u00e9\t""#,
            r#"" 12 ""#,
            r#""-3.5""#,
            "null",
            "true",
            "0",
            "-1",
            "1.0",
            "2.5",
            "1e3",
            "1e308",
            "18446744073709551615",
            "-9223372036854775809",
            "[]",
            "[1,[2]]",
            "{}",
            r#"{"k":"v"}"#,
            r#"{"k":1}"#,
            r#"{"b":"1","a":"2"}"#,
        ];
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..20_000 {
            let members: Vec<String> = (0..next(9))
                .map(|_| {
                    format!(
                        r#""{}":{}"#,
                        keys[next(keys.len())],
                        values[next(values.len())]
                    )
                })
                .collect();
            bodies.push(format!("{{{}}}", members.join(",")));
        }
        let mut in_place = 0;
        for body in &bodies {
            let (want, want_json) = via_value(body.as_bytes());
            let (got, got_json) = classify_request(Method::Post, None, body.as_bytes());
            assert_eq!(got_json, want_json, "{body}");
            if want_json {
                assert_eq!(got, want, "{body}");
            }
            // (classify_request refuses bodies with the reserved key before reading in place.)
            let readable = reserved_key(body.as_bytes()).is_none();
            let read = serde_json::from_slice::<InPlace>(body.as_bytes()).ok();
            if let Some(obj) = read.filter(|_| readable) {
                in_place += 1;
                assert!(want_json, "{body}");
                assert_eq!(classify_object(&obj), want, "{body}");
            }
        }
        assert!(in_place > bodies.len() / 2, "{in_place}");
    }

    #[test]
    fn spec_status_sample() {
        let Callback::Status(s) = post(STATUS_SAMPLE).unwrap() else {
            panic!("not a status callback")
        };
        assert_eq!(s.id.domain, "gs_domain");
        assert_eq!(s.id.app, "gs_app");
        assert_eq!(s.id.stream, "gs_stream");
        assert_eq!(s.event, "record_started");
        assert_eq!(s.target_state(), Some(RecordState::Started));
    }

    #[test]
    fn spec_recording_sample() {
        let Callback::Recording(r) = post(RECORDING_SAMPLE).unwrap() else {
            panic!("not a recording callback")
        };
        assert_eq!(r.id.domain, "demo.aliyundoc.com");
        assert_eq!(r.id.app, "liveApp****");
        assert_eq!(r.id.stream, "liveStream****");
        assert_eq!(
            r.uri,
            "liveApp****/liveStream****/0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv"
        );
        assert_eq!(r.duration, Some(69.403));
        assert_eq!(r.start_time, Some(1488985786));
        assert_eq!(r.stop_time, Some(1488985840));
        assert_eq!(
            r.push_args,
            vec![
                ("callback_args1".into(), "value1".into()),
                ("callback_myid".into(), "1231389741".into())
            ]
        );
        // 69.403 s reported for a 54 s span: flagged, not rejected.
        assert!(r.duration_mismatch());
    }

    #[test]
    fn status_events_map_to_states() {
        for (event, state) in [
            ("record_started", Some(RecordState::Started)),
            ("record_paused", Some(RecordState::Paused)),
            ("record_resumed", Some(RecordState::Resumed)),
            ("record_stopped", None),
            ("", None),
        ] {
            let body = format!(r#"{{"domain":"d","app":"a","stream":"s","event":"{event}"}}"#);
            let Callback::Status(s) = post(&body).unwrap() else {
                panic!()
            };
            assert_eq!(s.target_state(), state, "{event}");
            assert_eq!(s.event, event);
        }
    }

    #[test]
    fn unknown_event_is_accepted_and_kept() {
        let cb = post(r#"{"domain":"d","app":"a","stream":"s","event":"record_stopped"}"#).unwrap();
        assert_eq!(cb.kind(), "status");
        let Callback::Status(s) = cb else { panic!() };
        assert_eq!(s.event, "record_stopped");
        assert_eq!(s.target_state(), None);
    }

    #[test]
    fn numeric_strings_are_accepted() {
        let Callback::Recording(r) = post(
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":"12.5","start_time":"100","stop_time":" 112 "}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.duration, Some(12.5));
        assert_eq!(r.start_time, Some(100));
        assert_eq!(r.stop_time, Some(112));
        assert!(!r.duration_mismatch());
    }

    #[test]
    fn integral_float_times_are_accepted_fractions_are_not() {
        let ok = post(r#"{"domain":"d","app":"a","stream":"s","uri":"u","start_time":100.0}"#);
        assert!(ok.is_ok());
        let e = post(r#"{"domain":"d","app":"a","stream":"s","uri":"u","start_time":100.5}"#)
            .unwrap_err();
        assert_eq!(e.status, 422);
        assert!(e.error.contains("start_time"), "{}", e.error);
    }

    /// A time given as a string means what the same text as a JSON number means: the same
    /// value, or the same refusal.
    #[test]
    fn time_strings_read_as_the_numbers_they_hold() {
        let with = |v: &str| {
            post(&format!(
                r#"{{"domain":"d","app":"a","stream":"s","uri":"u","start_time":{v}}}"#
            ))
            .map(|cb| match cb {
                Callback::Recording(r) => r.start_time,
                other => panic!("{other:?}"),
            })
        };
        for (text, want) in [
            ("1488985786", Some(1488985786)),
            ("1488985786.0", Some(1488985786)),
            ("1.488985786e9", Some(1488985786)),
            ("-5", Some(-5)),
            ("1488985786.5", None),
            ("1e300", None),
        ] {
            let number = with(text);
            let string = with(&format!("\"{text}\""));
            assert_eq!(number.as_ref().ok().copied().flatten(), want, "{text}");
            assert_eq!(string.as_ref().ok().copied().flatten(), want, "\"{text}\"");
            if want.is_none() {
                for e in [number.unwrap_err(), string.unwrap_err()] {
                    assert_eq!(e.status, 422);
                    assert!(e
                        .error
                        .starts_with("field start_time must be whole Unix seconds"));
                }
            }
        }
        // The message says what is accepted, and what was wrong with this value.
        let e = with("\"1488985786.5\"").unwrap_err();
        assert!(e.error.contains(r#""1488985786""#), "{}", e.error);
        assert!(
            e.error
                .ends_with("got a string holding a number with a fraction"),
            "{}",
            e.error
        );
        let e = with("\"soon\"").unwrap_err();
        assert!(
            e.error.ends_with("got a string that is not a number"),
            "{}",
            e.error
        );
        let e = with("[1]").unwrap_err();
        assert!(e.error.ends_with("got an array"), "{}", e.error);
    }

    #[test]
    fn extra_fields_are_ignored() {
        let cb = post(
            r#"{"domain":"d","app":"a","stream":"s","event":"record_paused","extra":{"x":[1,2]},"n":null}"#,
        )
        .unwrap();
        assert_eq!(cb.kind(), "status");
        let cb =
            post(r#"{"domain":"d","app":"a","stream":"s","uri":"u","file_format":"mp4","x":1}"#)
                .unwrap();
        assert_eq!(cb.kind(), "recording");
    }

    #[test]
    fn optional_recording_fields_may_be_absent() {
        let Callback::Recording(r) =
            post(r#"{"domain":"d","app":"a","stream":"s","uri":"u"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.duration, None);
        assert_eq!(r.start_time, None);
        assert!(r.push_args.is_empty());
        assert!(!r.duration_mismatch());
    }

    #[test]
    fn push_args_non_strings_kept_as_json_text() {
        let Callback::Recording(r) = post(
            r#"{"domain":"d","app":"a","stream":"s","uri":"u","push_args":{"n":5,"b":true,"o":{"k":"v"},"s":"x"}}"#,
        )
        .unwrap() else {
            panic!()
        };
        let m: std::collections::HashMap<_, _> = r.push_args.into_iter().collect();
        assert_eq!(m["n"], "5");
        assert_eq!(m["b"], "true");
        assert_eq!(m["o"], r#"{"k":"v"}"#);
        assert_eq!(m["s"], "x");
    }

    #[test]
    fn uri_wins_over_event() {
        let cb = post(r#"{"domain":"d","app":"a","stream":"s","uri":"u","event":"x"}"#).unwrap();
        assert_eq!(cb.kind(), "recording");
    }

    #[test]
    fn rejects_not_json_with_400() {
        let e = post("domain=d&app=a").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.error.contains("not valid JSON"), "{}", e.error);
        assert_eq!(status_of("{\"domain\":"), 400);
        assert_eq!(status_of(""), 400);
        assert_eq!(status_of("   \n"), 400);
    }

    #[test]
    fn rejects_non_object_with_400() {
        for body in ["[1,2]", "\"x\"", "42", "null", "true"] {
            let e = post(body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert!(e.error.contains("not an object"), "{}", e.error);
        }
    }

    #[test]
    fn rejects_missing_identity_with_400_naming_fields() {
        let e = post(r#"{"domain":"d","event":"record_started"}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.error, "missing fields: app, stream");
        let e = post(r#"{"domain":"d","app":null,"stream":"s","uri":"u"}"#).unwrap_err();
        assert_eq!(e.error, "missing field: app");
        let e = post(r#"{"domain":"d","app":"a","stream":"s"}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.error.contains("event") && e.error.contains("uri"));
    }

    #[test]
    fn rejects_wrong_types_with_422_naming_field() {
        let cases = [
            (
                r#"{"domain":1,"app":"a","stream":"s","event":"e"}"#,
                "domain",
            ),
            (
                r#"{"domain":"d","app":["a"],"stream":"s","event":"e"}"#,
                "app",
            ),
            (
                r#"{"domain":"d","app":"a","stream":{},"event":"e"}"#,
                "stream",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","event":5}"#,
                "event",
            ),
            (r#"{"domain":"d","app":"a","stream":"s","uri":true}"#, "uri"),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":"abc"}"#,
                "duration",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":"NaN"}"#,
                "duration",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":"Infinity"}"#,
                "duration",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":[1]}"#,
                "duration",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","start_time":"x"}"#,
                "start_time",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","stop_time":1e300}"#,
                "stop_time",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","stop_time":99999999999999999999}"#,
                "stop_time",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","push_args":"x=1"}"#,
                "push_args",
            ),
            (
                r#"{"domain":"d","app":"a","stream":"s","uri":"u","push_args":[1]}"#,
                "push_args",
            ),
        ];
        for (body, field) in cases {
            let e = post(body).unwrap_err();
            assert_eq!(e.status, 422, "{body}");
            assert!(e.error.contains(field), "{body}: {}", e.error);
        }
    }

    #[test]
    fn huge_duration_number_is_rejected_not_infinite() {
        let e = post(r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":1e999}"#);
        // serde_json refuses numbers out of f64 range at parse time.
        assert_eq!(e.unwrap_err().status, 400);
    }

    #[test]
    fn deep_json_is_rejected_without_crashing() {
        let body = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(status_of(&body), 400);
    }

    #[test]
    fn invalid_utf8_body_is_rejected() {
        let e = classify(Method::Post, None, b"{\"domain\":\"\xff\"}").unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn rejects_other_methods_with_405() {
        let e = classify(Method::Other, None, b"").unwrap_err();
        assert_eq!(e.status, 405);
        assert_eq!(Method::from_name("PUT"), Method::Other);
        assert_eq!(Method::from_name("GET"), Method::Get);
    }

    #[test]
    fn ingest_sample_from_domain_doc() {
        let q = "action=publish&app=example.com&appname=test01&id=test01&ip=42.120.0.1&node=cdnvideocenter16011.cm3&time=1579027784&usrargs=vhost%3Dexample.com";
        let Callback::Ingest(i) = classify(Method::Get, Some(q), b"").unwrap() else {
            panic!()
        };
        assert_eq!(i.action, IngestAction::Publish);
        assert_eq!(i.id.domain, "example.com");
        assert_eq!(i.id.app, "test01");
        assert_eq!(i.id.stream, "test01");
        assert_eq!(i.ip.as_deref(), Some("42.120.0.1"));
        assert_eq!(i.time, Some(1579027784));
        assert_eq!(i.usrargs.as_deref(), Some("vhost=example.com"));
        let q = "action=publish_done&app=a&appname=b&id=c";
        let Callback::Ingest(i) = classify(Method::Get, Some(q), b"").unwrap() else {
            panic!()
        };
        assert_eq!(i.action, IngestAction::PublishDone);
    }

    #[test]
    fn ingest_rejections() {
        let e = classify(Method::Get, None, b"").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.error.contains("action"));
        let e = classify(Method::Get, Some("action=play&app=a&appname=b&id=c"), b"").unwrap_err();
        assert_eq!(e.status, 400);
        let e = classify(Method::Get, Some("action=publish&app=a"), b"").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.error, "missing query parameters: appname, id");
        let e = classify(
            Method::Get,
            Some("action=publish&app=a&appname=b&id=c&time=x"),
            b"",
        )
        .unwrap_err();
        assert_eq!(e.status, 422);
        assert!(e.error.contains("time"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%3Db+c"), "a=b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%e4%b8%ad"), "中");
    }
}
