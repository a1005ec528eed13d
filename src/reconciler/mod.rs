//! Reconciling with the providers' own records, for `recmon reconcile` and the running
//! receiver (`--reconcile-every`): what the journal received against what the providers say
//! they sent (through [`crate::reconcile`]'s clients), and filling in what was missed.
//!
//! - [`findings`]: the comparison, pure.
//! - [`journal`]: what a journal received, and the backfill through a sequencer.

pub mod findings;
pub mod journal;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::event::Provider;
use crate::reconcile::{aliyun, tencent};
use crate::util::sanitize::terminal;
use findings::{Finding, IndexedFile, Kind, NotifyConfig, Received, Sent};

/// How far a window reaches past the callbacks it is about (the provider's clock differs,
/// and it retries).
pub const MARGIN: Duration = Duration::minutes(10);

/// Where and what to ask.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// This receiver's URL as the provider calls it (`--url`).
    pub url: Option<String>,
    /// ApsaraVideo domains to ask about besides those the journal names.
    pub domains: Vec<String>,
    /// `--aliyun-endpoint`.
    pub aliyun_endpoint: Option<String>,
    /// `--tencent-endpoint`.
    pub tencent_endpoint: Option<String>,
}

/// What one reconcile found (what `recmon reconcile --json` prints).
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The window compared.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// Which providers' records were read, and how many of each kind.
    pub read: BTreeMap<String, usize>,
    /// Findings by kind.
    pub summary: BTreeMap<Kind, usize>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// What `--backfill` wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfilled: Option<BTreeMap<String, usize>>,
    /// What could not be asked (no credentials, a provider's error), for the operator.
    pub notes: Vec<String>,
    /// The missed callbacks as the provider sent them (what a backfill writes).
    #[serde(skip)]
    pub missed: Vec<Sent>,
}

