//! Recording files checked against the files themselves (`--verify`): each recording's
//! verdict, applied from its journal line (see [`crate::core::checks`]), and the counts by
//! verdict that `/metrics`, the header and the report read.

use std::collections::{BTreeMap, HashMap};

use crate::core::checks::{FileVerdict, VerdictLine};
use crate::verify::verdict::Verdict;

use super::Store;

/// What the store knows of file checks.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Whether this receiver checks files (`--verify`): a recording without a verdict yet is
    /// then being checked, not unchecked.
    on: bool,
    /// Recordings by verdict (each recording counted once, under its latest verdict), keyed
    /// by the verdict's journal name.
    by_verdict: BTreeMap<String, u64>,
    /// Recordings whose file failed (a fault of the recording).
    failed: u64,
    /// Each checked recording's verdict, by the recording's seq (kept beside the recordings,
    /// not in them: a store without `--verify` pays nothing per recording).
    verdicts: HashMap<u64, FileVerdict>,
}

/// The key a verdict is counted under: its journal name (`short`, `unchecked_403`).
pub fn verdict_key(v: Verdict) -> String {
    match v {
        Verdict::Unchecked(r) => format!("unchecked_{}", r.as_str()),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|j| j.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

impl Checks {
    /// Whether files are checked.
    pub fn on(&self) -> bool {
        self.on
    }

    /// Recordings by verdict key ([`verdict_key`]).
    pub fn by_verdict(&self) -> &BTreeMap<String, u64> {
        &self.by_verdict
    }

    /// Recordings whose file failed.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// The verdict on the recording with this seq, once its file was checked.
    pub fn of(&self, seq: u64) -> Option<&FileVerdict> {
        self.verdicts.get(&seq)
    }

    fn count(&mut self, before: Option<&FileVerdict>, now: &FileVerdict) {
        if let Some(b) = before {
            if let Some(n) = self.by_verdict.get_mut(&verdict_key(b.verdict)) {
                *n = n.saturating_sub(1);
            }
            if b.failed() {
                self.failed = self.failed.saturating_sub(1);
            }
        }
        *self.by_verdict.entry(verdict_key(now.verdict)).or_default() += 1;
        if now.failed() {
            self.failed += 1;
        }
    }
}

impl Store {
    /// Says whether this receiver checks files (`--verify`).
    pub fn set_verifying(&mut self, on: bool) {
        self.checks.on = on;
    }

    /// File checks: on or off, and the counts by verdict.
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// Applies a verdict line: the recording whose seq it names gets it (a later verdict on
    /// the same file replaces an earlier one). A verdict on a recording this store does not
    /// hold (an attached view that began after it) changes nothing but the last seq.
    pub fn apply_verdict(&mut self, line: &VerdictLine) {
        self.last_seq = self.last_seq.max(line.seq);
        let v = &line.verdict;
        if self
            .recordings
            .binary_search_by_key(&v.of, |r| r.seq)
            .is_err()
        {
            return;
        }
        let before = self.checks.verdicts.remove(&v.of);
        self.checks.count(before.as_ref(), v);
        self.checks.verdicts.insert(v.of, v.clone());
    }
}
