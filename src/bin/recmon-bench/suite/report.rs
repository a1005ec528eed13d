//! The report's parts: a [`Row`] and its [`Verdict`], the sections' names ([`SECTIONS`]),
//! the findings generated from this run's rows, the rows an `--only` run carries over, and
//! the verdicts of the runs whose figures need checking first (latency, crash, throughput).

use std::fmt::Write as _;

/// One row of the results table.
pub struct Row {
    /// What is measured.
    pub what: String,
    /// recmon's figure.
    pub value: String,
    /// The baseline's figure.
    pub baseline: String,
    /// value / baseline (or the relevant ratio), as text.
    pub ratio: String,
    /// The target.
    pub target: String,
    /// Whether the target was reached.
    pub verdict: Verdict,
    /// The raw numbers behind it.
    pub raw: String,
}

/// Whether a row's target was reached. A figure that could not be measured is never "met":
/// a missing number must not read as a good one.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The target was reached.
    Met,
    /// The figure was measured and misses the target.
    Missed,
    /// There is no valid figure (the reason says why); counts as a failure.
    NotMeasured(String),
    /// A same-run comparison whose rounds disagree: some reach the target, some do not, so
    /// the run cannot tell a cost from noise (the reason gives the rounds). Not met: a "no
    /// cost" claim needs every round.
    InsideNoise(String),
}

impl Verdict {
    /// Met when `ok`, missed otherwise.
    pub fn of(ok: bool) -> Verdict {
        if ok {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }

    /// Whether the target was reached.
    pub fn is_met(&self) -> bool {
        *self == Verdict::Met
    }

    /// The verdict of a same-run A/B comparison from its per-round ratios (each round's
    /// pair ran back to back): met only when every round reaches the target (`ok`), missed
    /// when none does, and inside the run's noise when they disagree, whatever the median
    /// says.
    pub fn every_round(per_round: &[f64], ok: impl Fn(f64) -> bool) -> Verdict {
        let valid: Vec<f64> = per_round
            .iter()
            .copied()
            .filter(|r| r.is_finite())
            .collect();
        if valid.is_empty() {
            return Verdict::NotMeasured("no round gave a ratio".into());
        }
        let reached = valid.iter().filter(|r| ok(**r)).count();
        if reached == valid.len() {
            Verdict::Met
        } else if reached == 0 {
            Verdict::Missed
        } else {
            Verdict::InsideNoise(format!(
                "{reached} of {} rounds reach it (per-round ratios {valid:.2?})",
                valid.len()
            ))
        }
    }
}

/// The sections of the suite (`--only` names) and how their rows' names begin, so that a
/// report's rows can be told apart by section (also in a report written by an earlier run).
pub const SECTIONS: [(&str, &[&str]); 13] = [
    ("ingest", &["Ingest throughput, journal on"]),
    ("tui", &["Ingest throughput with the TUI"]),
    ("latency", &["Ack latency"]),
    ("screen", &["Callback to screen"]),
    ("frames", &["Frame cost"]),
    ("memory", &["Memory per recording"]),
    ("journal", &["Journal reading", "Restart:"]),
    ("load", &["Load:", "Crash:"]),
    ("attach", &["Attach:"]),
    ("forward", &["Forward:"]),
    ("alerts", &["Alerts:"]),
    ("providers", &["Providers:"]),
    ("verify", &["Verify:"]),
];

/// The heading of a report's raw numbers.
pub const RAW_HEADING: &str = "Raw numbers";
/// The heading of the rows an `--only` run carried over from the previous report.
pub const CARRIED_HEADING: &str = "Earlier figures, not measured in this run";

/// The section a row belongs to, from the row's name.
pub fn section_of(what: &str) -> Option<&'static str> {
    SECTIONS
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|p| what.starts_with(p)))
        .map(|(name, _)| *name)
}

