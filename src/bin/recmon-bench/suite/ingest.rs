//! `ingest`: ingest throughput, recmon headless with the journal on against the bare hyper
//! baseline, and with a before build, this build against it.

use std::path::Path;

use super::ab::{ab_row, per_round, req_s, Ab, Bound, Judge};
use super::harness::free_port;
use super::Suite;

impl Suite {
    /// Ingest throughput: recmon headless with the journal on vs the bare hyper baseline. With
    /// a before build (`--before-bin`), every round also runs it, in alternating order with
    /// this build, and a second row per fsync mode gives after/before.
    pub fn ingest(&mut self) {
        let before = self.before.clone();
        // More rounds when two recmon builds are compared: their difference is small next to
        // the machine's noise, so the medians need more runs.
        let rounds = if before.is_some() { 5 } else { 2 };
        for (fsync, target) in [("never", 0.8), ("batch", 0.5)] {
            let (mut base, mut ours, mut old) = (vec![], vec![], vec![]);
            let mut invalid = None;
            let mut invalid_old = None;
            for round in 0..rounds {
                let port = free_port();
                let _b = self.spawn_baseline(port);
                match self.rps_of(port, true) {
                    Ok(v) => base.push(v),
                    Err(e) => invalid = Some(format!("baseline: {e}")),
                }
                drop(_b);
                // Before and after alternate which goes first, so neither always runs right
                // after the baseline.
                let mut order: Vec<Option<&Path>> = vec![None];
                if let Some((bin, _)) = &before {
                    order.insert((round % 2) as usize, Some(bin.as_path()));
                }
                for bin in order {
                    let port = free_port();
                    let journal = self
                        .work
                        .path()
                        .join(format!("ingest-{fsync}-{round}.jsonl"));
                    let args = ["--fsync", fsync, "--journal", journal.to_str().unwrap()];
                    let _r = match bin {
                        Some(b) => self.spawn_recmon_of(b, port, &args),
                        None => self.spawn_recmon(port, &args),
                    };
                    match (self.rps_of(port, true), bin) {
                        (Ok(v), None) => ours.push(v),
                        (Ok(v), Some(_)) => old.push(v),
                        (Err(e), None) => invalid = Some(format!("recmon: {e}")),
                        (Err(e), Some(_)) => invalid_old = Some(format!("before build: {e}")),
                    }
                    drop(_r);
                    let _ = std::fs::remove_file(&journal);
                }
            }
            let raw = format!(
                "baseline {base:.0?} req/s, recmon {ours:.0?} req/s ({rounds} rounds, A B A B); \
                 {} unique recordings per run, only 2xx answers counted",
                self.size.requests
            );
            self.rows.push(ab_row(Ab {
                what: format!("Ingest throughput, journal on, --fsync {fsync}"),
                baseline: &base,
                recmon: &ours,
                show: req_s,
                baseline_is: "bare hyper",
                recmon_is: None,
                decimals: 2,
                baseline_floor: None,
                target: format!("≥ {target}×"),
                judge: Judge::Median(Bound::AtLeast(target)),
                invalid: invalid.clone(),
                raw,
            }));
            if let Some((_, label)) = &before {
                // Per round, after ÷ before: the pairs ran back to back, so this shows whether
                // the medians' ratio is a steady difference or one noisy round.
                let per_round = per_round(&ours, &old);
                self.rows.push(ab_row(Ab {
                    what: format!(
                        "Ingest throughput, journal on, --fsync {fsync}: this build ÷ {label}"
                    ),
                    baseline: &old,
                    recmon: &ours,
                    show: req_s,
                    baseline_is: label,
                    recmon_is: Some("this build"),
                    decimals: 2,
                    baseline_floor: None,
                    target: "≥ 0.95× in every round (no ingest cost)".into(),
                    judge: Judge::EveryRound(Bound::AtLeast(0.95)),
                    invalid: invalid.clone().or(invalid_old),
                    raw: format!(
                        "{label} {old:.0?} req/s, this build {ours:.0?} req/s, interleaved over \
                         {rounds} rounds (before and after alternate which goes first); per-round \
                         ratios {per_round:.2?}"
                    ),
                }));
            }
        }
    }
}
