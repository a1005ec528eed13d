//! The benchmark suite still runs (smoke size: it checks that every section works, not the
//! numbers, which need a release build and a quiet machine: `bash bench/run.sh`).

use std::process::Command;

#[test]
fn benchmark_suite_runs_in_smoke_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    let run = Command::new(env!("CARGO_BIN_EXE_recmon-bench"))
        .args(["run", "--smoke", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = std::fs::read_to_string(&out).unwrap();
    for row in [
        "Ingest throughput, journal on, --fsync never",
        "Ingest throughput, journal on, --fsync batch",
        "Ingest throughput with the TUI in a pty",
        "Ack latency at 10000 req/s",
        "Callback to screen",
        "Frame cost, following the newest rows",
        "Frame cost, filter active",
        "Memory per recording held",
        "Journal reading (load journal): export --format jsonl",
        "Journal reading (load journal): --resume",
        "Journal reading (broadcast journal): --resume",
        "Load: 5000 callbacks, 64 connections",
        "Crash: kill -9 mid-load, then --resume",
        "Attach: ingest with 50 /api/events subscribers",
        "Attach: callback to an /api/events subscriber (attach feed client)",
        "Attach: callback to recmon attach --json",
        "Attach: catch-up of a 20000-entry journal (attach feed client)",
        "Attach: catch-up of a 20000-entry journal (recmon attach --json)",
    ] {
        assert!(report.contains(row), "missing row {row:?}:\n{report}");
    }
    // The load and crash checks are correctness checks even at smoke size.
    for line in report
        .lines()
        .filter(|l| l.starts_with("| Load") || l.starts_with("| Crash"))
    {
        assert!(line.ends_with("| met |"), "{line}");
    }
    // Throughput and latency runs must be valid runs even when their figures are meaningless:
    // every request answered 2xx and, for recmon, accepted as a new recording.
    for line in report
        .lines()
        .filter(|l| l.starts_with("| Ingest") || l.starts_with("| Ack latency"))
    {
        assert!(!line.contains("not measured"), "{line}");
    }
    // The attached runs are valid at any size: the 50 subscribers each got every entry once
    // and in order, every probe reached the feed client and `recmon attach --json`, and both
    // caught up to the journal's last entry.
    for line in report.lines().filter(|l| l.starts_with("| Attach:")) {
        assert!(!line.contains("not measured"), "{line}");
    }
    // What the run shows is generated from its own rows; no earlier run's figures.
    assert!(report.contains("## What this run shows"), "{report}");
    assert!(report.contains("This is a **smoke** run"), "{report}");
    assert!(!report.contains("Earlier figures"), "{report}");
}
