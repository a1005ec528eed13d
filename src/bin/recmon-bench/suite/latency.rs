//! `latency`: acknowledgement latency at a fixed rate, against the bare hyper baseline.

use super::harness::free_port;
use super::report::{latency_verdict, Row};
use super::{fixed_rate_args, Suite};

impl Suite {
    /// Acknowledgement latency at a fixed 10k requests/s.
    pub fn latency(&mut self) {
        let rate = 10_000u64;
        let count = rate * self.size.latency_secs;
        let args = fixed_rate_args(rate, count);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let port = free_port();
        let b = self.spawn_baseline(port);
        let base = self.load(port, &args);
        drop(b);
        let port = free_port();
        let journal = self.work.path().join("latency.jsonl");
        let r = self.spawn_recmon(port, &["--journal", journal.to_str().unwrap()]);
        let ours = self.load(port, &args);
        drop(r);
        // Milliseconds, or None when the report has no such figure (never read as 0).
        let ms = |v: &serde_json::Value, k: &str| {
            v["latency_us"][k].as_u64().map(|us| us as f64 / 1000.0)
        };
        let show = |v: Option<f64>| v.map_or("none".to_string(), |ms| format!("{ms:.2} ms"));
        let (p99, base_p99) = (ms(&ours, "p99"), ms(&base, "p99"));
        self.rows.push(Row {
            what: format!("Ack latency at {rate} req/s, 32 connections, --fsync batch"),
            value: format!(
                "p50 {}, p99 {}, max {}",
                show(ms(&ours, "p50")),
                show(p99),
                show(ms(&ours, "max"))
            ),
            baseline: format!(
                "p50 {}, p99 {} (bare hyper)",
                show(ms(&base, "p50")),
                show(base_p99)
            ),
            ratio: match (p99, base_p99) {
                (Some(o), Some(b)) => format!("p99 {:.1}×", o / b.max(0.001)),
                _ => "none".into(),
            },
            target: "p99 ≤ 5 ms".into(),
            verdict: latency_verdict(&ours, count, 5.0),
            raw: format!("recmon {ours}; baseline {base}"),
        });
    }
}
