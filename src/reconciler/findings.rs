//! What the provider's own records say that the journal does not: pure comparison of the
//! callbacks a provider says it sent (and the answers it got), the recording files it says
//! exist and where it says callbacks go, with the callbacks the journal received.
//!
//! Matching: a sent callback is the journal's when the journal holds a callback of the same
//! provider with the same body (compared as JSON values, so key order and spacing do not
//! matter) that arrived within [`MATCH_BEFORE`] before and [`MATCH_AFTER`] after the provider's
//! send time (clocks differ; the provider retries). Each journal callback matches at most one
//! sent record, nearest in time first, so three `record_started` of one stream sent and two
//! received leave exactly one missed.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::event::Provider;

/// How much earlier than the provider's send time a received callback may have arrived
/// (the two clocks disagree).
pub const MATCH_BEFORE: Duration = Duration::seconds(60);
/// How much later (the provider's retries, a slow network).
pub const MATCH_AFTER: Duration = Duration::seconds(600);

/// Text from a provider's answer kept in a finding, at most (it is untrusted).
pub const EVIDENCE_MAX: usize = 2048;

/// One callback the provider says it sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// Whose.
    pub provider: Provider,
    /// When the provider sent it.
    pub at: DateTime<Utc>,
    /// Where it sent it.
    pub url: String,
    /// The body it sent (ApsaraVideo's `NotifyContent`).
    pub content: String,
    /// Whether the provider saw a successful answer.
    pub ok: bool,
    /// The provider's word for the result (`success`, `failed`, a code).
    pub result: String,
    /// The answer it got, as it recorded it.
    pub response: Option<String>,
    /// Its kind as the provider names it (`NotifyType`).
    pub kind: Option<String>,
    /// The stream as the provider names it (`domain/app/stream`), when it says.
    pub stream: Option<String>,
}

/// One callback the journal received (accepted or duplicate).
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Its seq.
    pub seq: u64,
    /// Whose.
    pub provider: Provider,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// Its body, parsed (what it is matched on); `None` when it is not JSON.
    pub body: Option<serde_json::Value>,
    /// For a recording callback: its stream (`domain/app/stream`) and file.
    pub file: Option<(String, String)>,
    /// Filled in by an earlier reconcile (`--backfill`): a sent record it matches was
    /// missed, and is settled.
    pub reconciled: bool,
}

/// One recording file the provider's index lists.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFile {
    /// `domain/app/stream`.
    pub stream: String,
    /// The object key (what a generation callback names as its `uri`).
    pub key: String,
    /// When it starts and ends (as the index says).
    pub start: Option<DateTime<Utc>>,
    /// When it ends.
    pub end: Option<DateTime<Utc>>,
}

/// Where a domain's recording callbacks go, as the provider's configuration says.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// The domain.
    pub domain: String,
    /// `NotifyUrl`, if set.
    pub notify_url: Option<String>,
    /// Whether status callbacks (started, paused, resumed) are on (`NeedStatusNotify`).
    pub status_notify: Option<bool>,
}

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Sent to this receiver, never received.
    Missed,
    /// Received, but the provider saw a failed answer (timeout, non-2xx).
    FailedAnswer,
    /// Sent to another URL (configuration drift).
    OtherUrl,
    /// The configuration: NotifyUrl not this receiver, status callbacks off.
    Config,
    /// A file in the provider's index with no generation callback in the journal.
    FileWithoutCallback,
    /// A generation callback in the journal whose file is not in the index.
    CallbackWithoutFile,
}

/// One finding, with the provider's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What kind.
    pub kind: Kind,
    /// Whose records say it.
    pub provider: Provider,
    /// The stream (`domain/app/stream`) or domain it is about.
    pub about: String,
    /// When (the provider's send time, a file's start, the journal's arrival).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The journal seq it concerns, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// What the provider's records say (capped; untrusted text: sanitize to show).
    pub evidence: BTreeMap<String, String>,
}

