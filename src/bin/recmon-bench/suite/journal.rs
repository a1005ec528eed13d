//! `journal`: reading big journals (export, `--resume`) against counting their lines.

use std::process::{Command, Stdio};
use std::time::Instant;

use super::harness::{free_port, term};
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
                verdict: Verdict::of(rate >= 300_000.0),
                raw: format!(
                    "{} lines; seconds {t:.2?}; line count seconds {base_t:.3?}",
                    self.size.journal_lines
                ),
            });
        }
    }
}
