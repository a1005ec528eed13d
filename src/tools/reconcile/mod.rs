//! `recmon reconcile`: what the providers' own records say that the journal does not.
//!
//! - [`findings`]: the comparison, pure.
//! - the command (this file): reads the journal, asks the providers' APIs
//!   ([`crate::reconcile`]) for the window, and prints the findings.

pub mod findings;
pub mod journal;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cli::ReconcileArgs;
use crate::error::AppError;
use crate::event::Provider;
use crate::reconcile::{aliyun, tencent};
use crate::util::sanitize::terminal;
use findings::{Finding, IndexedFile, Kind, NotifyConfig, Sent};

/// How far the default window reaches past the journal's first and last callbacks (the
/// provider's clock differs, and it retries).
const MARGIN: Duration = Duration::minutes(10);

/// What `--json` prints.
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
}

fn parse_time(s: &str, flag: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            AppError::new(
                2,
                format!("{flag} {s:?}: not an RFC 3339 time ({e}); e.g. 2026-12-04T10:00:00Z"),
            )
        })
}

/// Runs `recmon reconcile`.
pub async fn run(args: ReconcileArgs) -> Result<(), AppError> {
    let from = args
        .from
        .as_deref()
        .map(|s| parse_time(s, "--from"))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|s| parse_time(s, "--to"))
        .transpose()?;
    let path = args.journal.clone();
    let (received, span) =
        tokio::task::spawn_blocking(move || journal::received(&path, None, None))
            .await
            .map_err(|e| AppError::new(1, format!("reconcile failed: {e}")))?
            .map_err(|e| {
                AppError::new(
                    1,
                    format!(
                    "cannot read the journal {}: {e}. Expected a recmon journal (recmon-*.jsonl)",
                    args.journal.display()
                ),
                )
            })?;
    let (from, to) = match (from, to, span) {
        (Some(f), Some(t), _) => (f, t),
        (f, t, Some((a, b))) => (f.unwrap_or(a - MARGIN), t.unwrap_or(b + MARGIN)),
        (Some(f), None, None) => (f, Utc::now()),
        (None, _, None) => {
            return Err(AppError::new(
                2,
                "the journal holds no request: give the window with --from (and --to)",
            ))
        }
    };
    if to <= from {
        return Err(AppError::new(2, "--to must be after --from"));
    }
    let received: Vec<_> = received
        .into_iter()
        .filter(|r| r.at >= from - MARGIN && r.at <= to + MARGIN)
        .collect();
    // The streams and domains the journal names, per provider.
    let mut domains: BTreeSet<String> = args.domain.iter().cloned().collect();
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
            if let Some(e) = &args.aliyun_endpoint {
                cfg.endpoint = e.clone();
            }
            let client = aliyun::Client::new(creds, cfg).map_err(|e| AppError::new(2, e.to_string()))?;
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
            if let Some(e) = &args.tencent_endpoint {
                cfg.endpoint = e.clone();
            }
            let client =
                tencent::Client::new(creds, cfg).map_err(|e| AppError::new(2, e.to_string()))?;
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
    let found = findings::compare(&received, &sent, &files, &configs, args.url.as_deref());
    let mut summary: BTreeMap<Kind, usize> = BTreeMap::new();
    for f in &found {
        *summary.entry(f.kind).or_default() += 1;
    }
    let mut backfilled = None;
    if args.backfill {
        let missed: Vec<Sent> = found
            .iter()
            .filter(|f| f.kind == Kind::Missed)
            .filter_map(|f| {
                sent.iter()
                    .find(|s| {
                        Some(s.at) == f.at
                            && s.content
                                == f.evidence
                                    .get("notify_content")
                                    .cloned()
                                    .unwrap_or_default()
                    })
                    .cloned()
            })
            .collect();
        match journal::backfill(&args.journal, &missed).await {
            Ok(b) => {
                backfilled = Some(BTreeMap::from([
                    ("written".to_string(), b.written),
                    ("already_known".to_string(), b.known),
                    ("unreadable".to_string(), b.unreadable),
                ]))
            }
            Err(journal::BackfillError::Held(pid)) => {
                return Err(AppError::new(
                    1,
                    format!(
                        "{} is held by a running receiver{}: it writes that journal, so the backfill must go through it. Stop it and run this again (or run without --backfill to see the findings)",
                        args.journal.display(),
                        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                    ),
                ))
            }
            Err(journal::BackfillError::PartialTail) => {
                return Err(AppError::new(
                    1,
                    format!(
                        "{} ends in a cut-off line (a crash): run `recmon --resume {}` once first, which repairs it",
                        args.journal.display(),
                        args.journal.display()
                    ),
                ))
            }
            Err(journal::BackfillError::Io(e)) => {
                return Err(AppError::new(1, format!("backfill failed: {e}")))
            }
        }
    }
    let outcome = Outcome {
        from,
        to,
        read,
        summary,
        findings: found,
        backfilled,
        notes,
    };
    let text = if args.json {
        serde_json::to_string_pretty(&outcome).expect("findings serialize") + "\n"
    } else {
        table(&outcome)
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(AppError::new(1, format!("cannot write the output: {e}")));
            }
        }
    }
    Ok(())
}

fn kind_words(k: Kind) -> &'static str {
    match k {
        Kind::Missed => "sent to this receiver, never received",
        Kind::FailedAnswer => "received, but the provider saw a failed answer",
        Kind::OtherUrl => "sent to another URL",
        Kind::Config => "configuration",
        Kind::FileWithoutCallback => "a file with no generation callback",
        Kind::CallbackWithoutFile => "a generation callback with no file",
    }
}

/// The summary table, then one line per finding (untrusted text made inert).
pub fn table(o: &Outcome) -> String {
    let mut s = format!(
        "reconcile {} → {}\n",
        crate::core::journal::format_time(o.from),
        crate::core::journal::format_time(o.to)
    );
    for (what, n) in &o.read {
        s.push_str(&format!("  read {n} {what}\n"));
    }
    if o.summary.is_empty() {
        s.push_str("no findings: every callback the providers sent is in the journal\n");
    } else {
        s.push_str("\nkind                    count  meaning\n");
        for (k, n) in &o.summary {
            let name = serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            s.push_str(&format!("{name:<23} {n:>5}  {}\n", kind_words(*k)));
        }
        s.push('\n');
        for f in &o.findings {
            let name = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut line = format!(
                "{name:<23} {} {}",
                f.at.map(crate::core::journal::format_time)
                    .unwrap_or_else(|| "-".into()),
                terminal(&f.about, 120)
            );
            if let Some(seq) = f.seq {
                line.push_str(&format!(" #{seq}"));
            }
            for key in [
                "notify_type",
                "notify_result",
                "notify_url",
                "finding",
                "object",
                "uri",
            ] {
                if let Some(v) = f.evidence.get(key) {
                    line.push_str(&format!(" {key}={}", terminal(v, 160)));
                }
            }
            s.push_str(&line);
            s.push('\n');
        }
    }
    if let Some(b) = &o.backfilled {
        s.push_str(&format!(
            "\nbackfilled: {} written, {} already known, {} unreadable\n",
            b.get("written").unwrap_or(&0),
            b.get("already_known").unwrap_or(&0),
            b.get("unreadable").unwrap_or(&0)
        ));
    }
    for n in &o.notes {
        s.push_str(&format!("note: {}\n", terminal(n, 400)));
    }
    s
}
