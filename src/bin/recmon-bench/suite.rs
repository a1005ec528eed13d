//! The benchmark suite (`recmon-bench run`): every figure is a ratio against a baseline
//! measured in the same run, on the same machine, with the same load generator, because the
//! machines are noisy. Servers and load run as separate processes; throughput runs go
//! A B A B (baseline, recmon, baseline, recmon) and report medians.

use std::fmt::Write as _;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        }
    }
}

/// One row of the results table.
pub struct Row {
    /// What is measured.
    pub what: String,
    /// recmon's figure.
    pub value: String,
    /// The baseline's figure.
    pub baseline: String,
    /// value / baseline (or the relevant ratio), as text.
    pub ratio: String,
    /// The target.
    pub target: String,
    /// met / missed.
    pub verdict: String,
    /// The raw numbers behind it.
    pub raw: String,
}

/// Runs the suite and returns the rows plus notes.
pub struct Suite {
    bin_dir: PathBuf,
    work: tempfile::TempDir,
    size: Size,
    /// Rows measured so far.
    pub rows: Vec<Row>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_healthy(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(mut s) = TcpStream::connect(addr) {
            use std::io::Write;
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Starts a server process and waits until it answers /healthz on `port`.
fn start_server(cmd: &mut Command, port: u16, limit: Duration, what: &str) -> Proc {
    let p = Proc(cmd.spawn().unwrap());
    assert!(
        wait_healthy(SocketAddr::from(([127, 0, 0, 1], port)), limit),
        "{what} did not start"
    );
    p
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn verdict(ok: bool) -> String {
    if ok { "met" } else { "**missed**" }.to_string()
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn term(p: &mut Proc) {
    unsafe {
        libc::kill(p.0.id() as i32, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = p.0.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(tag: &str) -> Tmux {
        Tmux {
            socket: format!("recmon-bench-{}-{tag}", std::process::id()),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn start(&self, command: &str) {
        let st = self
            .cmd()
            .args(["new-session", "-d", "-x", "200", "-y", "50", command])
            .env_remove("NO_COLOR")
            .status()
            .expect("tmux is needed for the terminal benchmarks (apt-get install tmux)");
        assert!(st.success(), "tmux new-session failed");
    }

    fn capture(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

impl Suite {
    /// A suite using the binaries in `bin_dir`.
    pub fn new(bin_dir: PathBuf, size: Size) -> Suite {
        Suite {
            bin_dir,
            work: tempfile::tempdir().unwrap(),
            size,
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
        start_server(
            Command::new(self.recmon())
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

    /// Starts recmon on `journal` with --resume (the rebuild happens before it serves).
    fn spawn_resumed(&self, port: u16, journal: &Path) -> Proc {
        start_server(
            Command::new(self.recmon())
                .args(["--headless", "--listen", &format!("127.0.0.1:{port}")])
                .arg("--resume")
                .arg(journal)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            port,
            Duration::from_secs(120),
            "recmon --resume",
        )
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

    fn throughput_args(&self) -> Vec<String> {
        vec![
            "--connections".into(),
            "32".into(),
            "--count".into(),
            self.size.requests.to_string(),
            "--fixed-body".into(),
        ]
    }

    fn rps_of(&self, port: u16) -> f64 {
        let args = self.throughput_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = self.load(port, &args);
        let bad = r["errors"].as_u64().unwrap_or(0);
        assert_eq!(bad, 0, "load errors: {r}");
        r["rps"].as_f64().unwrap()
    }

    /// Ingest throughput: recmon headless with the journal on vs the bare hyper baseline.
    pub fn ingest(&mut self) {
        for (fsync, target) in [("never", 0.8), ("batch", 0.5)] {
            let (mut base, mut ours) = (vec![], vec![]);
            for round in 0..2 {
                let port = free_port();
                let _b = self.spawn_baseline(port);
                base.push(self.rps_of(port));
                drop(_b);
                let port = free_port();
                let journal = self
                    .work
                    .path()
                    .join(format!("ingest-{fsync}-{round}.jsonl"));
                let _r = self.spawn_recmon(
                    port,
                    &["--fsync", fsync, "--journal", journal.to_str().unwrap()],
                );
                ours.push(self.rps_of(port));
                let _ = std::fs::remove_file(&journal);
            }
            let raw = format!("baseline {base:.0?} req/s, recmon {ours:.0?} req/s (A B A B)");
            let (b, o) = (median(&mut base), median(&mut ours));
            let ratio = o / b;
            self.rows.push(Row {
                what: format!("Ingest throughput, journal on, --fsync {fsync}"),
                value: format!("{o:.0} req/s"),
                baseline: format!("{b:.0} req/s (bare hyper)"),
                ratio: format!("{ratio:.2}×"),
                target: format!("≥ {target}×"),
                verdict: verdict(ratio >= target),
                raw,
            });
        }
    }

    /// Ingest throughput with the terminal UI drawing in a pseudo-terminal vs headless.
    pub fn ingest_tui(&mut self) {
        let (mut headless, mut tui) = (vec![], vec![]);
        for _ in 0..2 {
            let port = free_port();
            let _r = self.spawn_recmon(port, &["--fsync", "never", "--no-journal"]);
            headless.push(self.rps_of(port));
            drop(_r);

            let port = free_port();
            let tmux = Tmux::new("tui");
            tmux.start(&format!(
                "{} --listen 127.0.0.1:{port} --fsync never --no-journal",
                self.recmon().display()
            ));
            assert!(wait_healthy(
                SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_secs(20)
            ));
            tui.push(self.rps_of(port));
            let screen = tmux.capture();
            assert!(
                screen.contains("requests"),
                "the UI was not drawing:\n{screen}"
            );
        }
        let raw = format!("headless {headless:.0?} req/s, TUI {tui:.0?} req/s (A B A B)");
        let (h, t) = (median(&mut headless), median(&mut tui));
        let ratio = t / h;
        self.rows.push(Row {
            what: "Ingest throughput with the TUI in a pty (200×50)".into(),
            value: format!("{t:.0} req/s"),
            baseline: format!("{h:.0} req/s (headless)"),
            ratio: format!("{ratio:.2}×"),
            target: "≥ 0.9× of headless".into(),
            verdict: verdict(ratio >= 0.9),
            raw,
        });
    }

    /// Acknowledgement latency at a fixed 10k requests/s.
    pub fn latency(&mut self) {
        let rate = 10_000u64;
        let count = rate * self.size.latency_secs;
        let args = [
            "--connections".to_string(),
            "32".into(),
            "--count".into(),
            count.to_string(),
            "--rate".into(),
            rate.to_string(),
            "--fixed-body".into(),
        ];
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
        let us = |v: &serde_json::Value, k: &str| v["latency_us"][k].as_u64().unwrap_or(0);
        let p99 = us(&ours, "p99") as f64 / 1000.0;
        let base_p99 = us(&base, "p99") as f64 / 1000.0;
        self.rows.push(Row {
            what: format!("Ack latency at {rate} req/s, 32 connections, --fsync batch"),
            value: format!(
                "p50 {:.2} ms, p99 {p99:.2} ms, max {:.1} ms",
                us(&ours, "p50") as f64 / 1000.0,
                us(&ours, "max") as f64 / 1000.0
            ),
            baseline: format!(
                "p50 {:.2} ms, p99 {base_p99:.2} ms (bare hyper)",
                us(&base, "p50") as f64 / 1000.0
            ),
            ratio: format!("p99 {:.1}×", p99 / base_p99.max(0.001)),
            target: "p99 ≤ 5 ms".into(),
            verdict: verdict(p99 <= 5.0),
            raw: format!("recmon {ours}; baseline {base}"),
        });
    }

    /// Time from a POST to its row being on the screen: the TUI in tmux, against the headless
    /// printer in the same tmux setup (which pays the same POST and capture costs).
    pub fn callback_to_screen(&mut self) {
        let measure = |headless: bool| -> Vec<f64> {
            let port = free_port();
            let tmux = Tmux::new(if headless { "s-headless" } else { "s-tui" });
            tmux.start(&format!(
                "{} {} --listen 127.0.0.1:{port} --no-journal",
                self.recmon().display(),
                if headless { "--headless" } else { "" }
            ));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            assert!(wait_healthy(addr, Duration::from_secs(20)));
            std::thread::sleep(Duration::from_millis(300));
            let mut times = vec![];
            for i in 0..self.size.screen_probes {
                let name = format!("probe{:04}x{}", i, if headless { "h" } else { "t" });
                let body = format!(
                    r#"{{"domain":"bench","app":"live","stream":"{name}","event":"record_started"}}"#
                );
                let start = Instant::now();
                post(addr, &body);
                loop {
                    if tmux.capture().contains(&name) {
                        times.push(start.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                    if start.elapsed() > Duration::from_secs(5) {
                        times.push(f64::INFINITY);
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(150));
            }
            times
        };
        let mut base = measure(true);
        let mut tui = measure(false);
        let raw = format!("headless {base:.1?} ms; TUI {tui:.1?} ms");
        let worst = tui.iter().cloned().fold(0.0, f64::max);
        let (b, t) = (median(&mut base), median(&mut tui));
        self.rows.push(Row {
            what: "Callback to screen (POST → row visible, tmux capture)".into(),
            value: format!("median {t:.1} ms, max {worst:.1} ms"),
            baseline: format!("median {b:.1} ms (headless line in the same pane)"),
            ratio: format!("{:.2}×", t / b),
            target: "≤ 50 ms".into(),
            verdict: verdict(worst <= 50.0),
            raw,
        });
    }

    /// Frame cost with 1,000 vs many recordings (TestBackend 200×50), in this process.
    pub fn frame_cost(&mut self) {
        let small = frames::measure(1_000);
        let big = frames::measure(self.size.big);
        for (label, s, b) in [
            ("following the newest rows", small.follow, big.follow),
            ("filter active", small.filtered, big.filtered),
            (
                "scrolled to the middle, sorted by state",
                small.middle,
                big.middle,
            ),
        ] {
            let ratio = b / s;
            self.rows.push(Row {
                what: format!("Frame cost, {label}"),
                value: format!("{:.3} ms with {} recordings", b, self.size.big),
                baseline: format!("{s:.3} ms with 1,000"),
                ratio: format!("{ratio:.2}×"),
                target: "ratio near 1, ≤ 2 ms".into(),
                verdict: verdict(b <= 2.0 && ratio <= 1.5),
                raw: format!("median of 200 frames each; small {s:.4} ms, big {b:.4} ms"),
            });
        }
    }

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
            verdict: verdict(overhead <= 250.0),
            raw: format!("RSS growth / recordings: store {store:.1} B, strings {strings:.1} B"),
        });
    }

    /// Journal reading (resume and export) on journals of many lines, against reading their
    /// lines alone: a heavy one (the load generator's unique recordings) and a realistic one
    /// (a simulated broadcast).
    pub fn journal_reading(&mut self) {
        for mix in ["load", "broadcast"] {
            self.journal_reading_of(mix);
        }
    }

    fn journal_reading_of(&mut self, mix: &str) {
        let journal = self.work.path().join(format!("big-{mix}.jsonl"));
        let out = Command::new(self.bench())
            .args([
                "make-journal",
                "--mix",
                mix,
                "--lines",
                &self.size.journal_lines.to_string(),
                "-o",
            ])
            .arg(&journal)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = self.size.journal_lines as f64;

        let time = |f: &mut dyn FnMut()| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        };
        let mut base_t = vec![];
        let mut jsonl_t = vec![];
        let mut csv_t = vec![];
        let mut resume_t = vec![];
        for _ in 0..2 {
            base_t.push(time(&mut || {
                let out = Command::new(self.bench())
                    .args(["linecount"])
                    .arg(&journal)
                    .output()
                    .unwrap();
                assert!(out.status.success());
            }));
            for (fmt, what, sink) in [
                ("jsonl", "events", &mut jsonl_t),
                ("csv", "recordings", &mut csv_t),
            ] {
                sink.push(time(&mut || {
                    let out = Command::new(self.recmon())
                        .args(["export", "--format", fmt, "--what", what, "-o", "/dev/null"])
                        .arg(&journal)
                        .stderr(Stdio::null())
                        .output()
                        .unwrap();
                    assert!(out.status.success());
                }));
            }
            let copy = self.work.path().join("resume.jsonl");
            std::fs::copy(&journal, &copy).unwrap();
            let port = free_port();
            resume_t.push(time(&mut || {
                let mut p = self.spawn_resumed(port, &copy);
                term(&mut p);
            }));
        }
        let base = lines / median(&mut base_t.clone());
        let _ = std::fs::remove_file(&journal);
        for (label, t) in [
            ("export --format jsonl", jsonl_t),
            ("export --format csv --what recordings", csv_t),
            ("--resume (rebuild, then serving)", resume_t),
        ] {
            let mut t2 = t.clone();
            let rate = lines / median(&mut t2);
            self.rows.push(Row {
                what: format!("Journal reading ({mix} journal): {label}"),
                value: format!("{:.0}k lines/s", rate / 1000.0),
                baseline: format!("{:.0}k lines/s (line count only)", base / 1000.0),
                ratio: format!("{:.2}×", rate / base),
                target: "≥ 300k lines/s".into(),
                verdict: verdict(rate >= 300_000.0),
                raw: format!(
                    "{} lines; seconds {t:.2?}; line count seconds {base_t:.3?}",
                    self.size.journal_lines
                ),
            });
        }
    }

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
            verdict: verdict(ok),
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
        let ok = missing == 0 && total == journal_seqs.len() as u64;
        self.rows.push(Row {
            what: "Crash: kill -9 mid-load, then --resume".into(),
            value: format!(
                "{} acknowledged before the kill, {missing} missing from the journal; resumed state holds all {} journaled requests",
                acked_seqs.len(),
                total
            ),
            baseline: format!("{} journal lines", journal_seqs.len()),
            ratio: format!("resume {resume_s:.2} s"),
            target: "0 acknowledged lost".into(),
            verdict: verdict(ok),
            raw: format!("journal {} bytes", raw.len()),
        });
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

    /// Where the measured binaries are.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }
}

fn post(addr: SocketAddr, body: &str) {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
}

fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Frame-cost measurement, in process.
pub mod frames {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Instant;

    use chrono::{DateTime, Utc};
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use recmon::callback::{Callback, RecordingGenerated, StatusEvent, StreamId};
    use recmon::journal::{JournalEntry, Outcome};
    use recmon::store::Store;
    use recmon::tui::theme::Theme;
    use recmon::tui::{handle_key, render, HeaderInfo, ViewState};

    /// Median milliseconds per frame in three situations.
    pub struct FrameCost {
        /// Following the newest rows.
        pub follow: f64,
        /// With a filter active (after it has been applied).
        pub filtered: f64,
        /// Scrolled to the middle of the recordings, streams sorted by state.
        pub middle: f64,
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_780_800 + secs, 0).unwrap()
    }

    fn entry(seq: u64, t: DateTime<Utc>) -> JournalEntry {
        JournalEntry {
            seq,
            received_at: t,
            remote: "203.0.113.7:40000".into(),
            method: "POST".into(),
            path: "/cb".into(),
            headers: BTreeMap::new(),
            outcome: Outcome::Accepted,
            status: 200,
            kind: Some("recording".into()),
            error: None,
            body_bytes: 0,
            body: None,
            body_text: None,
            body_base64: None,
            body_truncated: None,
            auth: None,
        }
    }

    /// A journal entry for the memory measurement.
    pub fn entry_for_memory(seq: u64, t: DateTime<Utc>, outcome: Outcome) -> JournalEntry {
        let mut e = entry(seq, t);
        e.outcome = outcome;
        e
    }

    /// A store with `n` recordings over 20 streams.
    pub fn store_with(n: usize) -> Store {
        let mut store = Store::default();
        let line: Arc<str> = Arc::from("{}");
        let ids: Vec<StreamId> = (0..20)
            .map(|s| StreamId {
                domain: "live.example.com".into(),
                app: "studio".into(),
                stream: format!("cam-{s}"),
            })
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let cb = Callback::Status(StatusEvent {
                id: id.clone(),
                event: ["record_started", "record_paused", "record_resumed"][i % 3].into(),
            });
            store.apply(&entry(i as u64 + 1, at(0)), Some(&cb), line.clone());
        }
        for n_ in 0..n {
            let id = &ids[n_ % ids.len()];
            let cb = Callback::Recording(RecordingGenerated {
                id: id.clone(),
                uri: format!(
                    "record/studio/{}/{n_}_1795780800_1795781100.m3u8",
                    id.stream
                ),
                duration: Some(300.0 + (n_ % 7) as f64),
                start_time: Some(1_795_780_800 + n_ as i64),
                stop_time: Some(1_795_781_100 + n_ as i64),
                push_args: vec![("callback_show".into(), format!("show-{}", n_ % 13))],
            });
            store.apply(
                &entry(n_ as u64 + 100, at(n_ as i64)),
                Some(&cb),
                line.clone(),
            );
        }
        store
    }

    fn time_frames(store: &Store, view: &mut ViewState, now: DateTime<Utc>) -> f64 {
        let ctx = HeaderInfo {
            listen: "0.0.0.0:8080".parse().unwrap(),
            loopback_only: false,
            signature_checking: true,
            journal_path: Some("recmon.jsonl".into()),
            started_at: at(0),
        };
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        // Warm up (and let an incremental filter finish).
        for _ in 0..30 {
            term.draw(|f| render(f, store, view, now, &ctx)).unwrap();
        }
        let mut times: Vec<f64> = (0..200)
            .map(|_| {
                let start = Instant::now();
                term.draw(|f| render(f, store, view, now, &ctx)).unwrap();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        times[times.len() / 2]
    }

    /// Measures the three frame costs for a store of `n` recordings.
    pub fn measure(n: usize) -> FrameCost {
        let store = store_with(n);
        let now = at(n as i64 + 10);
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut view = ViewState::new(Theme { color: true }, true);
        let follow = time_frames(&store, &mut view, now);

        let mut view = ViewState::new(Theme { color: true }, true);
        view.set_filter("show-7".into());
        let filtered = time_frames(&store, &mut view, now);

        let mut view = ViewState::new(Theme { color: true }, true);
        handle_key(&mut view, &key(KeyCode::Char('s')), &store, now);
        handle_key(&mut view, &key(KeyCode::Tab), &store, now);
        handle_key(&mut view, &key(KeyCode::Home), &store, now);
        // Select the middle row (not following), as the user would with PgDn.
        view.recordings.move_by((n / 2) as isize, n);
        let middle = time_frames(&store, &mut view, now);
        FrameCost {
            follow,
            filtered,
            middle,
        }
    }
}
