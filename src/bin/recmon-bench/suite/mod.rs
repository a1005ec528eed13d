//! The benchmark suite (`recmon-bench run`): every figure is a ratio against a baseline
//! measured in the same run, on the same machine, with the same load generator, because the
//! machines are noisy. Servers and load run as separate processes; throughput runs go
//! A B A B (baseline, recmon, baseline, recmon) and report medians.
//!
//! A module per section (`--only` names, [`SECTIONS`]): `ingest`, `tui`, `latency`,
//! `screen`, `frames`, `memory`, `journal`, `load`, `attach`, `forward`, `alerts`,
//! `providers`, `verify`, each adding its rows to the [`Suite`]; `ab` builds the same-run A/B rows
//! (baseline and recmon alternating over rounds, medians, per-round ratios); `report` holds
//! rows, verdicts and the report's text; `harness` the processes the suite starts and the
//! requests it sends. This file: the suite's sizes, its runs of recmon, the baseline and the
//! load generator, and its tables.

mod ab;
mod alerts;
mod attach;
mod forward;
pub mod frames;
mod harness;
mod ingest;
mod journal;
mod latency;
mod load;
mod memory;
mod providers;
mod report;
mod screen;
mod tui;
mod verify;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::{start_server, Proc};
use report::throughput;
pub use report::{carried_over, findings, Row, CARRIED_HEADING, RAW_HEADING, SECTIONS};

/// How big the runs are.
#[derive(Clone, Copy)]
pub struct Size {
    /// Requests per throughput run.
    pub requests: u64,
    /// Seconds of the fixed-rate latency run.
    pub latency_secs: u64,
    /// Probes for callback-to-screen.
    pub screen_probes: usize,
    /// Recordings for the big frame-cost and memory runs.
    pub big: usize,
    /// Lines of the journal-reading run.
    pub journal_lines: u64,
    /// Requests of the load-and-crash check (64 connections, retries mixed in).
    pub load_requests: u64,
    /// Subscribers of `/api/events` during the attached-ingest runs.
    pub subscribers: usize,
    /// Probes for callback-to-attached-view.
    pub view_probes: usize,
    /// Entries of the journal an attached view catches up on.
    pub catchup_lines: u64,
    /// Lines of the long journal of the restart row (the short one has 1,000).
    pub restart_lines: u64,
    /// Rounds of the restart row.
    pub restart_rounds: usize,
}

impl Size {
    /// The full suite (a few minutes).
    pub fn full() -> Size {
        Size {
            requests: 200_000,
            latency_secs: 5,
            screen_probes: 20,
            big: 1_000_000,
            journal_lines: 1_000_000,
            load_requests: 200_000,
            subscribers: 50,
            view_probes: 20,
            catchup_lines: 1_000_000,
            restart_lines: 2_000_000,
            restart_rounds: 5,
        }
    }

    /// A smoke run that only checks that every part still works (CI).
    pub fn smoke() -> Size {
        Size {
            requests: 3_000,
            latency_secs: 1,
            screen_probes: 3,
            big: 20_000,
            journal_lines: 20_000,
            load_requests: 5_000,
            subscribers: 50,
            view_probes: 3,
            catchup_lines: 20_000,
            restart_lines: 20_000,
            restart_rounds: 2,
        }
    }
}

/// Runs the suite and returns the rows plus notes.
pub struct Suite {
    bin_dir: PathBuf,
    /// Another build's `recmon` and what it was built from, for before/after ingest rows.
    before: Option<(PathBuf, String)>,
    work: tempfile::TempDir,
    size: Size,
    /// Rows measured so far.
    pub rows: Vec<Row>,
    /// The first lines `recmon attach --json` wrote on stderr (see `attach.rs`).
    attach_stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

impl Suite {
    /// A suite using the binaries in `bin_dir`.
    pub fn new(bin_dir: PathBuf, size: Size, before: Option<(PathBuf, String)>) -> Suite {
        Suite {
            bin_dir,
            before,
            work: tempfile::tempdir().unwrap(),
            size,
            attach_stderr: Default::default(),
            rows: Vec::new(),
        }
    }

