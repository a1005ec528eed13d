//! `journal`: reading big journals (export, `--resume`) against counting their lines, and
//! restarting on a long journal against a short one.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ab::{ab_row, Ab, Bound, Judge};
use super::harness::{free_port, term, Proc};
use super::report::{Row, Verdict};
use super::{median, Suite};

impl Suite {
    /// Journal reading (resume and export) on journals of many lines, against reading their
    /// lines alone: a heavy one (the load generator's unique recordings) and a realistic one
    /// (a simulated broadcast).
    pub fn journal_reading(&mut self) {
        for mix in ["load", "broadcast"] {
            self.journal_reading_of(mix);
        }
        self.restart();
    }

    /// Writes a journal of `lines` lines (`make-journal --mix load`) at `path`.
    fn make_journal(&self, path: &Path, mix: &str, lines: u64) {
        let out = Command::new(self.bench())
            .args([
                "make-journal",
                "--mix",
                mix,
                "--lines",
                &lines.to_string(),
                "-o",
            ])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restart without downtime: the time from starting `recmon --resume` to the first 200
    /// for a callback, on a long journal against a 1,000-line one (the same-run baseline), in
    /// alternating rounds. The listener does not wait for the rebuild (the provider gives up
    /// after 5 tries within seconds), so the two should be the same: ≈ 1×, both ≤ 100 ms.
    /// Each round stops the receiver once it has answered (its rebuild is cancelled; the
    /// callback it answered, pending, is decided by the next round's resume).
    fn restart(&mut self) {
        let long = self.size.restart_lines;
        let short_j = self.work.path().join("restart-1k.jsonl");
        let long_j = self.work.path().join("restart-long.jsonl");
        self.make_journal(&short_j, "load", 1_000);
        self.make_journal(&long_j, "load", long);
        // What make-journal wrote is on disk before the clock starts: the first answer's
        // fsync must not flush a gigabyte of someone else's writes.
        unsafe { libc::sync() };
        let (mut short_ms, mut long_ms) = (vec![], vec![]);
        let mut failed = None;
        for _ in 0..self.size.restart_rounds {
            for (journal, sink) in [(&short_j, &mut short_ms), (&long_j, &mut long_ms)] {
                match self.first_200(journal) {
                    Ok(ms) => sink.push(ms),
                    Err(e) => failed = Some(e),
                }
            }
        }
        let _ = std::fs::remove_file(&long_j);
        let mut row = ab_row(Ab {
            what: format!(
                "Restart: --resume, start to the first 200, {}-line journal",
                thousands(long)
            ),
            baseline: &short_ms,
            recmon: &long_ms,
            show: |ms| format!("{ms:.1} ms"),
            baseline_is: "1,000-line journal",
            recmon_is: Some(&format!("{}-line journal", thousands(long))),
            decimals: 2,
            baseline_floor: Some(1.0),
            target: "both ≤ 100 ms, ratio ≈ 1 (≤ 1.5×)".into(),
            judge: Judge::Median(Bound::AtMost(1.5)),
            invalid: failed,
            raw: format!(
                "ms from spawning recmon --resume to a 200 for a callback (polled every ms), rounds alternating: 1,000 lines {short_ms:.1?}; {long} lines {long_ms:.1?}"
            ),
        });
        let worst = median(&mut short_ms).max(median(&mut long_ms));
        if row.verdict.is_met() && worst > 100.0 {
            row.verdict = Verdict::Missed;
        }
        self.rows.push(row);
    }

    /// Milliseconds from spawning `recmon --resume journal` to a 200 for a callback; then the
    /// receiver is stopped.
    fn first_200(&self, journal: &Path) -> Result<f64, String> {
        const BODY: &str = r#"{"domain":"restart.example.com","app":"live","stream":"cam","event":"record_started"}"#;
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        let mut p = Proc(
            Command::new(self.recmon())
                .args(["--headless", "--no-alerts", "--listen", &addr.to_string()])
                .arg("--resume")
                .arg(journal)
                .current_dir(self.work.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?,
        );
        let answered = loop {
            if let Some(status) = post_status(addr, BODY) {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err("no answer within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        term(&mut p);
        match answered {
            200 => Ok(ms),
            other => Err(format!("the first callback was answered {other}")),
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
            (
                "--resume (until the state is rebuilt, answering meanwhile)",
                resume_t,
            ),
        ] {
            let mut t2 = t.clone();
            let rate = lines / median(&mut t2);
            self.rows.push(Row {
                what: format!("Journal reading ({mix} journal): {label}"),
                value: format!("{:.0}k lines/s", rate / 1000.0),
                baseline: format!("{:.0}k lines/s (line count only)", base / 1000.0),
                ratio: format!("{:.2}×", rate / base),
                target: "≥ 300k lines/s".into(),
                verdict: Verdict::of(rate >= 300_000.0),
                raw: format!(
                    "{} lines; seconds {t:.2?}; line count seconds {base_t:.3?}",
                    self.size.journal_lines
                ),
            });
        }
    }
}

/// The status of a POST of `body` to `/cb`, or `None` when nothing answers yet.
fn post_status(addr: SocketAddr, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.get(9..12)?.parse().ok()
}

/// `2,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