/// What this run's figures say, generated from its rows: each target missed or not measured,
/// with the figure, its baseline and the target, and how busy the machine was. Nothing in it
/// comes from an earlier run.
pub fn findings(rows: &[Row], smoke: bool, load: &str) -> String {
    let mut t = String::from(
        "## What this run shows

",
    );
    if smoke {
        t.push_str(
            "This is a **smoke** run: the sizes are too small for the figures to mean \
             anything; it shows only that every section ran.\n\n",
        );
    }
    let _ = writeln!(t, "Machine load during the run: {load}.\n");
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.verdict.is_met()).collect();
    let met = rows.len() - failed.len();
    let _ = writeln!(
        t,
        "{} of {} met.",
        recmon::util::human::thousands(met as u64),
        recmon::util::human::count(rows.len() as u64, "target", "targets")
    );
    for r in &failed {
        let _ = match &r.verdict {
            Verdict::NotMeasured(why) => writeln!(
                t,
                "- **{}**: not measured ({why}); target {}.",
                r.what, r.target
            ),
            Verdict::InsideNoise(why) => writeln!(
                t,
                "- **{}**: {} against {}, {}; target {}: inside this run's noise, {why}.",
                r.what, r.value, r.baseline, r.ratio, r.target
            ),
            _ => writeln!(
                t,
                "- **{}**: {} against {}, {}; target {}.",
                r.what, r.value, r.baseline, r.ratio, r.target
            ),
        };
    }
    t.push('\n');
    t
}

/// From an earlier report (`old`), the table rows and raw-number lines of the sections this
/// run did not measure (`measured` holds the section names it did), so that `--only NAME`
/// replaces that section's rows and keeps the rest, marked as carried over.
pub fn carried_over(old: &str, measured: &[&str]) -> (Vec<String>, Vec<String>) {
    let keep = |what: &str| section_of(what).is_some_and(|s| !measured.contains(&s));
    let mut rows = Vec::new();
    let mut raw = Vec::new();
    // Raw-number lines look like the findings' lines; take them only from their sections.
    let mut in_raw = false;
    for line in old.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_raw = heading.starts_with(RAW_HEADING) || heading.starts_with(CARRIED_HEADING);
        } else if let Some(what) = line.strip_prefix("| ") {
            if keep(what) && !rows.iter().any(|r: &String| r == line) {
                rows.push(line.to_string());
            }
        } else if let Some(what) = line.strip_prefix("- **") {
            if in_raw && keep(what) && !raw.iter().any(|r: &String| r == line) {
                raw.push(line.to_string());
            }
        }
    }
    (rows, raw)
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Met => f.write_str("met"),
            Verdict::Missed => f.write_str("**missed**"),
            Verdict::NotMeasured(why) => write!(f, "**not measured**: {why}"),
            Verdict::InsideNoise(why) => write!(f, "**inside the noise**: {why}"),
        }
    }
}

/// The verdict of an open-loop latency run: `report` is the load generator's JSON report of
/// `count` requests, and its p99 must be at most `limit_ms`. A run where some request got no
/// 2xx answer, or with no latency figures at all, measured nothing.
pub fn latency_verdict(report: &serde_json::Value, count: u64, limit_ms: f64) -> Verdict {
    let ok = report["ok"].as_u64().unwrap_or(0);
    if ok != count {
        return Verdict::NotMeasured(format!(
            "{} of {} requests answered 2xx",
            recmon::util::human::thousands(ok),
            recmon::util::human::thousands(count)
        ));
    }
    match report["latency_us"]["p99"].as_u64() {
        Some(p99) => Verdict::of(p99 as f64 / 1000.0 <= limit_ms),
        None => Verdict::NotMeasured("the load generator reported no latency".into()),
    }
}

/// The verdict of the crash check: every request acknowledged before the kill is in the
/// journal, and the resumed state counts every journaled request. A run that acknowledged
/// nothing before the kill proves nothing, so it is not "met".
pub fn crash_verdict(acked: usize, missing: usize, resumed: u64, journaled: u64) -> Verdict {
    if acked == 0 {
        return Verdict::NotMeasured("nothing was acknowledged before the kill".into());
    }
    Verdict::of(missing == 0 && resumed == journaled)
}

