//! `load`: the full-size load and crash check: 64 connections with retries, then kill -9 in
//! the middle of a load and `--resume`.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{free_port, get_json, Proc};
use super::report::{crash_verdict, Row, Verdict};
use super::Suite;

impl Suite {
    /// The full-size load and crash check (issue 5): 64 connections, retries mixed in, then
    /// kill -9 in the middle of a load and --resume.
    pub fn load_and_crash(&mut self) {
        let port = free_port();
        let journal = self.work.path().join("load.jsonl");
        let r = self.spawn_recmon(port, &["--journal", journal.to_str().unwrap()]);
        let acked = self.work.path().join("acked.txt");
        let count = self.size.load_requests.to_string();
        let report = self.load(
            port,
            &[
                "--connections",
                "64",
                "--count",
                &count,
                "--dup-every",
                "10",
                "--acked-file",
                acked.to_str().unwrap(),
            ],
        );
        let state = get_json(SocketAddr::from(([127, 0, 0, 1], port)), "/api/state");
        drop(r);
        let lines = std::fs::read_to_string(&journal).unwrap().lines().count() as u64;
        let acked_n = std::fs::read_to_string(&acked).unwrap().lines().count() as u64;
        let accepted = state["requests"]["accepted"].as_u64().unwrap();
        let duplicate = state["requests"]["duplicate"].as_u64().unwrap();
        let ok = lines == self.size.load_requests
            && acked_n == self.size.load_requests
            && accepted == report["accepted"].as_u64().unwrap()
            && duplicate == report["duplicate"].as_u64().unwrap();
        self.rows.push(Row {
            what: format!("Load: {count} callbacks, 64 connections, 10% retries"),
            value: format!(
                "{acked_n} acknowledged, {lines} journal lines, state {accepted} accepted + {duplicate} duplicate; {} lost",
                self.size.load_requests.saturating_sub(lines.min(acked_n))
            ),
            baseline: format!("{} sent", report["sent"]),
            ratio: format!("{:.0} req/s", report["rps"].as_f64().unwrap()),
            target: "0 lost, all agree".into(),
            verdict: Verdict::of(ok),
            raw: format!("load report {report}"),
        });

        // Crash: kill -9 in the middle of a load, then --resume.
        let port = free_port();
        let journal = self.work.path().join("crash.jsonl");
        let mut r = self.spawn_recmon(port, &["--journal", journal.to_str().unwrap()]);
        let acked = self.work.path().join("crash-acked.txt");
        let load = Command::new(self.bench())
            .args([
                "load",
                "--to",
                &format!("127.0.0.1:{port}"),
                "--connections",
                "64",
            ])
            .args(["--count", "100000000", "--dup-every", "10", "--acked-file"])
            .arg(&acked)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let target = (self.size.load_requests / 2) * 300; // about half the load's bytes
        let start = Instant::now();
        while std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0) < target
            && start.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = r.0.kill();
        let _ = r.0.wait();
        let _ = Proc(load).0.wait();
        let acked_lines = std::fs::read_to_string(&acked).unwrap();
        let acked_seqs: Vec<u64> = acked_lines
            .lines()
            .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
            .collect();
        let raw = std::fs::read_to_string(&journal).unwrap();
        let journal_seqs: std::collections::HashSet<u64> = raw
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["seq"].as_u64())
            .collect();
        let missing = acked_seqs
            .iter()
            .filter(|s| !journal_seqs.contains(s))
            .count();
        let port = free_port();
        let started = Instant::now();
        let _resumed = self.spawn_resumed(port, &journal);
        let resume_s = started.elapsed().as_secs_f64();
        let state = get_json(SocketAddr::from(([127, 0, 0, 1], port)), "/api/state");
        let total = state["requests"]["accepted"].as_u64().unwrap()
            + state["requests"]["duplicate"].as_u64().unwrap()
            + state["requests"]["rejected"].as_u64().unwrap();
        self.rows.push(Row {
            what: "Crash: kill -9 mid-load, then --resume".into(),
            value: format!(
                "{} acknowledged before the kill, {missing} missing from the journal; resumed state holds all {} journaled requests",
                acked_seqs.len(),
                total
            ),
            baseline: format!("{} journal lines", journal_seqs.len()),
            ratio: format!("resume {resume_s:.2} s"),
            target: "0 acknowledged lost (needs > 0 acknowledged)".into(),
            verdict: crash_verdict(
                acked_seqs.len(),
                missing,
                total,
                journal_seqs.len() as u64,
            ),
            raw: format!("journal {} bytes", raw.len()),
        });
    }
}
