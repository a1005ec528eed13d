//! `alerts`: the alert engine: ingest with every rule on against `--no-alerts`, and one
//! evaluation tick over many streams.

use std::time::Instant;

use super::ab::{ab_row, req_s, Ab, Bound, Judge};
use super::frames;
use super::harness::free_port;
use super::report::{Row, Verdict};
use super::{median, Suite};

impl Suite {
    /// The alert engine: ingest with every rule on against `--no-alerts` (the load makes about
    /// 2,000 streams), A B A B; and one evaluation tick over 1,000 streams in every state,
    /// against a pass over the same streams that reads each one's state (the floor of any
    /// per-stream rule).
    pub fn alerts(&mut self) {
        let (mut on, mut off) = (vec![], vec![]);
        let mut invalid = None;
        for round in 0..3 {
            for (alerts, into) in [(false, &mut off), (true, &mut on)] {
                let port = free_port();
                let journal = self
                    .work
                    .path()
                    .join(format!("alerts-{alerts}-{round}.jsonl"));
                let mut args = vec!["--fsync", "never", "--journal", journal.to_str().unwrap()];
                if !alerts {
                    args.push("--no-alerts");
                }
                let r = self.spawn_recmon(port, &args);
                match self.rps_of(port, true) {
                    Ok(v) => into.push(v),
                    Err(e) => invalid = Some(e),
                }
                drop(r);
                let _ = std::fs::remove_file(&journal);
            }
        }
        self.rows.push(ab_row(Ab {
            what: "Alerts: ingest with every rule on, --fsync never".into(),
            baseline: &off,
            recmon: &on,
            show: req_s,
            baseline_is: "--no-alerts",
            recmon_is: None,
            decimals: 3,
            baseline_floor: None,
            target: "≥ 0.95× in every round (≤ 5% cost)".into(),
            judge: Judge::EveryRound(Bound::AtLeast(0.95)),
            invalid,
            raw: format!(
                "alerts on {on:.0?} req/s, off {off:.0?} req/s (3 rounds, A B A B, {} unique recordings over 32 connections, one evaluation a second)",
                self.size.requests
            ),
        }));

        let mut store = frames::alerting_store(1000);
        let now = chrono::DateTime::from_timestamp(1_795_780_800 + 4000, 0).unwrap();
        let mut ticks = Vec::new();
        let mut floor = Vec::new();
        for i in 0..200 {
            let t = now + chrono::Duration::seconds(i);
            let t0 = Instant::now();
            let events = recmon::core::alerts::tick(&mut store, t);
            ticks.push(t0.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(events);
            let t0 = Instant::now();
            let mut n = 0usize;
            for s in store.streams() {
                n += (s.state as usize) + s.recordings as usize;
            }
            std::hint::black_box(n);
            floor.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        let firing = store.alerts().firing().len();
        let (tick, base) = (median(&mut ticks.clone()), median(&mut floor.clone()));
        ticks.sort_by(|a, b| a.total_cmp(b));
        let worst = ticks.last().copied().unwrap_or(0.0);
        self.rows.push(Row {
            what: "Alerts: one evaluation tick, 1,000 streams, every rule".into(),
            value: format!("median {tick:.0} µs, max {worst:.0} µs"),
            baseline: format!("{base:.1} µs (reading each stream's state)"),
            ratio: format!("{:.0}×", tick / base.max(0.001)),
            target: "≤ 1 ms (median tick)".into(),
            verdict: Verdict::of(tick <= 1000.0),
            raw: format!(
                "200 ticks over the same store; the first is the max: it fires all {firing} alerts at once (a message each); later ticks format nothing for alerts that keep firing. The tick holds the store's lock for this long once a second"
            ),
        });
    }
}