fn cap(s: &str) -> String {
    match s.char_indices().nth(EVIDENCE_MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The stream a callback body names, `domain/app/stream` (ApsaraVideo's field names).
pub fn stream_of(body: &serde_json::Value) -> Option<String> {
    let f = |k: &str| body.get(k).and_then(|v| v.as_str());
    Some(format!("{}/{}/{}", f("domain")?, f("app")?, f("stream")?))
}

/// The URL a receiver answers at, normalized for comparing: scheme and host lowercased, no
/// trailing `/`, no query.
pub fn url_key(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    format!(
        "{}://{}{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase(),
        path.trim_end_matches('/')
    )
}

/// Compares what the provider's records say with what the journal received.
///
/// `ours`: this receiver's URL as the provider calls it. When `None`, it is taken from the
/// records that the journal holds (the URL most of them were sent to); without any such
/// record, no record is called "other URL".
pub fn compare(
    received: &[Received],
    sent: &[Sent],
    files: &[IndexedFile],
    configs: &[NotifyConfig],
    ours: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // Received callbacks by body, each list in arrival order.
    let mut by_body: BTreeMap<String, Vec<(usize, DateTime<Utc>)>> = BTreeMap::new();
    for (i, r) in received.iter().enumerate() {
        if let Some(b) = &r.body {
            by_body
                .entry(format!("{}|{}", r.provider.as_str(), b))
                .or_default()
                .push((i, r.at));
        }
    }
    // Every (sent, received) pair of the same body within the window, nearest first; each
    // side is used once.
    let mut order: Vec<usize> = (0..sent.len()).collect();
    order.sort_by_key(|&i| sent[i].at);
    let mut pairs: Vec<(i64, usize, usize)> = Vec::new();
    for (i, s) in sent.iter().enumerate() {
        let Ok(body) = serde_json::from_str::<serde_json::Value>(&s.content) else {
            continue;
        };
        let Some(candidates) = by_body.get(&format!("{}|{}", s.provider.as_str(), body)) else {
            continue;
        };
        for (j, at) in candidates {
            if *at >= s.at - MATCH_BEFORE && *at <= s.at + MATCH_AFTER {
                pairs.push(((*at - s.at).num_milliseconds().abs(), i, *j));
            }
        }
    }
    pairs.sort();
    let mut used: HashSet<usize> = HashSet::new();
    let mut matched: Vec<Option<usize>> = vec![None; sent.len()];
    for (_, i, j) in pairs {
        if matched[i].is_none() && !used.contains(&j) {
            used.insert(j);
            matched[i] = Some(j);
        }
    }
    // This receiver's URL: given, or the one most received records were sent to.
    let ours = ours.map(url_key).or_else(|| {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for (i, m) in matched.iter().enumerate() {
            if m.is_some() {
                *count.entry(url_key(&sent[i].url)).or_default() += 1;
            }
        }
        count.into_iter().max_by_key(|(_, n)| *n).map(|(u, _)| u)
    });
    let mut missed_files: HashSet<String> = HashSet::new();
    for &i in &order {
        let s = &sent[i];
        let body = serde_json::from_str::<serde_json::Value>(&s.content).ok();
        let about = s
            .stream
            .clone()
            .or_else(|| body.as_ref().and_then(stream_of))
            .unwrap_or_default();
        let mut evidence = BTreeMap::from([
            ("notify_url".to_string(), cap(&s.url)),
            ("notify_result".to_string(), cap(&s.result)),
            ("notify_content".to_string(), cap(&s.content)),
        ]);
        if let Some(k) = &s.kind {
            evidence.insert("notify_type".into(), cap(k));
        }
        if let Some(r) = &s.response {
            evidence.insert("notify_response".into(), cap(r));
        }
        match matched[i] {
            Some(j) if !s.ok && !received[j].reconciled => out.push(Finding {
                kind: Kind::FailedAnswer,
                provider: s.provider,
                about,
                at: Some(s.at),
                seq: Some(received[j].seq),
                evidence,
            }),
            Some(_) => {}
            None => {
                let elsewhere = ours.as_deref().is_some_and(|o| url_key(&s.url) != o);
                if !elsewhere {
                    if let Some(uri) = body
                        .as_ref()
                        .and_then(|b| b.get("uri"))
                        .and_then(|u| u.as_str())
                    {
                        missed_files.insert(uri.to_string());
                    }
                }
                out.push(Finding {
                    kind: if elsewhere {
                        Kind::OtherUrl
                    } else {
                        Kind::Missed
                    },
                    provider: s.provider,
                    about,
                    at: Some(s.at),
                    seq: None,
                    evidence,
                });
            }
        }
    }
    // The configuration.
    for c in configs {
        let mut evidence = BTreeMap::new();
        if let Some(u) = &c.notify_url {
            evidence.insert("notify_url".to_string(), cap(u));
        }
        let drift = match (&c.notify_url, &ours) {
            (None, _) => Some("no NotifyUrl: recording callbacks go nowhere"),
            (Some(u), Some(o)) if url_key(u) != *o => Some("NotifyUrl is not this receiver"),
            _ => None,
        };
        if let Some(why) = drift {
            evidence.insert("finding".into(), why.into());
            out.push(Finding {
                kind: Kind::Config,
                provider: Provider::Aliyun,
                about: c.domain.clone(),
                at: None,
                seq: None,
                evidence: evidence.clone(),
            });
        }
        if c.status_notify == Some(false) {
            let mut evidence = evidence.clone();
            evidence.insert(
                "finding".into(),
                "status callbacks are off (NeedStatusNotify): recmon cannot tell live but not recording".into(),
            );
            out.push(Finding {
                kind: Kind::Config,
                provider: Provider::Aliyun,
                about: c.domain.clone(),
                at: None,
                seq: None,
                evidence,
            });
        }
    }
    // Files against generation callbacks.
    let received_files: HashSet<&str> = received
        .iter()
        .filter_map(|r| r.file.as_ref().map(|(_, f)| f.trim_start_matches('/')))
        .collect();
    let indexed: HashSet<&str> = files
        .iter()
        .map(|f| f.key.trim_start_matches('/'))
        .collect();
    for f in files {
        let key = f.key.trim_start_matches('/');
        if !received_files.contains(key) && !missed_files.contains(key) {
            out.push(Finding {
                kind: Kind::FileWithoutCallback,
                provider: Provider::Aliyun,
                about: f.stream.clone(),
                at: f.start,
                seq: None,
                evidence: BTreeMap::from([("object".to_string(), cap(&f.key))]),
            });
        }
    }
    // Only streams the index was asked about can lack a file in it.
    let indexed_streams: HashSet<&str> = files.iter().map(|f| f.stream.as_str()).collect();
    for r in received {
        if let Some((stream, file)) = &r.file {
            if indexed_streams.contains(stream.as_str())
                && !indexed.contains(file.trim_start_matches('/'))
            {
                out.push(Finding {
                    kind: Kind::CallbackWithoutFile,
                    provider: r.provider,
                    about: stream.clone(),
                    at: Some(r.at),
                    seq: Some(r.seq),
                    evidence: BTreeMap::from([("uri".to_string(), cap(file))]),
                });
            }
        }
    }
    out.sort_by(|a, b| (a.kind, a.at, &a.about).cmp(&(b.kind, b.at, &b.about)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    const URL: &str = "https://rec.example.com/recmon";

    fn status(stream: &str, event: &str) -> String {
        format!(r#"{{"domain":"d","app":"live","stream":"{stream}","event":"{event}"}}"#)
    }

    fn file(stream: &str, n: u32) -> String {
        format!(
            r#"{{"domain":"d","app":"live","stream":"{stream}","uri":"record/{stream}/{n}.flv","duration":60,"start_time":1,"stop_time":61}}"#
        )
    }

    fn sent(at: i64, content: &str, ok: bool) -> Sent {
        Sent {
            provider: Provider::Aliyun,
            at: t(at),
            url: URL.into(),
            content: content.into(),
            ok,
            result: if ok {
                "success".into()
            } else {
                "failed".into()
            },
            response: None,
            kind: None,
            stream: None,
        }
    }

    fn got(seq: u64, at: i64, content: &str) -> Received {
        let body: serde_json::Value = serde_json::from_str(content).unwrap();
        let file = body
            .get("uri")
            .map(|u| (stream_of(&body).unwrap(), u.as_str().unwrap().to_string()));
        Received {
            seq,
            provider: Provider::Aliyun,
            at: t(at),
            body: Some(body),
            file,
            reconciled: false,
        }
    }

    #[test]
    fn of_three_identical_callbacks_sent_and_two_received_one_is_missed() {
        let s = [
            sent(0, &status("cam", "record_started"), true),
            sent(100, &status("cam", "record_started"), true),
            sent(200, &status("cam", "record_started"), true),
        ];
        // Key order differs: still the same body.
        let r = [
            got(
                1,
                1,
                r#"{"event":"record_started","stream":"cam","app":"live","domain":"d"}"#,
            ),
            got(2, 201, &status("cam", "record_started")),
        ];
        let f = compare(&r, &s, &[], &[], None);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, Kind::Missed);
        assert_eq!(f[0].at, Some(t(100)));
        assert_eq!(f[0].about, "d/live/cam");
    }

    #[test]
    fn a_failed_answer_another_url_and_the_config() {
        let s = [
            sent(0, &file("cam", 1), false),
            Sent {
                url: "https://old.example.com/cb".into(),
                ..sent(50, &file("cam", 2), true)
            },
        ];
        let r = [got(7, 2, &file("cam", 1))];
        let configs = [NotifyConfig {
            domain: "d".into(),
            notify_url: Some("https://old.example.com/cb".into()),
            status_notify: Some(false),
        }];
        let f = compare(
            &r,
            &s,
            &[],
            &configs,
            Some("HTTPS://rec.example.com/recmon/"),
        );
        let kinds: Vec<Kind> = f.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::FailedAnswer,
                Kind::OtherUrl,
                Kind::Config,
                Kind::Config
            ]
        );
        assert_eq!(f[0].seq, Some(7));
        assert!(
            f[3].evidence["finding"].contains("NeedStatusNotify")
                || f[2].evidence["finding"].contains("NeedStatusNotify")
        );
    }

    #[test]
    fn files_against_generation_callbacks() {
        let files = [
            IndexedFile {
                stream: "d/live/cam".into(),
                key: "record/cam/1.flv".into(),
                start: Some(t(0)),
                end: Some(t(60)),
            },
            IndexedFile {
                stream: "d/live/cam".into(),
                key: "record/cam/3.flv".into(),
                start: Some(t(120)),
                end: Some(t(180)),
            },
        ];
        let r = [got(1, 61, &file("cam", 1)), got(2, 121, &file("cam", 2))];
        let f = compare(&r, &[], &files, &[], None);
        let kinds: Vec<(Kind, String)> = f
            .iter()
            .map(|x| (x.kind, x.evidence.values().next().unwrap().clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Kind::FileWithoutCallback, "record/cam/3.flv".to_string()),
                (Kind::CallbackWithoutFile, "record/cam/2.flv".to_string()),
            ]
        );
    }

    #[test]
    fn hostile_provider_text_is_capped() {
        let huge = "x".repeat(100_000);
        let s = [Sent {
            response: Some(huge.clone()),
            ..sent(0, &status("cam", "record_paused"), true)
        }];
        let f = compare(&[], &s, &[], &[], None);
        assert_eq!(f[0].kind, Kind::Missed);
        assert!(f[0].evidence["notify_response"].chars().count() <= EVIDENCE_MAX + 1);
    }
}
