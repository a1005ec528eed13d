//! Reconciling with the providers' own records, for `recmon reconcile` and the running
//! receiver (`--reconcile-every`): what the journal received against what the providers say
//! they sent (through [`crate::reconcile`]'s clients), and filling in what was missed.
//!
//! - [`findings`]: the comparison, pure.
//! - [`journal`]: what a journal received, and the backfill through a sequencer.
//!
//! Each run that writes the journal (the receiver's, `recmon reconcile --backfill`) journals
//! its summary as well ([`summary`], a `reconcile_run` line), whatever it found.

pub mod findings;
pub mod journal;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::core::reconciled::{
    ReconcileRun, RunNow, RunTrigger, RUN_DOMAINS_MAX, RUN_NOTES_MAX, RUN_NOTE_MAX,
};
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

/// A finding's domain, for the per-domain counts of a run's summary: ApsaraVideo's domain
/// (the first part of what it is about), and `tencent` for Tencent's streams.
fn domain_of(f: &Finding) -> String {
    match f.provider {
        Provider::Tencent => "tencent".into(),
        _ => terminal(f.about.split('/').next().unwrap_or_default(), 253).into_owned(),
    }
}

/// What a run journals of itself: the counts by kind (and per domain, at most
/// [`RUN_DOMAINS_MAX`] named), how many were filled in, the notes capped.
pub fn summary(o: &Outcome, at: DateTime<Utc>, by: RunTrigger, filled: u64) -> ReconcileRun {
    let name = |k: Kind| {
        serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let findings = o
        .summary
        .iter()
        .map(|(k, n)| (name(*k), *n as u64))
        .collect();
    let mut domains: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for f in &o.findings {
        let mut d = domain_of(f);
        if !domains.contains_key(&d) && domains.len() >= RUN_DOMAINS_MAX {
            d = "…".into();
        }
        *domains
            .entry(d)
            .or_default()
            .entry(name(f.kind))
            .or_default() += 1;
    }
    ReconcileRun {
        at,
        from: o.from,
        to: o.to,
        by,
        findings,
        domains,
        filled,
        notes: o
            .notes
            .iter()
            .take(RUN_NOTES_MAX)
            .map(|n| terminal(n, RUN_NOTE_MAX).into_owned())
            .collect(),
    }
}

/// The window one `--reconcile-every` tick compares, ending now: the last `every` (and
/// [`MARGIN`]), ending [`MARGIN`] ago so that the provider's retries are in.
pub fn tick_window(every: std::time::Duration) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = Utc::now() - MARGIN;
    let from = to - Duration::from_std(every).unwrap_or(MARGIN) - MARGIN;
    (from, to)
}

/// One run of the receiver's reconcile over `from..to`: the journal at `journal` against the
/// providers' records, what was missed filled in through `sequencer`, and the run's summary
/// journaled (whatever it found) and returned. Says what it found on stderr (not under the
/// terminal UI) and in the log.
pub async fn run_once(
    journal: &std::path::Path,
    settings: &Settings,
    sequencer: &crate::core::sequencer::Sequencer,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    by: RunTrigger,
) -> Result<ReconcileRun, String> {
    let at = Utc::now();
    let path = journal.to_path_buf();
    // The whole journal: its domains are the ones to ask about, even where the window itself
    // received nothing (an outage).
    let received =
        match tokio::task::spawn_blocking(move || journal::received(&path, None, None)).await {
            Ok(Ok((r, _))) => r,
            Ok(Err(e)) => return Err(format!("cannot read the journal: {e}")),
            Err(e) => return Err(format!("cannot read the journal: {e}")),
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
    let result = async {
        let mut o = reconcile(received, from, to, &settings).await?;
        let filled = journal::fill_in(sequencer, &o.missed).await;
        let written = filled.as_ref().map_or(0, |b| b.written as u64);
        if let Err(e) = &filled {
            o.notes
                .push(format!("filling in failed: {}", terminal(e, 200)));
        }
        let run = summary(&o, at, by, written);
        sequencer
            .record_reconcile_run(run.clone())
            .await
            .map_err(|e| format!("cannot journal the run: {}", e.0))?;
        Ok::<_, String>((run, o.notes))
    }
    .await;
    let line = match &result {
        Err(e) => format!("recmon: reconcile: {}", terminal(e, 300)),
        Ok((run, notes)) => {
            let found: Vec<String> = run
                .findings
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            format!(
                "recmon: reconcile {} → {}: {}; {} filled in{}",
                crate::core::journal::format_time(from),
                crate::core::journal::format_time(to),
                if found.is_empty() {
                    "no findings".to_string()
                } else {
                    found.join(", ")
                },
                run.filled,
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", terminal(&notes.join("; "), 300))
                }
            )
        }
    };
    // Not while the terminal UI owns the screen (the header shows the last run); the log
    // file has it either way.
    tracing::info!("{line}");
    let _ = crate::util::progress::eprint_line(&indicatif::ProgressBar::hidden(), &line);
    result.map(|(run, _)| run)
}

/// The running receiver's reconcile (`--reconcile-every`): every `every`, [`run_once`] over
/// one tick's window ([`tick_window`]); and a run at once for each ask on `asks` (`POST
/// /api/reconcile`, with its window or a tick's), answered with the run's summary. One run
/// at a time: an ask that comes during a run waits for it, then its own run starts.
pub async fn every(
    every: std::time::Duration,
    settings: Settings,
    journal: std::path::PathBuf,
    sequencer: crate::core::sequencer::Sequencer,
    mut asks: tokio::sync::mpsc::Receiver<RunNow>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut asking = true;
    loop {
        let ask = tokio::select! {
            _ = tick.tick() => None,
            a = asks.recv(), if asking => match a {
                Some(a) => Some(a),
                None => {
                    asking = false;
                    continue;
                }
            },
        };
        match ask {
            None => {
                let _ = run_once(
                    &journal,
                    &settings,
                    &sequencer,
                    tick_window(every),
                    RunTrigger::Every,
                )
                .await;
            }
            Some((window, reply)) => {
                let window = window.unwrap_or_else(|| tick_window(every));
                let run = run_once(&journal, &settings, &sequencer, window, RunTrigger::Api).await;
                let _ = reply.send(run);
            }
        }
    }
}