    fn recmon(&self) -> PathBuf {
        self.bin_dir.join("recmon")
    }

    fn bench(&self) -> PathBuf {
        self.bin_dir.join("recmon-bench")
    }

    fn spawn_recmon(&self, port: u16, args: &[&str]) -> Proc {
        self.spawn_recmon_of(&self.recmon(), port, args)
    }

    /// [`Suite::spawn_recmon`] with another `recmon` binary (the before build).
    fn spawn_recmon_of(&self, bin: &Path, port: u16, args: &[&str]) -> Proc {
        start_server(
            Command::new(bin)
                .args(["--headless", "--listen", &format!("127.0.0.1:{port}")])
                .args(args)
                .current_dir(self.work.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            port,
            Duration::from_secs(30),
            "recmon",
        )
    }

    fn spawn_baseline(&self, port: u16) -> Proc {
        start_server(
            Command::new(self.bench())
                .args(["baseline", "--listen", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null()),
            port,
            Duration::from_secs(10),
            "the baseline server",
        )
    }

    /// Starts recmon on `journal` with --resume, and waits until its state is rebuilt: the
    /// listener answers from the start and the rebuild goes on in the background (the
    /// `Restart:` row times the answer), until `/api/state` no longer says `rebuilding`.
    fn spawn_resumed(&self, port: u16, journal: &Path) -> Proc {
        let p = start_server(
            Command::new(self.recmon())
                .args(["--headless", "--listen", &format!("127.0.0.1:{port}")])
                .arg("--resume")
                .arg(journal)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            port,
            Duration::from_secs(120),
            "recmon --resume",
        );
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let start = std::time::Instant::now();
        while harness::get_json(addr, "/api/state")
            .get("rebuilding")
            .is_some()
        {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "recmon --resume did not rebuild its state within 300 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        p
    }

    /// Runs the load generator; returns its JSON report.
    fn load(&self, port: u16, extra: &[&str]) -> serde_json::Value {
        let out = Command::new(self.bench())
            .args(["load", "--to", &format!("127.0.0.1:{port}")])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "load failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Requests/s of one closed-loop run of unique recordings (no retries) over 32
    /// connections; `Err` says why the run does not count. `all_new`: every answer must say
    /// `accepted` (recmon with a fresh journal; the baseline always does).
    fn rps_of(&self, port: u16, all_new: bool) -> Result<f64, String> {
        let count = self.size.requests.to_string();
        let r = self.load(
            port,
            &["--connections", "32", "--count", &count, "--dup-every", "0"],
        );
        throughput(&r, self.size.requests, all_new)
    }

    /// The results as a Markdown table.
    pub fn table(&self) -> String {
        let mut t = String::from(
            "| measure | recmon | baseline (same run) | ratio | target | verdict |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {} |",
                r.what, r.value, r.baseline, r.ratio, r.target, r.verdict
            );
        }
        t
    }

    /// The raw numbers behind each row.
    pub fn raw(&self) -> String {
        let mut t = String::new();
        for r in &self.rows {
            let _ = writeln!(t, "- **{}**: {}", r.what, r.raw);
        }
        t
    }

    /// Subscribers of the attached-ingest runs.
    pub fn subscribers(&self) -> usize {
        self.size.subscribers
    }

    /// Where the measured binaries are.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }
}

/// The load generator's arguments for an open-loop run of `count` unique recordings at `rate`
/// requests/s over 32 connections (the latency runs).
fn fixed_rate_args(rate: u64, count: u64) -> Vec<String> {
    [
        "--connections",
        "32",
        "--count",
        &count.to_string(),
        "--rate",
        &rate.to_string(),
        "--dup-every",
        "0",
    ]
    .map(str::to_string)
    .to_vec()
}