/// Asks the providers about `from..to` and compares with `received` (what the journal holds,
/// see [`journal::received`]). Credentials come from the environment; a provider without
/// them is not asked (a note says so). A failed configuration of a client is an error.
pub async fn reconcile(
    received: Vec<Received>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    settings: &Settings,
) -> Result<Outcome, String> {
    let received: Vec<_> = received
        .into_iter()
        .filter(|r| r.at >= from - MARGIN && r.at <= to + MARGIN)
        .collect();
    // The streams and domains the journal names, per provider.
    let mut domains: BTreeSet<String> = settings.domains.iter().cloned().collect();
    let mut streams: std::collections::HashMap<Provider, BTreeSet<(String, String, String)>> =
        std::collections::HashMap::new();
    for r in &received {
        let Some(b) = &r.body else { continue };
        let f = |k: &str| b.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if r.provider == Provider::Aliyun {
            if let Some(d) = f("domain") {
                domains.insert(d);
            }
        }
        if let Some((stream, _)) = &r.file {
            let mut p = stream.splitn(3, '/').map(str::to_string);
            if let (Some(d), Some(a), Some(s)) = (p.next(), p.next(), p.next()) {
                streams.entry(r.provider).or_default().insert((d, a, s));
            }
        }
        if r.provider == Provider::Tencent {
            if let Some(s) = f("stream_id").or_else(|| f("stream_param")) {
                streams.entry(Provider::Tencent).or_default().insert((
                    String::new(),
                    String::new(),
                    s,
                ));
            }
        }
    }
    let mut notes = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    let mut files: Vec<IndexedFile> = Vec::new();
    let mut configs: Vec<NotifyConfig> = Vec::new();
    let mut read: BTreeMap<String, usize> = BTreeMap::new();
    // ApsaraVideo Live.
    match aliyun::Credentials::from_env() {
        Err(e) => notes.push(format!("ApsaraVideo: {e}")),
        Ok(None) if !domains.is_empty() => notes.push(
            "ApsaraVideo: not asked (ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set)".into(),
        ),
        Ok(None) => {}
        Ok(Some(creds)) => {
            let mut cfg = aliyun::Config::default();
            if let Some(e) = &settings.aliyun_endpoint {
                cfg.endpoint = e.clone();
            }
            let client = aliyun::Client::new(creds, cfg).map_err(|e| e.to_string())?;
            for d in &domains {
                let q = aliyun::NotifyRecordsQuery {
                    domain: d.clone(),
                    app: None,
                    stream: None,
                    status: None,
                    start: from,
                    end: to,
                };
                match client.notify_records(&q).await {
                    Ok(got) => {
                        if let Some(c) = &got.clipped {
                            notes.push(format!("ApsaraVideo {}: {c:?}", terminal(d, 200)));
                        }
                        *read.entry("aliyun_notify_records".into()).or_default() += got.items.len();
                        for r in got.items {
                            let Some(at) = r.at() else { continue };
                            let ok = r.succeeded();
                            sent.push(Sent {
                                provider: Provider::Aliyun,
                                at,
                                url: r.notify_url,
                                content: r.notify_content,
                                ok,
                                result: r.notify_result,
                                response: Some(r.notify_response).filter(|s| !s.is_empty()),
                                kind: Some(r.notify_type).filter(|s| !s.is_empty()),
                                stream: (!r.stream_name.is_empty()).then(|| {
                                    format!("{}/{}/{}", r.domain_name, r.app_name, r.stream_name)
                                }),
                            });
                        }
                    }
                    Err(e) => notes.push(format!("ApsaraVideo {}: {e}", terminal(d, 200))),
                }
                match client.notify_config(d).await {
                    Ok(Some(c)) => configs.push(NotifyConfig {
                        domain: d.clone(),
                        notify_url: Some(c.notify_url).filter(|u| !u.is_empty()),
                        status_notify: c.need_status_notify,
                    }),
                    Ok(None) => configs.push(NotifyConfig {
                        domain: d.clone(),
                        notify_url: None,
                        status_notify: None,
                    }),
                    Err(e) => notes.push(format!("ApsaraVideo {} config: {e}", terminal(d, 200))),
                }
            }
            for (d, a, s) in streams.get(&Provider::Aliyun).into_iter().flatten() {
                let q = aliyun::IndexFilesQuery {
                    domain: d.clone(),
                    app: a.clone(),
                    stream: s.clone(),
                    start: from,
                    end: to,
                };
                match client.index_files(&q).await {
                    Ok(got) => {
                        *read.entry("aliyun_index_files".into()).or_default() += got.items.len();
                        for f in got.items {
                            files.push(IndexedFile {
                                stream: format!("{d}/{a}/{s}"),
                                key: f.oss_object.clone(),
                                start: f.start(),
                                end: f.end(),
                            });
                        }
                    }
                    Err(e) => notes.push(format!("ApsaraVideo index of {}: {e}", terminal(&format!("{d}/{a}/{s}"), 200))),
                }
            }
        }
    }
    // Tencent Cloud.
    let tencent_streams = streams.get(&Provider::Tencent).cloned().unwrap_or_default();
    match tencent::Credentials::from_env() {
        Err(e) => notes.push(format!("Tencent: {e}")),
        Ok(None) if !tencent_streams.is_empty() => notes.push(
            "Tencent: not asked (TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY are not set)"
                .into(),
        ),
        Ok(None) => {}
        Ok(Some(creds)) => {
            let mut cfg = tencent::Config::default();
            if let Some(e) = &settings.tencent_endpoint {
                cfg.endpoint = e.clone();
            }
            let client = tencent::Client::new(creds, cfg).map_err(|e| e.to_string())?;
            for (_, _, s) in &tencent_streams {
                let q = tencent::CallbackRecordsQuery {
                    stream: s.clone(),
                    event_type: None,
                    result_code: None,
                    start: from,
                    end: to,
                };
                match client.callback_records(&q).await {
                    Ok(got) => {
                        *read.entry("tencent_callback_records".into()).or_default() +=
                            got.items.len();
                        for r in got.items {
                            let Some(at) = r.at() else { continue };
                            let ok = r.succeeded();
                            sent.push(Sent {
                                provider: Provider::Tencent,
                                at,
                                url: String::new(),
                                content: r.request,
                                ok,
                                result: r.result_code.map_or_else(|| "-".into(), |c| c.to_string()),
                                response: Some(r.response).filter(|s| !s.is_empty()),
                                kind: r.event_type.map(|t| t.to_string()),
                                stream: Some(r.stream_id),
                            });
                        }
                    }
                    Err(e) => notes.push(format!("Tencent {}: {e}", terminal(s, 200))),
                }
            }
        }
    }
    let sent: Vec<Sent> = sent
        .into_iter()
        .filter(|s| s.at >= from && s.at <= to)
        .collect();
    let found = findings::compare(&received, &sent, &files, &configs, settings.url.as_deref());
    let mut summary: BTreeMap<Kind, usize> = BTreeMap::new();
    for f in &found {
        *summary.entry(f.kind).or_default() += 1;
    }
    let missed: Vec<Sent> = found
        .iter()
        .filter(|f| f.kind == Kind::Missed)
        .filter_map(|f| {
            let content = f.evidence.get("notify_content")?;
            sent.iter()
                .find(|s| Some(s.at) == f.at && &s.content == content)
                .cloned()
        })
        .collect();
    Ok(Outcome {
        from,
        to,
        read,
        summary,
        findings: found,
        backfilled: None,
        notes,
        missed,
    })
}

