//! `forward`: forwarding (`--forward-to`): ingest with async forwarding against none, ack
//! latency with the backend down, and an outbox draining once the backend is back.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::ab::{ab_row, req_s, Ab, Bound, Judge};
use super::harness::{free_port, get_json};
use super::report::{latency_verdict, throughput, Row, Verdict};
use super::{fixed_rate_args, Suite};

/// Waits until recmon's first forwarding target has nothing pending and `want` delivered;
/// the time it took, or `None` after `limit`.
fn wait_forwarded(addr: SocketAddr, want: u64, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let f = &get_json(addr, "/api/state")["forward"][0];
        if f["pending"] == 0 && f["delivered"].as_u64().unwrap_or(0) >= want {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// The `received_at` of each `delivered` line of a journal, in file order.
fn delivered_times(journal: &Path) -> Vec<chrono::DateTime<chrono::Utc>> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["delivery"]["result"] == "delivered").then_some(())?;
            chrono::DateTime::parse_from_rfc3339(v["received_at"].as_str()?)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc))
        })
        .collect()
}

impl Suite {
    /// Forwarding (`--forward-to`): ingest with async forwarding to a fast local backend (the
    /// bare hyper baseline server) against ingest without forwarding, A B A B; ack latency
    /// with the backend down against forwarding off; and how fast an outbox drains once a
    /// backend that was down comes back.
    pub fn forward(&mut self) {
        let n = self.size.requests;
        let target = |port: u16| format!("http://127.0.0.1:{port}/cb");
        // 1. Throughput, --fsync never (CPU-bound, the strictest case for added work).
        let (mut off, mut on, mut drain) = (vec![], vec![], vec![]);
        let mut invalid = None;
        for round in 0..3 {
            let port = free_port();
            let journal = self.work.path().join(format!("fwd-off-{round}.jsonl"));
            let r = self.spawn_recmon(
                port,
                &["--fsync", "never", "--journal", journal.to_str().unwrap()],
            );
            match self.rps_of(port, true) {
                Ok(v) => off.push(v),
                Err(e) => invalid = Some(format!("forwarding off: {e}")),
            }
            drop(r);
            let _ = std::fs::remove_file(&journal);

            let bport = free_port();
            let backend = self.spawn_baseline(bport);
            let port = free_port();
            let journal = self.work.path().join(format!("fwd-on-{round}.jsonl"));
            let to = target(bport);
            let r = self.spawn_recmon(
                port,
                &[
                    "--fsync",
                    "never",
                    "--journal",
                    journal.to_str().unwrap(),
                    "--forward-to",
                    &to,
                ],
            );
            let t0 = Instant::now();
            match self.rps_of(port, true) {
                Ok(v) => on.push(v),
                Err(e) => invalid = Some(format!("forwarding on: {e}")),
            }
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            match wait_forwarded(addr, n, Duration::from_secs(300)) {
                Some(_) => drain.push(n as f64 / t0.elapsed().as_secs_f64()),
                None => invalid = Some("not every callback was delivered within 300 s".into()),
            }
            drop(r);
            drop(backend);
            let _ = std::fs::remove_file(&journal);
        }
        self.rows.push(ab_row(Ab {
            what: "Forward: ingest with async forwarding to a fast local backend, --fsync never".into(),
            baseline: &off,
            recmon: &on,
            show: req_s,
            baseline_is: "forwarding off",
            recmon_is: None,
            decimals: 2,
            baseline_floor: None,
            target: "≥ 0.8×".into(),
            judge: Judge::Median(Bound::AtLeast(0.8)),
            invalid,
            raw: format!(
                "forwarding off {off:.0?} req/s, on {on:.0?} req/s (3 rounds, A B A B, {n} unique recordings over 32 connections); every callback delivered, end to end {drain:.0?} deliveries/s (from the first request to the last delivery)"
            ),
        }));

        // 2. Ack latency with the backend down, against forwarding off (--fsync batch).
        let rate = 10_000u64;
        let count = rate * self.size.latency_secs;
        let args = fixed_rate_args(rate, count);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let p99 =
            |v: &serde_json::Value| v["latency_us"]["p99"].as_u64().map(|us| us as f64 / 1000.0);
        let (mut base, mut down) = (vec![], vec![]);
        let (mut base_raw, mut down_raw) = (vec![], vec![]);
        let mut invalid = None;
        for round in 0..5 {
            let port = free_port();
            let journal = self.work.path().join(format!("fwd-lat-off-{round}.jsonl"));
            let r = self.spawn_recmon(port, &["--journal", journal.to_str().unwrap()]);
            let rep = self.load(port, &args);
            if latency_verdict(&rep, count, f64::MAX) != Verdict::of(true) {
                invalid = Some("forwarding off: not every request answered 2xx".to_string());
            }
            base.extend(p99(&rep));
            base_raw.push(rep["latency_us"].clone());
            drop(r);
            let dead = free_port();
            let port = free_port();
            let journal = self.work.path().join(format!("fwd-lat-down-{round}.jsonl"));
            let r = self.spawn_recmon(
                port,
                &[
                    "--journal",
                    journal.to_str().unwrap(),
                    "--forward-to",
                    &target(dead),
                ],
            );
            let rep = self.load(port, &args);
            if latency_verdict(&rep, count, f64::MAX) != Verdict::of(true) {
                invalid = Some("backend down: not every request answered 2xx".to_string());
            }
            down.extend(p99(&rep));
            down_raw.push(rep["latency_us"].clone());
            drop(r);
        }
        // A round without a p99 figure leaves the comparison short.
        let short = down.len() < 5 || base.len() < 5;
        self.rows.push(ab_row(Ab {
            what: format!("Forward: ack p99 at {rate} req/s with the backend down"),
            baseline: &base,
            recmon: &down,
            show: |ms| format!("p99 {ms:.2} ms"),
            baseline_is: "forwarding off",
            recmon_is: None,
            decimals: 2,
            baseline_floor: Some(0.001),
            target: "≤ 1.2×".into(),
            judge: Judge::Median(Bound::AtMost(1.2)),
            invalid: invalid.or_else(|| short.then(|| "no p99 figure".to_string())),
            raw: format!(
                "p99 off {base:.2?} ms, down {down:.2?} ms (5 rounds, A B A B, open loop, 32 connections, --fsync batch); latency off {base_raw:?}, down {down_raw:?}"
            ),
        }));

        // 3. Catch-up: callbacks pile up while the backend is down; then it comes back.
        let owed = (n / 4).max(1_000);
        let bport = free_port();
        let port = free_port();
        let journal = self.work.path().join("fwd-catchup.jsonl");
        let r = self.spawn_recmon(
            port,
            &[
                "--journal",
                journal.to_str().unwrap(),
                "--forward-to",
                &target(bport),
            ],
        );
        let c = owed.to_string();
        let rep = self.load(
            port,
            &["--connections", "32", "--count", &c, "--dup-every", "0"],
        );
        let loaded = throughput(&rep, owed, true);
        std::thread::sleep(Duration::from_secs(2));
        let up_at = chrono::Utc::now();
        let backend = self.spawn_baseline(bport);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let waited = wait_forwarded(addr, owed, Duration::from_secs(300));
        drop(r);
        drop(backend);
        let times = delivered_times(&journal);
        let (rate, raw) = match (times.first(), times.last()) {
            (Some(a), Some(z)) if times.len() as u64 >= owed => {
                let secs = ((*z - *a).num_milliseconds().max(1)) as f64 / 1000.0;
                let first_wait = (*a - up_at).num_milliseconds() as f64 / 1000.0;
                (
                    Some(times.len() as f64 / secs),
                    format!(
                        "{} callbacks owed over 65+ streams; backend up at t=0, first delivery at t={first_wait:.2} s (the streams' backoff), last at t={:.2} s; {} delivered lines in {secs:.2} s; all delivered per /api/state after {:?}",
                        owed,
                        first_wait + secs,
                        times.len(),
                        waited
                    ),
                )
            }
            _ => (
                None,
                format!("{} delivered of {owed}; waited {waited:?}", times.len()),
            ),
        };
        self.rows.push(Row {
            what: "Forward: catching up after an outage".into(),
            value: rate.map_or("none".into(), |r| format!("{r:.0} deliveries/s")),
            baseline: "-".into(),
            ratio: "-".into(),
            target: "≥ 5000 deliveries/s".into(),
            verdict: match (loaded, rate) {
                (Err(e), _) => Verdict::NotMeasured(format!("loading the outbox: {e}")),
                (_, None) => Verdict::NotMeasured("not every callback was delivered".into()),
                (Ok(_), Some(r)) => Verdict::of(r >= 5000.0),
            },
            raw,
        });
    }
}
