//! `recmon verify JOURNAL --verify RULE…`: checks every recording of a finished session
//! against its file, as the running receiver does (see [`crate::verifier`]), and prints a
//! table (or `--json`, one object per recording). The exit status is for a nightly job: 0 when
//! every file is `ok`, 1 when any file failed (short, long, empty, broken, missing, no audio or
//! no video), 3 when none failed but some could not be checked (no rule, no credentials, 403,
//! timeout: recmon's access, not the recording).
//!
//! The journal is only read: verdicts are printed, not journaled (a running receiver's
//! journal is its own; `--verify` on the receiver journals them as it goes).

use std::ops::ControlFlow;

use futures::StreamExt;
use serde::Serialize;

use crate::cli::VerifyToolArgs;
use crate::core::checks::FileVerdict;
use crate::core::rebuild::{callback_of_ref, for_each_line, LineRef};
use crate::error::AppError;
use crate::event::Callback;
use crate::util::human::{count, hms};
use crate::util::sanitize::terminal;
use crate::verifier::{check, FileJob, VerifyConfig};
use crate::verify::location::Rules;
use crate::verify::reader::Credentials;
use crate::verify::verdict::Verdict;

/// One recording and its verdict, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Checked {
    /// The recording callback's seq in the journal.
    pub seq: u64,
    /// `domain/app/stream`.
    pub stream: String,
    /// The file the callback named.
    pub uri: String,
    /// The verdict and what was measured.
    #[serde(flatten)]
    pub verdict: FileVerdict,
}

/// Every accepted recording of a journal, with its stream, in seq order.
pub fn recordings(journal: &std::path::Path) -> std::io::Result<Vec<(FileJob, String)>> {
    let mut out = Vec::new();
    for_each_line(
        journal,
        |line| {
            if let LineRef::Request(e) = line {
                if let Some(cb @ Callback::Recording(r)) = callback_of_ref(e).as_ref() {
                    if let Some(job) = FileJob::of_line(e.line, Some(cb)) {
                        let id = &r.id;
                        out.push((job, format!("{}/{}/{}", id.domain, id.app, id.stream)));
                    }
                }
            }
            ControlFlow::Continue(())
        },
        |_| {},
    )?;
    Ok(out)
}

/// Runs `recmon verify`.
pub async fn run(args: VerifyToolArgs) -> Result<(), AppError> {
    let rules =
        Rules::parse(&args.verify, &args.verify_path_map).map_err(|e| AppError::new(2, e))?;
    let mut cfg = VerifyConfig::new(rules);
    cfg.concurrency = args.concurrency as usize;
    cfg.missing_for = args.missing_for;
    cfg.timeout = args.timeout;
    let path = args.journal.clone();
    let files = tokio::task::spawn_blocking(move || recordings(&path))
        .await
        .map_err(|e| AppError::new(1, format!("verify failed: {e}")))?
        .map_err(|e| {
            AppError::new(
                1,
                format!(
                    "cannot read the journal {}: {e}. Expected the path of a recmon journal (recmon-*.jsonl)",
                    args.journal.display()
                ),
            )
        })?;
    let bar = crate::util::progress::count_bar(files.len() as u64, "verify");
    let creds = Credentials::from_env();
    let (cfg, creds) = (&cfg, &creds);
    let mut checked: Vec<Checked> = futures::stream::iter(files)
        .map(|(job, stream)| {
            let bar = bar.clone();
            async move {
                let verdict = check(&job, cfg, creds).await;
                bar.inc(1);
                Checked {
                    seq: job.of,
                    stream,
                    uri: job.uri,
                    verdict,
                }
            }
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    checked.sort_by_key(|c| c.seq);
    let text = if args.json {
        let mut s = String::new();
        for c in &checked {
            s.push_str(&serde_json::to_string(c).expect("a verdict serializes"));
            s.push('\n');
        }
        s
    } else {
        table(&checked)
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
    let failed = checked.iter().filter(|c| c.verdict.failed()).count();
    let unchecked = checked
        .iter()
        .filter(|c| matches!(c.verdict.verdict, Verdict::Unchecked(_)))
        .count();
    if failed > 0 {
        return Err(AppError::new(
            1,
            format!(
                "verify: {} of {} failed",
                count(failed as u64, "recording", "recordings"),
                checked.len()
            ),
        ));
    }
    if unchecked > 0 {
        return Err(AppError::new(
            3,
            format!(
                "verify: none failed, but {} could not be checked (see the verdicts)",
                count(unchecked as u64, "recording", "recordings")
            ),
        ));
    }
    Ok(())
}

/// A duration for the table: `1:02:03`, `-` when none.
fn dur(s: Option<f64>) -> String {
    s.map_or_else(|| "-".to_string(), |s| hms(s.round() as i64))
}

/// The table: one row per recording, then the counts by verdict.
pub fn table(checked: &[Checked]) -> String {
    let mut rows = vec![[
        "seq".to_string(),
        "stream".into(),
        "file".into(),
        "claimed".into(),
        "measured".into(),
        "verdict".into(),
    ]];
    for c in checked {
        let mut v = c.verdict.verdict.to_string();
        for also in &c.verdict.also {
            v.push_str(&format!(", {also}"));
        }
        rows.push([
            c.seq.to_string(),
            terminal(&c.stream, 60).into_owned(),
            terminal(&c.uri, 80).into_owned(),
            dur(c.verdict.claimed_s),
            dur(c.verdict.measured_s),
            v,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| unicode_width::UnicodeWidthStr::width(r[i].as_str()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                let pad = w.saturating_sub(unicode_width::UnicodeWidthStr::width(c.as_str()));
                format!("{c}{}", " ".repeat(pad))
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for c in checked {
        *by.entry(c.verdict.verdict.to_string()).or_default() += 1;
    }
    let summary: Vec<String> = by.iter().map(|(k, n)| format!("{n} {k}")).collect();
    out.push_str(&format!(
        "{}: {}\n",
        count(checked.len() as u64, "recording", "recordings"),
        if summary.is_empty() {
            "none in this journal".to_string()
        } else {
            summary.join(", ")
        }
    ));
    out
}