/// Requests/s of one closed-loop throughput run of `count` requests, from the load
/// generator's report. Only a run where every request was answered 2xx counts; with
/// `all_new`, every answer must also say `accepted` (each request a new recording), so that
/// the figure is the new-recording path and not the cheaper duplicate answer.
pub fn throughput(report: &serde_json::Value, count: u64, all_new: bool) -> Result<f64, String> {
    let ok = report["ok"].as_u64().unwrap_or(0);
    let errors = report["errors"].as_u64().unwrap_or(0);
    if ok != count || errors != 0 {
        return Err(format!(
            "{} of {} requests answered 2xx, {} without an answer",
            recmon::util::human::thousands(ok),
            recmon::util::human::thousands(count),
            recmon::util::human::thousands(errors)
        ));
    }
    let accepted = report["accepted"].as_u64().unwrap_or(0);
    if all_new && accepted != count {
        return Err(format!(
            "{} of {} requests were accepted as new recordings",
            recmon::util::human::thousands(accepted),
            recmon::util::human::thousands(count)
        ));
    }
    report["rps"]
        .as_f64()
        .ok_or_else(|| "the load generator reported no rate".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_latency_run_without_figures_is_not_met() {
        // What the load generator reports when nothing was answered 2xx.
        let empty = json!({"ok": 0, "errors": 100, "latency_us": null});
        assert!(matches!(
            latency_verdict(&empty, 100, 5.0),
            Verdict::NotMeasured(_)
        ));
        // Every request answered, but no latency block at all.
        let no_report = json!({"ok": 100});
        assert!(matches!(
            latency_verdict(&no_report, 100, 5.0),
            Verdict::NotMeasured(_)
        ));
        // Some requests failed: the percentiles describe only the lucky ones.
        let partial = json!({"ok": 90, "latency_us": {"p50": 100, "p99": 200, "max": 300}});
        assert!(matches!(
            latency_verdict(&partial, 100, 5.0),
            Verdict::NotMeasured(_)
        ));
    }

    #[test]
    fn a_latency_run_with_figures_is_judged_on_its_p99() {
        let fast = json!({"ok": 100, "latency_us": {"p50": 100, "p99": 4_999, "max": 9_000}});
        assert_eq!(latency_verdict(&fast, 100, 5.0), Verdict::Met);
        let slow = json!({"ok": 100, "latency_us": {"p50": 100, "p99": 5_001, "max": 9_000}});
        assert_eq!(latency_verdict(&slow, 100, 5.0), Verdict::Missed);
    }

    #[test]
    fn a_crash_run_that_acknowledged_nothing_is_not_met() {
        assert_eq!(
            crash_verdict(0, 0, 0, 0),
            Verdict::NotMeasured("nothing was acknowledged before the kill".into())
        );
        assert_eq!(crash_verdict(1_000, 0, 1_010, 1_010), Verdict::Met);
        assert_eq!(crash_verdict(1_000, 1, 1_010, 1_010), Verdict::Missed);
        assert_eq!(crash_verdict(1_000, 0, 1_009, 1_010), Verdict::Missed);
    }

    #[test]
    fn throughput_counts_only_runs_of_2xx_new_recordings() {
        let good = json!({"ok": 100, "errors": 0, "accepted": 100, "rps": 5_000.0});
        assert_eq!(throughput(&good, 100, true), Ok(5_000.0));
        // The old fixed-body run: one accepted, the rest duplicates.
        let dups = json!({"ok": 100, "errors": 0, "accepted": 1, "duplicate": 99, "rps": 9e4});
        let err = throughput(&dups, 100, true).unwrap_err();
        assert!(err.contains("1 of 100"), "{err}");
        // Fast error pages are not throughput.
        let errors = json!({"ok": 0, "errors": 0, "accepted": 0, "rps": 0.0});
        assert!(throughput(&errors, 100, true).is_err());
    }

    #[test]
    fn a_not_measured_row_shows_as_a_failure_with_its_reason() {
        let v = Verdict::NotMeasured("nothing was acknowledged before the kill".into());
        assert!(!v.is_met());
        assert_eq!(
            v.to_string(),
            "**not measured**: nothing was acknowledged before the kill"
        );
    }

    #[test]
    fn a_no_cost_comparison_is_met_only_when_every_round_agrees() {
        let at_least = |r: f64| r >= 0.95;
        // The BENCHMARKS.md row that read "met" on its median alone.
        let v = Verdict::every_round(&[1.01, 1.04, 1.07, 0.97, 0.95], at_least);
        assert_eq!(v, Verdict::Met);
        let v = Verdict::every_round(&[0.97, 1.07, 1.10, 0.88, 1.13], at_least);
        assert!(!v.is_met(), "one round at 0.88× is not no cost: {v}");
        assert_eq!(
            v.to_string(),
            "**inside the noise**: 4 of 5 rounds reach it (per-round ratios [0.97, 1.07, 1.10, 0.88, 1.13])"
        );
        assert_eq!(
            Verdict::every_round(&[0.80, 0.85], at_least),
            Verdict::Missed
        );
        assert!(matches!(
            Verdict::every_round(&[f64::NAN], at_least),
            Verdict::NotMeasured(_)
        ));
        let f = findings(&[row("Alerts: x", "1 req/s", v)], false, "quiet");
        assert!(
            f.contains("inside this run's noise, 4 of 5 rounds reach it"),
            "{f}"
        );
    }

    fn row(what: &str, value: &str, verdict: Verdict) -> Row {
        Row {
            what: what.into(),
            value: value.into(),
            baseline: "100 req/s (bare hyper)".into(),
            ratio: "0.42×".into(),
            target: "≥ 0.8×".into(),
            verdict,
            raw: "raw".into(),
        }
    }

    #[test]
    fn findings_come_from_this_runs_rows() {
        let rows = [
            row(
                "Ingest throughput, journal on, --fsync never",
                "42 req/s",
                Verdict::Missed,
            ),
            row(
                "Frame cost, following the newest rows",
                "1 ms",
                Verdict::Met,
            ),
            row(
                "Ack latency at 10000 req/s",
                "none",
                Verdict::NotMeasured("0 of 10 requests answered 2xx".into()),
            ),
        ];
        let text = findings(&rows, false, "load 3.1");
        assert!(text.contains("1 of 3 targets met."), "{text}");
        assert!(
            text.contains(
                "- **Ingest throughput, journal on, --fsync never**: 42 req/s against \
                 100 req/s (bare hyper), 0.42×; target ≥ 0.8×."
            ),
            "{text}"
        );
        assert!(
            text.contains("not measured (0 of 10 requests answered 2xx)"),
            "{text}"
        );
        assert!(!text.contains("Frame cost"), "{text}");
        assert!(text.contains("load 3.1"), "{text}");
    }

    #[test]
    fn every_row_name_belongs_to_a_section() {
        for (what, section) in [
            ("Ingest throughput, journal on, --fsync batch", "ingest"),
            ("Ingest throughput with the TUI in a pty (200×50)", "tui"),
            ("Ack latency at 10000 req/s", "latency"),
            ("Callback to screen (POST → row visible)", "screen"),
            ("Frame cost, filter active (from setting it)", "frames"),
            ("Memory per recording held (20000 recordings)", "memory"),
            ("Journal reading (load journal): --resume", "journal"),
            ("Load: 5000 callbacks", "load"),
            ("Crash: kill -9 mid-load, then --resume", "load"),
            (
                "Ingest throughput, journal on, --fsync never: this build ÷ 0e561f3",
                "ingest",
            ),
            ("Attach: ingest with 50 /api/events subscribers", "attach"),
            ("Attach: catch-up of a 1000000-entry journal", "attach"),
        ] {
            assert_eq!(section_of(what), Some(section), "{what}");
        }
        assert_eq!(section_of("Something else"), None);
    }

    #[test]
    fn an_only_run_keeps_the_other_sections_rows_and_replaces_its_own() {
        let old = "\
| measure | recmon | baseline (same run) | ratio | target | verdict |
|---|---|---|---|---|---|
| Ingest throughput, journal on, --fsync never | 1 req/s | 2 req/s | 0.50× | ≥ 0.8× | **missed** |
| Frame cost, following the newest rows | 0.4 ms | 0.4 ms | 1.00× | ≤ 2 ms | met |

## What this run shows

- **Frame cost, following the newest rows**: a finding line, not a raw line.

## Raw numbers

- **Ingest throughput, journal on, --fsync never**: old ingest raw
- **Frame cost, following the newest rows**: old frame raw
";
        let (rows, raw) = carried_over(old, &["ingest"]);
        assert_eq!(
            rows,
            ["| Frame cost, following the newest rows | 0.4 ms | 0.4 ms | 1.00× | ≤ 2 ms | met |"]
        );
        assert_eq!(
            raw,
            ["- **Frame cost, following the newest rows**: old frame raw"]
        );
        // Carried rows are carried again by the next --only run, without doubling.
        let twice = format!("{old}\n## {CARRIED_HEADING}\n\n{}\n\n{}\n", rows[0], raw[0]);
        assert_eq!(carried_over(&twice, &["ingest"]), (rows, raw));
        assert_eq!(carried_over(old, &["ingest", "frames"]), (vec![], vec![]));
    }
}
