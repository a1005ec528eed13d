//! `recmon reconcile`: what the providers' own records say that the journal does not.
//!
//! The command: reads the journal, has [`crate::reconciler`] ask the providers' APIs for the
//! window and compare, fills in the missed callbacks (`--backfill`) and prints the findings.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::cli::ReconcileArgs;
use crate::error::AppError;
use crate::reconciler::findings::Kind;
use crate::reconciler::{journal, reconcile, Outcome, Settings, MARGIN};
use crate::util::sanitize::terminal;

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
    let settings = Settings {
        url: args.url.clone(),
        domains: args.domain.clone(),
        aliyun_endpoint: args.aliyun_endpoint.clone(),
        tencent_endpoint: args.tencent_endpoint.clone(),
    };
    let started = Utc::now();
    let mut outcome = reconcile(received, from, to, &settings)
        .await
        .map_err(|e| AppError::new(2, e))?;
    if args.backfill {
        match journal::backfill(&args.journal, &outcome, started).await {
            Ok(b) => {
                outcome.backfilled = Some(BTreeMap::from([
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