/// The running receiver's reconcile (`--reconcile-every`): every `every`, the last `every`
/// (and [`MARGIN`]) of the journal at `journal` against the providers' records, and what was
/// missed filled in through `sequencer`. Each run says what it found on stderr.
pub async fn every(
    every: std::time::Duration,
    settings: Settings,
    journal: std::path::PathBuf,
    sequencer: crate::core::sequencer::Sequencer,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let to = Utc::now() - MARGIN;
        let from = to - Duration::from_std(every).unwrap_or(MARGIN) - MARGIN;
        let path = journal.clone();
        // The whole journal: its domains are the ones to ask about, even where the window
        // itself received nothing (an outage).
        let received =
            match tokio::task::spawn_blocking(move || journal::received(&path, None, None)).await {
                Ok(Ok((r, _))) => r,
                _ => continue,
            };
        let mut settings = settings.clone();
        for r in &received {
            if let Some(d) = r
                .body
                .as_ref()
                .filter(|_| r.provider == Provider::Aliyun)
                .and_then(|b| b.get("domain"))
                .and_then(|d| d.as_str())
            {
                if !settings.domains.iter().any(|x| x == d) {
                    settings.domains.push(d.to_string());
                }
            }
        }
        let received: Vec<Received> = received
            .into_iter()
            .filter(|r| r.at >= from - MARGIN && r.at <= to + MARGIN)
            .collect();
        let line = match reconcile(received, from, to, &settings).await {
            Err(e) => format!("recmon: reconcile: {}", terminal(&e, 300)),
            Ok(o) => {
                let filled = journal::fill_in(&sequencer, &o.missed).await;
                let found: Vec<String> = o
                    .summary
                    .iter()
                    .map(|(k, n)| {
                        format!(
                            "{n} {}",
                            serde_json::to_value(k)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                format!(
                    "recmon: reconcile {} → {}: {}; {}{}",
                    crate::core::journal::format_time(from),
                    crate::core::journal::format_time(to),
                    if found.is_empty() {
                        "no findings".to_string()
                    } else {
                        found.join(", ")
                    },
                    match filled {
                        Ok(b) => format!("{} filled in", b.written),
                        Err(e) => format!("filling in failed: {}", terminal(&e, 200)),
                    },
                    if o.notes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", terminal(&o.notes.join("; "), 300))
                    }
                )
            }
        };
        // Not while the terminal UI owns the screen (the header shows the filled-in count);
        // the log file has it either way.
        tracing::info!("{line}");
        let _ = crate::util::progress::eprint_line(&indicatif::ProgressBar::hidden(), &line);
    }
}
