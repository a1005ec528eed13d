//! `memory`: RSS growth per recording held, against holding the same strings alone.

use std::process::Command;

use super::report::{Row, Verdict};
use super::Suite;

impl Suite {
    /// RSS growth per recording held, against holding the same strings alone.
    pub fn memory(&mut self) {
        let n = self.size.big.to_string();
        let run = |mode: &str| -> f64 {
            let out = Command::new(self.bench())
                .args(["memory", "--recordings", &n, "--mode", mode])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["bytes_per_recording"].as_f64().unwrap()
        };
        let store = run("store");
        let strings = run("strings");
        let overhead = store - strings;
        self.rows.push(Row {
            what: format!("Memory per recording held ({} recordings)", self.size.big),
            value: format!("{store:.0} B (store) → {overhead:.0} B beyond the strings"),
            baseline: format!("{strings:.0} B (the same strings alone)"),
            ratio: format!("{:.2}×", store / strings),
            target: "≤ 250 B beyond the strings".into(),
            verdict: Verdict::of(overhead <= 250.0),
            raw: format!("RSS growth / recordings: store {store:.1} B, strings {strings:.1} B"),
        });
    }
}
