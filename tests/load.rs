//! Load and crash: a second process (`recmon-bench load`) sends callbacks over 64 keep-alive
//! connections with retries mixed in; then the acknowledgements, the journal and /api/state
//! must agree with nothing lost.
//!
//! Size: `RECMON_LOAD_COUNT` (default 20,000 in CI). The benchmark script runs 200,000.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;

use common::*;
use recmon::tools::loadgen::{body_for, is_retry};

const DUP_EVERY: u64 = 10;

fn load_count() -> u64 {
    std::env::var("RECMON_LOAD_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn bench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_recmon-bench")
}

fn load_cmd(r: &Recmon, count: u64, acked: &std::path::Path) -> Command {
    let mut c = Command::new(bench_bin());
    c.args(["load", "--to"])
        .arg(r.addr.to_string())
        .args(["--connections", "64", "--count"])
        .arg(count.to_string())
        .args(["--dup-every", &DUP_EVERY.to_string(), "--acked-file"])
        .arg(acked);
    c
}

/// (index, seq, outcome) for every acknowledged request.
fn read_acked(path: &std::path::Path) -> Vec<(u64, u64, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split(' ');
            (
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn load_with_retries_loses_nothing() {
    let count = load_count();
    // The load's callbacks only in the journal: no alert lines.
    let r = Recmon::start(&["--fsync", "batch", "--no-alerts"]);
    let acked_path = r.dir.join("acked.txt");
    let out = load_cmd(&r, count, &acked_path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["statuses"]["200"], count, "{report}");

    let retries = (0..count).filter(|i| is_retry(*i, DUP_EVERY)).count() as u64;
    let distinct: HashSet<String> = (0..count).map(|i| body_for(i, DUP_EVERY)).collect();
    assert_eq!(distinct.len() as u64, count - retries);
    assert_eq!(report["accepted"], count - retries, "{report}");
    assert_eq!(report["duplicate"], retries, "{report}");

    let st = r.state();
    assert_eq!(st["requests"]["accepted"], count - retries);
    assert_eq!(st["requests"]["duplicate"], retries);
    assert_eq!(st["requests"]["rejected"], 0);
    let recordings = distinct.iter().filter(|b| b.contains("\"uri\"")).count();
    assert_eq!(st["recordings_total"], recordings as u64);

    let lines = r.journal_lines();
    assert_eq!(lines.len() as u64, count, "one journal line per request");
    let by_seq: HashMap<u64, &serde_json::Value> = lines
        .iter()
        .map(|l| (l["seq"].as_u64().unwrap(), l))
        .collect();
    assert_eq!(by_seq.len() as u64, count, "seq numbers are unique");
    let acked = read_acked(&acked_path);
    assert_eq!(acked.len() as u64, count);
    for (i, seq, outcome) in &acked {
        let line = by_seq
            .get(seq)
            .unwrap_or_else(|| panic!("acked seq {seq} missing"));
        assert_eq!(line["outcome"].as_str().unwrap(), outcome);
        assert_eq!(
            line["body"],
            serde_json::from_str::<serde_json::Value>(&body_for(*i, DUP_EVERY)).unwrap(),
            "seq {seq} holds another request's body"
        );
    }
}

#[test]
fn kill_9_mid_load_keeps_every_acknowledged_callback() {
    let mut r = Recmon::start(&["--fsync", "batch", "--no-alerts"]);
    let acked_path = r.dir.join("acked.txt");
    // Far more than can finish before the kill.
    let load = load_cmd(&r, 10_000_000, &acked_path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until a few thousand are journaled, then kill without warning.
    let start = std::time::Instant::now();
    while std::fs::metadata(&r.journal).map(|m| m.len()).unwrap_or(0) < 1_000_000 {
        assert!(start.elapsed().as_secs() < 60, "load did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    r.kill9();
    let out = load.wait_with_output().unwrap();
    assert!(out.status.success());

    let acked = read_acked(&acked_path);
    assert!(acked.len() > 1000, "only {} acknowledged", acked.len());
    let raw = std::fs::read_to_string(&r.journal).unwrap();
    // Every complete line parses; at most the last one is cut.
    let mut by_seq = HashMap::new();
    let lines: Vec<&str> = raw.split_inclusive('\n').collect();
    for (n, l) in lines.iter().enumerate() {
        match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) => {
                by_seq.insert(v["seq"].as_u64().unwrap(), v);
            }
            Err(e) => assert!(
                n == lines.len() - 1 && !l.ends_with('\n'),
                "line {} is garbled: {e}",
                n + 1
            ),
        }
    }
    for (i, seq, outcome) in &acked {
        let line = by_seq.get(seq).unwrap_or_else(|| {
            panic!("acknowledged seq {seq} (request {i}) is not in the journal")
        });
        assert_eq!(line["outcome"].as_str().unwrap(), outcome);
        assert_eq!(
            line["body"],
            serde_json::from_str::<serde_json::Value>(&body_for(*i, DUP_EVERY)).unwrap()
        );
    }

    // Restart with --resume: the rebuilt state holds every acknowledged callback.
    let journal = r.journal.clone();
    let resumed = Recmon::start_in(
        &r.dir,
        &journal,
        &["--no-alerts", "--resume", journal.to_str().unwrap()],
    );
    let st = resumed.state();
    let journaled_accepted = by_seq
        .values()
        .filter(|l| l["outcome"] == "accepted")
        .count();
    assert_eq!(st["requests"]["accepted"], journaled_accepted as u64);
    let acked_accepted = acked.iter().filter(|a| a.2 == "accepted").count();
    assert!(journaled_accepted >= acked_accepted);
    let mut acked_per_stream: HashMap<String, u64> = HashMap::new();
    for (i, _, outcome) in &acked {
        let body: serde_json::Value = serde_json::from_str(&body_for(*i, DUP_EVERY)).unwrap();
        if outcome == "accepted" && body.get("uri").is_some() {
            *acked_per_stream
                .entry(body["stream"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    for s in st["streams"].as_array().unwrap() {
        let name = s["stream"].as_str().unwrap();
        let want = acked_per_stream.remove(name).unwrap_or(0);
        assert!(
            s["recordings"].as_u64().unwrap() >= want,
            "stream {name}: {} recordings after resume, {want} acknowledged",
            s["recordings"]
        );
    }
    assert!(
        acked_per_stream.is_empty(),
        "streams missing after resume: {acked_per_stream:?}"
    );
    // New requests continue the journal's seq.
    let (status, body) = resumed.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 200);
    let max_seq = by_seq.keys().max().copied().unwrap();
    assert!(body.contains(&format!("\"seq\":{}", max_seq + 1)), "{body}");
}
